"""What Triton 2.51 fills into a config before it validates it.

`autocomplete_backend_fields` mirrors core's `AutoCompleteBackendFields` (which looks only at the
lexicographically first subdirectory of the model folder), `normalize_model_config` its
`NormalizeModelConfig` (N1-N4), `normalize_instance_groups` its `NormalizeInstanceGroup` (N6).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from tritonctl.errors import BackendUnresolved

if TYPE_CHECKING:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig
    from tritonctl.repository import Model

DEFAULT_CPU_COUNT_BACKENDS = frozenset({"onnxruntime", "tensorflow"})


def _first_version_dir(model: Model) -> tuple[Path | None, set[str]]:
    if not model.subdirs:
        return None, set()
    path = model.path / model.subdirs[0]
    try:
        return path, set(os.listdir(path))
    except OSError:
        return path, set()


def autocomplete_backend_fields(config: ModelConfig, model: Model) -> None:
    """Fill name, platform, backend and default_model_filename in place, as Triton does. May raise
    BackendUnresolved."""
    version_path, content = _first_version_dir(model)
    has_version = version_path is not None

    def is_dir(name: str) -> bool:
        return name in content and (version_path / name).is_dir()

    def is_file(name: str) -> bool:
        return name in content and not (version_path / name).is_dir()

    if not config.name:
        config.name = model.name
    # TensorFlow
    if not config.platform and config.backend in ("", "tensorflow"):
        if config.default_model_filename == "model.savedmodel":
            config.platform = "tensorflow_savedmodel"
        elif config.default_model_filename == "model.graphdef":
            config.platform = "tensorflow_graphdef"
        elif not config.default_model_filename and has_version:
            if is_dir("model.savedmodel"):
                config.platform = "tensorflow_savedmodel"
            if is_file("model.graphdef"):
                config.platform = "tensorflow_graphdef"
    if config.platform in ("tensorflow_savedmodel", "tensorflow_graphdef"):
        config.backend = config.backend or "tensorflow"
        if not config.default_model_filename:
            config.default_model_filename = (
                "model.savedmodel" if config.platform == "tensorflow_savedmodel" else "model.graphdef"
            )
        return
    unset = not config.platform and not config.default_model_filename and has_version
    # TensorRT
    if not config.backend:
        if config.platform == "tensorrt_plan" or config.default_model_filename == "model.plan":
            config.backend = "tensorrt"
        elif unset and is_file("model.plan"):
            config.backend = "tensorrt"
    if config.backend == "tensorrt":
        config.platform = config.platform or "tensorrt_plan"
        config.default_model_filename = config.default_model_filename or "model.plan"
        return
    # ONNX Runtime (the model may be a file or a folder)
    if not config.backend:
        if config.platform == "onnxruntime_onnx" or config.default_model_filename == "model.onnx":
            config.backend = "onnxruntime"
        elif unset and "model.onnx" in content:
            config.backend = "onnxruntime"
    if config.backend == "onnxruntime":
        config.platform = config.platform or "onnxruntime_onnx"
        config.default_model_filename = config.default_model_filename or "model.onnx"
        return
    # OpenVINO
    if not config.backend:
        if config.default_model_filename == "model.xml" or (unset and "model.xml" in content):
            config.backend = "openvino"
    if config.backend == "openvino":
        config.default_model_filename = config.default_model_filename or "model.xml"
        return
    # PyTorch
    if not config.backend:
        if config.platform == "pytorch_libtorch" or config.default_model_filename == "model.pt":
            config.backend = "pytorch"
        elif unset and is_file("model.pt"):
            config.backend = "pytorch"
    if config.backend == "pytorch":
        config.platform = config.platform or "pytorch_libtorch"
        if config.runtime != "model.py" and not config.default_model_filename:
            config.default_model_filename = "model.pt"
        return
    # Python
    if not config.backend:
        if config.default_model_filename == "model.py" or (unset and "model.py" in content):
            config.backend = "python"
    if config.backend == "python":
        config.default_model_filename = config.default_model_filename or "model.py"
        return
    # A custom backend named by the model name: 'model_identifier.backend_name'
    if not config.backend and not config.platform and not config.default_model_filename:
        name = config.name
        if "." not in name:
            raise BackendUnresolved(name)
        backend = name[name.index(".") + 1 :]
        config.backend = backend
        config.default_model_filename = f"model.{backend}"


def normalize_model_config(config: ModelConfig) -> None:
    """N1-N4: version policy, preferred batch sizes, sequence idle time, pinned memory."""
    if not config.HasField("version_policy"):
        config.version_policy.latest.num_versions = 1
    if config.HasField("dynamic_batching"):
        db = config.dynamic_batching
        if not db.preferred_batch_size and config.max_batch_size > 0:
            db.preferred_batch_size.append(config.max_batch_size)
    if config.HasField("sequence_batching"):
        sb = config.sequence_batching
        if sb.max_sequence_idle_microseconds == 0:
            sb.max_sequence_idle_microseconds = 1000000
        if sb.HasField("oldest") and not sb.oldest.preferred_batch_size and config.max_batch_size > 0:
            sb.oldest.preferred_batch_size.append(config.max_batch_size)
    if config.platform != "ensemble":
        opt = config.optimization
        if not opt.HasField("input_pinned_memory"):
            opt.input_pinned_memory.enable = True
        if not opt.HasField("output_pinned_memory"):
            opt.output_pinned_memory.enable = True
    else:
        config.model_transaction_policy.SetInParent()


def normalize_instance_groups(config: ModelConfig, gpus: int) -> None:
    """N6: default group, names, KIND_AUTO, counts and gpu lists for a host with `gpus` GPUs."""
    from tritonctl.io.proto.model_config_pb2 import ModelInstanceGroup

    if config.platform == "ensemble":
        return
    if not config.instance_group:
        group = config.instance_group.add()
        group.name = config.name
        group.kind = ModelInstanceGroup.KIND_AUTO
    available = list(range(gpus))
    for index, group in enumerate(config.instance_group):
        if not group.name:
            group.name = f"{config.name}_{index}"
        if group.kind == ModelInstanceGroup.KIND_AUTO:
            if available and all(g in available for g in group.gpus):
                group.kind = ModelInstanceGroup.KIND_GPU
            else:
                group.kind = ModelInstanceGroup.KIND_CPU
        if group.count < 1:
            cpu_default = group.kind == ModelInstanceGroup.KIND_CPU and config.backend in DEFAULT_CPU_COUNT_BACKENDS
            group.count = 2 if cpu_default else 1
        if group.kind == ModelInstanceGroup.KIND_GPU and not group.gpus:
            group.gpus.extend(available)


def finish(config: ModelConfig, signature, gpus: int) -> str | None:
    """After backend fields and N1-N4: the onnxruntime backend's auto-complete from `signature` (when given),
    normalization again, then instance groups for a host with `gpus` GPUs. Returns Triton's error text when
    the auto-complete refuses, else None."""
    from tritonctl.onnxruntime_backend import autocomplete

    error = None
    if signature is not None:
        error = autocomplete(config, signature)
        normalize_model_config(config)
    normalize_instance_groups(config, gpus)
    return error


def served_config(model: Model, *, gpus: int = 0, run_python: bool = False) -> tuple[ModelConfig, list[str]]:
    """The config Triton 2.51 serves for `model` on a host with `gpus` GPUs (auto-complete on), and notes on
    what could not be applied. Raises TritonctlError with Triton's message where Triton refuses."""
    from tritonctl.errors import TritonctlError
    from tritonctl.io.onnxsig import read_signature
    from tritonctl.io.proto.model_config_pb2 import ModelConfig
    from tritonctl.repository import CONFIG_FILE, default_model_filename, selected_versions

    text = model.read_config()
    config = ModelConfig()
    notes: list[str] = []
    if text is not None:
        config.CopyFrom(text.config)
    else:
        notes.append(f"'{model.name}' has no {CONFIG_FILE}: Triton starts from an empty config")
    try:
        autocomplete_backend_fields(config, model)
    except BackendUnresolved as e:
        raise TritonctlError(str(e)) from None
    normalize_model_config(config)
    served = selected_versions(config.version_policy, [v.number for v in model.versions])
    sig = None
    needs_io = (len(config.input) + len(config.batch_input)) == 0 or len(config.output) == 0
    if config.backend == "onnxruntime" and needs_io:
        if not served:
            notes.append("no version folder: the onnxruntime auto-complete could not read a model file")
        else:
            path = model.path / str(served[-1]) / (default_model_filename(config) or "model.onnx")
            if path.exists():
                sig = read_signature(path)
            else:
                notes.append(f"'{path}' is missing: the onnxruntime auto-complete could not run")
    if config.backend == "python":
        if run_python and served:
            from tritonctl.io.python_autocomplete import run_auto_complete

            error = run_auto_complete(model.path / str(served[-1]) / (config.default_model_filename or "model.py"),
                                      config)
            if error:
                raise TritonctlError(error)
            normalize_model_config(config)
        else:
            notes.append("python auto_complete_config was not applied (pass --run-python to run it)")
    error = finish(config, sig, gpus)
    if error:
        raise TritonctlError(error)
    return config, notes
