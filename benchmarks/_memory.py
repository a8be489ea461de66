"""The peak memory of a process tree: the sum of VmRSS over a process and all its descendants, sampled every 50 ms,
beside each process's own peak (VmHWM, last read while it ran), so a child process hides nothing (ru_maxrss keeps a
parent's peak across fork+exec)."""

from __future__ import annotations

import os
import threading


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
