"""The main job, end to end on the embedded defaults: what README's first command runs.

It works on a git-ignored copy of examples/model_repository in .work/ (never on examples/ itself) and
drives tritonctl step by step, printing each command before it runs. Today: validate the copy and show
the findings (the model files arrive with `tritonctl export`).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "model_repository"
WORK = ROOT / ".work"
REPO = WORK / "model_repository"


def run(*args: str, ok: tuple[int, ...] = (0,)) -> int:
    cmd = [sys.executable, "-m", "tritonctl", *args]
    print(f"\n$ tritonctl {shlex.join(args)}", flush=True)
    code = subprocess.run(cmd, cwd=ROOT).returncode
    if code not in ok:
        sys.exit(f"demo: 'tritonctl {shlex.join(args)}' exited {code}")
    return code


def main() -> None:
    if REPO.exists():
        shutil.rmtree(REPO)
    REPO.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(EXAMPLES, REPO)
    rel = str(REPO.relative_to(ROOT))
    print(f"working copy: {rel} (from examples/model_repository)")
    run("rules")
    code = run("validate", rel, ok=(0, 1))
    if code == 1:
        print("\nvalidate found problems (expected until the model files are exported: see the README)")
    print("\ndemo: done")


if __name__ == "__main__":
    main()
