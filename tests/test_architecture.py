"""The CLI stays light: --help and validate import no ML, cloud or server library."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES

HEAVY = {"tensorflow", "tf2onnx", "torch", "onnx", "onnxruntime", "numpy", "tritonclient", "gevent", "boto3",
         "botocore"}


def imported_top_level(*args: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "tritonctl", *args],
                          capture_output=True, text=True)
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert names, proc.stderr[-2000:]
    return names


@pytest.mark.parametrize("args", [["--help"], ["validate", str(EXAMPLES)], ["rules"]])
def test_light_commands_import_no_heavy_library(args):
    assert imported_top_level(*args) & HEAVY == set()


def test_validate_of_a_savedmodel_imports_no_tensorflow(tmp_path):
    from conftest import write_tree
    from validate.cases import tf

    write_tree(tmp_path / "repo" / "tf_model", tf('platform: "tensorflow_savedmodel"\nmax_batch_size: 8\n'))
    assert imported_top_level("validate", str(tmp_path / "repo")) & HEAVY == set()


ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}  # this checkout's source, whatever is installed
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


def test_layers_import_downwards_only():
    """The contracts in pyproject.toml ([tool.importlinter]): cli -> one module per command family (none imports
    another) -> shared domain -> io -> errors."""
    proc = _run(str(Path(sys.executable).with_name("lint-imports")), "--no-cache")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_heavy_libraries_are_imported_inside_functions_only():
    """ruff's banned module-level imports (TID253, configured in pyproject.toml)."""
    proc = _run(str(Path(sys.executable).with_name("ruff")), "check", "--no-cache", "--select", "TID253", "src/")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
