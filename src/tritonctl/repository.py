"""A Triton model repository on disk, read exactly as Triton 2.51 reads it.

Every subdirectory of the repository root is a model (hidden ones included); plain files at the root are
ignored. Inside a model, subdirectories whose name `std::stoll` accepts are versions, except names of more
than one character starting with "0"; `warmup`, `initial_state` and `configs` are skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from tritonctl.errors import ConfigReadError, RepositoryNotFound, UsageError
from tritonctl.io import pbtxt

if TYPE_CHECKING:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig, ModelVersionPolicy

CONFIG_FILE = "config.pbtxt"
CONFIG_MAX_BYTES = 64 << 20  # tritonctl reads no larger config (Triton sets no limit; real ones are kilobytes)
SKIPPED_SUBDIRS = frozenset({"warmup", "initial_state", "configs"})
# tritonctl's own folders inside a model folder. '~' sorts after every digit and letter, so they never come first
# among the subfolders (Triton guesses a backend from the first one) and never read as version numbers.
STAGING_PREFIX = "~tritonctl-staging-"  # a version being assembled by `tritonctl version add`
REMOVED_PREFIX = "~tritonctl-removed-"  # a version being deleted by `tritonctl version rm`
OLD_PREFIXES = (".tritonctl-staging-", ".tritonctl-removed-")  # the same, written by tritonctl before 0.2
# in a version folder of the local copy of an S3 repository: a sync is placing that version (s3_cache.py)
UNFINISHED_MARKER = ".tritonctl-unfinished"
MAX_VERSION = 2**63 - 1  # versions are int64: Triton reads folder names with std::stoll

# platform -> backend, for the four backends whose platform Triton checks (core src/model_config_utils.cc,
# ValidateModelConfig)
PLATFORM_BACKEND = {
    "tensorflow_graphdef": "tensorflow",
    "tensorflow_savedmodel": "tensorflow",
    "tensorrt_plan": "tensorrt",
    "onnxruntime_onnx": "onnxruntime",
    "pytorch_libtorch": "pytorch",
}
# default model file name per platform, then per backend
PLATFORM_FILENAME = {
    "tensorflow_graphdef": "model.graphdef",
    "tensorflow_savedmodel": "model.savedmodel",
    "tensorrt_plan": "model.plan",
    "onnxruntime_onnx": "model.onnx",
    "pytorch_libtorch": "model.pt",
}
BACKEND_FILENAME = {
    "onnxruntime": "model.onnx",
    "tensorrt": "model.plan",
    "pytorch": "model.pt",
    "openvino": "model.xml",
    "python": "model.py",
}


def stoll_prefix(text: str) -> int | None:
    """What C++ `std::stoll` makes of a directory name: the leading integer, or None when it throws."""
    i, n = 0, len(text)
    while i < n and text[i] in " \t\n\v\f\r":
        i += 1
    start = i
    if i < n and text[i] in "+-":
        i += 1
    digits = i
    while i < n and text[i].isdigit() and text[i].isascii():
        i += 1
    if i == digits:
        return None
    value = int(text[start:i])
    if not -MAX_VERSION - 1 <= value <= MAX_VERSION:
        return None
    return value


@dataclass(frozen=True)
class VersionDir:
    number: int
    name: str  # the folder name as written ("1", or "1abc" which Triton reads as 1)
    path: Path


@dataclass(frozen=True)
class IgnoredDir:
    name: str
    reason: str  # "leading zeros" | "not a number"


@dataclass
class ConfigText:
    """A config.pbtxt as read: its text, its parsed message, and (scanned when first asked for, which a valid
    config never is in `validate`) where each field was written."""

    path: Path
    text: str
    config: ModelConfig

    @cached_property
    def located(self) -> pbtxt.Located:
        return pbtxt.locate(self.text)


class Model:
    """A model's folder. What it holds (versions, ignored_dirs, subdirs, files, entries, read_error) is listed when
    first asked for: open_repository names the models and leaves each folder to the first reader, so that the
    workers of a large `validate` list their own share at once."""

    LISTED = ("versions", "ignored_dirs", "subdirs", "files", "read_error", "entries")
    versions: list[VersionDir]
    ignored_dirs: list[IgnoredDir]
    subdirs: list[str]  # every subdirectory, sorted bytewise like Triton
    files: list[str]
    read_error: str | None  # the folder itself could not be listed
    entries: list[os.DirEntry] | None  # its folder's entries as listed (None: not listed), for checks that look again

    def __init__(self, name: str, path: Path, read_error: str | None = None) -> None:
        self.name = name  # directory name
        self.path = path
        if read_error is not None:
            self._listed([], [], None, read_error)

    def _listed(self, subdirs: list[str], files: list[str], entries: list[os.DirEntry] | None,
                read_error: str | None = None) -> None:
        self.subdirs, self.files, self.entries, self.read_error = subdirs, files, entries, read_error
        self.versions, self.ignored_dirs = [], []
        for name in subdirs:
            if name in SKIPPED_SUBDIRS:
                continue
            if len(name) > 1 and name[0] == "0":
                self.ignored_dirs.append(IgnoredDir(name, "leading zeros"))
                continue
            number = stoll_prefix(name)
            if number is None:
                self.ignored_dirs.append(IgnoredDir(name, "not a number"))
                continue
            self.versions.append(VersionDir(number, name, self.path / str(number)))
        self.versions.sort(key=lambda v: v.number)

    def __getattr__(self, name: str):
        """The folder's listing, read on the first question about it (a folder that cannot be listed: read_error)."""
        if name not in Model.LISTED:
            raise AttributeError(name)
        try:
            self._listed(*_scan_dir(self.path))
        except OSError as e:
            self._listed([], [], None, e.strerror or str(e))
        return self.__dict__[name]

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, path={self.path!r})"

    @property
    def leftovers(self) -> list[str]:
        """Staging or set-aside folders of tritonctl's own (live or left by a process that died)."""
        return [d.name for d in self.ignored_dirs if d.name.startswith((STAGING_PREFIX, REMOVED_PREFIX,
                                                                          *OLD_PREFIXES))]

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def looks_like_a_model(self) -> bool:
        """A config.pbtxt or a version folder (an unreadable folder counts: what it holds is unknown)."""
        return self.read_error is not None or self.config_path.exists() or bool(self.versions)

    @property
    def is_hidden(self) -> bool:
        return self.name.startswith(".")

    def version(self, number: int) -> VersionDir | None:
        return next((v for v in self.versions if v.number == number), None)

    def read_config(self) -> ConfigText | None:
        """The parsed config, None when the model has no config.pbtxt.

        Raises ConfigParseError (with line and column), or ConfigReadError when the file cannot be read.
        """
        from tritonctl.io.files import read_regular

        path = self.config_path
        try:
            data = read_regular(path, CONFIG_MAX_BYTES)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise ConfigReadError(str(path), e.strerror or str(e)) from None
        text = pbtxt.decode(data, str(path))
        config = pbtxt.parse(text, str(path))
        return ConfigText(path, text, config)


