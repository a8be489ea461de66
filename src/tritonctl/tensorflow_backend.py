"""Triton 2.51's tensorflow backend for SavedModels, emulated from its source (triton-inference-server/
tensorflow_backend, r24.10; the local Triton has no tensorflow backend, so the source is the reference):

- which meta graph and signature it serves (src/tensorflow_backend_tf.cc, TRITONTF_ModelCreateFromSavedModel):
  the meta graph tagged exactly "serve" (or the TF_GRAPH_TAG parameter), the signature "serving_default" (or
  TF_SIGNATURE_DEF), else the first one that is not an init or train op in an order the backend does not fix;
  signature tensors of a type it has no Triton type for are refused;
- auto-complete (src/tensorflow.cc, ModelState::AutoCompleteConfig, AutoCompleteHelper::FixBatchingSupport and
  FixIOConfig): always from "serve"/"serving_default" whatever the parameters say; max_batch_size from the
  signature and the config's dims as a hint; inputs and outputs *replaced* by the signature's, even when the config
  lists them;
- the checks when an instance is created (ModelState::ValidateModelConfig, savedmodel::ValidateTRITONTFModel).

Tensors are taken in key order: the backend walks a protobuf map (no fixed order) and the order does not change
what it accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tritonctl.backend_common import Mismatch, allowed_error, compare_dims, control_datatype, shape

if TYPE_CHECKING:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig
    from tritonctl.io.savedmodel import SavedModel, SignatureDef, TfTensor

DEFAULT_TAG = "serve"  # tensorflow::kSavedModelTagServe
DEFAULT_SIGNATURE = "serving_default"
OP_SIGNATURES = frozenset({"__saved_model_init_op", "__saved_model_train_op"})
TAG_PARAMETER = "TF_GRAPH_TAG"
SIGNATURE_PARAMETER = "TF_SIGNATURE_DEF"

# TensorFlow DataType -> the model config's type (tensorflow_backend_tf.cc ConvertDataType, then
# tensorflow_utils.cc ConvertToModelConfigString); anything else is refused
TF_TO_TRITON = {
    10: "TYPE_BOOL", 4: "TYPE_UINT8", 17: "TYPE_UINT16", 22: "TYPE_UINT32", 23: "TYPE_UINT64", 6: "TYPE_INT8",
    5: "TYPE_INT16", 3: "TYPE_INT32", 9: "TYPE_INT64", 19: "TYPE_FP16", 1: "TYPE_FP32", 2: "TYPE_FP64",
    7: "TYPE_STRING",
}
CONFIG_TYPES = frozenset(TF_TO_TRITON.values())  # the config types the backend accepts (ConvertDataType(string))


def server_type(dtype: int) -> str:
    """How the backend names a model tensor's type in its messages: "TYPE_" + TRITONSERVER_DataTypeString."""
    name = TF_TO_TRITON.get(dtype, "TYPE_INVALID")
    return "TYPE_BYTES" if name == "TYPE_STRING" else name


@dataclass(frozen=True)
class Picked:
    """The signature the backend serves, or its message when it refuses the SavedModel."""

    signature: SignatureDef | None
    error: str | None = None
    fallback: tuple[str, ...] = ()  # no signature of the wanted key: the keys it picks from (one is used)
    wanted: str = DEFAULT_SIGNATURE


def parameter(config: ModelConfig, key: str) -> str:
    return config.parameters[key].string_value if key in config.parameters else ""


def pick(saved: SavedModel, model_name: str, tag: str = "", signature_key: str = "") -> Picked:
    """What TRITONTF_ModelCreateFromSavedModel serves with these TF_GRAPH_TAG / TF_SIGNATURE_DEF values ("" for
    the defaults)."""
    tag = tag or DEFAULT_TAG
    wanted = signature_key or DEFAULT_SIGNATURE
    # LoadSavedModel takes the meta graph whose tag set is exactly {tag} (tensorflow/cc/saved_model/reader.cc)
    meta = next((m for m in saved.meta_graphs if set(m.tags) == {tag}), None)
    if meta is None:
        return Picked(None, f"Could not find meta graph def matching supplied tags: {{ {tag} }}. To inspect "
                            "available tag-sets in the SavedModel, please use the SavedModel CLI: `saved_model_cli`",
                      wanted=wanted)
    signature = meta.signature(wanted)
    fallback: tuple[str, ...] = ()
    if signature is None:
        fallback = tuple(s.key for s in meta.signatures if s.key not in OP_SIGNATURES)
        if not fallback:
            return Picked(None, f"unable to load model '{model_name}', expected '{wanted}' signature", wanted=wanted)
        signature = meta.signature(fallback[0])
    for kind, tensors in (("input", signature.inputs), ("output", signature.outputs)):
        for t in tensors:
            if t.dtype not in TF_TO_TRITON:
                return Picked(None, f"unable to process {kind} '{t.key}' for '{model_name}', unsupported datatype "
                                    f"'{t.dtype_name}'", fallback, wanted)
    return Picked(signature, None, fallback, wanted)


