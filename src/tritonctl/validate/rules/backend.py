"""TRT102-TRT106: which backend serves the model, and max_batch_size (core src/model_config_utils.cc)."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.repository import PLATFORM_BACKEND
from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule

KNOWN_BACKENDS = frozenset(PLATFORM_BACKEND.values())


@rule("TRT102", "backend-unresolved", Severity.ERROR,
      "Triton must be able to tell the backend from the config, the model file or the model name",
      stage=Stage.CONFIG)
def backend_unresolved(ctx: ModelContext) -> Iterator[Problem]:
    """Why: with no backend, platform or default_model_filename, Triton looks at the first version folder
    for a known model file (model.onnx, model.plan, model.pt, model.py, ...) and, finding none, takes the
    backend from a model name of the form 'name.backend'. Otherwise it refuses the model ("Could not
    determine backend for model").

    Bad:  an empty config.pbtxt and an empty 1/
    Good: backend: "onnxruntime"
    """
    if ctx.backend_error:
        yield Problem(None, "cannot tell which backend serves this model; set 'backend' (onnxruntime, python, "
                      "pytorch, ...) or add the model file to a version folder", ctx.backend_error)


@rule("TRT103", "platform-without-backend", Severity.ERROR,
      "a platform Triton does not know needs a backend", stage=Stage.CONFIG)
def platform_without_backend(ctx: ModelContext) -> Iterator[Problem]:
    """Why: after auto-fill the backend is still empty when the platform is not one Triton maps to a
    backend (tensorflow_graphdef, tensorflow_savedmodel, tensorrt_plan, onnxruntime_onnx, pytorch_libtorch)
    or ensemble; Triton refuses it ("unexpected platform type").

    Bad:  platform: "onnx"
    Good: platform: "onnxruntime_onnx" (or backend: "onnxruntime")
    """
    c = ctx.completed
    if c is not None and not c.backend and c.platform != "ensemble":
        yield Problem("platform" if c.platform else None,
                      f"platform '{c.platform}' names no backend; use one of {', '.join(sorted(PLATFORM_BACKEND))},"
                      " or set 'backend'", f"unexpected platform type '{c.platform}' for {c.name}")


@rule("TRT104", "ensemble-with-backend", Severity.ERROR, "an ensemble has platform 'ensemble' and no backend",
      stage=Stage.CONFIG)
def ensemble_with_backend(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses an ensemble that also names a backend ("must have platform type 'ensemble' and
    empty backend type").

    Bad:  platform: "ensemble" backend: "python"
    Good: platform: "ensemble"
    """
    c = ctx.completed
    if c is not None and c.platform == "ensemble" and c.backend:
        yield Problem("backend", "remove 'backend' from the ensemble",
                      f"Ensemble model '{c.name}' must have platform type 'ensemble' and empty backend type")


@rule("TRT105", "platform-backend-pair", Severity.ERROR,
      "platform and backend must name the same backend", stage=Stage.CONFIG)
def platform_backend_pair(ctx: ModelContext) -> Iterator[Problem]:
    """Why: for the backends tensorflow, tensorrt, onnxruntime and pytorch Triton checks that the platform
    maps to the same backend; an unknown platform fails too ("unexpected 'platform' and 'backend' pair").

    Bad:  backend: "onnxruntime" platform: "onnx"
    Good: backend: "onnxruntime" platform: "onnxruntime_onnx" (or no platform)
    """
    c = ctx.completed
    if c is None or c.backend not in KNOWN_BACKENDS or c.platform == "ensemble":
        return
    if PLATFORM_BACKEND.get(c.platform) != c.backend:
        good = [p for p, b in PLATFORM_BACKEND.items() if b == c.backend]
        yield Problem("platform", f"platform '{c.platform}' does not belong to backend '{c.backend}'; use "
                      f"{' or '.join(repr(g) for g in good)} or remove 'platform'",
                      f"unexpected 'platform' and 'backend' pair, got:{c.platform}, {c.backend}")


@rule("TRT106", "max-batch-size-negative", Severity.ERROR, "max_batch_size must be 0 or more", stage=Stage.CONFIG)
def max_batch_size_negative(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses a negative max_batch_size. 0 means the model does not batch and dims are the
    full shape; N > 0 adds an implicit batch dimension in front of every dims.

    Bad:  max_batch_size: -1
    Good: max_batch_size: 8
    """
    c = ctx.completed
    if c is not None and c.max_batch_size < 0:
        yield Problem("max_batch_size", "max_batch_size must be 0 (no batching) or a positive batch size",
                      f"'max_batch_size' must be non-negative value for {c.name}")
