"""TRT601-TRT605: an ensemble's own config — scheduling, steps, and its tensor graph (triton-inference-server/core
src/model_config_utils.cc, ValidateEnsembleSchedulingConfig)."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule


def _ensemble(ctx: ModelContext):
    c = ctx.completed
    if c is None or c.platform != "ensemble" or not c.HasField("ensemble_scheduling"):
        return None
    return c


@rule("TRT601", "ensemble-scheduling-missing", Severity.ERROR,
      "an ensemble needs ensemble_scheduling, and only an ensemble may have it", stage=Stage.CONFIG)
def ensemble_scheduling_missing(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses platform "ensemble" without ensemble_scheduling, and ensemble_scheduling on any
    other platform.

    Bad:  platform: "ensemble" (no ensemble_scheduling)
    Good: platform: "ensemble" ensemble_scheduling { step [ ... ] }
    """
    c = ctx.completed
    if c is None:
        return
    if c.HasField("ensemble_scheduling") and c.platform != "ensemble":
        yield Problem("ensemble_scheduling", "remove ensemble_scheduling or set platform: \"ensemble\"",
                      f"ensemble scheduling cannot be set for model '{c.name}' whose platform is not ensemble")
    elif c.platform == "ensemble" and not c.HasField("ensemble_scheduling"):
        yield Problem("platform", "describe the steps in ensemble_scheduling { step [ ... ] }",
                      f"ensemble scheduling must be set for ensemble {c.name} whose platform is ensemble")


@rule("TRT602", "ensemble-forbidden-field", Severity.ERROR,
      "an ensemble has no instance_group, optimization or model_warmup", stage=Stage.CONFIG)
def ensemble_forbidden_field(ctx: ModelContext) -> Iterator[Problem]:
    """Why: an ensemble runs no code of its own, so Triton refuses instance_group, optimization and
    model_warmup on it.

    Bad:  platform: "ensemble" instance_group [ { kind: KIND_CPU } ] ...
    Good: set instance groups on the step models instead
    """
    c = _ensemble(ctx)
    if c is None:
        return
    if len(c.instance_group):
        yield Problem("instance_group", "remove instance_group from the ensemble",
                      f"instance group should not be specified for ensemble '{c.name}'")
    elif c.HasField("optimization"):
        yield Problem("optimization", "remove optimization from the ensemble",
                      f"optimization should not be specified for ensemble '{c.name}'")
    elif len(c.model_warmup):
        yield Problem("model_warmup", "remove model_warmup from the ensemble",
                      f"model_warmup can not be specified for ensemble '{c.name}'")


def _forbidden(c) -> bool:
    return bool(len(c.instance_group) or c.HasField("optimization") or len(c.model_warmup))


@rule("TRT603", "ensemble-step-incomplete", Severity.ERROR,
      "an ensemble has steps, and each names a model, an input_map and an output_map", stage=Stage.CONFIG)
