"""Triton 2.51's onnxruntime backend (onnxruntime 1.19.2), emulated where a repository can tell what it does.

One module for what the backend decides, used by `validate`, by tritonctl's stand-in backend that the local Triton
runs (backends/onnxruntime/model.py), by `config generate` and by `export`:
- the model versions onnxruntime 1.19.2 opens (IR version, ai.onnx opset), with its messages;
- auto-complete: max_batch_size, inputs and outputs from the model (ModelState::AutoCompleteConfig,
  AutoCompleteMaxBatch, AutoCompleteIO in triton-inference-server/onnxruntime_backend src/onnxruntime.cc);
- the checks of a config against its model when an instance is created (ModelInstanceState's constructor:
  ValidateBooleanSequenceControl, ValidateTypedSequenceControl, ValidateInputs, ValidateOutputs), with the shape
  comparison of triton-inference-server/backend src/backend_common.cc (CompareDimsSupported).
"""

from __future__ import annotations

import functools

from typing import TYPE_CHECKING

from tritonctl.backend_common import Mismatch, allowed_error, compare_dims, control_datatype, shape

if TYPE_CHECKING:
    from tritonctl.io.onnxsig import OnnxSignature
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

MAX_IR_VERSION = 10  # onnxruntime 1.19.2: the newest ONNX IR version it opens
MAX_OPSET = 21  # onnxruntime 1.19.2: the newest ai.onnx opset it supports
DEFAULT_MAX_BATCH_SIZE = 4  # the backend's default-max-batch-size, used when auto-complete turns batching on


def version_errors(sig: OnnxSignature, path: str) -> list[tuple[str, str]]:
    """What onnxruntime 1.19.2 says when it refuses to open the model at `path`: (what, its message)."""
    errors = []
    if sig.ir_version > MAX_IR_VERSION:
        errors.append(("ir_version", f"onnx runtime error 1: Load model from {path} failed:Unsupported model IR "
                                     f"version: {sig.ir_version}, max supported IR version: {MAX_IR_VERSION}"))
    if sig.opset > MAX_OPSET:
        errors.append(("opset", f"onnx runtime error 1: Load model from {path} failed:{opset_message(sig.opset)}"))
    return errors


def opset_message(opset: int) -> str:
    return (f"ONNX Runtime only *guarantees* support for models stamped with official released onnx opset versions. "
            f"Opset {opset} is under development and support for this is limited. The operator schemas and or other "
            "functionality may change before next ONNX release and in this case ONNX Runtime will not guarantee "
            f"backward compatibility. Current official support for domain ai.onnx is till opset {MAX_OPSET}.")


def can_batch(inputs, outputs) -> bool:
    """AutoCompleteMaxBatch: the model batches when every input and output has a variable first dimension."""
    return all(t.dims is not None and len(t.dims) >= 1 and t.dims[0] == -1 for t in [*inputs, *outputs])


def autocomplete(config: ModelConfig, signature: OnnxSignature,
                 default_max_batch_size: int = DEFAULT_MAX_BATCH_SIZE) -> str | None:
    """Complete max_batch_size, inputs and outputs of `config` in place from the model, as AutoCompleteConfig does
    (nothing when the config has inputs and outputs). Returns the backend's error text when it refuses."""
    from tritonctl.io.proto.model_config_pb2 import DataType

    if (len(config.input) + len(config.batch_input)) > 0 and len(config.output) > 0:
        return None
    if can_batch(signature.inputs, signature.outputs):
        if config.max_batch_size == 0:
            config.max_batch_size = max(default_max_batch_size, 0)
        if config.max_batch_size > 1 and config.WhichOneof("scheduling_choice") is None:
            config.dynamic_batching.SetInParent()
    elif config.max_batch_size != 0:
        return (f"autofill failed for model '{config.name}': model does not support batching while non-zero "
                "max_batch_size is specified")

    def fill(target, tensors) -> None:  # AutoCompleteIO
        for t in tensors:
            io = target.add()
            io.name = t.name
            io.data_type = DataType.Value(t.triton_type) if t.triton_type else DataType.TYPE_INVALID
            dims = list(t.dims or ())
            if config.max_batch_size > 0 and dims:
                dims = dims[1:]
            if not dims:
                io.dims.append(1)
                if config.max_batch_size > 0:
                    io.reshape.SetInParent()
            else:
                io.dims.extend(dims)

    if len(config.input) + len(config.batch_input) == 0:
        fill(config.input, signature.inputs)
    if len(config.output) == 0:
        fill(config.output, signature.outputs)
    return None




