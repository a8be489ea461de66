"""tritonctl.tensorflow_backend and `config generate` from a SavedModel, on saved_model.pb files written without
TensorFlow (tests/test_savedmodel.py checks the reader on ones TensorFlow writes)."""

from __future__ import annotations

import json

import pytest

from conftest import write_tree
from validate.cases import TWO_SIGNATURES, tf
from validate.savedmodel_files import saved_model_bytes

from tritonctl.io.proto.model_config_pb2 import DataType, ModelConfig
from tritonctl.io.savedmodel import parse_saved_model
from tritonctl.tensorflow_backend import autocomplete, pick, replaced

@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRITONCTL_REPO", raising=False)
    return tmp_path


BATCHING = {"serving_default": ([("x", "DT_FLOAT", [-1, 4]), ("s", "DT_STRING", [-1])],
                                [("y", "DT_FLOAT", [-1, 4])])}


def saved(signatures=None, **kwargs):
    return parse_saved_model(saved_model_bytes(signatures or BATCHING, **kwargs))


def test_the_meta_graph_is_the_one_tagged_exactly_serve_and_a_config_can_name_another():
    both = saved(tags=("serve", "gpu"))
    assert pick(both, "m").error.startswith("Could not find meta graph def matching supplied tags: { serve }.")
    assert pick(saved(tags=("train",)), "m", tag="train").error is None


def test_without_serving_default_the_backend_picks_another_signature():
    model = saved(TWO_SIGNATURES)
    picked = pick(model, "m")
    assert (picked.signature.key, picked.fallback) == ("predict", ("predict", "embed"))
    assert pick(model, "m", signature_key="embed").signature.key == "embed"
    assert pick(model, "m", signature_key="nope").fallback == ("predict", "embed")


def test_autocomplete_fills_max_batch_size_1_and_replaces_what_the_config_lists():
    config = ModelConfig(name="m")
    config.input.add(name="x", dims=[3])
    assert autocomplete(config, saved()) is None
    assert config.max_batch_size == 1  # the config's dims [3] hint batching: rank 2 == 1 + 1
    assert [(io.name, list(io.dims), io.HasField("reshape")) for io in config.input] == [("s", [1], True),
                                                                                        ("x", [4], False)]
    listed = ModelConfig(name="m", max_batch_size=8)
    listed.input.add(name="x", data_type=DataType.TYPE_FP32, dims=[3], optional=True)
    done = ModelConfig()
    done.CopyFrom(listed)
    assert autocomplete(done, saved()) is None
    assert replaced(listed, done) == ["input 'x' dims become [4] (were [3])", "input 'x' loses optional",
                                         "input 's' is added (in the signature)"]


def test_full_dims_are_a_hint_that_keeps_batching_off():
    config = ModelConfig(name="m")
    config.input.add(name="x", dims=[-1, 4])
    assert autocomplete(config, saved()) is None
    assert config.max_batch_size == 0 and [list(io.dims) for io in config.input] == [[-1], [-1, 4]]


@pytest.mark.parametrize(("args", "mbs", "x_dims"), [((), 4, "[ 4 ]"), (("--max-batch-size", "0"), 0, "[ -1, 4 ]")])
def test_config_generate_from_a_savedmodel_writes_what_triton_completes(cli, in_tmp, args, mbs, x_dims):
    """(--max-batch-size 0 lists full dims: Triton then keeps 0, where with none listed it would fill 1.)"""
    write_tree(in_tmp / "repo" / "tf_model", {**tf("", BATCHING)})
    (in_tmp / "repo" / "tf_model" / "config.pbtxt").unlink()
    result = cli("config", "generate", "repo/tf_model", *args, "--write")
    assert result.exit_code == 0, result.stderr
    text = (in_tmp / "repo" / "tf_model" / "config.pbtxt").read_text()
    assert 'platform: "tensorflow_savedmodel"' in text and f"max_batch_size: {mbs}\n" in text
    assert f'name: "x"\n    data_type: TYPE_FP32\n    dims: {x_dims}' in text
    checked = cli("validate", "repo", "-f", "json")
    assert (checked.exit_code, json.loads(checked.stdout)["findings"]) == (0, [])
    shown = cli("config", "show", "tf_model", "-r", "repo", "--normalized")
    assert f"max_batch_size: {mbs}\n" in shown.stdout


def test_config_generate_refuses_batching_a_fixed_signature(cli, in_tmp):
    write_tree(in_tmp / "sm", {"saved_model.pb": saved_model_bytes(
        {"serving_default": ([("x", "DT_FLOAT", [3, 4])], [("y", "DT_FLOAT", [3, 4])])})})
    result = cli("config", "generate", "sm", "--max-batch-size", "8")
    assert (result.exit_code, result.stderr) == (2, "error: unable to autofill for 'sm', configuration specified "
                                                 "max-batch 8 but model signature does not support batching\n")
    assert "max_batch_size: 0" in cli("config", "generate", "sm").stdout


def test_sequence_controls_are_expected_inputs_of_shape_1_and_their_type():
    from google.protobuf import text_format

    from tritonctl.tensorflow_backend import load_errors

    signature = saved({"serving_default": ([("x", "DT_FLOAT", [-1, 4]), ("START", "DT_INT32", [-1, 1]),
                                            ("READY", "DT_FLOAT", [-1, 2])], [("y", "DT_FLOAT", [-1, 4])])})
    config = text_format.Parse(
        'name: "m" max_batch_size: 4 input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ] '
        'output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ] sequence_batching { control_input [ '
        '{ name: "START" control [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [ 0, 1 ] } ] }, '
        '{ name: "READY" control [ { kind: CONTROL_SEQUENCE_READY int32_false_true: [ 0, 1 ] } ] }, '
        '{ name: "END" control [ { kind: CONTROL_SEQUENCE_END int32_false_true: [ 0, 1 ] } ] } ] }', ModelConfig())
    errors = [triton for _field, _fix, triton in load_errors(config, signature.meta_graphs[0].signatures[0])]
    assert errors == [
        "unable to load model 'm', sequence control 'START': the model expects TYPE_INT32 but the model configuration "
        "specifies data-type TYPE_FP32",
        "configuration specified sequence control 'END', but model does not provide that input",  # START, END, READY
        "unable to load model 'm', sequence control 'READY': model 'm', tensor 'READY': the model expects 2 "
        "dimensions (shape [-1,2]) but the model configuration specifies 2 dimensions (an initial batch dimension "
        "because max_batch_size > 0 followed by the explicit tensor shape, making complete shape [-1,1])",
        "unable to load model 'm', configuration expects 1 inputs, model provides 3"]
