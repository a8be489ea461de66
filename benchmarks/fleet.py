"""Fleet commands beside the same work on one server, measured side by side in one run.

    python benchmarks/fleet.py [RUNS]

Starts 10 local Tritons (127.0.0.1 to 127.0.0.10, one port, one repository holding a python model `m` whose
initialize takes 1 s; no model loaded at first), then times, each the median of RUNS:
- `tritonctl status` over 1, 3 and 10 replicas (target: 10 replicas under 1.1x one replica);
- `tritonctl load`, `unload` and `policy apply` on one server beside the same request sent directly (urllib from
  this process, the body tritonctl sends: the served config as JSON; an unload until the index says it is done, as
  tritonctl waits; each timed unload after a pause from `Phases`, and three times as many unload pairs),
  target: within 100 ms;
- a rollout of `load m` over 3 replicas, `--parallel 1`, beside the sum of the same 3 loads sent directly (target:
  within 15 %), and `--parallel 3`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
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


def direct(url: str, action: str, config: dict | None = None) -> float:
    """One repository request to Triton (`load` or `unload` of m), timed from this process."""
    body = {"parameters": {"config": json.dumps(config)}} if config is not None else {}
    request = urllib.request.Request(f"{url}/v2/repository/models/m/{action}", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as answer:
        answer.read()
    while action == "unload" and unloading(url):  # Triton answers an unload before it is done
        time.sleep(0.005)
    return time.perf_counter() - start


class Phases:
    """Pauses before the timed unloads, one deck per side. How long Triton 2.51 takes to unload the python model
    depends on when the request comes: the stub's health thread sleeps 300 ms a turn and its unload waits for the
    turn to end (triton-inference-server/python_backend src/pb_stub.cc: `sleep_for(300 ms)` in the background
    thread, joined after Finalize), 0 to 300 ms on top of the rest (measured here: 1.05 to 1.30 s). Each deck
    holds the same pauses, 0.5 s plus points spread evenly over one 300 ms turn, in its own shuffled order, so
    both sides meet every phase equally often: what is left between their medians is tritonctl's own time. (With
    a random pause per unload instead, three runs of this benchmark gave +156, +223 and +117 ms.)"""

    def __init__(self, count: int) -> None:
        shuffle = random.Random(23).shuffle
        self.decks = {}
        for side in ("tritonctl", "direct"):
            deck = [0.5 + 0.3 * (k + 0.5) / count for k in range(count)]
            shuffle(deck)
            self.decks[side] = deck

    def pause(self, side: str) -> None:
        time.sleep(self.decks[side].pop())


def unloading(url: str) -> bool:
    index = urllib.request.Request(f"{url}/v2/repository/index", data=b"{}", method="POST")
    with urllib.request.urlopen(index, timeout=30) as answer:
        states = {m.get("state") for m in json.loads(answer.read()) if m.get("name") == "m"}
    return bool(states & {"READY", "UNLOADING", "LOADING"})


def served_config(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/v2/models/m/config", timeout=30) as answer:
        return json.loads(answer.read())


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
              f"({status[REPLICAS] / status[1]:.2f}x one; target < 1.1x: "
              f"{'met' if status[REPLICAS] < 1.1 * status[1] else 'NOT met'})")

        one = urls[0]
        load = [*tritonctl, "load", "m", "-r", str(repo), "--url", one]
        run(load, env)
        config = served_config(one)
        pairs = {"load": ([], []), "unload": ([], []), "policy apply latest:1": ([], [])}
        phases = Phases(3 * runs)
        for _ in range(runs):  # interleaved: tritonctl, then the same request sent directly
            direct(one, "unload")
            pairs["load"][0].append(run(load, env))
            direct(one, "unload")
            pairs["load"][1].append(direct(one, "load", config))
            phases.pause("tritonctl")
            pairs["unload"][0].append(run([*tritonctl, "unload", "m", "--url", one], env))
            direct(one, "load", config)
            phases.pause("direct")
            pairs["unload"][1].append(direct(one, "unload"))
            direct(one, "load", config)
            pairs["policy apply latest:1"][0].append(run([*tritonctl, "policy", "apply", "m", "latest:1", "-r",
                                                          str(repo), "--url", one], env))
            pairs["policy apply latest:1"][1].append(direct(one, "load", config))
        for _ in range(2 * runs):  # the unload's spread is Triton's (see Phases): three times the pairs
            direct(one, "load", config)
            phases.pause("tritonctl")
            pairs["unload"][0].append(run([*tritonctl, "unload", "m", "--url", one], env))
            direct(one, "load", config)
            phases.pause("direct")
            pairs["unload"][1].append(direct(one, "unload"))
        for name, (ours, theirs) in pairs.items():
            extra = statistics.median(ours) - statistics.median(theirs)
            print(f"{name:22} tritonctl {statistics.median(ours):6.2f} s, the request sent directly "
                  f"{statistics.median(theirs):6.2f} s: {extra * 1000:+5.0f} ms (target within 100 ms: "
                  f"{'met' if extra < 0.1 else 'NOT met'})")

        rollout, sums, wide = [], [], []
        for _ in range(runs):
            for url in urls[:3]:
                direct(url, "unload")
            rollout.append(run([*tritonctl, "load", "m", "-r", str(repo), *url_args(3), "--parallel", "1"], env))
            for url in urls[:3]:
                direct(url, "unload")
            sums.append(sum(direct(url, "load", config) for url in urls[:3]))
            for url in urls[:3]:
                direct(url, "unload")
            wide.append(run([*tritonctl, "load", "m", "-r", str(repo), *url_args(3), "--parallel", "3"], env))
        total = statistics.median(sums)
        sequential = statistics.median(rollout)
        print(f"3 loads sent directly, one after another: {total:6.2f} s")
        print(f"rollout over 3, --parallel 1:          {sequential:6.2f} s   ({sequential / total:.2f}x the sum; "
              f"target within 15 %: {'met' if sequential < 1.15 * total else 'NOT met'})")
        print(f"rollout over 3, --parallel 3:          {statistics.median(wide):6.2f} s   "
              f"({statistics.median(wide) / total:.2f}x the sum)")
    finally:
        stops = [subprocess.Popen([*tritonctl, "server", "stop", "--server", f"b{i}"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(REPLICAS)]
        for proc in stops:
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
