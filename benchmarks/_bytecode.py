"""tritonctl's sources compiled to bytecode before anything is timed, as an installed wheel's are (pip compiles
them). A checkout installed in editable mode under PYTHONDONTWRITEBYTECODE=1 (as this machine's environment sets)
would otherwise compile every module it imports on every start: about 0.1 s of each command's time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SOURCES = Path(__file__).resolve().parents[1] / "src"


def compile_sources() -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(SOURCES)], check=True, stdout=subprocess.DEVNULL)
