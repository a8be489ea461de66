"""What Triton's backends share when they check a config against a model: triton-inference-server/backend
src/backend_common.cc (CompareDimsSupported, CheckAllowedModelInput/Output), which the onnxruntime backend calls and
the tensorflow backend copies (tensorflow_backend src/tensorflow_utils.cc, CompareDims: the same words)."""

from __future__ import annotations

Mismatch = tuple[str | None, str, str]  # (config field, what to change, the backend's message)


def shape(dims) -> str:
    return "[" + ",".join(str(d) for d in dims) + "]"


def compare_dims(model: str, tensor: str, model_shape, dims, max_batch_size: int, exact: bool) -> str | None:
    """CompareDimsSupported: None when the config's dims fit the model's shape (-1 in the model accepts any size
    for an input; outputs compare exactly)."""
    dims = list(dims)
    model_shape = list(model_shape)
    if max_batch_size > 0:
        if not model_shape or model_shape[0] != -1:
            return (f"model '{model}', tensor '{tensor}': for the model to support batching the shape should have "
                    "at least 1 dimension and the first dimension must be -1; but shape expected by the model is "
                    f"{shape(model_shape)}")
        full = [-1, *dims]
        ok = len(model_shape) == len(full) and all(
            m == f for m, f in zip(model_shape, full, strict=True) if exact or m != -1)
        if not ok:
            return (f"model '{model}', tensor '{tensor}': the model expects {len(model_shape)} dimensions (shape "
                    f"{shape(model_shape)}) but the model configuration specifies {len(full)} dimensions (an initial "
                    "batch dimension because max_batch_size > 0 followed by the explicit tensor shape, making "
                    f"complete shape {shape(full)})")
        return None
    ok = len(model_shape) == len(dims) and all(
        m == d for m, d in zip(model_shape, dims, strict=True) if exact or m != -1)
    if not ok:
        return (f"model '{model}', tensor '{tensor}': the model expects {len(model_shape)} dimensions (shape "
                f"{shape(model_shape)}) but the model configuration specifies {len(dims)} dimensions (shape "
                f"{shape(dims)})")
    return None


def allowed_error(kind: str, where: str, name: str, allowed_names) -> Mismatch:
    """CheckAllowedModelInput / CheckAllowedModelOutput: a config tensor the model does not have."""
    allowed = ", ".join(sorted(allowed_names))
    return (f"{where}.name", f"'{name}' is not an {kind} of the model ({allowed})",
            f"unexpected inference {kind} '{name}', allowed {kind}s are: {allowed}")


def control_datatype(control) -> str:
    """The data type a sequence batcher control input has (GetBooleanSequenceControlProperties,
    GetTypedSequenceControlProperties in backend_common.cc): a CORRID control's own, else that of its false/true
    values."""
    from tritonctl.io.proto.model_config_pb2 import DataType, ModelSequenceBatching

    if control.kind == ModelSequenceBatching.Control.CONTROL_SEQUENCE_CORRID:
        return DataType.Name(control.data_type)
    if control.int32_false_true:
        return "TYPE_INT32"
    if control.fp32_false_true:
        return "TYPE_FP32"
    return "TYPE_BOOL"
