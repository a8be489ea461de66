"""Every disagreement between a config and its ONNX model in one run, the one Triton reports first marked."""

from __future__ import annotations

import json

from conftest import write_tree
from validate.onnx_models import onnx_bytes

CONFIG = """backend: "onnxruntime"
max_batch_size: 8
input [
  { name: "a" data_type: TYPE_FP32 dims: [ 4 ] },
  { name: "bb" data_type: TYPE_FP32 dims: [ 4 ] }
]
output [
  { name: "y" data_type: TYPE_INT32 dims: [ 4 ] },
  { name: "z" data_type: TYPE_FP32 dims: [ 5 ] }
]
"""


def test_four_disagreements_are_four_findings_and_one_update_fixes_them(cli, tmp_path):
    model = onnx_bytes([("a", [-1, 3]), ("b", [-1, 4])], [("y", [-1, 4]), ("z", [-1, 4])])
    repo = write_tree(tmp_path / "repo", {"m/config.pbtxt": CONFIG, "m/1/model.onnx": model})
    report = json.loads(cli("validate", str(repo), "-f", "json").stdout)
    found = [(f["code"], f["field"], f["triton_first"]) for f in report["findings"]]
    assert found == [("TRT511", "input[0].dims", True), ("TRT511", "input[1].name", False),
                     ("TRT511", "output[0].data_type", False), ("TRT511", "output[1].dims", False)]
    first = report["findings"][0]
    assert first["message"].endswith(f"(4 disagreements with the model; tritonctl config generate {repo}/m --update "
                                     "rewrites the inputs and outputs from it)")
    assert first["triton_message"].startswith("model 'm', tensor 'a': the model expects 2 dimensions")
    updated = cli("config", "generate", str(repo / "m"), "--update", "--write")
    assert updated.exit_code == 0, updated.stderr
    assert cli("validate", str(repo)).exit_code == 0