@dataclass
class Repository:
    path: Path
    models: list[Model]

    @cached_property
    def real_path(self) -> str:
        """The repository's folder with every symbolic link resolved (once, for every model's checks)."""
        return os.path.realpath(self.path)

    def model(self, name: str) -> Model:
        for m in self.models:
            if m.name == name:
                return m
        from tritonctl.errors import ModelNotFound, did_you_mean, some_names

        names = [m.name for m in self.models if not m.is_hidden]
        if "/" in name.rstrip("/"):  # a path where a model's name goes
            given = Path(name.rstrip("/"))
            hint = f"name the model, and its repository with --repo: {given.name} --repo {given.parent}"
        else:
            hint = did_you_mean(name, names)
        raise ModelNotFound(f"no model '{name}' in repository '{self.path}' (models: {some_names(names)})", hint=hint)


def _sort_key(name: str) -> bytes:
    return os.fsencode(name)


def _scan_dir(path: Path) -> tuple[list[str], list[str], list[os.DirEntry]]:
    """Subdirectory and file names of `path` (symlinks followed as Triton's stat() does), and its entries."""
    dirs, files = [], []
    with os.scandir(path) as it:
        entries = list(it)
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            is_dir = False
        (dirs if is_dir else files).append(entry.name)
    dirs.sort(key=_sort_key)
    files.sort(key=_sort_key)
    return dirs, files, entries


