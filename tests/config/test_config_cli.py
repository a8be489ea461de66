from __future__ import annotations

import json

import pytest

from validate.onnx_models import onnx_bytes

BATCHING = onnx_bytes([("input.1", [-1, 1, 32, 100])], [("308", [-1, 26, 37])])
FIXED = onnx_bytes([("x", [1, 3])], [("y", [1, 3]), ("z", [])])

GENERATED = """\
name: "rec"
backend: "onnxruntime"
max_batch_size: 4
input [
  {
    name: "input.1"
    data_type: TYPE_FP32
    dims: [ 1, 32, 100 ]
  }
]
output [
  {
    name: "308"
    data_type: TYPE_FP32
    dims: [ 26, 37 ]
  }
]
dynamic_batching { }
"""


@pytest.fixture
def repo(make_repo):
    return make_repo({"rec/1/model.onnx": BATCHING, "fixed/1/model.onnx": FIXED})


def test_generate_prints_a_canonical_config_decided_as_triton_would(cli, repo):
    result = cli("config", "generate", str(repo / "rec"))
    assert (result.exit_code, result.stdout) == (0, GENERATED)
    fixed = cli("config", "generate", str(repo / "fixed" / "1" / "model.onnx")).stdout
    assert fixed == ('name: "fixed"\nbackend: "onnxruntime"\nmax_batch_size: 0\ninput [\n  {\n    name: "x"\n'
                     "    data_type: TYPE_FP32\n    dims: [ 1, 3 ]\n  }\n]\noutput [\n  {\n    name: \"y\"\n"
                     "    data_type: TYPE_FP32\n    dims: [ 1, 3 ]\n  },\n  {\n    name: \"z\"\n"
                     "    data_type: TYPE_FP32\n    dims: [ 1 ]\n  }\n]\n")


