"""The main job, end to end on the embedded defaults: what README's first command runs.

On a git-ignored copy of examples/model_repository in .work/ (never examples/ itself), with a local Triton whose
state lives in .work/state, it runs each step as a user would, printing the command first:
export EAST and STR (random weights: the real checkpoints are not downloadable here), validate, start the
local Triton, load both models, run an inference on each, show the status, stop the server.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "model_repository"
WORK = ROOT / ".work"
REPO = WORK / "model_repository"
ENV = {**os.environ, "TRITONCTL_STATE_DIR": str(WORK / "state"), "TRITONCTL_REPO": str(REPO)}


def run(*args: str, ok: tuple[int, ...] = (0,)) -> int:
    print(f"\n$ tritonctl {shlex.join(args)}", flush=True)
    code = subprocess.run([sys.executable, "-m", "tritonctl", *args], cwd=ROOT, env=ENV).returncode
    if code not in ok:
        sys.exit(f"demo: 'tritonctl {shlex.join(args)}' exited {code}")
    return code


def main() -> None:
    subprocess.run([sys.executable, "-m", "tritonctl", "server", "stop"], env=ENV, capture_output=True)
    if REPO.exists():
        shutil.rmtree(REPO)
    REPO.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(EXAMPLES, REPO)
    print(f"working copy: {REPO.relative_to(ROOT)} (from examples/model_repository)")
    run("validate", ok=(1,))  # no versions yet: Triton would refuse both models
    run("export", "east", "--random-weights")
    run("export", "str", "--random-weights")
    run("validate")
    run("version", "list", "text_recognition")
    run("server", "start", "--load", "text_detection", "--load", "text_recognition")
    try:
        run("infer", "text_detection", "--shape", "input_images:0=1,480,640,3")
        run("infer", "text_recognition")
        run("status")
    finally:
        run("server", "stop")
    print("\ndemo: done")


if __name__ == "__main__":
    main()