def ensemble_step_incomplete(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses an ensemble with no step, or a step without model_name, input_map or output_map.

    Bad:  step [ { model_name: "text_detection" } ]
    Good: step [ { model_name: "text_detection" input_map { key: "input_images:0" value: "image" }
                   output_map { key: "feature_fusion/concat_3:0" value: "boxes" } } ]
    """
    c = _ensemble(ctx)
    if c is None or _forbidden(c):
        return
    if not c.ensemble_scheduling.step:
        yield Problem("ensemble_scheduling", "add at least one step",
                      f"must specify 'step' for ensemble '{c.name}'")
        return
    for i, step in enumerate(c.ensemble_scheduling.step):
        for what, present in (("model_name", step.model_name), ("input_map", len(step.input_map)),
                              ("output_map", len(step.output_map))):
            if not present:
                yield Problem(f"ensemble_scheduling.step[{i}]", f"step {i} has no {what}",
                              f"must specify '{what}' in step {i} of ensemble '{c.name}'")
                return


def _complete_steps(c) -> bool:
    steps = c.ensemble_scheduling.step
    return bool(steps) and all(s.model_name and len(s.input_map) and len(s.output_map) for s in steps)


@rule("TRT604", "ensemble-tensor-written-twice", Severity.ERROR,
      "an ensemble tensor is written by one output_map entry only", stage=Stage.CONFIG)
def ensemble_tensor_written_twice(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses two steps (or two outputs of one step) writing the same ensemble tensor ("can
    appear in an output map only once").

    Bad:  step 0 output_map { key: "y" value: "t" }, step 1 output_map { key: "z" value: "t" }
    Good: give each written tensor its own name
    """
    c = _ensemble(ctx)
    if c is None or _forbidden(c) or not _complete_steps(c):
        return
    written = set()
    for i, step in enumerate(c.ensemble_scheduling.step):
        for key in sorted(step.output_map):
            tensor = step.output_map[key]
            if tensor in written:
                yield Problem(f"ensemble_scheduling.step[{i}].output_map", f"ensemble tensor '{tensor}' is "
                              "already written by another output; rename one",
                              f"ensemble tensor '{tensor}' can appear in an output map only once for ensemble "
                              f"'{c.name}' step {i}")
                return
            written.add(tensor)


def ensemble_graph(c):
    """(ready tensors, producer step of each tensor, consumers of each tensor) for an ensemble config."""
    steps = list(c.ensemble_scheduling.step)
    producer: dict[str, int] = {}
    consumers: dict[str, list[int]] = {}
    for i, step in enumerate(steps):
        for key in step.input_map:
            consumers.setdefault(step.input_map[key], []).append(i)
        for key in step.output_map:
            producer.setdefault(step.output_map[key], i)
    ready = {io.name for io in c.input if io.name in consumers}
    done: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i, step in enumerate(steps):
            if i in done:
                continue
            if all(step.input_map[k] in ready for k in step.input_map):
                done.add(i)
                changed = True
                ready.update(step.output_map[k] for k in step.output_map)
    return ready, producer, consumers


def _unconnected(c, tensor: str, ready: set[str], producer: dict[str, int], seen: set[str]) -> str | None:
    if tensor in seen:
        return None
    seen.add(tensor)
    if tensor not in producer:
        return tensor
    step = c.ensemble_scheduling.step[producer[tensor]]
    for key in sorted(step.input_map):
        upstream = step.input_map[key]
        if upstream not in ready:
            found = _unconnected(c, upstream, ready, producer, seen)
            if found:
                return found
    return None


@rule("TRT605", "ensemble-data-flow", Severity.ERROR,
      "every ensemble input is used, every output is written from the inputs, no tensor dangles",
      stage=Stage.CONFIG)
def ensemble_data_flow(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton follows the tensors from the ensemble's inputs through the steps; it refuses an input no
    step reads, an output no step writes or that cannot be computed from the inputs, and an intermediate
    tensor that is never computed or never read.

    Bad:  input "image" but step 0 reads input_map { key: "x" value: "img" }
    Good: input_map { key: "x" value: "image" }
    """
    c = _ensemble(ctx)
    if c is None or _forbidden(c) or not _complete_steps(c):
        return
    ready, producer, consumers = ensemble_graph(c)
    for i, io in enumerate(c.input):
        if io.name not in consumers:
            yield Problem(f"input[{i}].name", f"no step reads ensemble input '{io.name}'; map it in a step's "
                          "input_map or remove it", f"ensemble input '{io.name}' for ensemble {c.name}' is not used")
            return
    for i, io in enumerate(c.output):
        if io.name not in producer and io.name not in consumers:
            yield Problem(f"output[{i}].name", f"no step writes ensemble output '{io.name}'; map a step output "
                          "to it", f"ensemble output '{io.name}' for ensemble {c.name}' is not used")
            return
        if io.name not in ready:
            tail = ""
            upstream = _unconnected(c, io.name, ready, producer, set())
            if upstream and upstream != io.name:
                tail = f": at least one of its depending tensors, '{upstream}', is not connected"
            yield Problem(f"output[{i}].name", f"ensemble output '{io.name}' cannot be computed from the "
                          "ensemble's inputs; connect the steps that lead to it",
                          f"output '{io.name}' for ensemble '{c.name}' is not written{tail}")
            return
    outputs = {io.name for io in c.output}
    for tensor in sorted(set(producer) | set(consumers)):
        if tensor in outputs:
            continue
        if tensor not in ready or tensor not in consumers:
            yield Problem("ensemble_scheduling", f"ensemble tensor '{tensor}' is "
                          f"{'never computed' if tensor not in ready else 'never read'}; connect or remove it",
                          f"ensemble tensor '{tensor}' is unused in ensemble '{c.name}'")
            return
