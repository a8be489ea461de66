from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, write_tree
from validate.onnx_models import east_like, str_like

POLICY_CONFIG = (EXAMPLES / "text_recognition" / "config.pbtxt").read_text().replace(
    'name: "text_recognition"', 'name: "rec_policy"') + "version_policy: { specific: { versions: [ 1 ] } }\n"
BROKEN_CONFIG = (EXAMPLES / "text_recognition" / "config.pbtxt").read_text().replace(
    'name: "text_recognition"', 'name: "broken"').replace('name: "308"', 'name: "307"')


PY_AUTO = """\
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    @staticmethod
    def auto_complete_config(config):
        config.set_max_batch_size(8)
        config.add_input({"name": "TEXT", "data_type": "TYPE_FP32", "dims": [4]})
        config.add_output({"name": "SCORE", "data_type": "TYPE_FP32", "dims": [4]})
        config.set_dynamic_batching()
        return config

    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor(
            "SCORE", pb_utils.get_input_tensor_by_name(r, "TEXT").as_numpy() * 2)]) for r in requests]
"""


# A model with a known optimum for tune: every call sleeps 50 ms whatever its batch (max_batch_size 4), so at
# concurrency 16 (a full batch always waiting for each instance) one instance without batching serves 20/s, two
# 40/s, one with dynamic batching 80/s and two 160/s:
# the best wins by 2x over the next, a margin a loaded 2-core machine does not flip. With the parameter
# `refuse_batching`, an instance refuses to start under dynamic batching (a candidate that fails to load).
TUNE_CONFIG = """\
# tune's test model: comments and layout are kept by --write
backend: "python"
max_batch_size: 4
input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]

instance_group [ { count: 1 kind: KIND_CPU } ]  # tuned
"""
TUNE_MODEL = """\
import json
import time

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        refuse = config.get("parameters", {}).get("refuse_batching", {}).get("string_value") == "yes"
        if refuse and "dynamic_batching" in config:
            raise pb_utils.TritonModelException("this model refuses dynamic batching")

    def execute(self, requests):
        time.sleep(0.05)
        if any((pb_utils.get_input_tensor_by_name(r, "x").as_numpy() == -7).all() for r in requests):
            raise pb_utils.TritonModelException("x is -7 everywhere: the input data reached the model")
        return [pb_utils.InferenceResponse([pb_utils.Tensor(
            "y", pb_utils.get_input_tensor_by_name(r, "x").as_numpy())]) for r in requests]
"""


def tritonctl(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tritonctl", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"tritonctl {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


def build_repository(root: Path) -> Path:
    shutil.copytree(EXAMPLES, root)
    write_tree(root, {
        "text_detection/1/model.onnx": east_like(),
        "text_recognition/1/model.onnx": str_like(1.0),
        "rec_policy/config.pbtxt": POLICY_CONFIG,
        "rec_policy/1/model.onnx": str_like(1.0),
        "rec_policy/2/model.onnx": str_like(2.0),
        "broken/config.pbtxt": BROKEN_CONFIG,
        "broken/1/model.onnx": str_like(0.0),
        "unparsable/config.pbtxt": 'backend: "onnxruntime"\nmax_batch_size: [oops\n',
        "unparsable/1/model.onnx": str_like(0.0),
        "py_auto/config.pbtxt": 'backend: "python"\n',
        "py_auto/1/model.py": PY_AUTO,
        "tune_sleepy/config.pbtxt": TUNE_CONFIG,
        "tune_sleepy/1/model.py": TUNE_MODEL,
        "tune_fails/config.pbtxt": TUNE_CONFIG + 'parameters { key: "refuse_batching" value { string_value: "yes" } }\n',
        "tune_fails/1/model.py": TUNE_MODEL,
    })
    return root


@pytest.fixture(scope="session")
def local_triton(tmp_path_factory):
    """The real local Triton, started once with `tritonctl server start` over a repository of test models."""
    base = tmp_path_factory.mktemp("server")
    repo = build_repository(base / "repo")
    old = os.environ.get("TRITONCTL_STATE_DIR")
    os.environ["TRITONCTL_STATE_DIR"] = str(base / "state")
    started = tritonctl("server", "start", "--repo", str(repo), "--load", "text_detection", "--load",
                        "text_recognition")
    from tritonctl.server_state import read_state

    state = read_state("default")
    yield {"repo": repo, "state": state, "start_stdout": started.stdout, "start_stderr": started.stderr}
    stop_for_sure(state)
    if old is None:
        os.environ.pop("TRITONCTL_STATE_DIR", None)
    else:
        os.environ["TRITONCTL_STATE_DIR"] = old


def stop_for_sure(state, env: dict | None = None) -> None:
    """Stop a local server started by a test; kill it when `server stop` cannot (a test must leave nothing)."""
    import signal

    from tritonctl.io import process

    tritonctl("server", "stop", "--server", state.name, env=env, check=False)
    if process.is_running(state.identity):
        os.killpg(state.pid, signal.SIGKILL)


def state_in(state_dir: Path, name: str):
    """The state of local server `name` recorded under `state_dir` (None when it does not run)."""
    from tritonctl.server_state import read_state

    saved = os.environ.get("TRITONCTL_STATE_DIR")
    os.environ["TRITONCTL_STATE_DIR"] = str(state_dir)
    try:
        return read_state(name)
    finally:
        if saved is None:
            os.environ.pop("TRITONCTL_STATE_DIR")
        else:
            os.environ["TRITONCTL_STATE_DIR"] = saved
