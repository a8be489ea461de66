"""What a rule looks at: one model, its parsed config, the completed config, the repository around it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tritonctl.errors import ConfigParseError, ConfigReadError

if TYPE_CHECKING:
    from tritonctl.io.python_autocomplete import PythonAutoComplete
    from tritonctl.normalize import Served
    from tritonctl.io.proto.model_config_pb2 import ModelConfig
    from tritonctl.repository import ConfigText, Model, Repository


class cached_property:  # noqa: N801 - functools.cached_property, without its lock
    """Computed once per instance, then kept in its __dict__. Python 3.11's functools.cached_property holds one lock
    for every instance of the class while it computes, so validate's threads would run python models one at a
    time (3.12 dropped that lock)."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.name = fn.__name__

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = self.fn(instance)
        instance.__dict__[self.name] = value
        return value


@dataclass(frozen=True)
class Options:
    """The target server: GPUs it has (None: unknown, GPU checks skipped), backends installed (None: the
    standard set), and whether it auto-completes configs (off under --disable-auto-complete-config)."""

    gpus: int | None = None
    backends: frozenset[str] | None = None
    autocomplete: bool = True
    only_version: int | None = None  # check this version as the served one (a staged `version add`)
    run_python: bool = False  # run python models' auto_complete_config (validate --run-python)
    python_timeout: float = 30.0  # seconds one model's auto_complete_config may take
    python_memory: int = 4 << 30  # bytes of memory (RLIMIT_DATA) it may use
    python: PythonAutoComplete | None = None  # the workers that run it (made by validate_repository when None)


