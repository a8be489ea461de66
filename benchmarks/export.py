"""Wall time and peak memory of both random-weight exports at full size, each in a fresh process.

    python benchmarks/export.py

Peak memory is the whole process tree's: the sum of VmRSS over the export process and all its descendants, sampled
every 50 ms, beside each process's own peak (VmHWM, last read while it ran), so a child process hides nothing.
Target for `export east --random-weights`: under 3 GB, parity unchanged.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _memory import TreeSampler

ROOT = Path(__file__).resolve().parents[1]


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
