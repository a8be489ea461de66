"""Wall time and peak memory of both random-weight exports at full size, each in a fresh process.

    python benchmarks/export.py

Peak memory is the whole process tree's: the sum of VmRSS over the export process and all its descendants, sampled
every 50 ms, beside each process's own peak (VmHWM, last read while it ran), so a child process hides nothing.
Target for `export east --random-weights`: under 3 GB, parity unchanged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _status(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:", "PPid:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def _tree(root: int) -> list[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = _status(int(entry)).get("PPid")
            if ppid is not None:
                parents[int(entry)] = ppid
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        tree += frontier
    return tree


class TreeSampler:
    """The peak of the summed VmRSS of a process and its descendants, and each one's own VmHWM."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid, self.every = pid, every
        self.peak_kb = 0
        self.hwm_kb: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for pid in _tree(self.pid):
                status = _status(pid)
                total += status.get("VmRSS", 0)
                if "VmHWM" in status:
                    self.hwm_kb[pid] = status["VmHWM"]
            self.peak_kb = max(self.peak_kb, total)
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="tritonctl-export-bench-"))
    repo = work / "repo"
    shutil.copytree(ROOT / "examples" / "model_repository", repo)
    print(f"{'export':32} {'wall':>8} {'tree peak':>10} {'own peaks (VmHWM)':>24}  ONNX size  parity")
    try:
        for kind, model in (("east", "text_detection"), ("str", "text_recognition")):
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "tritonctl", "export", kind, "--random-weights", "--repo",
                                     str(repo)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            sampler = TreeSampler(proc.pid)
            out, err = proc.communicate()
            sampler.stop()
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                sys.exit(err[-2000:])
            size = (repo / model / "1" / "model.onnx").stat().st_size / (1 << 20)
            own = ", ".join(f"{kb / 1024:.0f} MB" for kb in sampler.hwm_kb.values())
            parity = "; ".join(line.split("parity ", 1)[1] for line in err.splitlines() if line.startswith("parity "))
            target = f"  target < 3 GB: {'met' if sampler.peak_kb < 3 << 20 else 'NOT met'}" if kind == "east" else ""
            print(f"{'export ' + kind + ' --random-weights':32} {wall:7.1f}s {sampler.peak_kb / 1024:8.0f} MB "
                  f"{own:>24}  {size:.1f} MiB  {parity}{target}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
