"""Both exports at full size with random weights, made once for the package (about a minute): the export tests
check them, the README tour serves them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES


def tritonctl(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "tritonctl", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600, env={**os.environ, **(env or {})})


@pytest.fixture(scope="package")
def exported(tmp_path_factory):
    repo = tmp_path_factory.mktemp("export") / "model_repository"
    shutil.copytree(EXAMPLES, repo)
    east = tritonctl("export", "east", "--random-weights", "--repo", str(repo))
    rec = tritonctl("export", "str", "--random-weights", "--repo", str(repo))
    return repo, east, rec


