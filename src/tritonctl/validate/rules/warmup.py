"""TRT340, TRT341: model_warmup samples, which Triton sends to each new instance as requests."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule
from tritonctl.validate.rules.scheduling import data_file_problem


@rule("TRT340", "warmup-sample", Severity.ERROR,
      "warmup inputs have fixed dims, a data source, and data files large enough", stage=Stage.INSTANCES)
def warmup_sample(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton runs the warmup samples when it creates each instance, as real requests: it refuses an
    input with a variable (-1) dimension, a data type or shape that the model's input does not accept, one
    with none of zero_data / random_data / input_data_file, a data file in warmup/ that is missing or
    shorter than the shape needs, and a sample that leaves out an input the model requires. Samples with
    batch_size 0 are skipped.

    Bad:  model_warmup [ { name: "w" batch_size: 1 inputs { key: "x" value { data_type: TYPE_FP32 dims: [-1] zero_data: true } } } ]
    Good: ... dims: [16] zero_data: true ...
    """
    c = ctx.completed
    if c is None or c.platform == "ensemble":
        return
    for i, sample in enumerate(c.model_warmup):
        if sample.batch_size == 0:
            continue
        problem = _sample_problem(ctx, c, i, sample)
        if problem is not None:
            yield problem
            return


# the backends whose instances refuse a batch larger than max_batch_size (python_backend src/python_be.cc
# CheckIncomingRequests; onnxruntime_backend, tensorflow_backend and pytorch_backend ProcessRequests)
BATCH_CHECKING_BACKENDS = frozenset({"python", "onnxruntime", "tensorflow", "pytorch"})


@rule("TRT341", "warmup-batch-size", Severity.ERROR,
      "a warmup sample's batch_size is within max_batch_size (1 when the model does not batch)",
      stage=Stage.INSTANCES)
def warmup_batch_size(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton makes batch_size requests of one item each for a warmup sample and gives them to the instance at
    once (core src/backend_model_instance.cc, GenerateWarmupData and WarmUp); the backend refuses a batch larger
    than max_batch_size (with max_batch_size 0, more than one request), so the instance fails and the model does
    not load.

    Bad:  max_batch_size: 4 ... model_warmup [ { name: "w" batch_size: 8 ... } ]
    Good: max_batch_size: 4 ... model_warmup [ { name: "w" batch_size: 4 ... } ]
    """
    c = ctx.final
    if c is None or c.backend not in BATCH_CHECKING_BACKENDS or not c.instance_group:
        return
    instance = f"{c.instance_group[0].name}_0"
    for i, sample in enumerate(c.model_warmup):
        if sample.batch_size > 1 and sample.batch_size > c.max_batch_size:
            error = f"batch size {sample.batch_size} for '{instance}', max allowed is {c.max_batch_size}; "
            yield Problem(f"model_warmup[{i}].batch_size",
                          f"batch_size {sample.batch_size} is more than max_batch_size {c.max_batch_size}: use at most "
                          f"{max(c.max_batch_size, 1)}",
                          f"failed to run warmup sample '{sample.name}': {error * sample.batch_size}".rstrip())
            return


def _sample_problem(ctx: ModelContext, c, i: int, sample) -> Problem | None:
    """What Triton refuses first about one sample: building its inputs (GenerateWarmupData, core
    src/backend_model_instance.cc), then the request made of them (InferenceRequest::Normalize, core
    src/infer_request.cc): every required input present, each input's data type and shape."""
    names = sorted(sample.inputs)
    for name in names:
        data = sample.inputs[name]
        where = f'model_warmup[{i}].inputs["{name}"]'
        if any(d == -1 for d in data.dims):
            return Problem(f"{where}.value.dims", "give every warmup dimension a size",
                           f"warmup setting expects all variable-size dimensions are specified for input '{name}'")
        choice = data.WhichOneof("input_data_type")
        if choice is None:
            return Problem(where, "set zero_data, random_data or input_data_file",
                           f"warmup setting expects input '{name}' to have input_data_type set")
        if choice == "input_data_file":
            problem = data_file_problem(ctx, "warmup", data.input_data_file, data.data_type, list(data.dims),
                                        f"{where}.value.input_data_file", "warmup", "")
            if problem:
                return problem
    missing = _missing_inputs(ctx, names)
    if missing is not None:
        required, total, absent = missing
        expected = f"{required} inputs" if required == total else f"number of inputs between {required} and {total}"
        return Problem(f"model_warmup[{i}]", f"add warmup data for {', '.join(repr(n) for n in absent)}: Triton "
                       "sends a warmup sample as a request, and a request carries every required input",
                       f"expected {expected} but got {len(names)} inputs for model '{c.name}'. Got input(s) "
                       f"{_names(names)}, but missing required input(s) {_names(absent)}. Please provide all "
                       "required input(s).")
    for name in names:
        mismatch = _against_input(ctx, c, name, sample.inputs[name], f'model_warmup[{i}].inputs["{name}"]')
        if mismatch:
            return mismatch
    return None


def _names(names: list[str]) -> str:
    return "[" + ",".join(f"'{n}'" for n in names) + "]"


def _missing_inputs(ctx: ModelContext, given: list[str]) -> tuple[int, int, list[str]] | None:
    """(required inputs, all inputs, the required ones the sample leaves out) when it leaves one out."""
    final = ctx.final
    if final is None:
        return None
    required = [io.name for io in final.input if not io.optional]
    absent = [name for name in required if name not in given]
    return (len(required), len(final.input), absent) if absent else None


BATCH_NOTE = (" NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be prepended "
              "to each input shape. If you want to specify the full shape including the batch dim in your input dims "
              "config, try setting max_batch_size to zero. See the model configuration docs for more info on "
              "max_batch_size.")


def _triton_type(data_type: int) -> str:
    from tritonctl.io.proto.model_config_pb2 import DataType

    name = DataType.Name(data_type).removeprefix("TYPE_")
    return "BYTES" if name == "STRING" else name


def _shape(dims) -> str:
    return "[" + ",".join(str(d) for d in dims) + "]"


def _against_input(ctx: ModelContext, config, name: str, data, where: str) -> Problem | None:
    """A warmup input is sent as a request: its data type and shape must be what the model's input takes."""
    io = next((i for i in ctx.final.input if i.name == name), None) if ctx.final is not None else None
    if io is None:
        return None
    if data.data_type != io.data_type:
        return Problem(f"{where}.value.data_type", f"input '{name}' is {_triton_type(io.data_type)}, not "
                       f"{_triton_type(data.data_type)}", f"inference input '{name}' data-type is "
                       f"'{_triton_type(data.data_type)}', but model '{config.name}' expects "
                       f"'{_triton_type(io.data_type)}'")
    batching = config.max_batch_size > 0
    expected = ([-1] if batching else []) + list(io.dims)
    got = ([1] if batching else []) + list(data.dims)
    if len(expected) != len(got) or any(e != -1 and e != g for e, g in zip(expected, got)):
        return Problem(f"{where}.value.dims", f"input '{name}' takes dims {_shape(io.dims)}",
                       f"unexpected shape for input '{name}' for model '{config.name}'. Expected {_shape(expected)}, "
                       f"got {_shape(got)}." + (BATCH_NOTE if batching else ""))
    return None
