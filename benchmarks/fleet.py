"""Fleet commands beside the same work on one server, measured side by side in one run.

    python benchmarks/fleet.py [RUNS]

Starts 10 local Tritons (127.0.0.1 to 127.0.0.10, one port, one repository holding a python model `m` whose
initialize takes 1 s; no model loaded at first), then times:
- `tritonctl status` over 1, 3 and 10 replicas (median of RUNS; target: 10 replicas under 2x one replica);
- a rollout of `load m` over 3 replicas (--parallel 1 and 3) beside the sum of 3 single-server loads.
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
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "src")]
REPLICAS = 10


def run(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr}")
    return time.perf_counter() - start


def main() -> None:
    from fleet.conftest import CONFIG, model_file
    from tritonctl.io.triton_binary import free_port

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    compile_sources()
    work = Path(tempfile.mkdtemp(prefix="tritonctl-fleet-"))
    env = {**os.environ, "TRITONCTL_STATE_DIR": str(work / "state")}
    repo = work / "repo"
    (repo / "m" / "1").mkdir(parents=True)
    (repo / "m" / "config.pbtxt").write_text(CONFIG)
    (repo / "m" / "1" / "model.py").write_text(model_file(1, start=1.0))
    port = free_port()
    addresses = [f"127.0.0.{i + 1}" for i in range(REPLICAS)]
    urls = [f"http://{a}:{port}" for a in addresses]
    tritonctl = [sys.executable, "-m", "tritonctl"]

    def url_args(n: int) -> list[str]:
        return [arg for url in urls[:n] for arg in ("--url", url)]

    starts = [subprocess.Popen([*tritonctl, "server", "start", "--name", f"b{i}", "--address", a, "--http-port",
                                str(port), "--repo", str(repo)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE) for i, a in enumerate(addresses)]
    try:
        for proc in starts:
            if proc.wait() != 0:
                raise SystemExit(f"server start failed: {proc.stderr.read().decode()}")
        status = {}
        for n in (1, 3, REPLICAS):
            cmd = [*tritonctl, "status", "-r", str(repo), *url_args(n)]
            run(cmd, env)  # warm
            status[n] = statistics.median(run(cmd, env) for _ in range(runs))
        print(f"status over  1 replica : {status[1] * 1000:7.0f} ms")
        print(f"status over  3 replicas: {status[3] * 1000:7.0f} ms   ({status[3] / status[1]:.2f}x one)")
        print(f"status over {REPLICAS} replicas: {status[REPLICAS] * 1000:7.0f} ms   "
              f"({status[REPLICAS] / status[1]:.2f}x one; target < 2x)")

        unload = [*tritonctl, "unload", "m", *url_args(3)]
        singles = []
        for url in urls[:3]:
            singles.append(run([*tritonctl, "load", "m", "-r", str(repo), "--url", url], env))
        rollouts = {}
        for parallel in (1, 3):
            run(unload, env)
            rollouts[parallel] = run([*tritonctl, "load", "m", "-r", str(repo), *url_args(3), "--parallel",
                                      str(parallel)], env)
        total = sum(singles)
        print(f"3 single loads (one command each): {total:6.2f} s in all ({', '.join(f'{s:.2f}' for s in singles)})")
        for parallel, seconds in rollouts.items():
            print(f"rollout over 3, --parallel {parallel}:     {seconds:6.2f} s   ({seconds / total:.2f}x the sum)")
    finally:
        stops = [subprocess.Popen([*tritonctl, "server", "stop", "--server", f"b{i}"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(REPLICAS)]
        for proc in stops:
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
