"""How long `tritonctl --help` takes, beside bare Python start-up, measured side by side in one run.

    python benchmarks/help_latency.py [RUNS]

Target (issue 2): --help in well under 0.3 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def timed(cmd: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -m tritonctl --help": [sys.executable, "-m", "tritonctl", "--help"],
        "python -m tritonctl rules": [sys.executable, "-m", "tritonctl", "rules"],
    }
    timed(cases["python -m tritonctl --help"], 2)  # warm the file cache
    results = {name: timed(cmd, runs) for name, cmd in cases.items()}
    base = statistics.median(results["python -c pass"])
    print(f"{'command':32} {'median':>9} {'min':>9} {'max':>9} {'x python':>9}")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"{name:32} {med * 1000:8.1f}ms {min(times) * 1000:8.1f}ms {max(times) * 1000:8.1f}ms "
              f"{med / base:9.2f}")
    help_med = statistics.median(results["python -m tritonctl --help"])
    print(f"target --help < 300 ms: {'met' if help_med < 0.3 else 'NOT met'} ({help_med * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