def test_generate_flags_override_the_defaults(cli, repo):
    out = cli("config", "generate", str(repo / "rec"), "--max-batch-size", "16", "--no-dynamic-batching",
              "--instances", "2", "--kind", "KIND_GPU", "--name", "other").stdout
    assert out.startswith('name: "other"\nbackend: "onnxruntime"\nmax_batch_size: 16\n')
    assert "dynamic_batching" not in out
    assert out.endswith("instance_group [\n  {\n    count: 2\n    kind: KIND_GPU\n  }\n]\n")
    refused = cli("config", "generate", str(repo / "fixed"), "--max-batch-size", "8")
    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: the model cannot batch (first dimensions are not all variable: x [1, 3]")


def test_write_refuses_to_overwrite_without_force_and_validates_clean(cli, repo):
    written = cli("config", "generate", str(repo / "rec"), "--write")
    assert written.exit_code == 0 and written.stderr == f"wrote {repo}/rec/config.pbtxt\n"
    assert (repo / "rec/config.pbtxt").read_text() == GENERATED
    again = cli("config", "generate", str(repo / "rec"), "--write")
    assert (again.exit_code, again.stderr) == (3, f"error: '{repo}/rec/config.pbtxt' exists\n"
                                                  "hint: overwrite it with --force, or keep its settings with --update\n")
    assert cli("config", "generate", str(repo / "rec"), "--write", "--force", "--max-batch-size", "8").exit_code == 0
    assert cli("config", "generate", str(repo / "fixed"), "--write").exit_code == 0
    assert cli("validate", str(repo)).exit_code == 0


def test_update_rewrites_tensors_and_keeps_every_other_setting_and_comment(cli, repo):
    config = ("# recogniser\nname: \"rec\"\nbackend: \"onnxruntime\"\nmax_batch_size: 256  # big\n"
              'input [ { name: "input" data_type: TYPE_FP32 dims: [ 1, 32, 100 ] } ]\n'
              'output [ { name: "307" data_type: TYPE_FP32 dims: [ 26, 37 ] } ]\n'
              "instance_group [ { kind: KIND_CPU count: 3 } ]  # three\n"
              "version_policy: { all { } }\n")
    (repo / "rec/config.pbtxt").write_text(config)
    result = cli("config", "generate", str(repo / "rec"), "--update", "--write")
    assert result.exit_code == 0, result.stderr
    text = (repo / "rec/config.pbtxt").read_text()
    assert text.startswith("# recogniser\nname: \"rec\"\nbackend: \"onnxruntime\"\nmax_batch_size: 256  # big\n")
    assert text.endswith("instance_group [ { kind: KIND_CPU count: 3 } ]  # three\nversion_policy: { all { } }\n")
    assert 'name: "input.1"' in text and 'name: "308"' in text
    assert "-output [ { name: \"307\"" in result.stdout and result.stderr == f"updated {repo}/rec/config.pbtxt\n"
    assert cli("validate", str(repo), "-m", "rec").exit_code == 0


@pytest.mark.parametrize(
    ("files", "target", "stderr"),
    [
        ({"m/1/model.onnx": b"not a model"}, "m", "is not an ONNX model"),
        ({"m/1/model.onnx": onnx_bytes([("x", [-1])], [])}, "m", "has no outputs; Triton has nothing to return"),
        ({"m/1/model.onnx": onnx_bytes([("x", [-1, 2])], [("y", [-1, 2])], elem=16)}, "m",
         "'x' in '{repo}/m/1/model.onnx' has element type BFLOAT16, which Triton 2.51's onnxruntime backend does not "
         "support; export it as FLOAT16 or FLOAT (TYPE_FP16/TYPE_FP32)"),
        ({"m/a.onnx": BATCHING, "m/b.onnx": BATCHING}, "m", "several model files in '{repo}/m': a.onnx, b.onnx"),
        ({"m/1/model.py": ""}, "m", "no ONNX model file in '{repo}/m' or its version folders"),
        ({}, "nowhere", "'{repo}/nowhere' does not exist"),
    ],
)
def test_bad_model_files_are_one_line_errors_and_write_nothing(cli, make_repo, files, target, stderr):
    repo = make_repo(files)
    result = cli("config", "generate", str(repo / target), "--write")
    assert result.exit_code in (2, 3)
    assert result.stderr.count("\n") <= 2 and stderr.format(repo=repo) in result.stderr
    assert not (repo / target / "config.pbtxt").exists()


def test_show_raw_and_normalized(cli, repo):
    (repo / "rec/config.pbtxt").write_text('backend: "onnxruntime"\n')
    raw = cli("config", "show", "rec", "--repo", str(repo))
    assert raw.stdout == 'backend: "onnxruntime"\nmax_batch_size: 0\n'
    shown = json.loads(cli("config", "show", "rec", "--repo", str(repo), "--normalized", "-f", "json").stdout)
    assert shown["max_batch_size"] == 4 and shown["dynamic_batching"]["preferred_batch_size"] == [4]
    assert [i["dims"] for i in shown["input"]] == [[1, 32, 100]]
    assert shown["instance_group"] == [{"name": "rec", "kind": "KIND_CPU", "count": 2, "gpus": [],
                                        "secondary_devices": [], "profile": [], "passive": False, "host_policy": ""}]
    gpu = json.loads(cli("config", "show", "rec", "-r", str(repo), "--normalized", "--gpus", "2", "-f", "json").stdout)
    assert gpu["instance_group"][0]["kind"] == "KIND_GPU" and gpu["instance_group"][0]["gpus"] == [0, 1]
    assert gpu["instance_group"][0]["count"] == 1


def test_convert_round_trips_json_and_pbtxt(cli, repo, tmp_path):
    (repo / "rec/config.pbtxt").write_text(GENERATED)
    shown = cli("config", "show", "rec", "-r", str(repo), "--normalized", "-f", "json").stdout
    (tmp_path / "c.json").write_text(shown)
    pb = cli("config", "convert", str(tmp_path / "c.json"))
    assert pb.exit_code == 0 and pb.stdout.startswith('name: "rec"\nplatform: "onnxruntime_onnx"\n')
    (tmp_path / "c.pbtxt").write_text(pb.stdout)
    assert json.loads(cli("config", "convert", str(tmp_path / "c.pbtxt")).stdout) == json.loads(shown)
    (tmp_path / "bad.json").write_text('{"max_batch_size": "x"}')
    bad = cli("config", "convert", str(tmp_path / "bad.json"))
    assert bad.exit_code == 3 and bad.stderr.startswith(f"error: {tmp_path}/bad.json: not a Triton model config")


@pytest.mark.parametrize("backend", ["onnxruntime", "python", "ensemble", "pytorch_libtorch", "tensorrt_plan"])
def test_init_scaffolds_a_model_from_its_template(cli, make_repo, backend):
    repo = make_repo({})
    result = cli("config", "init", "fresh", "--backend", backend, "--repo", str(repo))
    assert result.exit_code == 0, result.stderr
    assert (repo / "fresh/1").is_dir()
    report = json.loads(cli("validate", str(repo), "-f", "json").stdout)
    assert [f["code"] for f in report["findings"] if f["code"] in ("TRT001", "TRT101")] == []
    if backend == "python":
        assert report["findings"] == []
    again = cli("config", "init", "fresh", "--backend", backend, "--repo", str(repo))
    assert (again.exit_code, again.stderr) == (3, f"error: '{repo}/fresh' exists\n")


def test_update_sets_max_batch_size_0_when_the_new_model_cannot_batch(cli, repo):
    (repo / "fixed/config.pbtxt").write_text('name: "fixed"\nbackend: "onnxruntime"\nmax_batch_size: 8\n')
    result = cli("config", "generate", str(repo / "fixed"), "--update", "--write")
    assert result.exit_code == 0, result.stderr
    text = (repo / "fixed/config.pbtxt").read_text()
    assert text.startswith('name: "fixed"\nbackend: "onnxruntime"\nmax_batch_size: 0\n')
    assert cli("validate", str(repo), "-m", "fixed").exit_code == 0
