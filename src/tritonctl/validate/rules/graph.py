"""TRT610-TRT612: ensembles across the repository — step models present, no cycles, versions loaded
(triton-inference-server/core src/model_repository_manager/model_repository_manager.cc, dependency graph)."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule


def _steps(ctx: ModelContext):
    c = ctx.completed
    if c is None or c.platform != "ensemble" or not c.HasField("ensemble_scheduling"):
        return None, []
    return c, list(c.ensemble_scheduling.step)


@rule("TRT610", "ensemble-step-missing", Severity.ERROR, "every ensemble step names a model of the repository",
      stage=Stage.ENSEMBLE)
def ensemble_step_missing(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses an ensemble whose steps name models that are not in the repository, or whose
    config Triton cannot read or accept (the step model's own findings say why): "contains models that are
    not available or ambiguous".

    Bad:  step [ { model_name: "text_detector" ... } ] with the folder named text_detection
    Good: step [ { model_name: "text_detection" ... } ]
    """
    c, steps = _steps(ctx)
    missing = sorted({s.model_name for s in steps if s.model_name and (
        s.model_name not in ctx.peers or fails_at_poll(ctx.peers[s.model_name]))})
    if missing:
        index = next(i for i, s in enumerate(steps) if s.model_name in missing)
        yield Problem(f"ensemble_scheduling.step[{index}].model_name",
                      f"no model {', '.join(repr(m) for m in missing)} in the repository; fix the step's model_name",
                      f"ensemble {c.name} contains models that are not available or ambiguous: {', '.join(missing)}")


def fails_at_poll(peer: ModelContext) -> bool:
    """Whether Triton refuses `peer` when it reads the repository (its config does not parse or validate),
    before anything is loaded; such a model is "not available" to an ensemble."""
    from tritonctl.validate.registry import RULES

    for check in RULES.values():
        if not check.stage_for(peer.options.autocomplete).at_poll or check.severity is not Severity.ERROR:
            continue
        if check.needs_config and peer.config is None:
            continue
        if any(True for _ in check.fn(peer)):
            return True
    return False


def _uses(ctx: ModelContext) -> set[str]:
    """Models the ensemble `ctx` names as steps (empty for a non-ensemble)."""
    _c, steps = _steps(ctx)
    return {s.model_name for s in steps if s.model_name}


@rule("TRT611", "ensemble-cycle", Severity.ERROR, "ensembles do not depend on themselves, directly or not",
      stage=Stage.ENSEMBLE)
def ensemble_cycle(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses ensembles that contain themselves through their steps ("circular dependency
    between ensembles").

    Bad:  ensemble a with a step b, ensemble b with a step a
    Good: steps that lead to non-ensemble models
    """
    c, _steps_ = _steps(ctx)
    if c is None:
        return
    # Triton walks the models that depend on the start (its "downstreams") until it meets the start again
    users: dict[str, set[str]] = {}
    for name, peer in ctx.peers.items():
        for used in _uses(peer):
            users.setdefault(used, set()).add(name)
    start = ctx.name

    def walk(current: str, seen: set[str]) -> str | None:
        for downstream in sorted(users.get(current, ())):
            if downstream == start:
                return current
            if downstream not in seen:
                seen.add(downstream)
                found = walk(downstream, seen)
                if found:
                    return found
        return None

    last = walk(start, {start})
    if last is not None:
        yield Problem("ensemble_scheduling", "break the cycle: an ensemble cannot contain itself",
                      f"circular dependency between ensembles: {start} -> ... -> {last} -> {start}")


@rule("TRT612", "ensemble-step-version", Severity.ERROR,
      "a step's model_version is one the step model's version policy serves", stage=Stage.ENSEMBLE)
def ensemble_step_version(ctx: ModelContext) -> Iterator[Problem]:
    """Why: a step pinned to a version (model_version other than -1) needs that version loaded; Triton
    refuses the ensemble otherwise ("whose required version ... is not loaded").

    Bad:  step [ { model_name: "text_detection" model_version: 2 ... } ] with only version 1 served
    Good: model_version: -1 (the newest served version) or a served one
    """
    c, steps = _steps(ctx)
    for i, step in enumerate(steps):
        peer = ctx.peers.get(step.model_name)
        if peer is None or step.model_version == -1 or peer.completed is None:
            continue
        if step.model_version not in peer.served_versions:
            yield Problem(f"ensemble_scheduling.step[{i}].model_version",
                          f"version {step.model_version} of '{step.model_name}' is not served (served: "
                          f"{', '.join(map(str, peer.served_versions)) or 'none'}); use -1 or a served version",
                          f"ensemble '{c.name}' depends on '{step.model_name}' whose required version "
                          f"{step.model_version} is not loaded.")
            return