def load_errors(config: ModelConfig, sig: OnnxSignature) -> list[Mismatch]:
    """Every disagreement between `config` and the model of signature `sig` that the backend refuses when it creates
    an instance, in the order it checks them. It reports only the first; the others are what it would report once
    that one is fixed."""
    for t in [*sig.inputs, *sig.outputs]:
        if t.kind != "ONNX_TYPE_TENSOR":  # InputInfos/OutputInfos stop at the first such tensor
            return [(None, f"'{t.name}' is a {t.kind}; Triton serves tensors only",
                     f"Unsupported ONNX Type '{t.kind}' for I/O '{t.name}', expected 'ONNX_TYPE_TENSOR'.")]
    errors: list[Mismatch] = []
    controls = _controls(config, sig, errors)
    model_inputs = {t.name: t for t in sig.inputs}
    sb = config.sequence_batching if config.HasField("sequence_batching") else None
    expected = (len(config.input) - sum(1 for io in config.input if io.optional) + len(config.batch_input)
                + len(controls) + (len(sb.state) if sb is not None else 0))
    if expected != len(model_inputs):
        errors.append(("input", f"the model has {len(model_inputs)} inputs ({', '.join(sorted(model_inputs))}); "
                       "list each one once", f"unable to load model '{config.name}', configuration expects "
                       f"{expected} inputs, model provides {len(model_inputs)}"))
    for kind, ios, tensors in (("input", config.input, sig.inputs), ("output", config.output, sig.outputs)):
        by_name = {t.name: t for t in tensors}
        for i, io in enumerate(ios):
            error = _tensor_error(config, kind, f"{kind}[{i}]", io, by_name)
            if error is not None:
                errors.append(error)
    return errors


def _controls(config: ModelConfig, sig: OnnxSignature, errors: list[Mismatch]) -> set[str]:
    """The sequence batcher's control inputs (ValidateBooleanSequenceControl, ValidateTypedSequenceControl)."""
    from tritonctl.io.onnxsig import ONNX_TO_TRITON

    if not config.HasField("sequence_batching"):
        return set()
    model_inputs = {t.name: t for t in sig.inputs}
    names = set()
    for ci in config.sequence_batching.control_input:
        for control in ci.control:
            names.add(ci.name)
            t = model_inputs.get(ci.name)
            if t is None:
                errors.append(("sequence_batching", f"control '{ci.name}' is not an input of the model",
                               f"configuration specified sequence control '{ci.name}', but model does not provide "
                               "that input"))
                continue
            debatched = list(t.dims or ())[1 if config.max_batch_size > 0 else 0:]
            if debatched != [1]:
                errors.append(("sequence_batching", f"control '{ci.name}' must have dims [1] in the model",
                               f"unable to load model '{config.name}', sequence control '{ci.name}' in model has "
                               f"dims {shape(debatched)} but dims [1] is expected"))
                continue
            want = control_datatype(control)
            if ONNX_TO_TRITON.get(t.elem_type) != want:
                errors.append(("sequence_batching", f"control '{ci.name}' is {t.onnx_type} in the model, not {want}",
                               f"unable to load model '{config.name}', sequence control '{ci.name}', the model "
                               f"expects data-type {t.onnx_type} but the model configuration specifies data-type "
                               f"{want}"))
    return names


