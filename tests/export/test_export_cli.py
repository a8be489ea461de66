"""Both exports at full size, into a copy of examples/model_repository, checked end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import EXAMPLES
from export.conftest import tritonctl

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_both_exports_add_version_1_and_validate_clean(exported):
    repo, east, rec = exported
    assert east.returncode == 0, east.stderr
    assert rec.returncode == 0, rec.stderr
    assert east.stdout.startswith(f"added version 1 of 'text_detection': {repo}/text_detection/1 (export.json, "
                                  "model.onnx; ") and east.stdout.endswith(" MiB)\n")  # as version add says it
    assert rec.stdout.startswith(f"added version 1 of 'text_recognition': {repo}/text_recognition/1 (export.json, "
                                 "model.onnx; ")
    assert "parity feature_fusion/concat_3:0: max abs " in east.stderr and " ok\n" in east.stderr
    assert "parity 308: max abs " in rec.stderr
    # the tutorial's configs were already right: nothing to update
    assert (repo / "text_recognition/config.pbtxt").read_text() == (
        EXAMPLES / "text_recognition/config.pbtxt").read_text()
    check = tritonctl("validate", str(repo))
    assert (check.returncode, check.stdout) == (0, "")


def test_signatures_are_the_tutorials_and_load_in_triton_251(exported):
    from tritonctl.io.onnxsig import read_signature

    repo, _east, _rec = exported
    det = read_signature(repo / "text_detection/1/model.onnx")
    assert [(t.name, t.dims) for t in det.inputs] == [("input_images:0", (-1, -1, -1, 3))]
    assert [(t.name, t.dims) for t in det.outputs] == [("feature_fusion/Conv_7/Sigmoid:0", (-1, -1, -1, 1)),
                                                       ("feature_fusion/concat_3:0", (-1, -1, -1, 5))]
    rec = read_signature(repo / "text_recognition/1/model.onnx")
    assert [(t.name, t.dims) for t in rec.inputs] == [("input.1", (-1, 1, 32, 100))]
    assert [(t.name, t.dims) for t in rec.outputs] == [("308", (-1, 26, 37))]
    assert rec.external_data == [] and not (repo / "text_recognition/1/model.onnx.data").exists()
    for sig in (det, rec):
        assert sig.ir_version <= 10 and sig.opset <= 21
    from onnx_reference import ours, reference

    for model in ("text_detection", "text_recognition"):  # the wire-format reader agrees with onnx.load
        data = (repo / model / "1" / "model.onnx").read_bytes()
        assert ours(data) == reference(data)


def test_export_record_is_written_and_listed(exported, cli):
    repo, _east, _rec = exported
    record = json.loads((repo / "text_recognition/1/export.json").read_text())
    assert record["source"] == "random weights (seed 0)" and record["opset"] == 17
    assert record["parity"][0]["ok"] and record["parity"][0]["cases"] == ["batch 1", "batch 3"]
    assert set(record["tools"]) == {"torch", "onnx", "onnxruntime"}
    assert record["command"] == "tritonctl export str --random-weights --repo " + str(repo)
    listed = json.loads(cli("version", "list", "text_recognition", "-r", str(repo), "-f", "json").stdout)
    assert listed["versions"][0]["export"]["onnx_sha256"] == record["onnx_sha256"]
    east = json.loads((repo / "text_detection/1/export.json").read_text())
    assert set(east["tools"]) == {"tensorflow", "tf2onnx", "onnx", "onnxruntime"} and east["opset"] == 15


def test_exports_serve_the_tutorials_shapes_in_the_local_triton(exported, tmp_path):
    import triton_harness
    from tritonctl.io.triton_client import Endpoint, TritonClient

    repo, _east, _rec = exported
    server = triton_harness.start(repo.absolute(), tmp_path)
    try:
        assert server.load("text_detection") == (200, "")
        assert server.load("text_recognition") == (200, "")
        with TritonClient(Endpoint(server.url)) as client:
            image = np.random.default_rng(0).uniform(-128, 128, (2, 96, 128, 3)).astype(np.float32)
            out, _ = client.infer("text_detection", {"input_images:0": image}, {"input_images:0": "FP32"},
                                  ["feature_fusion/Conv_7/Sigmoid:0", "feature_fusion/concat_3:0"])
            assert out["feature_fusion/Conv_7/Sigmoid:0"].shape == (2, 24, 32, 1)
            assert out["feature_fusion/concat_3:0"].shape == (2, 24, 32, 5)
            crop = np.random.default_rng(1).uniform(-1, 1, (3, 1, 32, 100)).astype(np.float32)
            out, _ = client.infer("text_recognition", {"input.1": crop}, {"input.1": "FP32"}, ["308"])
            assert out["308"].shape == (3, 26, 37)
        # the whole OCR chain on the random-weight models: it runs (their answers mean nothing)
        import cv2

        sys.path.insert(0, str(ROOT / "examples" / "ocr"))
        import pipeline

        image = tmp_path / "words.png"
        cv2.imwrite(str(image), pipeline.draw_text_image(["tritonctl"]))
        ocr = subprocess.run([sys.executable, str(ROOT / "examples" / "ocr" / "client.py"), str(image), "--url",
                              server.url, "--format", "json", "--max-boxes", "16"], capture_output=True, text=True,
                             timeout=300)
        assert ocr.returncode == 0, ocr.stderr
        boxes = json.loads(ocr.stdout)["boxes"]
        assert 1 <= len(boxes) <= 16  # random EAST scores every cell above 0.5: boxes everywhere, capped
        assert all(len(b["box"]) == 4 and set(b["text"]) <= set(pipeline.ALPHABET) for b in boxes)
    finally:
        triton_harness.triton_binary.stop(server.proc)


def test_random_str_is_deterministic_and_a_module_prefixed_checkpoint_exports(tmp_path, exported):
    import hashlib

    import onnx
    import torch

    from tritonctl.export import str_model

    def digest(path):
        weights = sorted((t.name, t.raw_data) for t in onnx.load(path).graph.initializer)
        return hashlib.sha256(b"".join(name.encode() + data for name, data in weights)).hexdigest()

    model = str_model.build_model()
    str_model.random_weights(model, 3)
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, tmp_path / "ckpt.pth")
    shas = {"seed 0": digest(exported[0] / "text_recognition/1/model.onnx")}  # the package's export (seed 0)
    # the export with seed 3 equals a checkpoint of the weights seed 3 gives in this process: deterministic
    for label, args in (("random", ["--random-weights", "--seed", "3"]),
                        ("ckpt", ["--weights", str(tmp_path / "ckpt.pth")])):
        repo = tmp_path / label
        shutil.copytree(EXAMPLES, repo)
        result = tritonctl("export", "str", *args, "--repo", str(repo))
        assert result.returncode == 0, result.stderr
        shas[label] = digest(repo / "text_recognition/1/model.onnx")
    assert shas["random"] == shas["ckpt"] != shas["seed 0"]


@pytest.mark.parametrize("kind", ["east", "str"])
def test_bad_sources_are_one_line_errors_and_leave_no_version(tmp_path, kind):
    import torch

    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES, repo)
    flag = "--graph" if kind == "east" else "--weights"
    cases = {"junk.bin": b"\x00\x01this is not a model\xff" * 10}
    if kind == "east":
        import tensorflow as tf

        graph = tf.Graph()
        with graph.as_default():
            x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
            tf.identity(x, name="y")
        cases["other.pb"] = graph.as_graph_def().SerializeToString()
        expected = {"junk.bin": "is not a TensorFlow frozen graph",
                    "other.pb": "is not the EAST graph: no input_images, feature_fusion/Conv_7/Sigmoid, "
                                "feature_fusion/concat_3 (its inputs: x; its outputs: y)"}
    else:
        torch.save({"module.backbone.weight": torch.zeros(3)}, tmp_path / "other.pth")
        cases["other.pth"] = (tmp_path / "other.pth").read_bytes()
        cases["truncated.pth"] = cases["other.pth"][: len(cases["other.pth"]) // 2]
        expected = {"junk.bin": "is not a PyTorch checkpoint",
                    "other.pth": "is not a None-ResNet-None-CTC checkpoint; missing: "
                                 "FeatureExtraction.ConvNet.conv0_1.weight",
                    "truncated.pth": "is not a PyTorch checkpoint"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        result = tritonctl("export", kind, flag, str(tmp_path / name), "--repo", str(repo))
        assert result.returncode == 3, (name, result.stderr)
        assert expected[name] in result.stderr.splitlines()[-1] or expected[name] in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        folder = repo / ("text_detection" if kind == "east" else "text_recognition")
        assert sorted(p.name for p in folder.iterdir()) == ["config.pbtxt"]


def test_usage_errors_and_a_missing_extra(cli, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES, repo)
    both = cli("export", "str", "--repo", str(repo))
    assert (both.exit_code, both.stderr) == (2, "error: give either --weights FILE or --random-weights\n")
    opset = cli("export", "str", "--random-weights", "--opset", "22", "--repo", str(repo))
    assert (opset.exit_code, opset.stderr) == (
        2, "error: --opset 22: Triton 2.51's onnxruntime loads opsets up to 21; use 13..21\n")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("tensorflow", "tf2onnx")
                        else real(name, *a))
    missing = cli("export", "east", "--random-weights", "--repo", str(repo))
    assert (missing.exit_code, missing.stderr) == (
        3, "error: export east (TensorFlow, tf2onnx) needs tritonctl's 'export' extra (tensorflow is not installed)\n"
           "hint: pip install 'tritonctl[export]'\n")


def test_a_failed_parity_check_adds_no_version(cli, tmp_path, monkeypatch):
    import tritonctl.export as export

    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES, repo)
    monkeypatch.setattr(export, "ABS_TOL", -1.0)
    result = cli("export", "str", "--random-weights", "--repo", str(repo))
    assert result.exit_code == 3
    assert result.stderr.splitlines()[-2].startswith("error: parity check failed (308: max abs ")
    assert result.stderr.splitlines()[-1] == "hint: export anyway with --no-check"
    assert sorted(p.name for p in (repo / "text_recognition").iterdir()) == ["config.pbtxt"]
    forced = cli("export", "str", "--random-weights", "--repo", str(repo), "--no-check")
    assert forced.exit_code == 0 and (repo / "text_recognition/1/model.onnx").exists()