def can_batch(signature: SignatureDef) -> bool:
    """FixBatchingSupport: the signature batches when every input and output has a first dimension of -1."""
    return all(t.rank > 0 and t.dims[0] == -1 for t in [*signature.inputs, *signature.outputs])


def autocomplete(config: ModelConfig, saved: SavedModel) -> str | None:
    """Complete `config` in place as AutoCompleteConfig does; the backend's message when it refuses."""

    name = config.name
    picked = pick(saved, name)  # auto-complete passes no tag and no signature key
    if picked.error is not None:
        return f"unable to auto-complete model configuration for '{name}', failed to load model: {picked.error}"
    sig = picked.signature
    supports = can_batch(sig)
    if not supports and config.max_batch_size > 0:
        return (f"unable to autofill for '{name}', configuration specified max-batch {config.max_batch_size} but "
                "model signature does not support batching")
    if supports and config.max_batch_size == 0:
        hinted = False
        for ios, tensors in ((config.input, sig.inputs), (config.output, sig.outputs)):
            for io in ios:
                if not io.name or not io.dims:
                    continue
                for t in tensors:
                    if t.key == io.name:
                        should = t.rank == len(io.dims) + 1
                        if hinted and supports != should:
                            return (f"unable to autofill for '{name}', model tensor configurations are contradicting "
                                    "each other in terms of whether batching is supported")
                        hinted, supports = True, should
    if config.max_batch_size == 0:
        config.max_batch_size = 1 if supports else 0
    return fill_io(config, sig, supports)


def fill_io(config: ModelConfig, sig: SignatureDef, batching: bool) -> str | None:
    """FixIOConfig: the config's inputs and outputs replaced by the signature's (the first dimension left out when
    `batching`); the backend's message when a tensor has rank 0."""
    from tritonctl.io.proto.model_config_pb2 import DataType

    name = config.name
    for target, tensors in ((config.input, sig.inputs), (config.output, sig.outputs)):
        del target[:]  # FixIOConfig replaces what the config lists
        for t in tensors:
            if t.rank == 0:
                return f"unable to autofill for '{name}': the rank of model tensor '{t.key}' is 0 which is not supported"
            io = target.add(name=t.key, data_type=DataType.Value(TF_TO_TRITON[t.dtype]))
            dims = list(t.dims[1 if batching else 0:])
            if not dims:
                dims = [1]
                io.reshape.SetInParent()
            io.dims.extend(dims)
    return None


_LOST = ("optional", "allow_ragged_batch", "is_shape_tensor", "label_filename", "format")


def replaced(listed: ModelConfig, completed: ModelConfig) -> list[str]:
    """What auto-complete changed in the inputs and outputs `listed` has (it replaces them; `completed` is the config
    after it): one line each, nothing when the config lists none or lists them as the signature has them."""
    from tritonctl.io.proto.model_config_pb2 import DataType

    if not listed.input and not listed.output:
        return []
    changes = []
    for kind, before, after in (("input", listed.input, completed.input), ("output", listed.output, completed.output)):
        theirs = {io.name: io for io in after}
        for io in before:
            new = theirs.get(io.name)
            if new is None:
                changes.append(f"{kind} '{io.name}' is dropped (the signature has no such {kind})")
                continue
            if new.data_type != io.data_type:
                changes.append(f"{kind} '{io.name}' becomes {DataType.Name(new.data_type)} (was "
                               f"{DataType.Name(io.data_type)})")
            if list(new.dims) != list(io.dims):
                changes.append(f"{kind} '{io.name}' dims become {shape(new.dims)} (were {shape(io.dims)})")
            if io.HasField("reshape") and (not new.HasField("reshape")
                                           or list(new.reshape.shape) != list(io.reshape.shape)):
                changes.append(f"{kind} '{io.name}' loses its reshape")
            changes.extend(f"{kind} '{io.name}' loses {lost}" for lost in _LOST
                           if lost in io.DESCRIPTOR.fields_by_name and getattr(io, lost))
        listed = {io.name for io in before}
        if listed:  # (a kind the config leaves out is completed, as a user expects)
            changes.extend(f"{kind} '{io.name}' is added (in the signature)" for io in after if io.name not in listed)
    return changes