@functools.cache
def _data_type_numbers() -> dict[str, int]:
    """Triton's data types by name, read once from the enum (it was asked again for every tensor)."""
    from tritonctl.io.proto.model_config_pb2 import DataType

    return dict(DataType.items())


@functools.cache
def _data_type_names() -> dict[int, str]:
    return {number: name for name, number in _data_type_numbers().items()}


@functools.cache
def _onnx_data_types() -> frozenset[int]:
    """The Triton data types an ONNX tensor can have."""
    from tritonctl.io.onnxsig import ONNX_TO_TRITON

    return frozenset(_data_type_numbers()[name] for name in ONNX_TO_TRITON.values())


def _tensor_error(config: ModelConfig, kind: str, where: str, io, by_name: dict) -> Mismatch | None:
    """The first thing ValidateInputs / ValidateOutputs refuse about one config tensor, or None."""
    from tritonctl.io.onnxsig import ONNX_TO_TRITON

    m = config.name
    t = by_name.get(io.name)
    if t is None:
        return allowed_error(kind, where, io.name, by_name)
    if kind == "input" and io.optional and config.max_batch_size > 0:
        return (f"{where}.optional", "optional inputs need max_batch_size: 0 with onnxruntime",
                f"unable to load model '{m}', optional input '{io.name}' is not supported for models that support "
                "batching")
    dtype = _data_type_names().get(io.data_type) or str(io.data_type)
    if io.data_type not in _onnx_data_types():
        return (f"{where}.data_type", f"onnxruntime has no {dtype}",
                f"unsupported datatype {dtype} for {kind} '{io.name}' for model '{m}'")
    model_type = ONNX_TO_TRITON.get(t.elem_type, "TYPE_INVALID")
    if _data_type_numbers()[model_type] != io.data_type:
        shown = "TYPE_BYTES" if model_type == "TYPE_STRING" else model_type
        return (f"{where}.data_type", f"the model's '{io.name}' is {model_type}; use that",
                f"unable to load model '{m}', configuration expects datatype {dtype} for {kind} '{io.name}', model "
                f"provides {shown}")
    if kind == "input" and io.allow_ragged_batch:
        if io.optional:
            return (f"{where}.allow_ragged_batch", "a ragged input cannot be optional",
                    f"unable to load model '{m}', configuration expects model provides input with shape [-1] for "
                    f"ragged input '{io.name}', which is not supported for optional input")
        if list(t.dims or ()) != [-1]:
            return (f"{where}.allow_ragged_batch", "a ragged input needs model shape [-1]",
                    f"unable to load model '{m}', configuration expects model provides input with shape [-1]  for "
                    f"ragged input '{io.name}', model provides {shape(t.dims or ())}")
        return None
    dims = list(io.reshape.shape) if io.HasField("reshape") else list(io.dims)
    if t.dims is None:
        return None
    if len(t.dims) == 0:
        if any(d != 1 for d in dims):
            return (f"{where}.dims", "the model tensor is a scalar: use dims: [1]",
                    f"unable to load model '{m}', scalar tensor '{io.name}', should only provide 1 in the model "
                    "configuration when the model doesn't support batching. Model configuration provided: "
                    f"{shape(dims)}.")
        return None
    problem = compare_dims(m, io.name, t.dims, dims, config.max_batch_size, exact=kind == "output")
    if problem is None:
        return None
    model_dims = list(t.dims)
    if config.max_batch_size > 0 and model_dims and model_dims[0] == -1:
        hint = f"use dims {shape(model_dims[1:])} (the model's shape {shape(model_dims)} without the batch dimension)"
    elif model_dims and model_dims[0] != -1:
        hint = f"use dims {shape(model_dims)} with max_batch_size: 0"
    else:
        hint = f"match the model's shape {shape(model_dims)}"
    return (f"{where}.dims", hint, problem)
