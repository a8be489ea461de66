"""Wall time and peak RSS of both random-weight exports at full size, each in a fresh process.

    python benchmarks/export.py

Peak RSS is the process's own VmHWM (ru_maxrss would include the parent's peak across fork+exec).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = """
import json, sys
from tritonctl.cli.app import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    hwm = [int(l.split()[1]) / 1024 for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]
    print(json.dumps({"rss_mb": hwm}), file=sys.stderr)
"""


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="tritonctl-export-bench-"))
    repo = work / "repo"
    shutil.copytree(ROOT / "examples" / "model_repository", repo)
    base = subprocess.run([sys.executable, "-c", "print([int(l.split()[1]) / 1024 for l in open('/proc/self/status')"
                           " if l.startswith('VmHWM:')][0])"], capture_output=True, text=True)
    print(f"bare python peak RSS {float(base.stdout):.0f} MB")
    print(f"{'export':32} {'wall':>8} {'peak RSS':>10}  ONNX size")
    try:
        for kind, model in (("east", "text_detection"), ("str", "text_recognition")):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", RUN, "export", kind, "--random-weights", "--repo", str(repo)],
                                  capture_output=True, text=True)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                sys.exit(proc.stderr[-2000:])
            rss = json.loads([line for line in proc.stderr.splitlines() if line.startswith('{"rss_mb"')][-1])["rss_mb"]
            size = (repo / model / "1" / "model.onnx").stat().st_size / (1 << 20)
            print(f"{'export ' + kind + ' --random-weights':32} {wall:7.1f}s {rss:8.0f} MB  {size:.1f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
