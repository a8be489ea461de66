"""The CLI stays light: --help and validate import no ML, cloud or server library."""

from __future__ import annotations

import subprocess
import sys

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


def test_layers_import_downwards_only():
    """cli -> domain (validate, ...) -> repository/normalize -> io -> errors, checked on the source."""
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "tritonctl"
    order = ["cli", "validate|versions|policy|generate|export|local_servers|loading|status|inference|sync",
             "repository|normalize|onnxruntime_backend|server_state|targets|locations|s3_cache", "io", "errors"]
    rank = {"cli": 0, "validate": 1, "versions": 1, "policy": 1, "generate": 1, "export": 1, "local_servers": 1,
            "loading": 1, "status": 1, "inference": 1, "sync": 1,
            "repository": 2, "normalize": 2, "onnxruntime_backend": 2, "server_state": 2, "targets": 2,
            "locations": 2, "s3_cache": 2, "io": 3,
            "errors": 4}

    def layer(module: str) -> str | None:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 and parts[0] == "tritonctl" and parts[1] in rank else None

    bad = []
    for path in src.rglob("*.py"):
        rel = path.relative_to(src)
        own = rel.parts[0].removesuffix(".py")
        if own not in rank:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                target = layer(name)
                if target and target != own and rank[target] <= rank[own] and not (rank[own] == 2 and rank[target] == 2):
                    bad.append(f"{rel} imports {name}")
    assert bad == [], f"upward imports (order {order})"
