"""TRT613-TRT615: an ensemble against the configs of its step models, as Triton checks once they are loaded
(triton-inference-server/core src/ensemble_scheduler/ensemble_utils.cc, ValidateEnsembleConfig)."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule


def _step_configs(ctx: ModelContext):
    """(ensemble config, [(index, step, step model's final config)]) for steps whose model can be read."""
    c = ctx.completed
    if c is None or c.platform != "ensemble" or not c.HasField("ensemble_scheduling"):
        return None, []
    steps = []
    for i, step in enumerate(c.ensemble_scheduling.step):
        peer = ctx.peers.get(step.model_name)
        if peer is not None and peer is not ctx and peer.final is not None:
            steps.append((i, step, peer.final))
    return c, steps


@rule("TRT613", "ensemble-step-batch-size", Severity.ERROR,
      "a batching step model allows at least the ensemble's max_batch_size", stage=Stage.STEPS)
def ensemble_step_batch_size(ctx: ModelContext) -> Iterator[Problem]:
    """Why: the ensemble passes whole batches to its steps; Triton refuses a step model that batches but
    allows fewer than the ensemble's max_batch_size (steps with max_batch_size 0 are fine).

    Bad:  ensemble max_batch_size: 16 with a step whose max_batch_size is 8
    Good: ensemble max_batch_size: 8
    """
    c, steps = _step_configs(ctx)
    for i, step, sc in steps:
        if sc.max_batch_size != 0 and sc.max_batch_size < c.max_batch_size:
            yield Problem("max_batch_size", f"step {i} ('{sc.name}') allows batches of {sc.max_batch_size} only; "
                          f"lower the ensemble's max_batch_size or raise the step's",
                          f"ensemble {c.name} allows maximum batch size {c.max_batch_size}, but it contains model "
                          f"{sc.name} which only allows maximum batch size to be {sc.max_batch_size}", order=(i, 0))
            return


@rule("TRT614", "ensemble-step-mapping", Severity.ERROR,
      "input_map and output_map keys are tensors of the step model; required inputs are all mapped",
      stage=Stage.STEPS)
def ensemble_step_mapping(ctx: ModelContext) -> Iterator[Problem]:
    """Why: the keys of a step's input_map and output_map are the step model's own tensor names; Triton
    refuses a key the model does not have and a required (non-optional) input left unmapped. Unmapped
    outputs are fine.

    Bad:  step [ { model_name: "text_recognition" input_map { key: "input" value: "crop" } ... } ]
    Good: input_map { key: "input.1" value: "crop" }
    """
    c, steps = _step_configs(ctx)
    for i, step, sc in steps:
        inputs = {io.name: io for io in sc.input}
        outputs = {io.name for io in sc.output}
        for key in sorted(step.input_map):
            if key not in inputs:
                yield Problem(f"ensemble_scheduling.step[{i}].input_map", f"'{sc.name}' has no input '{key}' "
                              f"(inputs: {', '.join(sorted(inputs))})", f"in ensemble {c.name}, ensemble tensor "
                              f"{step.input_map[key]} is mapping to non-existing input {key} in model {sc.name}",
                              order=(i, 1))
                return
        for name, io in inputs.items():
            if name not in step.input_map and not io.optional:
                yield Problem(f"ensemble_scheduling.step[{i}].input_map", f"map the input '{name}' of '{sc.name}'",
                              f"in ensemble {c.name}, input {name} in model {sc.name} is not mapped to any ensemble "
                              "tensors", order=(i, 1))
                return
        for key in sorted(step.output_map):
            if key not in outputs:
                yield Problem(f"ensemble_scheduling.step[{i}].output_map", f"'{sc.name}' has no output '{key}' "
                              f"(outputs: {', '.join(sorted(outputs))})", f"in ensemble {c.name}, ensemble tensor "
                              f"{step.output_map[key]} is mapped from non-existing output {key} in model {sc.name}",
                              order=(i, 3))
                return


def _full_dims(io, max_batch_size: int) -> list[int]:
    dims = list(io.dims)
    return [-1, *dims] if max_batch_size > 0 else dims


def _compatible(a: list[int], b: list[int]) -> bool:
    return len(a) == len(b) and all(x == y or x == -1 or y == -1 for x, y in zip(a, b))


@rule("TRT615", "ensemble-tensor-consistency", Severity.ERROR,
      "an ensemble tensor has one data type and compatible shapes wherever it is used", stage=Stage.STEPS)
def ensemble_tensor_consistency(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton infers each ensemble tensor's data type and shape from the ensemble's inputs and outputs
    and from every step that reads or writes it; a different data type, or shapes that differ where neither
    is -1, fail the ensemble ("inconsistent data type" / "inconsistent shape").

    Bad:  the ensemble input "image" is TYPE_UINT8 but the step reading it expects TYPE_FP32
    Good: declare "image" as TYPE_FP32 (or add a preprocessing step)
    """
    from tritonctl.io.proto.model_config_pb2 import DataType

    c, steps = _step_configs(ctx)
    if c is None:
        return
    seen: dict[str, tuple[int, list[int], list[int], str]] = {}

    def check(tensor: str, io, mbs: int, owner: str, field: str, order: tuple[int, ...] = ()):
        dims = list(io.reshape.shape) if io.HasField("reshape") else list(io.dims)
        full = _full_dims(io, mbs)
        if tensor not in seen:
            seen[tensor] = (io.data_type, dims, full, owner)
            return None
        dtype, prev_dims, prev_full, prev_owner = seen[tensor]
        if dtype != io.data_type:
            return Problem(field, f"ensemble tensor '{tensor}' is {DataType.Name(io.data_type)} for '{owner}' but "
                           f"{DataType.Name(dtype)} for '{prev_owner}'; make them agree",
                           f"in ensemble {c.name}, ensemble tensor {tensor}: inconsistent data type: "
                           f"{DataType.Name(dtype)} is inferred from model {prev_owner} while "
                           f"{DataType.Name(io.data_type)} is inferred from model {owner}", order=order)
        if not (_compatible(prev_dims, dims) or _compatible(prev_full, full)):
            a = "[" + ",".join(map(str, prev_full)) + "]"
            b = "[" + ",".join(map(str, full)) + "]"
            return Problem(field, f"ensemble tensor '{tensor}' has shape {b} for '{owner}' but {a} for "
                           f"'{prev_owner}'; make them agree", f"in ensemble {c.name}, ensemble tensor {tensor}: "
                           f"inconsistent shape: {a} is inferred from model {prev_owner} while {b} is inferred from "
                           f"model {owner}", order=order)
        return None

    for k, io in enumerate(c.input):
        check(io.name, io, c.max_batch_size, c.name, f"input[{k}]")
    for k, io in enumerate(c.output):
        check(io.name, io, c.max_batch_size, c.name, f"output[{k}]")
    for i, step, sc in steps:
        ios = {io.name: io for io in sc.input}
        outs = {io.name: io for io in sc.output}
        for key in sorted(step.input_map):
            if key in ios:
                problem = check(step.input_map[key], ios[key], sc.max_batch_size, sc.name,
                                f"ensemble_scheduling.step[{i}].input_map", (i, 2))
                if problem:
                    yield problem
                    return
        for key in sorted(step.output_map):
            if key in outs:
                problem = check(step.output_map[key], outs[key], sc.max_batch_size, sc.name,
                                f"ensemble_scheduling.step[{i}].output_map", (i, 4))
                if problem:
                    yield problem
                    return
