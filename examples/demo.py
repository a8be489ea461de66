"""The main job, end to end: what the README's first command runs.

    python examples/demo.py                                   # random weights (the real ones are not downloadable here)
    python examples/demo.py --east-graph frozen_east_text_detection.pb --str-weights None-ResNet-None-CTC.pth

On a fresh, git-ignored copy of examples/model_repository in .work/ (never examples/ itself), with a local Triton
whose state lives in .work/state, it runs each step as a user would, saying what the step does and printing the
command: export EAST and STR, validate, start the local Triton in EXPLICIT mode, load both models, show the status,
read the text of an image it draws (the annotated picture goes to .work/ocr_annotated.png), unload both models and
stop the server. A step that fails stops the demo, names the step, and leaves no server running.
"""

from __future__ import annotations

import argparse
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
IMAGE = WORK / "ocr_input.png"
ANNOTATED = WORK / "ocr_annotated.png"
ENV = {**os.environ, "TRITONCTL_STATE_DIR": str(WORK / "state"), "TRITONCTL_REPO": str(REPO)}
TEXT = ["tritonctl", "triton 2.51"]


class StepFailed(Exception):
    pass


def step(what: str, *command: str, ok: tuple[int, ...] = (0,)) -> None:
    """Say what the step does, show its command, run it."""
    print(f"\n== {what}\n$ {shlex.join(command)}", flush=True)
    code = subprocess.run(command, cwd=ROOT, env=ENV).returncode
    if code not in ok:
        raise StepFailed(f"step '{what}' failed: '{shlex.join(command)}' exited {code}")


def tritonctl(what: str, *args: str, ok: tuple[int, ...] = (0,)) -> None:
    step(what, sys.executable, "-m", "tritonctl", *args, ok=ok)


def draw_image() -> None:
    sys.path.insert(0, str(ROOT / "examples" / "ocr"))
    import cv2
    import pipeline

    cv2.imwrite(str(IMAGE), pipeline.draw_text_image(TEXT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--east-graph", metavar="PB", help="the real EAST frozen graph (default: random weights)")
    parser.add_argument("--str-weights", metavar="PTH", help="the real STR checkpoint (default: random weights)")
    args = parser.parse_args()
    real = bool(args.east_graph and args.str_weights)
    subprocess.run([sys.executable, "-m", "tritonctl", "server", "stop"], env=ENV, capture_output=True)
    if REPO.exists():
        shutil.rmtree(REPO)
    REPO.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(EXAMPLES, REPO)
    print(f"working copy: {REPO.relative_to(ROOT)} (fresh from examples/model_repository)")
    started = False
    try:
        tritonctl("validate the working copy: no versions yet, so Triton would refuse both models (exit 1)",
                  "validate", ok=(1,))
        east = ["--graph", args.east_graph] if args.east_graph else ["--random-weights"]
        strw = ["--weights", args.str_weights] if args.str_weights else ["--random-weights"]
        tritonctl("export EAST (TensorFlow -> ONNX with tf2onnx) as version 1 of text_detection",
                  "export", "east", *east)
        tritonctl("export STR (PyTorch -> ONNX) as version 1 of text_recognition", "export", "str", *strw)
        tritonctl("validate again: every rule Triton applies at load, offline", "validate")
        started = True
        tritonctl("start the local Triton 2.51 (CPU) in EXPLICIT mode and load both models",
                  "server", "start", "--mode", "explicit", "--load", "text_detection", "--load", "text_recognition")
        tritonctl("what the server serves beside what the repository selects", "status")
        print("\n== draw an image with text to read", flush=True)
        draw_image()
        print(f"{IMAGE.relative_to(ROOT)}: {', '.join(repr(t) for t in TEXT)}")
        step("read its text through both served models (EAST boxes, STR text)", sys.executable,
             "examples/ocr/client.py", str(IMAGE.relative_to(ROOT)), "--url", _server_url(),
             "--out", str(ANNOTATED.relative_to(ROOT)))
        if not real:
            print("\nnote: these are random weights. EAST scores every cell between about 0.5 and 0.66, so it draws large "
                  "boxes over text and blank paper alike (rotated NMS keeps a few, at most --max-boxes 64), and the "
                  "recogniser's text means nothing. Real weights read real text: python examples/demo.py "
                  "--east-graph PB --str-weights PTH")
        for model in ("text_detection", "text_recognition"):
            tritonctl(f"unload {model}", "unload", model)
    except StepFailed as e:
        print(f"\ndemo: {e}", file=sys.stderr)
        return 1
    finally:
        if started:
            tritonctl("stop the server", "server", "stop", ok=(0, 3))
    print(f"\ndemo: done; the annotated picture is {ANNOTATED.relative_to(ROOT)}")
    return 0


def _server_url() -> str:
    import json

    out = subprocess.run([sys.executable, "-m", "tritonctl", "server", "list", "-f", "json"], env=ENV,
                         capture_output=True, text=True)
    servers = json.loads(out.stdout or "{}").get("servers", []) if out.returncode == 0 else []
    if not servers:
        raise StepFailed("step 'read its text' failed: no local server is running")
    return servers[0]["url"]


if __name__ == "__main__":
    sys.exit(main())
