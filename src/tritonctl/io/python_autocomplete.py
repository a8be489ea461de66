"""Run a python-backend model's `auto_complete_config` as Triton's python backend would, in a subprocess.

The subprocess imports the model file with the python backend's own `triton_python_backend_utils` (from the
nvidia-pytriton wheel, where it is plain Python), calls the static method on the current config, and prints
the result; the fields Triton lets auto-complete change (max_batch_size, input, output, dynamic batching,
model_transaction_policy) are copied back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tritonctl.errors import TritonctlError

if TYPE_CHECKING:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

_SCRIPT = r"""
import importlib.util, json, sys
utils_dir, model_path, name = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, utils_dir)
import triton_python_backend_utils as pb_utils
config = sys.stdin.read()
spec = importlib.util.spec_from_file_location("triton_model", model_path)
module = importlib.util.module_from_spec(spec)
try:
    spec.loader.exec_module(module)
    cls = module.TritonPythonModel
    if not hasattr(cls, "auto_complete_config"):
        print(json.dumps({"unchanged": True}))
        sys.exit(0)
    result = cls.auto_complete_config(pb_utils.ModelConfig(config))
    if not isinstance(result, pb_utils.ModelConfig):
        print(json.dumps({"error": "auto_complete_config function in model '" + name
                          + "' must return a valid pb.ModelConfig object."}))
        sys.exit(0)
    print(json.dumps({"config": result.as_dict()}))
except Exception as e:
    print(json.dumps({"error": str(e)}))
"""


def run_auto_complete(model_file: Path, config: ModelConfig, timeout: float = 60) -> str | None:
    """Apply the model's auto_complete_config to `config` in place; returns the error text, or None."""
    from google.protobuf import json_format

    from tritonctl.io.triton_binary import locate

    from tritonctl.io.files import describe, open_regular

    try:
        open_regular(model_file).close()  # a FIFO would hang the subprocess's import
    except OSError as e:
        return f"cannot read '{model_file}': {describe(e)}"
    utils = locate().python_backend
    doc = json_format.MessageToDict(config, preserving_proto_field_name=True,
                                    always_print_fields_with_no_presence=True)
    try:
        proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(utils), str(model_file), config.name],
                              input=json.dumps(doc), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"auto_complete_config of '{model_file}' did not return within {timeout:.0f} s"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"running auto_complete_config of '{model_file}' failed: {tail}"
    result = json.loads(lines[-1])
    if "error" in result:
        return result["error"]
    if result.get("unchanged"):
        return None
    new = result["config"]
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

    try:
        completed = json_format.ParseDict(new, ModelConfig(), ignore_unknown_fields=True)
    except json_format.ParseError as e:
        raise TritonctlError(f"auto_complete_config of '{model_file}' returned an invalid config: {e}") from None
    config.max_batch_size = completed.max_batch_size
    for field in ("input", "output"):
        config.ClearField(field)
        getattr(config, field).extend(getattr(completed, field))
    if config.WhichOneof("scheduling_choice") is None and completed.HasField("dynamic_batching"):
        config.dynamic_batching.CopyFrom(completed.dynamic_batching)
    if completed.HasField("model_transaction_policy"):
        config.model_transaction_policy.CopyFrom(completed.model_transaction_policy)
    return None
