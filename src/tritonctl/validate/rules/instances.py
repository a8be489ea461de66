"""TRT107, TRT110 and TRT330-TRT333: the backend library, and instance groups on the target's GPUs."""

from __future__ import annotations

import os
from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule

# the backends of Triton 2.51's containers (tritonserver:24.10-py3, with -trtllm-python-py3 and -vllm-python-py3)
STANDARD_BACKENDS = frozenset({"onnxruntime", "pytorch", "tensorflow", "tensorrt", "python", "openvino", "fil",
                               "dali", "identity", "repeat", "square", "tensorrtllm", "vllm"})


@rule("TRT107", "backend-not-installed", Severity.ERROR,
      "the backend is installed on the target server (--backends)", stage=Stage.BACKEND)
def backend_not_installed(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton looks for libtriton_<backend>.so (or a Python-based model.py) in the model folder and the
    backend directory; without it the load fails ("unable to find backend library for backend"). Checked
    against --backends (or `backends` in the settings) when given; otherwise Triton's standard backends are assumed
    installed and any other backend is a warning (a custom one is declared there).

    Bad:  backend: "onnxruntime" on a server started with only the python backend (--backends python)
    Good: backend: "python"
    """
    c = ctx.completed
    if c is None or not c.backend or c.platform == "ensemble" or c.runtime:
        return  # a runtime is TRT110's
    if ctx.options.backends is None:
        if c.backend not in STANDARD_BACKENDS:
            import difflib

            close = difflib.get_close_matches(c.backend, sorted(STANDARD_BACKENDS), n=1)
            guess = f"did you mean '{close[0]}'? " if close else ""
            yield Problem("backend" if ctx.config.backend else None,
                          f"backend '{c.backend}' is not one of Triton 2.51's standard backends "
                          f"({', '.join(sorted(STANDARD_BACKENDS))}); {guess}if the server has it, list the server's backends, "
                          f"'{c.backend}' among them: --backends LIST, or backends = [...] in tritonctl.toml",
                          severity=Severity.WARNING)
        return
    if c.backend not in ctx.options.backends:
        yield Problem("backend" if ctx.config.backend else None,
                      f"backend '{c.backend}' is not installed on the target (installed: "
                      f"{', '.join(sorted(ctx.options.backends)) or 'none'})",
                      f"unable to find backend library for backend '{c.backend}', try specifying runtime on the "
                      "model configuration.")


@rule("TRT110", "runtime-library", Severity.ERROR,
      "runtime names a library Triton finds, inside the folder it finds it in", stage=Stage.BACKEND)
def runtime_library(ctx: ModelContext) -> Iterator[Problem]:
    """Why: with `runtime` set, Triton looks for that file in the version folder, the model folder and the
    backend's folder (<backend-directory>/<backend>), in that order, and refuses the model when none holds it
    ("unable to find backend library") or when the path leads out of the folder that holds it ("escapes backend
    directory"): triton-inference-server/core src/backend_model.cc, ResolveBackendPaths. In the backend's folder
    only libtriton_<backend>.so is assumed (the backends in --backends, or Triton's standard set).

    Bad:  backend: "python" runtime: "libtriton_pyton.so"
    Good: backend: "python" runtime: "libtriton_python.so" (or no runtime)
    """
    import posixpath

    c = ctx.completed
    if c is None or not c.runtime or not c.backend or c.platform == "ensemble" or c.runtime == "model.py":
        return
    runtime = c.runtime
    folders = [ctx.model.path.absolute()]
    if ctx.served_versions:
        found = ctx.model.version(ctx.served_versions[-1])
        folders.insert(0, found.path.absolute() if found is not None else folders[0] / str(ctx.served_versions[-1]))
    for folder in folders:
        candidate = f"{folder}/{runtime}"
        if os.path.exists(candidate):
            if not posixpath.normpath(candidate).startswith(f"{folder}/"):
                yield Problem("runtime", f"'{runtime}' leads out of '{folder}': name a file inside it",
                              f"backend library name '{runtime}' escapes backend directory '{folder}', for model "
                              f"'{c.name}', check model config runtime field")
            return
    installed = ctx.options.backends if ctx.options.backends is not None else STANDARD_BACKENDS
    resolved = posixpath.normpath(f"/backends/{c.backend}/{runtime}")
    if resolved == f"/backends/{c.backend}/libtriton_{c.backend}.so" and c.backend in installed:
        return
    other = resolved.split("/")
    if len(other) == 4 and other[1] == "backends" and other[2] in installed and other[3] == f"libtriton_{other[2]}.so":
        yield Problem("runtime", f"'{runtime}' leads out of the '{c.backend}' backend's folder",
                      f"backend library name '{runtime}' escapes backend directory '")
        return
    searched = "".join(f"'{folder}' " for folder in folders)
    yield Problem("runtime", f"no folder Triton searches holds '{runtime}': use libtriton_{c.backend}.so (or "
                  "remove runtime), or put the library in the model folder",
                  f"unable to find backend library '{runtime}' for model '{c.name}', searched: {searched}")


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
