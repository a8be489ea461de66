"""Numbered version folders: add, list, remove — never a numbered folder that is half there.

A new version is assembled in a staging folder beside the version folders (`~tritonctl-staging-<pid>-
<token>`), held by an flock for as long as the process lives, checked there as if it were in place, then
renamed to its number while the model folder itself is locked (so two adds never pick the same number).
Replacing a version swaps the folders in one rename where the kernel allows it; removing renames aside first.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tritonctl.errors import TritonctlError, UsageError, ValidationRefused, VersionRefused
from tritonctl.io import files
from tritonctl.repository import (
    MAX_VERSION,
    REMOVED_PREFIX,
    STAGING_PREFIX,
    Model,
    VersionDir,
    open_repository,
    read_model,
    selected_versions,
)

if TYPE_CHECKING:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

EXPORT_RECORD = "export.json"
EXPORT_RECORD_MAX_BYTES = 1 << 20


@dataclass
class AddResult:
    model: str
    version: int
    path: Path
    files: list[str]
    bytes: int
    replaced: bool
    stale_cleared: list[str] = field(default_factory=list)


@dataclass
class VersionInfo:
    version: int
    folder: str
    model_file: str | None
    size: int | None
    sha256: str | None
    modified: float | None
    served: bool
    export: dict | None


def parse_version(text: str) -> int:
    """A version number as Triton reads folder names: a non-negative integer without leading zeros, at most
    2^63-1 (Triton reads them with std::stoll into an int64)."""
    if not text.isdigit() or not text.isascii() or (len(text) > 1 and text[0] == "0"):
        raise UsageError(f"version '{text}' is not a number Triton reads (0, 1, 2, ... without leading zeros)")
    if int(text) > MAX_VERSION:
        raise UsageError(f"version {text} is larger than Triton's largest version number ({MAX_VERSION})")
    return int(text)


def _model(repo: Path, name: str) -> Model:
    return open_repository(repo).model(name)


def _config(model: Model) -> ModelConfig:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

    text = model.read_config()
    return text.config if text is not None else ModelConfig()


def _expected_filename(model: Model, config: ModelConfig) -> str | None:
    from tritonctl.normalize import served

    result = served(model, config, autocomplete=False)
    return result.model_filename if result.completed is not None else (config.default_model_filename or None)


def stale_staging(model: Model) -> list[Path]:
    """Staging and set-aside folders left by a process that died (no live lock)."""
    return [model.path / name for name in model.leftovers if not files.is_locked(model.path / name)]


def _clear_stale(model: Model) -> list[str]:
    cleared = []
    for path in stale_staging(model):
        files.remove_tree(path)
        cleared.append(path.name)
    return cleared


def _external_data(model_file: Path) -> list[str]:
    """Locations an ONNX model names as external data (relative to its folder); [] for other files."""
    from tritonctl.errors import ModelFileError
    from tritonctl.io.onnxsig import read_signature

    if model_file.suffix != ".onnx":
        return []
    try:
        return read_signature(model_file).external_data
    except ModelFileError:
        return []  # not ONNX after all: validation says so


def _plan(source: Path, filename: str | None) -> list[tuple[Path, str]]:
    """(file to read, its name in the version folder) for everything a version made from `source` holds, every
    path checked before anything is read or written: external data and links stay inside the source's folder."""
    import stat

    from tritonctl.errors import UnsafePath
    from tritonctl.io.confine import confine, safe_relative

    try:
        mode = source.stat().st_mode
    except OSError as e:
        raise TritonctlError(f"cannot read source '{source}': {files.describe(e)}") from None
    if stat.S_ISDIR(mode):
        plan = files.plan_tree(source)
        for path, rel in plan:
            for location in _external_data(path):
                confine(source, os.path.join(os.path.dirname(rel), safe_relative(
                    location, f"external data of '{path}'")), f"external data of '{path}'")
        return plan
    if not stat.S_ISREG(mode):
        raise UnsafePath(f"source '{source}' is {files.kind(mode)}; a version is made from a regular file or a "
                         "folder")
    plan = [(source, filename or source.name)]
    missing = []
    for location in _external_data(source):
        what = f"external data of '{source}'"
        real = confine(source.parent, location, what)
        if not real.is_file():
            missing.append(location)
        plan.append((real, safe_relative(location, what)))
    if missing:
        raise VersionRefused(f"'{source}' references external data that is not beside it: {', '.join(missing)}",
                             hint="copy those files next to the model file, or pass the folder holding them all")
    return plan


