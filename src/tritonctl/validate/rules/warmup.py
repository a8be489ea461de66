"""TRT340: model_warmup samples (rules §13)."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import rule
from tritonctl.validate.rules.scheduling import data_file_problem


@rule("TRT340", "warmup-sample", Severity.ERROR,
      "warmup inputs have fixed dims, a data source, and data files large enough")
def warmup_sample(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton runs the warmup samples when it creates each instance; it refuses an input with a variable
    (-1) dimension, one with none of zero_data / random_data / input_data_file, and a data file in warmup/
    that is missing or shorter than the shape needs. Samples with batch_size 0 are skipped.

    Bad:  model_warmup [ { name: "w" batch_size: 1 inputs { key: "x" value { data_type: TYPE_FP32 dims: [-1] zero_data: true } } } ]
    Good: ... dims: [16] zero_data: true ...
    """
    c = ctx.completed
    if c is None or c.platform == "ensemble":
        return
    for i, sample in enumerate(c.model_warmup):
        if sample.batch_size == 0:
            continue
        for name in sorted(sample.inputs):
            data = sample.inputs[name]
            where = f'model_warmup[{i}].inputs["{name}"]'
            if any(d == -1 for d in data.dims):
                yield Problem(f"{where}.value.dims", "give every warmup dimension a size",
                              f"warmup setting expects all variable-size dimensions are specified for input '{name}'")
                return
            choice = data.WhichOneof("input_data_type")
            if choice is None:
                yield Problem(where, "set zero_data, random_data or input_data_file",
                              f"warmup setting expects input '{name}' to have input_data_type set")
                return
            if choice == "input_data_file":
                problem = data_file_problem(ctx, "warmup", data.input_data_file, data.data_type, list(data.dims),
                                            f"{where}.value.input_data_file", "warmup", "")
                if problem:
                    yield problem
                    return
