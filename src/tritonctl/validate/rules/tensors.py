"""TRT201-TRT206: inputs, outputs, reshape, batch inputs and outputs, labels (triton-inference-server/core
src/model_config_utils.cc, ValidateModelInput / ValidateModelOutput / ValidateBatchIO)."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule

WILDCARD = -1


def _io(ctx: ModelContext):
    """(config, [(field prefix, message prefix, io)]) for every input then output of the final config."""
    c = ctx.final
    if c is None:
        return None, []
    pairs = [(f"input[{i}]", "model input ", io) for i, io in enumerate(c.input)]
    pairs += [(f"output[{i}]", "model output ", io) for i, io in enumerate(c.output)]
    return c, pairs


def element_count(dims) -> int:
    if len(dims) == 0:
        return 0
    count = 1
    for d in dims:
        if d == WILDCARD:
            return -1
        count *= d
    return count


def _chunks(dims) -> list[int]:
    chunks, current = [], 1
    for d in dims:
        if d == WILDCARD:
            chunks.append(current)
            current = 1
        else:
            current *= d
    chunks.append(current)
    return chunks


def io_shape_error(io, max_batch_size: int, prefix: str) -> tuple[str, str, str] | None:
    """Triton's ValidateIOShape: (field suffix, what to change, Triton's text without ' for <m>') or None."""
    if not io.name:
        return ("", "give the tensor a name", f"{prefix}must specify 'name'")
    who = f"{prefix}'{io.name}'"
    if io.data_type == 0:
        return (".data_type", "set data_type (TYPE_FP32, TYPE_INT64, ...)", f"{who} must specify 'data_type'")
    if len(io.dims) == 0:
        return ("", "set dims (a scalar is dims: [1], with reshape { shape: [] } when batching)",
                f"{who} must specify 'dims'")
    if io.HasField("reshape") and len(io.reshape.shape) == 0 and max_batch_size == 0:
        return (".reshape", "remove the empty reshape: a model that does not batch has no scalar tensors",
                f"{who} cannot have empty reshape for non-batching model as scalar tensors are not supported")
    for k, d in enumerate(io.dims):
        if d < 1 and d != WILDCARD:
            return (f".dims[{k}]", f"dimension {d} must be -1 (variable) or at least 1",
                    f"{who} dimension must be integer >= 1, or -1 to indicate a variable-size dimension")
    if io.HasField("reshape"):
        for k, d in enumerate(io.reshape.shape):
            if d < 1 and d != WILDCARD:
                return (f".reshape.shape[{k}]", f"reshape dimension {d} must be -1 or at least 1",
                        f"{who} reshape dimensions must be integer >= 1, or -1 to indicate a variable-size "
                        "dimension")
        dims_size, reshape_size = element_count(io.dims), element_count(io.reshape.shape)
        if dims_size != reshape_size and (reshape_size != 0 or dims_size != 1):
            return (".reshape", "make reshape hold as many elements as dims",
                    f"{who} has different size for dims and reshape")
        if dims_size == -1:
            a, b = _chunks(io.dims), _chunks(io.reshape.shape)
            if len(a) != len(b):
                return (".reshape", "give reshape the same variable-size (-1) dimensions as dims",
                        f"{who} has different number of variable-size dimensions for dims and reshape")
            if a != b:
                return (".reshape", "make reshape hold as many elements as dims between its -1 dimensions",
                        f"{who} has different size for dims and reshape")
    return None


@rule("TRT201", "tensor-shape", Severity.ERROR,
      "every input and output has a name, a data_type and valid dims (and a reshape that fits them)",
      stage=Stage.IO, strict_stage=Stage.CONFIG)
def tensor_shape(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses a tensor without name, data_type or dims, a dimension that is 0 or below -1, an
    empty reshape when the model does not batch, and a reshape whose element count differs from dims.
    Scalars are written dims: [1] (plus reshape { shape: [] } when max_batch_size > 0).

    Bad:  input [ { name: "x" data_type: TYPE_FP32 dims: [0, 3] } ]
    Good: input [ { name: "x" data_type: TYPE_FP32 dims: [-1, 3] } ]
    """
    c, pairs = _io(ctx)
    for field, prefix, io in pairs:
        found = io_shape_error(io, c.max_batch_size, prefix)
        if found:
            suffix, fix, triton = found
            yield Problem(field + suffix, fix, f"{triton} for {c.name}")


