"""tritonctl's emulation of Triton 2.51's onnxruntime backend, against outcomes written from the C++ backend's source
(triton-inference-server/onnxruntime_backend src/onnxruntime.cc; triton-inference-server/backend
src/backend_common.cc for CompareDimsSupported), not from the emulation itself."""

from __future__ import annotations

import pytest

from tritonctl.io.onnxsig import OnnxSignature, TensorSig
from tritonctl.onnxruntime_backend import autocomplete, load_errors, version_errors

FP32, INT64, STRING = 1, 7, 8


def sig(inputs, outputs, ir: int = 8, opset: int = 17) -> OnnxSignature:
    return OnnxSignature("m.onnx", ir, {"": opset}, [TensorSig(n, e, d) for n, e, d in inputs],
                         [TensorSig(n, e, d) for n, e, d in outputs])


def config(text: str = "", name: str = "m"):
    from google.protobuf import text_format

    from tritonctl.io.proto.model_config_pb2 import ModelConfig

    return text_format.Parse(f'name: "{name}"\nbackend: "onnxruntime"\n' + text, ModelConfig())


BATCHING = sig([("x", FP32, (-1, 4))], [("y", FP32, (-1, 4))])
FIXED = sig([("x", FP32, (1, 4))], [("y", FP32, (1, 4))])


def test_auto_complete_max_batch_sets_the_default_and_dynamic_batching():
    """AutoCompleteMaxBatch: every input and output with a variable first dimension -> the model can batch; an unset
    max_batch_size becomes the backend's default-max-batch-size (4); above 1, with no scheduler, dynamic_batching is
    added."""
    c = config()
    assert autocomplete(c, BATCHING) is None
    assert c.max_batch_size == 4 and c.HasField("dynamic_batching")
    assert [(i.name, list(i.dims)) for i in c.input] == [("x", [4])]  # AutoCompleteIO drops the batch dimension
    one = config("max_batch_size: 1")
    autocomplete(one, BATCHING)
    assert not one.HasField("dynamic_batching")  # only when MaxBatchSize() > 1
    sequence = config("max_batch_size: 8\nsequence_batching { }")
    autocomplete(sequence, BATCHING)
    assert not sequence.HasField("dynamic_batching")  # a sequence batcher is a scheduler already


def test_auto_complete_refuses_batching_for_a_model_that_cannot():
    """AutoCompleteMaxBatch: 'autofill failed for model ...: model does not support batching while non-zero
    max_batch_size is specified'."""
    assert autocomplete(config("max_batch_size: 8"), FIXED) == (
        "autofill failed for model 'm': model does not support batching while non-zero max_batch_size is specified")
    c = config()
    assert autocomplete(c, FIXED) is None and c.max_batch_size == 0
    assert [list(i.dims) for i in c.input] == [[1, 4]]


def test_auto_complete_io_gives_a_scalar_dims_1_and_a_reshape_only_when_batching():
    """AutoCompleteIO: empty dims become [1]; the empty reshape is added only when max_batch_size > 0."""
    batched = config()
    autocomplete(batched, sig([("x", FP32, (-1,))], [("y", FP32, (-1,))]))
    assert list(batched.output[0].dims) == [1] and batched.output[0].HasField("reshape")
    plain = config()
    autocomplete(plain, sig([("x", FP32, ())], [("y", FP32, ())]))
    assert list(plain.output[0].dims) == [1] and not plain.output[0].HasField("reshape")


def test_auto_complete_is_skipped_when_inputs_and_outputs_are_given():
    """AutoCompleteConfig: 'skipping model configuration auto-complete ... inputs and outputs already specified';
    batch_input counts as an input."""
    c = config('batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_FP32 } ]\n'
               'output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]')
    assert autocomplete(c, FIXED) is None
    assert c.max_batch_size == 0 and len(c.input) == 0


def test_validate_inputs_counts_inputs_first():
    """ValidateInputs: 'configuration expects N inputs, model provides M' before any single input."""
    c = config('input [ { name: "x" data_type: TYPE_FP32 dims: [ 1, 4 ] }, { name: "z" data_type: TYPE_FP32 '
               'dims: [ 1 ] } ]\noutput [ { name: "y" data_type: TYPE_FP32 dims: [ 1, 4 ] } ]')
    errors = load_errors(c, FIXED)
    assert [e[2] for e in errors] == [
        "unable to load model 'm', configuration expects 2 inputs, model provides 1",
        "unexpected inference input 'z', allowed inputs are: x"]