def read_model(path: Path) -> Model:
    """The model folder at `path`, listed now (OSError when it cannot be)."""
    model = Model(name=path.name, path=path)
    model._listed(*_scan_dir(path))
    return model


def open_repository(path: str | os.PathLike[str]) -> Repository:
    """A repository's models, by their folders (each folder listed when first asked about; not its configs)."""
    root = Path(path)
    if not root.exists():
        raise RepositoryNotFound(
            f"no model repository at '{root}': path does not exist",
            hint="pass the repository folder as --repo or set TRITONCTL_REPO",
        )
    if not root.is_dir():
        raise RepositoryNotFound(f"'{root}' is a file, not a model repository folder")
    try:
        dirs, _files, _entries = _scan_dir(root)
    except OSError as e:
        raise RepositoryNotFound(f"cannot read model repository '{root}': {e.strerror or e}") from None
    return Repository(root, [Model(name, root / name) for name in dirs])


def selected_versions(policy, numbers: list[int]) -> list[int]:
    """The versions a `ModelVersionPolicy` selects among the folders present, as Triton's VersionsToLoad."""
    present = sorted(set(numbers))
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return present
    if choice == "specific":
        wanted = set(policy.specific.versions)
        return [n for n in present if n in wanted]
    count = policy.latest.num_versions if choice == "latest" else 1
    return present[-count:] if count > 0 else []


def parse_policy(spec: str) -> ModelVersionPolicy:
    """`latest:N`, `all` or `specific:1,3` as a ModelVersionPolicy."""
    from tritonctl.io.proto.model_config_pb2 import ModelVersionPolicy

    policy = ModelVersionPolicy()
    kind, _, arg = spec.strip().partition(":")
    try:
        if kind == "latest":
            n = int(arg)
            if n < 1:
                raise ValueError
            policy.latest.num_versions = n
        elif kind == "all" and not arg:
            policy.all.SetInParent()
        elif kind == "specific":
            numbers = [int(v) for v in arg.split(",") if v.strip()]
            if not numbers or any(n < 0 for n in numbers):
                raise ValueError
            policy.specific.versions.extend(numbers)
        else:
            raise ValueError
    except ValueError:
        raise UsageError(f"'{spec}' is not a version policy; use latest:N (N >= 1), all, or specific:1,3") from None
    return policy


def describe_policy(policy: ModelVersionPolicy | None) -> str:
    if policy is None:
        return "latest:1 (Triton's default)"
    choice = policy.WhichOneof("policy_choice")
    if choice == "latest":
        return f"latest:{policy.latest.num_versions}"
    if choice == "all":
        return "all"
    if choice == "specific":
        return "specific:" + ",".join(str(v) for v in policy.specific.versions)
    return "latest:1 (Triton's default)"


def policy_text(policy: ModelVersionPolicy) -> str:
    choice = policy.WhichOneof("policy_choice")
    if choice == "latest":
        inner = f"latest: {{ num_versions: {policy.latest.num_versions} }}"
    elif choice == "all":
        inner = "all: { }"
    else:
        inner = "specific: { versions: [ " + ", ".join(str(v) for v in policy.specific.versions) + " ] }"
    return f"version_policy: {{ {inner} }}"


def default_model_filename(config: ModelConfig) -> str | None:
    """The file Triton loads from a version folder, None when the backend decides (custom) or there is none."""
    if config.default_model_filename:
        return config.default_model_filename
    if config.platform == "ensemble":
        return None
    if config.platform in PLATFORM_FILENAME:
        return PLATFORM_FILENAME[config.platform]
    return BACKEND_FILENAME.get(config.backend)

