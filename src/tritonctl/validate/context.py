"""What a rule looks at: one model, its parsed config, the completed config, the repository around it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from tritonctl.errors import ConfigParseError, ConfigReadError
from tritonctl.normalize import BackendUnresolved, autocomplete_backend_fields, normalize_model_config

if TYPE_CHECKING:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig
    from tritonctl.repository import ConfigText, Model, Repository


@dataclass(frozen=True)
class Options:
    """The target server: GPUs it has (None: unknown, GPU checks skipped), backends installed (None: the
    standard set), and whether it auto-completes configs (off under --disable-auto-complete-config)."""

    gpus: int | None = None
    backends: frozenset[str] | None = None
    autocomplete: bool = True


class ModelContext:
    def __init__(self, repo: Repository, model: Model, options: Options) -> None:
        self.repo = repo
        self.model = model
        self.options = options
        self.config_text: ConfigText | None = None
        self.parse_error: ConfigParseError | None = None
        self.read_error: str | None = None
        try:
            self.config_text = model.read_config()
        except ConfigParseError as e:
            self.parse_error = e
        except ConfigReadError as e:
            self.read_error = e.reason

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
    def completed(self) -> ModelConfig | None:
        """The config after backend auto-fill and normalization (steps 2.4 of Triton's load), or None when
        the backend cannot be determined (see `backend_error`)."""
        if self.config is None:
            return None
        config = type(self.config)()
        config.CopyFrom(self.config)
        try:
            autocomplete_backend_fields(config, self.model)
        except BackendUnresolved:
            return None
        normalize_model_config(config)
        return config

    @cached_property
    def backend_error(self) -> str | None:
        if self.config is None:
            return None
        config = type(self.config)()
        config.CopyFrom(self.config)
        try:
            autocomplete_backend_fields(config, self.model)
        except BackendUnresolved as e:
            return str(e)
        return None

    def triton_path(self, *parts: str) -> str:
        """A path inside the model folder as Triton prints it (absolute, as a repository is given to it)."""
        return str(self.model.path.absolute().joinpath(*parts))

    @cached_property
    def is_stray(self) -> bool:
        """A folder Triton reads as a model but that holds nothing of one: hidden, or no config and no
        version folder."""
        if self.has_config_file:
            return False
        return self.model.is_hidden or not self.model.versions

    @property
    def model_name(self) -> str:
        """The name Triton uses in its messages."""
        if self.config is not None and self.config.name:
            return self.config.name
        return self.model.name
