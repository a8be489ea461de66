"""TRT107 and TRT330-TRT336: the backend library, and instance groups on the target's GPUs (rules §4, §8)."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule

STANDARD_BACKENDS = frozenset({"onnxruntime", "pytorch", "tensorflow", "tensorrt", "python", "openvino", "fil",
                               "dali", "identity", "repeat", "square"})


@rule("TRT107", "backend-not-installed", Severity.ERROR,
      "the backend is installed on the target server (--backends)", stage=Stage.BACKEND)
def backend_not_installed(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton looks for libtriton_<backend>.so (or a Python-based model.py) in the model folder and the
    backend directory; without it the load fails ("unable to find backend library for backend"). Checked
    against --backends when given; otherwise Triton's standard backends are assumed installed.

    Bad:  backend: "onnxruntime" on a server started with only the python backend (--backends python)
    Good: backend: "python"
    """
    c = ctx.completed
    if c is None or not c.backend or c.platform == "ensemble" or ctx.options.backends is None:
        return
    if c.runtime:
        if c.runtime not in ctx.options.backends and c.runtime.removeprefix("libtriton_").removesuffix(".so") \
                not in ctx.options.backends and c.backend not in ctx.options.backends:
            yield Problem("runtime", f"runtime '{c.runtime}' is not installed on the target",
                          f"unable to find backend library '{c.runtime}' for model '{c.name}', searched: ")
        return
    if c.backend not in ctx.options.backends:
        yield Problem("backend" if ctx.config.backend else None,
                      f"backend '{c.backend}' is not installed on the target (installed: "
                      f"{', '.join(sorted(ctx.options.backends)) or 'none'})",
                      f"unable to find backend library for backend '{c.backend}', try specifying runtime on the "
                      "model configuration.")


def _groups(ctx: ModelContext):
    c = ctx.final
    if c is None or c.platform == "ensemble" or not c.backend:
        return c, []
    return c, list(enumerate(c.instance_group))


@rule("TRT330", "instance-group-kind", Severity.ERROR,
      "KIND_CPU and KIND_MODEL groups list no gpus; the kind is a known one", stage=Stage.BACKEND)
def instance_group_kind(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses a KIND_CPU or KIND_MODEL instance group that lists gpus, and an undefined kind.

    Bad:  instance_group [ { kind: KIND_CPU gpus: [0] } ]
    Good: instance_group [ { kind: KIND_CPU } ] (or kind: KIND_GPU gpus: [0])
    """
    from tritonctl.io.proto.model_config_pb2 import ModelInstanceGroup as G

    c, groups = _groups(ctx)
    for i, g in groups:
        where = f"instance_group[{i}]"
        if g.kind in (G.KIND_MODEL, G.KIND_CPU) and g.gpus:
            kind = G.Kind.Name(g.kind)
            yield Problem(f"{where}.gpus", f"a {kind} group runs on no GPU: remove gpus or use KIND_GPU",
                          f"instance group {g.name} of model {c.name} has kind {kind} but specifies one or more GPUs")
            return
        if g.kind not in (G.KIND_MODEL, G.KIND_CPU, G.KIND_GPU):
            yield Problem(f"{where}.kind", "use KIND_CPU, KIND_GPU, KIND_MODEL or KIND_AUTO",
                          f"instance group {g.name} of model {c.name} has unexpected kind KIND_AUTO")
            return


@rule("TRT331", "instance-group-gpus", Severity.ERROR,
      "KIND_GPU groups name GPUs the target has (checked with --gpus)", stage=Stage.BACKEND)
def instance_group_gpus(ctx: ModelContext) -> Iterator[Problem]:
    """Why: on a server with no GPU Triton refuses KIND_GPU ("has kind KIND_GPU but no GPUs are available"),
    and it refuses a gpu id the server does not have. KIND_AUTO falls back to the CPU instead. Checked only
    when --gpus says how many GPUs the target has.

    Bad:  instance_group [ { kind: KIND_GPU gpus: [1] } ] on a one-GPU server
    Good: instance_group [ { kind: KIND_GPU gpus: [0] } ] (or kind: KIND_AUTO)
    """
    from tritonctl.io.proto.model_config_pb2 import ModelInstanceGroup as G

    if ctx.options.gpus is None:
        return
    c, groups = _groups(ctx)
    available = list(range(ctx.options.gpus))
    for i, g in groups:
        if g.kind != G.KIND_GPU:
            continue
        where = f"instance_group[{i}]"
        if not g.gpus:
            yield Problem(f"{where}.kind", "the target has no GPU: use KIND_CPU or KIND_AUTO",
                          f"instance group {g.name} of model {c.name} has kind KIND_GPU but no GPUs are available")
            return
        for k, gid in enumerate(g.gpus):
            if gid not in available:
                yield Problem(f"{where}.gpus[{k}]", f"GPU {gid} does not exist on the target (GPUs: "
                              f"{', '.join(map(str, available)) or 'none'})",
                              f"instance group {g.name} of model {c.name} specifies invalid or unsupported gpu id "
                              f"{gid}. GPUs with at least the minimum required CUDA compute compatibility of "
                              f"6.000000 are: {', '.join(map(str, available))}")
                return


@rule("TRT332", "instance-group-profile", Severity.ERROR,
      "profile is for TensorRT models and holds non-negative integers", stage=Stage.BACKEND)
def instance_group_profile(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses an instance group's profile on any platform other than tensorrt_plan, and a
    profile that is not a non-negative integer.

    Bad:  backend: "onnxruntime" instance_group [ { kind: KIND_CPU profile: ["0"] } ]
    Good: remove profile (TensorRT optimization profiles only)
    """
    from tritonctl.repository import stoll_prefix

    c, groups = _groups(ctx)
    for i, g in groups:
        if not g.profile:
            continue
        where = f"instance_group[{i}].profile"
        if c.platform != "tensorrt_plan":
            yield Problem(where, "remove profile: only TensorRT models have optimization profiles",
                          f"instance group {g.name} of model {c.name} and platform {c.platform}specifies profile "
                          "field which is only supported for TensorRT models")
            return
        for k, profile in enumerate(g.profile):
            if not profile:
                yield Problem(f"{where}[{k}]", "profile names are integers", "profile name must not be empty")
                return
            index = stoll_prefix(profile)
            if index is None:
                yield Problem(f"{where}[{k}]", f"profile '{profile}' is not an integer",
                              f"unable to parse '{profile}': stoi")
                return
            if index < 0:
                yield Problem(f"{where}[{k}]", f"profile {profile} is negative",
                              f"instance group {g.name} of model {c.name} and platform {c.platform} specifies "
                              f"invalid profile {profile}. The field should contain the string representation of "
                              "a non-negative integer.")
                return


@rule("TRT333", "instance-count-default", Severity.WARNING,
      "instance count of 0 or less is replaced by the default", triton_core=False, stage=Stage.BACKEND)
def instance_count_default(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton accepts count 0 or negative and silently uses its default (1, or 2 for KIND_CPU with
    onnxruntime or tensorflow): probably not what was meant.

    Bad:  instance_group [ { kind: KIND_CPU count: 0 } ]
    Good: instance_group [ { kind: KIND_CPU count: 1 } ]
    """
    c = ctx.completed
    if c is None or c.platform == "ensemble" or ctx.config_text is None:
        return
    for i, g in enumerate(c.instance_group):
        if g.count < 1 and ctx.config_text.located.get(f"instance_group[{i}].count") is not None:
            yield Problem(f"instance_group[{i}].count", f"count {g.count} is replaced by Triton's default; "
                          "give a positive count")
