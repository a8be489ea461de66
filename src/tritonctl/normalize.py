"""What Triton 2.51 fills into a config before it validates it.

`autocomplete_backend_fields` mirrors core's `AutoCompleteBackendFields` (which looks only at the
lexicographically first subdirectory of the model folder), `normalize_model_config` its
`NormalizeModelConfig`, `normalize_instance_groups` its `NormalizeInstanceGroup`, all in triton-inference-server/core
src/model_config_utils.cc.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tritonctl.errors import BackendUnresolved

if TYPE_CHECKING:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig
    from tritonctl.repository import Model

DEFAULT_CPU_COUNT_BACKENDS = frozenset({"onnxruntime", "tensorflow"})


class _FirstVersionDir:
    """The names in a model's first subdirectory, listed when first asked for (a config that names its backend,
    platform and model file never asks)."""

    def __init__(self, model: Model) -> None:
        self.path = model.path / model.subdirs[0] if model.subdirs else None
        self._names: set[str] | None = None

    def __contains__(self, name: str) -> bool:
        if self._names is None:
            try:
                self._names = set(os.listdir(self.path)) if self.path is not None else set()
            except OSError:
                self._names = set()
        return name in self._names


def autocomplete_backend_fields(config: ModelConfig, model: Model) -> None:
    """Fill name, platform, backend and default_model_filename in place, as Triton does. May raise
    BackendUnresolved."""
    content = _FirstVersionDir(model)
    version_path = content.path
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
    """NormalizeModelConfig: version policy, preferred batch sizes, sequence idle time, pinned memory."""
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
    """NormalizeInstanceGroup: default group, names, KIND_AUTO, counts and gpu lists for a host with `gpus` GPUs."""
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
    """After backend fields and NormalizeModelConfig: the backend's auto-complete from `signature` (when given: an
    ONNX signature for onnxruntime, a SavedModel for tensorflow),
    normalization again, then instance groups for a host with `gpus` GPUs. Returns Triton's error text when
    the auto-complete refuses, else None."""
    error = None
    if signature is not None:
        from tritonctl.io.savedmodel import SavedModel

        if isinstance(signature, SavedModel):
            from tritonctl.tensorflow_backend import autocomplete
        else:
            from tritonctl.onnxruntime_backend import autocomplete
        error = autocomplete(config, signature)
        normalize_model_config(config)
    normalize_instance_groups(config, gpus)
    return error


@dataclass
class Served:
    """What Triton 2.51 makes of a model folder: the config it serves, or why it cannot, and what it read for it.

    The only place that turns a model folder into its served config: `config show --normalized`, `status`, `validate`
    (its ModelContext), `version add/list` (the model file's name) all read it."""

    completed: ModelConfig | None  # backend fields filled and normalized, before the backend's auto-complete
    config: ModelConfig | None  # what Triton serves: auto-completed, normalized, instance groups placed
    versions: list[int] = field(default_factory=list)  # the versions its policy selects
    notes: list[str] = field(default_factory=list)
    backend_error: str | None = None  # Triton cannot tell the backend (its message)
    autofill_error: str | None = None  # the onnxruntime or tensorflow backend's auto-complete refused (its message)
    python_error: str | None = None  # the python model's auto_complete_config failed (Triton's message)
    python_missing: str | None = None  # a module the python model imports is not installed here
    python_failure: str | None = None  # its auto_complete_config hung or crashed (our words)
    signature: object = None  # what the auto-complete read: an OnnxSignature, a SavedModel, a ModelFileError, None

    @property
    def model_filename(self) -> str | None:
        from tritonctl.repository import default_model_filename

        return default_model_filename(self.completed) if self.completed is not None else None


def served(model: Model, config: ModelConfig | None = None, *, gpus: int = 0, autocomplete: bool = True,
           run_python: bool = False, only_version: int | None = None, python=None) -> Served:
    """What Triton serves for `model` (its parsed `config`; read from the folder when None) on a host with `gpus`
    GPUs. `autocomplete` False is Triton's --disable-auto-complete-config; `only_version` checks that version as
    the one served (a staged `version add`); `python` runs a python model's auto_complete_config (a
    PythonAutoComplete; one is made for this call when `run_python` and none is given)."""
    from tritonctl.errors import ModelFileError
    from tritonctl.io.proto.model_config_pb2 import ModelConfig
    from tritonctl.repository import CONFIG_FILE, selected_versions

    notes: list[str] = []
    if config is None:
        text = model.read_config()
        config = text.config if text is not None else ModelConfig()
        if text is None:
            notes.append(f"'{model.name}' has no {CONFIG_FILE}: Triton starts from an empty config")
    completed = ModelConfig()
    completed.CopyFrom(config)
    try:
        autocomplete_backend_fields(completed, model)
    except BackendUnresolved as e:
        return Served(None, None, [], notes, backend_error=str(e))
    normalize_model_config(completed)
    result = Served(completed, None, notes=notes)
    numbers = [v.number for v in model.versions]
    result.versions = [only_version] if only_version is not None else selected_versions(completed.version_policy,
                                                                                         numbers)
    final = ModelConfig()
    final.CopyFrom(completed)
    sig = None
    filename = result.model_filename
    needs_io = (len(final.input) + len(final.batch_input)) == 0 or len(final.output) == 0
    if autocomplete and final.backend == "onnxruntime" and needs_io:
        if not result.versions:
            notes.append("no version folder: the onnxruntime auto-complete could not read a model file")
        else:
            path = _version_folder(model, result.versions[-1]) / (filename or "model.onnx")
            if path.exists():
                from tritonctl.io.onnxsig import read_signature

                try:
                    sig = read_signature(path)
                except ModelFileError as e:
                    sig = e  # the model file's own finding says why
            else:
                notes.append(f"'{path}' is missing: the onnxruntime auto-complete could not run")
    if autocomplete and final.platform == "tensorflow_savedmodel" and final.backend == "tensorflow":
        sig = _saved_model(model, result, filename, notes)
    result.signature = sig
    if autocomplete and final.backend == "python":
        if (run_python or python is not None) and result.versions:
            from tritonctl.io.python_autocomplete import PythonAutoComplete

            runner = python or PythonAutoComplete(workers=1)
            try:
                outcome = runner.run(_version_folder(model, result.versions[-1]) / (final.default_model_filename
                                                                                    or "model.py"), final)
            finally:
                if python is None:
                    runner.close()
            result.python_error, result.python_missing = outcome.error, outcome.missing
            result.python_failure = outcome.failure
            if outcome.error is None and outcome.missing is None and outcome.failure is None:
                normalize_model_config(final)
        elif not run_python and python is None:
            notes.append("python auto_complete_config was not applied (pass --run-python to run it)")
    result.autofill_error = finish(final, None if isinstance(sig, ModelFileError) else sig, gpus)
    result.config = final
    return result


def _saved_model(model: Model, result: Served, filename: str | None, notes: list[str]):
    """What the tensorflow backend's auto-complete reads: the newest served version's SavedModel (a SavedModel or a
    ModelFileError), None when there is none (the backend then completes nothing: ModelState::AutoCompleteConfig
    checks that the folder exists)."""
    from tritonctl.errors import ModelFileError
    from tritonctl.io.savedmodel import read_saved_model

    if not result.versions:
        notes.append("no version folder: the tensorflow auto-complete could not read a SavedModel")
        return None
    path = _version_folder(model, result.versions[-1]) / (filename or "model.savedmodel")
    if not path.exists():
        notes.append(f"'{path}' is missing: the tensorflow auto-complete could not run")
        return None
    try:
        return read_saved_model(path)
    except ModelFileError as e:
        return e  # the model file's own finding says why


def _version_folder(model: Model, number: int) -> Path:
    found = model.version(number)
    return found.path if found is not None else model.path / str(number)