def load_errors(config: ModelConfig, signature: SignatureDef) -> list[Mismatch]:
    """Every disagreement between `config` and the served `signature` that the backend refuses, in the order it
    checks them (ValidateModelConfig, then ValidateTRITONTFModel when an instance is created). It reports only the
    first; the others are what it would report once that one is fixed."""
    from tritonctl.io.proto.model_config_pb2 import DataType

    m = config.name
    errors: list[Mismatch] = []
    for kind, ios in (("input", config.input), ("output", config.output)):
        for i, io in enumerate(ios):
            dtype = DataType.Name(io.data_type) if io.data_type in DataType.values() else str(io.data_type)
            if dtype not in CONFIG_TYPES:
                errors.append((f"{kind}[{i}].data_type", f"the tensorflow backend has no {dtype}",
                               f"unsupported datatype '{dtype}' for tensor '{io.name}' for model '{m}'"))
    inputs = {t.key: t for t in signature.inputs}
    outputs = {t.key: t for t in signature.outputs}
    controls = _controls(config, inputs, errors)
    expected = len(config.input) + len(config.batch_input) + controls
    if len(inputs) != expected:
        errors.append(("input", f"the signature has {len(inputs)} inputs ({', '.join(sorted(inputs))}); list each "
                       "one once", f"unable to load model '{m}', configuration expects {len(config.input)} inputs, "
                       f"model provides {len(inputs)}"))
    batch_outputs = {name for bo in config.batch_output for name in bo.target_name}
    for kind, ios, tensors in (("input", config.input, inputs), ("output", config.output, outputs)):
        for i, io in enumerate(ios):
            where = f"{kind}[{i}]"
            t = tensors.get(io.name)
            if t is None:
                errors.append(allowed_error(kind, where, io.name, tensors))
                continue
            dims = list(io.reshape.shape) if io.HasField("reshape") else list(io.dims)
            if t.rank != 0:
                problem = None
                if kind == "input" and io.allow_ragged_batch:
                    if list(t.dims) != [-1]:
                        problem = (f"unable to load model '{m}', configuration expects model provides input with "
                                   f"shape [-1]  for ragged input '{io.name}', model provides {shape(t.dims)}")
                elif kind == "input" or io.name not in batch_outputs:
                    problem = compare_dims(m, io.name, t.dims, dims, config.max_batch_size, exact=kind == "output")
                if problem is not None:
                    errors.append((f"{where}.dims", _dims_hint(t, config.max_batch_size), problem))
            dtype = DataType.Name(io.data_type) if io.data_type in DataType.values() else str(io.data_type)
            if dtype in CONFIG_TYPES and TF_TO_TRITON.get(t.dtype) != dtype:  # (else ValidateModelConfig said it)
                errors.append((f"{where}.data_type", f"the signature's '{io.name}' is {TF_TO_TRITON.get(t.dtype)}; "
                               "use that", f"unable to load model '{m}', configuration expects datatype "
                               f"{dtype} for {kind} '{io.name}', model provides "
                               f"{server_type(t.dtype)}"))
    return errors


def _dims_hint(t: TfTensor, max_batch_size: int) -> str:
    dims = list(t.dims)
    if max_batch_size > 0 and dims and dims[0] == -1:
        return f"use dims {shape(dims[1:])} (the signature's shape {shape(dims)} without the batch dimension)"
    if dims and dims[0] != -1 and max_batch_size > 0:
        return f"use dims {shape(dims)} with max_batch_size: 0 (the signature's first dimension is fixed)"
    return f"match the signature's shape {shape(dims)}"


def _controls(config: ModelConfig, inputs: dict[str, TfTensor], errors: list[Mismatch]) -> int:
    """The sequence batcher's controls the backend checks (savedmodel::ValidateSequenceControl): how many there
    are (each counts as an expected input)."""
    from tritonctl.io.proto.model_config_pb2 import ModelSequenceBatching

    if not config.HasField("sequence_batching"):
        return 0
    kinds = ModelSequenceBatching.Control
    m = config.name
    count = 0
    wanted = (kinds.CONTROL_SEQUENCE_START, kinds.CONTROL_SEQUENCE_END, kinds.CONTROL_SEQUENCE_READY,
              kinds.CONTROL_SEQUENCE_CORRID)
    for kind in wanted:
        found = [(ci.name, c) for ci in config.sequence_batching.control_input for c in ci.control if c.kind == kind]
        if not found:
            continue
        name, control = found[0]
        count += 1
        t = inputs.get(name)
        if t is None:
            errors.append(("sequence_batching", f"control '{name}' is not an input of the signature",
                           f"configuration specified sequence control '{name}', but model does not provide that "
                           "input"))
            continue
        problem = compare_dims(m, name, t.dims or (), [1], config.max_batch_size, exact=True)
        if problem is not None:
            errors.append(("sequence_batching", f"control '{name}' must have dims [1] in the signature",
                           f"unable to load model '{m}', sequence control '{name}': {problem}"))
            continue
        want = control_datatype(control)
        if TF_TO_TRITON.get(t.dtype) != want:
            errors.append(("sequence_batching", f"control '{name}' is {TF_TO_TRITON.get(t.dtype)} in the signature, "
                           f"not {want}", f"unable to load model '{m}', sequence control '{name}': the model expects "
                           f"{server_type(t.dtype)} but the model configuration specifies data-type {want}"))
    return count