class ModelContext:
    def __init__(self, repo: Repository, model: Model, options: Options,
                 peers: dict[str, ModelContext] | None = None, config_text: ConfigText | None = None) -> None:
        self.repo = repo
        self.peers = peers if peers is not None else {}  # every model of the repository, by folder name
        self.model = model
        self.options = options
        self._given_text = config_text  # a config not (yet) on disk, checked as if it were
        self._signatures: dict[int, object] = {}
        self._listings: dict[str, list] = {}  # folder -> its entries (see listing)

    @cached_property
    def _read(self) -> tuple[ConfigText | None, ConfigParseError | None, str | None]:
        """(the config text, Triton's parse error, why it cannot be read): read when a rule first asks."""
        if self.model.read_error is not None:
            return None, None, None
        if self._given_text is not None:
            return self._given_text, None, None
        try:
            return self.model.read_config(), None, None
        except ConfigParseError as e:
            return None, e, None
        except ConfigReadError as e:
            return None, None, e.reason

    @property
    def config_text(self) -> ConfigText | None:
        return self._read[0]

    @property
    def parse_error(self) -> ConfigParseError | None:
        return self._read[1]

    @property
    def read_error(self) -> str | None:
        return self._read[2]

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def has_config_file(self) -> bool:
        return self.config_text is not None or self.parse_error is not None or self.read_error is not None

    @cached_property
    def config(self) -> ModelConfig | None:
        """The config as Triton parses it; an empty one when the file is missing and auto-complete is on;
        None when Triton cannot get that far (unparsable, unreadable, or missing under strict mode)."""
        from tritonctl.io.proto.model_config_pb2 import ModelConfig

        if self.config_text is not None:
            return self.config_text.config
        if self.has_config_file or not self.options.autocomplete:
            return None
        return ModelConfig()

    @cached_property
    def served(self) -> Served | None:
        """What Triton makes of this model (see normalize.served); None when it cannot read a config."""
        from tritonctl.normalize import served

        if self.config is None:
            return None
        result = served(self.model, self.config, gpus=self.options.gpus or 0, autocomplete=self.options.autocomplete,
                        only_version=self.options.only_version, run_python=self.options.run_python,
                        python=self.options.python)
        if result.versions and result.signature is not None:  # read once, by the auto-complete
            self._signatures.setdefault(result.versions[-1], result.signature)
        return result

    @property
    def completed(self) -> ModelConfig | None:
        """The config after backend auto-fill and normalization (step 2.4 of Triton's load), or None when
        the backend cannot be determined (see `backend_error`)."""
        return self.served.completed if self.served is not None else None

    @property
    def backend_error(self) -> str | None:
        return self.served.backend_error if self.served is not None else None

    def triton_path(self, *parts: str) -> str:
        """A path inside the model folder as Triton prints it (absolute, as a repository is given to it)."""
        return str(self.model.path.absolute().joinpath(*parts))

    def listing(self, folder: str | Path) -> list:
        """The entries (os.DirEntry) of a folder of this model, sorted by name, listed once for every rule that
        looks (the model's own folder as the repository was read). Raises OSError when it cannot be listed."""
        key = str(folder)
        found = self._listings.get(key)
        if found is None:
            import os

            if key == str(self.model.path) and self.model.entries is not None:
                entries = self.model.entries
            else:
                with os.scandir(folder) as it:
                    entries = list(it)
            found = self._listings[key] = sorted(entries, key=lambda e: e.name)
        return found

    @cached_property
    def unfinished_versions(self) -> frozenset[int]:
        """Versions a tritonctl sync to S3 is still placing (marked in the local copy by s3_cache)."""
        from tritonctl.repository import UNFINISHED_MARKER

        def marked(folder: Path) -> bool:
            try:
                if not any(e.name == UNFINISHED_MARKER for e in self.listing(folder)):
                    return False
            except OSError:
                pass
            return (folder / UNFINISHED_MARKER).exists()

        return frozenset(v.number for v in self.model.versions if marked(v.path))

    @cached_property
    def is_stray(self) -> bool:
        """A folder Triton reads as a model but that holds nothing of one: hidden, or no config and no
        version folder."""
        if self.model.read_error is not None:
            return True
        if self.has_config_file:
            return False
        return self.model.is_hidden or not self.model.versions

    @property
    def served_versions(self) -> list[int]:
        return self.served.versions if self.served is not None and self.completed is not None else []

    def model_file(self, version: int) -> Path | None:
        """The file the backend opens for `version`, None when unknown (custom backend, ensemble)."""
        from tritonctl.repository import default_model_filename

        if self.completed is None:
            return None
        filename = default_model_filename(self.completed)
        found = self.model.version(version)
        folder = found.path if found is not None else self.model.path / str(version)
        return None if filename is None else folder / filename

    def signature(self, version: int):
        """What `version`'s model file declares: an OnnxSignature (onnxruntime), a SavedModel (tensorflow, platform
        tensorflow_savedmodel), a ModelFileError when it cannot be read, or None for other models or a missing
        file."""
        if version in self._signatures:
            return self._signatures[version]
        from tritonctl.errors import ModelFileError

        result = None
        path = self.model_file(version)
        config = self.completed
        reader = None
        if config is not None and config.backend == "onnxruntime":
            from tritonctl.io.onnxsig import read_signature as reader
        elif config is not None and config.backend == "tensorflow" and config.platform == "tensorflow_savedmodel":
            from tritonctl.io.savedmodel import read_saved_model as reader
        if reader is not None and path is not None and path.exists():
            try:
                result = reader(path)
            except ModelFileError as e:
                result = e
        self._signatures[version] = result
        return result

    @property
    def final(self) -> ModelConfig | None:
        """The config Triton validates tensors against: completed, then (auto-complete on) filled by the
        backend (onnxruntime from the newest served version's model file, python by running its
        auto_complete_config under --run-python), normalized again, with instance groups placed for the target's
        GPUs (0 when unknown)."""
        return self.served.config if self.served is not None else None

    @property
    def autofill_error(self) -> str | None:
        return self.served.autofill_error if self.served is not None else None

    @property
    def model_name(self) -> str:
        """The name Triton uses in its messages."""
        if self.config is not None and self.config.name:
            return self.config.name
        return self.model.name