def add_version(
    repo: Path,
    name: str,
    source: Path,
    *,
    version: int | None = None,
    force: bool = False,
    check: Callable[[Model, int], list] | None = None,
) -> AddResult:
    """Add `source` (a model file or a folder) as a new version of model `name`.

    `check(model, number)` validates the staged version as if it were in place (the model's `versions` then
    hold the staging folder under `number`) and returns error findings; any refuses the add.
    """
    source = Path(source)
    if not source.exists():
        raise TritonctlError(f"source '{source}' does not exist")
    model = _model(repo, name)
    config = _config(model)
    filename = _expected_filename(model, config)
    if config.backend == "python" and source.is_file() and source.suffix != ".py" and filename == "model.py":
        raise VersionRefused(f"'{source.name}' is not a python model file (.py) for the python backend")
    if version is not None and model.version(version) is not None and not force:
        raise VersionRefused(f"version {version} of '{name}' exists", hint="replace it with --force")
    plan = _plan(source, filename)
    cleared = _clear_stale(model)
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    staging = model.path / f"{STAGING_PREFIX}{token}"
    try:
        staging.mkdir()
    except OSError as e:
        raise TritonctlError(f"cannot write in '{model.path}': {files.describe(e)}") from None
    try:
        with files.locked_dir(staging):
            try:
                names, total = [rel for _, rel in plan], files.copy_planned(plan, staging)
            except OSError as e:
                raise TritonctlError(f"copying '{source}' failed: {files.describe(e)}; the repository is unchanged") \
                    from None
            number = version if version is not None else _next_number(model)
            if check is not None:
                view = read_model(model.path)
                # the staged version is judged as the version it becomes: named `number`, shown at its place
                view.ignored_dirs = [d for d in view.ignored_dirs if not d.name.startswith(STAGING_PREFIX)]
                view.subdirs = [d for d in view.subdirs if d != staging.name]
                view.versions = [v for v in view.versions if v.number != number]
                view.versions.append(VersionDir(number, str(number), staging))
                view.versions.sort(key=lambda v: v.number)
                errors = [_relabeled(f, staging, model.path / str(number)) for f in check(view, number)]
                if errors:
                    raise ValidationRefused(
                        f"version {number} of '{name}' would not load; not added ({len(errors)} "
                        f"error{'s' * (len(errors) != 1)})", errors)
            stamp = max(time.time_ns(), files.newest_mtime_ns(model.path) + 1_000_000)
            files.set_mtimes(staging, stamp)
            with files.locked_dir(model.path):
                if version is None:
                    number = _next_number(read_model(model.path))
                target = model.path / str(number)
                if _empty(target):  # an empty version folder is filled, not replaced
                    target.rmdir()
                replaced = target.exists()
                if replaced and not force:
                    raise VersionRefused(f"version {number} of '{name}' exists", hint="replace it with --force")
                try:
                    if replaced:
                        files.exchange(staging, target)  # staging now holds the old version
                    else:
                        os.rename(staging, target)
                except OSError as e:
                    raise TritonctlError(f"cannot publish version {number}: {files.describe(e)}") from None
                files.fsync_dir(model.path)
                os.utime(model.path, ns=(stamp, stamp))
    finally:
        if staging.exists():
            files.remove_tree(staging)
    return AddResult(name, number, target, names, total, replaced, cleared)


def _relabeled(finding, staging: Path, target: Path):
    """A finding about the staged version with the staging folder shown as the version folder it becomes."""
    import dataclasses

    def swap(text: str | None) -> str | None:
        return text.replace(str(staging), str(target)) if text else text

    return dataclasses.replace(finding, path=swap(finding.path), message=swap(finding.message),
                               triton_message=swap(finding.triton_message))


def _empty(path: Path) -> bool:
    try:
        return path.is_dir() and not path.is_symlink() and not any(os.scandir(path))
    except OSError:
        return False