def test_validate_inputs_and_outputs_every_mismatch_in_order():
    """ValidateInputs then ValidateOutputs: a name the model does not have, a data type that differs (the model's
    TYPE_STRING printed TYPE_BYTES), output dims compared exactly (CompareDimsSupported)."""
    model = sig([("x", STRING, (1, 4))], [("y", FP32, (1, -1))])
    c = config('input [ { name: "x" data_type: TYPE_FP32 dims: [ 1, 4 ] } ]\n'
               'output [ { name: "y" data_type: TYPE_FP32 dims: [ 1, 8 ] }, { name: "q" data_type: TYPE_FP32 '
               'dims: [ 1 ] } ]')
    assert [e[2] for e in load_errors(c, model)] == [
        "unable to load model 'm', configuration expects datatype TYPE_FP32 for input 'x', model provides TYPE_BYTES",
        "model 'm', tensor 'y': the model expects 2 dimensions (shape [1,-1]) but the model configuration specifies "
        "2 dimensions (shape [1,8])",
        "unexpected inference output 'q', allowed outputs are: y"]


def test_compare_dims_lets_an_input_take_any_size_where_the_model_has_minus_one():
    """CompareDimsSupported: for inputs a -1 in the model matches any config value."""
    model = sig([("x", FP32, (1, -1))], [("y", FP32, (1, -1))])
    c = config('input [ { name: "x" data_type: TYPE_FP32 dims: [ 1, 8 ] } ]\n'
               'output [ { name: "y" data_type: TYPE_FP32 dims: [ 1, -1 ] } ]')
    assert load_errors(c, model) == []


@pytest.mark.parametrize(("text", "message"), [
    ("max_batch_size: 4\ninput [ { name: \"x\" data_type: TYPE_FP32 dims: [ 4 ] } ]",
     "model 'm', tensor 'x': for the model to support batching the shape should have at least 1 dimension and the "
     "first dimension must be -1; but shape expected by the model is [1,4]"),
    ("input [ { name: \"x\" data_type: TYPE_FP32 dims: [ 4 ] optional: true } ]\nmax_batch_size: 4",
     "unable to load model 'm', optional input 'x' is not supported for models that support batching"),
])
def test_batching_rules_of_validate_inputs(text, message):
    """CompareDimsSupported with max_batch_size > 0; ValidateInputs refuses optional inputs when batching."""
    c = config(text + '\noutput [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]')
    assert message in [e[2] for e in load_errors(c, FIXED)]


def test_a_scalar_model_tensor_takes_dims_1_only():
    """ValidateInputs: 'scalar tensor ..., should only provide 1 in the model configuration when the model doesn't
    support batching'."""
    model = sig([("x", FP32, ())], [("y", FP32, ())])
    c = config('input [ { name: "x" data_type: TYPE_FP32 dims: [ 2 ] } ]\n'
               'output [ { name: "y" data_type: TYPE_FP32 dims: [ 1 ] } ]')
    assert load_errors(c, model)[0][2] == (
        "unable to load model 'm', scalar tensor 'x', should only provide 1 in the model configuration when the model "
        "doesn't support batching. Model configuration provided: [2].")


def test_sequence_controls_are_checked_before_the_inputs():
    """ValidateBooleanSequenceControl: the control must be a model input of dims [1] with the control's type."""
    model = sig([("x", FP32, (1,)), ("start", INT64, (1,))], [("y", FP32, (1,))])
    c = config('input [ { name: "x" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
               'output [ { name: "y" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
               'sequence_batching { control_input [ { name: "start" control [ { kind: CONTROL_SEQUENCE_START '
               'int32_false_true: [ 0, 1 ] } ] } ] }')
    assert load_errors(c, model)[0][2] == (
        "unable to load model 'm', sequence control 'start', the model expects data-type INT64 but the model "
        "configuration specifies data-type TYPE_INT32")


def test_onnxruntime_1_19_opens_ir_10_and_opset_21_at_most():
    """onnxruntime 1.19.2, as the backend's LoadSession reports it: 'Unsupported model IR version: 11, max supported
    IR version: 10'; opset 22 is 'under development' past the official 21."""
    assert version_errors(sig([], [], ir=10, opset=21), "p") == []
    errors = dict(version_errors(sig([], [], ir=11, opset=22), "/r/m/1/model.onnx"))
    assert errors["ir_version"] == ("onnx runtime error 1: Load model from /r/m/1/model.onnx failed:Unsupported model "
                                    "IR version: 11, max supported IR version: 10")
    assert "Opset 22 is under development" in errors["opset"]
    assert errors["opset"].endswith("Current official support for domain ai.onnx is till opset 21.")
