"""CLI latency beside bare Python start-up, measured side by side in one run.

    python benchmarks/cli_latency.py [RUNS]

Starts the local Triton (tritonctl server start, its own state folder) over a repository with two ONNX models
loaded, then times: `python -c pass`, `tritonctl --help` and `tritonctl rules` (targets < 60 ms), `tritonctl status`
(target < 150 ms), each the median of RUNS.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bytecode import compile_sources

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def timed(cmd: list[str], runs: int, env: dict) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    from validate.onnx_models import east_like, str_like

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    compile_sources()
    work = Path(tempfile.mkdtemp(prefix="tritonctl-latency-"))
    env = {**os.environ, "TRITONCTL_STATE_DIR": str(work / "state")}
    repo = work / "repo"
    shutil.copytree(ROOT / "examples" / "model_repository", repo)
    (repo / "text_detection" / "1").mkdir()
    (repo / "text_detection" / "1" / "model.onnx").write_bytes(east_like())
    (repo / "text_recognition" / "1").mkdir()
    (repo / "text_recognition" / "1" / "model.onnx").write_bytes(str_like())
    tritonctl = [sys.executable, "-m", "tritonctl"]
    subprocess.run([*tritonctl, "server", "start", "--repo", str(repo), "--load", "text_detection", "--load",
                    "text_recognition"], check=True, env=env, capture_output=True)
    try:
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "tritonctl --help": [*tritonctl, "--help"],
            "tritonctl rules": [*tritonctl, "rules"],
            "tritonctl status (2 models)": [*tritonctl, "status"],
        }
        for cmd in cases.values():
            timed(cmd, 1, env)  # warm caches
        results = {name: timed(cmd, runs, env) for name, cmd in cases.items()}
    finally:
        subprocess.run([*tritonctl, "server", "stop"], env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(results["python -c pass"])
    print(f"{'command':30} {'median':>9} {'min':>9} {'x python':>9}  target")
    targets = {"tritonctl --help": 0.06, "tritonctl rules": 0.06, "tritonctl status (2 models)": 0.15}
    for name, times in results.items():
        med = statistics.median(times)
        target = targets.get(name)
        verdict = "" if target is None else f"< {target * 1000:.0f} ms: {'met' if med < target else 'NOT met'}"
        print(f"{name:30} {med * 1000:8.1f}ms {min(times) * 1000:8.1f}ms {med / base:9.1f}  {verdict}")


if __name__ == "__main__":
    main()
