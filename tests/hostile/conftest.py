"""Hostile input and unlucky faults: what an attacker or a bad day feeds tritonctl.

Tests that could hang on a regression (a FIFO read, a quadratic scan) run tritonctl in a subprocess with a timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from validate.onnx_models import onnx_bytes

GOOD = onnx_bytes([("input.1", [-1, 1, 32, 100])], [("308", [-1, 26, 37])])


def run(*args: str, timeout: float = 30, env: dict | None = None, cwd: Path | None = None
        ) -> subprocess.CompletedProcess:
    """tritonctl in a subprocess; a hang fails the test after `timeout` seconds instead of stalling the suite."""
    return subprocess.run([sys.executable, "-m", "tritonctl", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=cwd)


def tree(root: Path) -> dict[str, bytes]:
    """Every entry under root (links as links, hidden ones included) with its bytes."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel + "@"] = os.readlink(p).encode()
        elif p.is_dir():
            out[rel + "/"] = b""
        elif p.is_file():
            out[rel] = p.read_bytes()
    return out


@pytest.fixture
def repo(example_repo, tmp_path, monkeypatch):
    """A working copy of the examples (models text_detection and text_recognition), the current folder beside it."""
    monkeypatch.chdir(tmp_path)
    return example_repo