@rule("TRT202", "tensor-format", Severity.ERROR,
      "FORMAT_NHWC/NCHW inputs have 3 dims; shape tensors and non-linear IO are for TensorRT only",
      stage=Stage.IO, strict_stage=Stage.CONFIG)
def tensor_format(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses an image format on an input that does not have exactly 3 dims, is_shape_tensor
    or is_non_linear_format_io outside platform tensorrt_plan, and non-linear IO without 3 dims.

    Bad:  input [ { name: "x" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [224, 224] } ]
    Good: input [ { name: "x" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [3, 224, 224] } ]
    """
    from tritonctl.io.proto.model_config_pb2 import ModelInput

    c, pairs = _io(ctx)
    trt = c is not None and c.platform == "tensorrt_plan"
    for field, prefix, io in pairs:
        if io_shape_error(io, c.max_batch_size, prefix):
            continue
        is_input = prefix == "model input "
        if is_input and io.format in (ModelInput.FORMAT_NHWC, ModelInput.FORMAT_NCHW) and len(io.dims) != 3:
            yield Problem(f"{field}.format", f"{ModelInput.Format.Name(io.format)} needs exactly 3 dims (without "
                          "the batch dimension); fix dims or drop format", f"model input NHWC/NCHW require 3 dims "
                          f"for {c.name}")
        elif io.is_shape_tensor and not trt:
            yield Problem(f"{field}.is_shape_tensor", "remove is_shape_tensor: only TensorRT models have shape "
                          "tensors", f"shape tensors are only supported for TensorRT platform for {c.name}")
        elif io.is_non_linear_format_io and not trt:
            yield Problem(f"{field}.is_non_linear_format_io", "remove is_non_linear_format_io: TensorRT only",
                          f"Non-linear IO format is only supported for the TensorRT platform for {c.name}")
        elif io.is_non_linear_format_io and len(io.dims) != 3:
            kind = "input" if is_input else "output"
            yield Problem(f"{field}.dims", "non-linear IO needs exactly 3 dims",
                          f"Non-linear IO format {kind} requires 3 dims for {c.name}")


@rule("TRT203", "duplicate-tensor-name", Severity.WARNING,
      "input and output names are unique", triton_core=False, stage=Stage.IO)
def duplicate_tensor_name(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton's core accepts duplicate names and silently keeps the first; onnxruntime then counts
    the inputs and refuses, other backends may serve something you did not mean.

    Bad:  input [ { name: "x" ... }, { name: "x" ... } ]
    Good: one entry per tensor
    """
    c = ctx.completed
    if c is None:
        return
    for kind, ios in (("input", c.input), ("output", c.output)):
        seen = set()
        for i, io in enumerate(ios):
            if io.name and io.name in seen:
                yield Problem(f"{kind}[{i}].name", f"{kind} '{io.name}' is listed twice; Triton keeps the first")
            seen.add(io.name)


_SINGLE_SOURCE_KINDS = {
    "BATCH_ELEMENT_COUNT", "BATCH_ACCUMULATED_ELEMENT_COUNT", "BATCH_ACCUMULATED_ELEMENT_COUNT_WITH_ZERO",
    "BATCH_MAX_ELEMENT_COUNT_AS_SHAPE", "BATCH_ITEM_SHAPE", "BATCH_ITEM_SHAPE_FLATTEN",
}


def _enum_name(enum, value: int) -> str:
    try:
        return enum.Name(value)
    except ValueError:
        return str(value)


@rule("TRT204", "batch-input", Severity.ERROR,
      "batch_input entries have a known kind, one source input that exists, and INT32 or FP32 data",
      stage=Stage.IO, strict_stage=Stage.CONFIG)
def batch_input(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses a batch input whose kind is unknown, that does not have exactly one
    source_input, whose data_type is not TYPE_INT32 or TYPE_FP32, or whose source is not a model input.

    Bad:  batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_INT64 source_input: "x" } ]
    Good: batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_INT32 source_input: "x" } ]
    """
    from tritonctl.io.proto.model_config_pb2 import BatchInput, DataType

    c = ctx.final
    if c is None:
        return
    names = {io.name for io in c.input}
    for i, bi in enumerate(c.batch_input):
        kind = _enum_name(BatchInput.Kind, bi.kind)
        where = f"batch_input[{i}]"
        if kind not in _SINGLE_SOURCE_KINDS:
            yield Problem(f"{where}.kind", f"unknown batch input kind {kind}",
                          f"unknown batch input kind '{kind}' for {c.name}")
            return
        if len(bi.source_input) != 1:
            yield Problem(f"{where}.source_input", "give exactly one source_input",
                          f"batch input kind '{kind}' expects 1 source input, got {len(bi.source_input)} for {c.name}")
            return
        if bi.data_type not in (DataType.TYPE_INT32, DataType.TYPE_FP32):
            yield Problem(f"{where}.data_type", "use TYPE_INT32 or TYPE_FP32",
                          f"batch input data type must be TYPE_INT32 or TYPE_FP32 for {c.name}")
            return
        for source in bi.source_input:
            if source not in names:
                yield Problem(f"{where}.source_input", f"'{source}' is not an input of the model",
                              f"unknown source input name '{source}' for {c.name}")
                return


@rule("TRT205", "batch-output", Severity.ERROR,
      "batch_output entries scatter one existing input onto existing outputs, each named once",
      stage=Stage.IO, strict_stage=Stage.CONFIG)
def batch_output(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses a batch output whose kind is unknown, that has not exactly one source input,
    whose source is not an input, or whose target names are not outputs or repeat.

    Bad:  batch_output [ { kind: BATCH_SCATTER_WITH_INPUT_SHAPE target_name: "nope" source_input: "x" } ]
    Good: batch_output [ { kind: BATCH_SCATTER_WITH_INPUT_SHAPE target_name: "y" source_input: "x" } ]
    """
    from tritonctl.io.proto.model_config_pb2 import BatchOutput

    c = ctx.final
    if c is None:
        return
    inputs, outputs = {io.name for io in c.input}, {io.name for io in c.output}
    for i, bo in enumerate(c.batch_output):
        kind = _enum_name(BatchOutput.Kind, bo.kind)
        where = f"batch_output[{i}]"
        if kind != "BATCH_SCATTER_WITH_INPUT_SHAPE":
            yield Problem(f"{where}.kind", f"unknown batch output kind {kind}",
                          f"unknown batch output kind '{kind}' for {c.name}")
            return
        if len(bo.source_input) != 1:
            yield Problem(f"{where}.source_input", "give exactly one source_input",
                          f"batch output kind '{kind}' expects 1 source input, got {len(bo.source_input)} for "
                          f"{c.name}")
            return
        for source in bo.source_input:
            if source not in inputs:
                yield Problem(f"{where}.source_input", f"'{source}' is not an input of the model",
                              f"unknown source input name '{source}' for {c.name}")
                return
        targets = set()
        for target in bo.target_name:
            if target not in outputs:
                yield Problem(f"{where}.target_name", f"'{target}' is not an output of the model",
                              f"unknown target output name '{target}' for {c.name}")
                return
            if target in targets:
                yield Problem(f"{where}.target_name", f"'{target}' is named twice",
                              f"target output name '{target}' can only be specified once for {c.name}")
                return
            targets.add(target)


@rule("TRT206", "label-file", Severity.ERROR, "an output's label_filename exists in the model folder",
      stage=Stage.IO)
def label_file(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton reads label_filename relative to the model folder (not the version folder) when it
    loads the model; a missing file fails the load, and so do two label files for one output name.

    Bad:  output [ { name: "y" ... label_filename: "1/labels.txt" } ] with labels.txt in the model folder
    Good: label_filename: "labels.txt"
    """
    c = ctx.final
    if c is None:
        return
    labelled = set()
    for i, io in enumerate(c.output):
        if not io.label_filename:
            continue
        if io.name in labelled:
            yield Problem(f"output[{i}].label_filename", f"output '{io.name}' has two label files; keep one",
                          f"multiple label files for '{io.name}'")
            return
        labelled.add(io.name)
        if not (ctx.model.path / io.label_filename).is_file():
            yield Problem(f"output[{i}].label_filename", f"label file '{io.label_filename}' is not in the model "
                          "folder", f"failed to open text file for read {ctx.triton_path(io.label_filename)}: "
                          "No such file or directory")
            return
