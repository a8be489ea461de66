"""Images per second through the OCR pipeline (examples/ocr): through the local Triton beside the same pipeline
in-process on onnxruntime, for 640x480 images, with one client and with 8 concurrent clients.

    python benchmarks/ocr_pipeline.py [--repo .work/model_repository] [--seconds 20]

The repository must hold text_detection and text_recognition with a version each (run examples/demo.py first, or
`tritonctl export east|str --random-weights`). The local Triton is started on that repository and stopped at the
end. Target: through Triton, at least 0.7 of the in-process rate with one client.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "ocr"))

import pipeline  # noqa: E402


def images(count: int = 8):
    """640x480 pictures with a few words each."""
    words = ["tritonctl", "inference", "server 2.51", "text", "detection", "recognition", "onnx", "cpu"]
    return [pipeline.draw_text_image([words[i % 8], words[(i + 3) % 8]]) for i in range(count)]


def rate(make_worker, clients: int, seconds: float) -> tuple[float, int]:
    """Images per second with `clients` threads, each making its worker (in its own thread: tritonclient's HTTP
    client belongs to the thread that made it) and calling worker(n) in a loop for `seconds`."""
    done = [0] * clients
    ready = threading.Barrier(clients + 1)
    go = threading.Event()
    errors: list[BaseException] = []
    stop = [0.0]

    def loop(i: int) -> None:
        try:
            worker = make_worker(i)
            ready.wait()
            go.wait()
            n = 0
            while time.perf_counter() < stop[0]:
                worker(n)
                n += 1
            done[i] = n
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    start = time.perf_counter()
    stop[0] = start + seconds
    go.set()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return sum(done) / (time.perf_counter() - start), sum(done)


def in_process(repo: Path):
    import onnxruntime as ort

    det = ort.InferenceSession(str(repo / "text_detection" / "1" / "model.onnx"))
    rec = ort.InferenceSession(str(repo / "text_recognition" / "1" / "model.onnx"))
    return (lambda blob: tuple(det.run(None, {pipeline.DETECTOR_INPUT: blob})),
            lambda crops: rec.run(None, {pipeline.RECOGNIZER_INPUT: crops})[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, default=ROOT / ".work" / "model_repository")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    repo = args.repo.resolve()
    for model in ("text_detection", "text_recognition"):
        if not (repo / model / "1" / "model.onnx").is_file():
            sys.exit(f"{repo / model / '1' / 'model.onnx'} is missing: run examples/demo.py first")
    pictures = images()
    detect, recognize = in_process(repo)
    boxes = len(pipeline.read_text(pictures[0], detect, recognize))
    print(f"OCR pipeline, 640x480 images ({boxes} boxes in the first: random-weight EAST draws them anywhere); "
          f"{os.cpu_count()} CPUs; {args.seconds:g} s per figure")

    results = {}
    for clients in (1, 8):
        results[("in-process", clients)] = rate(
            lambda i: lambda n: pipeline.read_text(pictures[(i + n) % 8], detect, recognize), clients, args.seconds)

    state = Path(tempfile.mkdtemp(prefix="tritonctl-bench-ocr-"))
    env = {**os.environ, "TRITONCTL_STATE_DIR": str(state)}
    tritonctl = [sys.executable, "-m", "tritonctl"]
    subprocess.run([*tritonctl, "server", "start", "--repo", str(repo), "--name", "bench", "--load", "text_detection",
                    "--load", "text_recognition"], env=env, check=True, capture_output=True)
    try:
        import json

        listed = json.loads(subprocess.run([*tritonctl, "server", "list", "-f", "json"], env=env, check=True,
                                           capture_output=True, text=True).stdout)
        url = listed["servers"][0]["url"]
        from client import TritonModels

        def through_triton(i: int):
            models = TritonModels(url)
            return lambda n: pipeline.read_text(pictures[(i + n) % 8], models.detect, models.recognize,
                                                batch=models.batch)

        for clients in (1, 8):
            results[("triton", clients)] = rate(through_triton, clients, args.seconds)
    finally:
        subprocess.run([*tritonctl, "server", "stop", "--server", "bench"], env=env, capture_output=True)
    for clients in (1, 8):
        local, _ = results[("in-process", clients)]
        served, _ = results[("triton", clients)]
        print(f"{clients} client{'s' if clients > 1 else ' '}  in-process {local:6.2f} img/s   through Triton "
              f"{served:6.2f} img/s   ratio {served / local:.2f}"
              + (f"   target >= 0.7: {'met' if served / local >= 0.7 else 'NOT met'}" if clients == 1 else ""))


if __name__ == "__main__":
    main()
