#!/usr/bin/env python3
"""Put perf_analyzer 2.51 where `tritonctl tune` finds it ($TRITONCTL_STATE_DIR/perf_analyzer/perf_analyzer).

perf_analyzer is not on PyPI as a package of its own (the `perf-analyzer` project there is a placeholder); the
binary ships inside the tritonclient 2.51.0 wheel (`tritonclient-2.51.0.data/data/bin/perf_analyzer`), and it needs
`libb64.so.0d` and `libcudart.so.12`, which the nvidia-pytriton wheel (tritonctl's `server` extra) bundles under
`nvidia_pytriton.libs/` with hashed names. This script takes the wheel from `--wheel`, else `.cache/wheels/` of this
checkout, else downloads it with pip (no install: the project's tritonclient stays as it is), extracts the binary,
links the two libraries under their plain names, and writes a wrapper that sets LD_LIBRARY_PATH.

    python scripts/setup_perf_analyzer.py [--wheel PATH]
"""

from __future__ import annotations

import argparse
import glob
import os
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

VERSION = "2.51.0"
MEMBER = f"tritonclient-{VERSION}.data/data/bin/perf_analyzer"
LIBRARIES = {"libb64.so.0d": "libb64-*.so.0d", "libcudart.so.12": "libcudart-*.so.12*"}


def _wheel(given: str | None, download_to: Path) -> Path:
    if given:
        return Path(given)
    here = Path(__file__).resolve().parent.parent / ".cache" / "wheels"
    found = sorted(here.glob(f"tritonclient-{VERSION}-*.whl"))
    if found:
        return found[0]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"tritonclient=={VERSION}", "-d",
                    str(download_to)], check=True)
    return sorted(download_to.glob(f"tritonclient-{VERSION}-*.whl"))[0]


def _libraries() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("error: nvidia-pytriton is not installed (pip install 'tritonctl[server]'): it carries the "
                 "libraries perf_analyzer needs")
    return Path(list(spec.submodule_search_locations)[0]).parent / "nvidia_pytriton.libs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", help=f"the tritonclient {VERSION} wheel (default: .cache/wheels, else pip "
                                        "download)")
    args = parser.parse_args()
    from tritonctl.server_state import perf_analyzer_path

    wrapper = perf_analyzer_path()
    home = wrapper.parent
    (home / "lib").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _wheel(args.wheel, Path(tmp))
        with zipfile.ZipFile(wheel) as z:
            binary = home / "perf_analyzer.bin"
            part = home / ".perf_analyzer.bin.part"
            with z.open(MEMBER) as src, open(part, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            part.chmod(0o755)
            part.replace(binary)
    libs = _libraries()
    for plain, pattern in LIBRARIES.items():
        found = sorted(glob.glob(str(libs / pattern)))
        if not found:
            sys.exit(f"error: {pattern} is not in {libs}")
        link = home / "lib" / plain
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(found[0])
    text = (f'#!/bin/sh\n# written by tritonctl scripts/setup_perf_analyzer.py: perf_analyzer {VERSION} with its '
            f'libraries\nLD_LIBRARY_PATH="{home}/lib${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}" exec "{binary}" "$@"\n')
    part = home / ".perf_analyzer.part"
    part.write_text(text)
    part.chmod(part.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.replace(part, wrapper)
    done = subprocess.run([str(wrapper), "--version"], capture_output=True, text=True)
    if "2.51" not in done.stdout + done.stderr:
        sys.exit(f"error: {wrapper} does not start: {(done.stdout + done.stderr).strip()[-300:]}")
    print(f"{wrapper}: {(done.stdout + done.stderr).strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