def _next_number(model: Model) -> int:
    """newest + 1; the newest itself when it is an empty folder (the one `config init` leaves for the model file)."""
    numbers = [v.number for v in model.versions]
    newest = max(model.versions, key=lambda v: v.number) if model.versions else None
    if newest is not None and newest.name == str(newest.number) and _empty(newest.path):
        return newest.number
    if numbers and max(numbers) >= MAX_VERSION:
        raise VersionRefused(f"'{model.name}' has version {MAX_VERSION}, Triton's largest version number; there is "
                             "no next one", hint="give the number with --version")
    return max(numbers) + 1 if numbers else 1


def list_versions(repo: Path, name: str) -> list[VersionInfo]:
    model = _model(repo, name)
    config = _config(model)
    filename = _expected_filename(model, config)
    policy = config.version_policy if config.HasField("version_policy") else None
    numbers = [v.number for v in model.versions]
    served = set(selected_versions(policy, numbers)) if policy is not None else set(numbers[-1:])
    out = []
    for v in model.versions:
        path = v.path / filename if filename else None
        size = sha = modified = None
        shown = filename
        if path is not None and path.is_file():
            st = path.stat()
            size, modified, sha = st.st_size, st.st_mtime, files.sha256_file(path)
        elif path is not None and not path.exists():
            shown = None
        record = None
        if (v.path / EXPORT_RECORD).is_file():
            try:
                record = json.loads(files.read_regular(v.path / EXPORT_RECORD, EXPORT_RECORD_MAX_BYTES))
            except (OSError, ValueError):
                record = None
        out.append(VersionInfo(v.number, v.name, shown, size, sha, modified, v.number in served, record))
    return out


@dataclass
class RemoveResult:
    model: str
    version: int
    was_served: bool
    stale_cleared: list[str] = field(default_factory=list)
    ready_on: list[str] = field(default_factory=list)  # servers that had it READY (removed with --force)
    unchecked: list[tuple[str, str]] = field(default_factory=list)  # (server, why it could not be asked)


def _ready_on(servers: list, name: str, number: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Which of `servers` (Endpoints) have version `number` of `name` READY, and which could not be asked (url,
    why)."""
    from tritonctl.errors import NotTriton, ServerRejected, ServerUnreachable
    from tritonctl.io.triton_client import TritonClient

    ready, unchecked = [], []
    for endpoint in servers:
        try:
            with TritonClient(endpoint) as client:
                index = client.index()
        except (ServerUnreachable, ServerRejected, NotTriton) as e:
            unchecked.append((endpoint.url, e.message))
            continue
        if any(m.get("name") == name and str(m.get("version")) == str(number) and m.get("state") == "READY"
               for m in index):
            ready.append(endpoint.url)
    return ready, unchecked


def remove_version(repo: Path, name: str, number: int, *, force: bool = False, servers: list | None = None
                   ) -> RemoveResult:
    """Remove version `number` of `name`. Refused without `force`: the last version, one the config serves, and one
    READY on any of `servers` (Endpoints of the servers that serve this repository)."""
    model = _model(repo, name)
    cleared = _clear_stale(model)
    found = model.version(number)
    if found is None:
        present = ", ".join(str(v.number) for v in model.versions) or "none"
        raise VersionRefused(f"model '{name}' has no version {number} (versions: {present})")
    config = _config(model)
    policy = config.version_policy if config.HasField("version_policy") else None
    numbers = [v.number for v in model.versions]
    served = number in (selected_versions(policy, numbers) if policy is not None else numbers[-1:])
    if len(numbers) == 1 and not force:
        raise VersionRefused(f"version {number} is the last version of '{name}'", hint="remove it with --force")
    if served and not force:
        raise VersionRefused(f"version {number} of '{name}' is served by its version policy",
                             hint="change the policy first (tritonctl policy set), or remove it with --force")
    ready, unchecked = _ready_on(servers or [], name, number)
    if ready and not force:
        raise VersionRefused(f"version {number} of '{name}' is READY on {', '.join(ready)}: removing it would pull "
                             "its files from under a serving model",
                             hint=f"serve other versions first (tritonctl policy apply {name} POLICY --persist), or "
                                  "remove it with --force")
    aside = model.path / f"{REMOVED_PREFIX}{number}-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        with files.locked_dir(model.path):
            os.rename(found.path, aside)
            files.fsync_dir(model.path)
    except OSError as e:
        raise TritonctlError(f"cannot remove version {number}: {files.describe(e)}") from None
    files.remove_tree(aside)
    return RemoveResult(name, number, served, cleared, ready, unchecked)
