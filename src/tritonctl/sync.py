"""tritonctl sync: a model repository to a local folder or to S3, by content, in an order that a Triton polling the
destination (or loading from it right after) never loads half of.

The source is a local folder; an s3:// source is first brought into the local S3 cache (s3_cache.py). What each
side holds is known by sha256 (local files through the hash cache, S3 objects through the manifest), so unchanged
bytes are never sent again whatever their mtime, and changed bytes are, whatever their size.

Order: a version's other files first, its model file last; then model-level files (labels, warmup data); a model's
config.pbtxt only once every version it selects is complete (ensembles after the models they use); deletions
(`--delete`) last, never of a version the new config names.
- Local destinations: each changed version and each new model is assembled in a work folder beside the destination
  (`.<name>.tritonctl-work/`, the same filesystem) and renamed into place, so it appears whole; a changed version is
  swapped in one rename. Where no such folder can be made, staging happens inside the model folder, under a name
  that sorts after every version folder.
- S3 has no rename: objects are written in place, a version's model file last, so a version whose model file is
  there is complete. The versions being written are named in the manifest first (`pending`), so a sync killed
  midway is finished by the next run, or, when the source no longer has them, removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tritonctl.errors import TritonctlError, UsageError
from tritonctl.io import files, manifest
from tritonctl.io.confine import is_inside
from tritonctl.io.hash_cache import HashCache
from tritonctl.io.s3 import S3, S3Url
from tritonctl.repository import CONFIG_FILE, open_repository, stoll_prefix

PAYLOAD, MODEL_FILE, MODEL_LEVEL, CONFIG, DELETE = 1, 2, 3, 4, 5
PHASES = {PAYLOAD: "version files", MODEL_FILE: "model files", MODEL_LEVEL: "model-level files", CONFIG: "configs",
          DELETE: "deletions"}
WORK_SUFFIX = ".tritonctl-work"
STAGING_PREFIX = "~tritonctl-staging-"  # inside a model folder: sorts after every version folder
PAUSE_FILES_ENV = "TRITONCTL_TEST_PAUSE_AFTER_FILES"  # test-only: sleep after this many files were written
PAUSE_MARKER_ENV = "TRITONCTL_TEST_PAUSE_MARKER"
_OWN = (".tritonctl-", "~tritonctl-")  # tritonctl's own folders and files: never synced


@dataclass(frozen=True)
class SourceFile:
    rel: str  # repository-relative, "/"-separated; an empty folder ends in "/"
    path: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class Change:
    action: str  # upload (bytes sent), copy (from an identical object already there), mkdir, delete
    rel: str
    size: int
    reason: str  # new, changed, not in source, unfinished version
    phase: int
    copy_from: str | None = None


@dataclass
class Plan:
    source: str
    destination: str
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    unchanged_bytes: int = 0
    pending: list[str] = field(default_factory=list)  # "model/version" folders being written
    warnings: list[str] = field(default_factory=list)
    manifest_stale: bool = False  # an S3 manifest that disagrees with the objects: rewritten

    @property
    def empty(self) -> bool:
        return not self.changes and not self.manifest_stale

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    def bytes(self, action: str) -> int:
        return sum(c.size for c in self.changes if c.action == action)


@dataclass
class SyncResult:
    plan: Plan
    dry_run: bool
    seconds: float


# ---- the source --------------------------------------------------------------------------------------------------


def _own(rel: str) -> bool:
    return any(part.startswith(_OWN) or files.TEMP_FILE.match(part) for part in rel.split("/"))


@dataclass
class _Layout:
    """A source model: its version folders and the model file of each (the file written last)."""

    versions: dict[str, int] = field(default_factory=dict)  # folder name -> number
    model_files: set[str] = field(default_factory=set)  # repository-relative
    ensemble: bool = False
    specific: set[int] = field(default_factory=set)  # versions its config names explicitly


class _Layouts(dict):
    """Each source model's layout, read (its config parsed) when first asked for: a sync with nothing to write
    parses no config."""

    def __init__(self, models: dict) -> None:
        super().__init__()
        self.models = models

    def __missing__(self, name: str) -> _Layout:
        self[name] = layout = _layout(self.models[name])
        return layout

    def __contains__(self, name) -> bool:
        return name in self.models

    def names(self) -> set[str]:
        return set(self.models)


def scan_source(root: Path, models: list[str] | None, hashes: HashCache) -> tuple[dict[str, SourceFile], _Layouts]:
    """Every file of the source repository's chosen models, with its sha256; links that leave the repository,
    FIFOs and devices are refused (naming them) before anything is sent."""
    repo = open_repository(root)
    chosen = [repo.model(name) for name in models] if models else [m for m in repo.models if not _own(m.name)]
    out: dict[str, SourceFile] = {}
    planned: list[tuple[Path, str]] = []
    for model in chosen:
        if model.read_error is not None:
            raise TritonctlError(f"cannot read model folder '{model.path}': {model.read_error}")
        found = [(path, f"{model.name}/{rel.replace(os.sep, '/')}")
                 for path, rel in files.plan_tree(model.path, within=root)]
        planned += [(path, full) for path, full in found if not _own(full)]
        empty = [f"{model.name}/{folder}/" for folder in _empty_folders(model.path)]
        for full in [e for e in empty if not _own(e)] or ([] if found else [f"{model.name}/"]):
            out[full] = SourceFile(full, root / full, 0, "")
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:  # hashlib releases the GIL
        digests = list(pool.map(lambda item: hashes.sha256(item[0]), planned))
    for (path, full), digest in zip(planned, digests):
        out[full] = SourceFile(full, path, path.stat().st_size, digest)
    return dict(sorted(out.items())), _Layouts({m.name: m for m in chosen})


def _layout(model) -> _Layout:
    from tritonctl.errors import ConfigParseError, ConfigReadError
    from tritonctl.normalize import served

    layout = _Layout({v.name: v.number for v in model.versions})
    try:
        text = model.read_config()
    except (ConfigParseError, ConfigReadError):
        return layout  # validate says so; the files are still sent in a safe order
    config = text.config if text is not None else None
    layout.ensemble = config is not None and config.platform == "ensemble"
    if config is not None and config.version_policy.WhichOneof("policy_choice") == "specific":
        layout.specific = set(config.version_policy.specific.versions)
    filename = served(model, config, autocomplete=False).model_filename
    if filename:
        for folder in layout.versions:
            layout.model_files.add(f"{model.name}/{folder}/{filename}")
    return layout


def _empty_folders(root: Path) -> list[str]:
    out = []
    for folder, dirs, names in os.walk(root, followlinks=True):
        if not dirs and not names and Path(folder) != root:
            out.append(str(Path(folder).relative_to(root)).replace(os.sep, "/"))
    return out


def _is_model_file(rel: str, layouts: _Layouts) -> bool:
    model = rel.split("/", 1)[0]
    if model not in layouts:
        return False
    layout = layouts[model]
    return any(rel == m or rel.startswith(m + "/") for m in layout.model_files)  # a model folder (savedmodel)


def _version_of(rel: str) -> str | None:
    """'m/3' for anything inside version folder 3 of model m (as Triton reads folder names), else None."""
    parts = rel.split("/")
    if len(parts) < 3:
        return None
    folder = parts[1]
    if (len(folder) > 1 and folder[0] == "0") or stoll_prefix(folder) is None:
        return None
    return f"{parts[0]}/{folder}"


# ---- destinations ------------------------------------------------------------------------------------------------


@dataclass
class _DestFile:
    size: int
    sha256: Callable[[], str | None]  # asked only when sizes match


class LocalDestination:
    def __init__(self, root: Path, hashes: HashCache) -> None:
        self.root = root
        self.hashes = hashes
        self.label = str(root)

    def state(self) -> dict[str, _DestFile]:
        out: dict[str, _DestFile] = {}
        if not self.root.exists():
            return out
        for folder, dirs, names in os.walk(self.root):
            base = Path(folder)
            rel_base = str(base.relative_to(self.root)).replace(os.sep, "/")
            dirs[:] = [d for d in dirs if not d.startswith(_OWN)]
            for name in names:
                rel = f"{rel_base}/{name}" if rel_base != "." else name
                if _own(rel) or "/" not in rel:
                    continue  # files at the repository root are no part of any model
                path = base / name
                with contextlib.suppress(OSError):
                    out[rel] = _DestFile(path.stat().st_size, lambda p=path: self.hashes.sha256(p))
            if not dirs and not names and rel_base != ".":
                out[rel_base + "/"] = _DestFile(0, lambda: "")
        return out


class S3Destination:
    def __init__(self, s3: S3, url: S3Url) -> None:
        from tritonctl.s3_cache import remote_state

        self.s3 = s3
        self.url = url
        self.label = str(url)
        self.remote = remote_state(s3, url)  # its listing fails, one line, on a missing bucket

    def state(self) -> dict[str, _DestFile]:
        return {rel: _DestFile(f.size, lambda sha=f.sha256: sha) for rel, f in self.remote.files.items()}


# ---- the plan ----------------------------------------------------------------------------------------------------


def make_plan(source: dict[str, SourceFile], layouts: _Layouts, dest, dest_files: dict[str, _DestFile], *,
              models: list[str] | None, delete: bool, source_label: str) -> Plan:
    plan = Plan(source_label, dest.label)
    by_content: dict[tuple[str, int], str] = {}
    if isinstance(dest, S3Destination):
        for rel, f in dest.remote.files.items():
            if f.sha256 and not rel.endswith("/"):
                by_content.setdefault((f.sha256, f.size), rel)
        plan.manifest_stale = not dest.remote.manifest_matches
    pending = set(dest.remote.manifest.pending) if isinstance(dest, S3Destination) else set()
    touched_versions: set[str] = set()
    for rel, sf in sorted(source.items()):
        have = dest_files.get(rel)
        if have is not None and have.size == sf.size and (rel.endswith("/") or have.sha256() == sf.sha256):
            plan.unchanged += 1
            plan.unchanged_bytes += sf.size
            continue
        reason = "changed" if have is not None else "new"
        if rel.endswith("/"):
            plan.changes.append(Change("mkdir", rel, 0, reason, PAYLOAD))
            continue
        version = _version_of(rel)
        if version is not None:
            touched_versions.add(version)
            phase = MODEL_FILE if _is_model_file(rel, layouts) else PAYLOAD
        else:
            phase = CONFIG if rel.endswith(f"/{CONFIG_FILE}") and rel.count("/") == 1 else MODEL_LEVEL
        twin = by_content.get((sf.sha256, sf.size))
        if twin is not None and twin != rel:
            plan.changes.append(Change("copy", rel, sf.size, reason, phase, copy_from=twin))
        else:
            plan.changes.append(Change("upload", rel, sf.size, reason, phase))
    scope = layouts.names()
    for rel in sorted(dest_files):
        model = rel.split("/", 1)[0]
        if rel in source or (models and model not in models):
            continue
        version = _version_of(rel)
        if model in scope:
            ours_unfinished = version is not None and version in pending and not any(
                s.startswith(version + "/") for s in source)
            if not delete and not ours_unfinished:
                continue
            number = stoll_prefix(version.split("/")[1]) if version else None
            if number is not None and number in layouts[model].specific and not ours_unfinished:
                plan.warnings.append(f"kept {version}: not in the source, but its config names version {number}")
                continue
            reason = "unfinished version" if ours_unfinished else "not in source"
        elif delete:
            reason = "model not in source"
        else:
            continue
        plan.changes.append(Change("delete", rel, dest_files[rel].size, reason, DELETE))
    if not delete:
        extra = sorted({rel.split("/", 1)[0] for rel in dest_files} - scope - {""})
        if extra and not models:
            plan.warnings.append(f"the destination has models the source does not ({', '.join(extra[:5])}"
                                 f"{', …' if len(extra) > 5 else ''}); --delete removes them")
    plan.pending = sorted(touched_versions)
    ensembles = {model for c in plan.changes if c.phase == CONFIG
                 and layouts[model := c.rel.split("/", 1)[0]].ensemble}
    plan.changes.sort(key=lambda c: (c.phase, c.phase == CONFIG and c.rel.split("/", 1)[0] in ensembles, c.rel))
    return plan


# ---- writing: local ----------------------------------------------------------------------------------------------


class _Pause:
    """Test-only: sleep (to be killed) after N files were written."""

    def __init__(self) -> None:
        value = os.environ.get(PAUSE_FILES_ENV)
        self.after = int(value) if value else None
        self.written = 0

    def tick(self) -> None:
        self.written += 1
        if self.after is not None and self.written >= self.after:
            marker = os.environ.get(PAUSE_MARKER_ENV)
            if marker:
                Path(marker).write_text(str(os.getpid()))
            time.sleep(3600)


def _work_dir(root: Path) -> Path | None:
    """The work folder beside `root` on the same filesystem (a rename from it is atomic), or None."""
    work = root.parent / f".{root.name}{WORK_SUFFIX}"
    try:
        work.mkdir(exist_ok=True)
        if os.stat(work).st_dev != os.stat(root).st_dev:
            return None
    except OSError:
        return None
    return work


def _clear_stale(folder: Path, prefix: str = "") -> None:
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False) and not files.is_locked(
                    Path(entry.path)):
                files.remove_tree(Path(entry.path))


def _place(src: Path, dst: Path) -> None:
    """Link `src` to `dst` (same file system, no bytes copied), else copy it."""
    try:
        os.link(src, dst)
    except OSError:
        files.copy_file(src, dst)


def apply_local(plan: Plan, source: dict[str, SourceFile], root: Path, *, progress: Callable[[int], None],
                pause: _Pause) -> None:
    root.mkdir(parents=True, exist_ok=True)
    work = _work_dir(root)
    if work is None:
        plan.warnings.append(f"cannot stage beside '{root}' (another filesystem, or not writable): staging inside "
                             "the model folders; a polling Triton reloads a model while its version is staged")
    with files.locked_dir(root):
        if work is not None:
            _clear_stale(work)
            session = work / f"{os.getpid()}-{secrets.token_hex(4)}"
            session.mkdir()
        else:
            session = None
        lock = files.locked_dir(session) if session is not None else contextlib.nullcontext()
        try:
            with lock:
                _LocalWriter(plan, source, root, session, progress, pause).run()
        finally:
            if session is not None:
                files.remove_tree(session)
                with contextlib.suppress(OSError):
                    work.rmdir()  # when no other sync uses it


class _LocalWriter:
    def __init__(self, plan, source, root, session, progress, pause) -> None:
        self.plan, self.source, self.root, self.session = plan, source, root, session
        self.progress, self.pause = progress, pause
        self.counter = 0

    def staging(self, model_dir: Path) -> Path:
        """A fresh folder to assemble in: in the work folder, or inside the model folder (sorting last)."""
        self.counter += 1
        if self.session is not None:
            path = self.session / str(self.counter)
        else:
            model_dir.mkdir(parents=True, exist_ok=True)
            _clear_stale(model_dir, STAGING_PREFIX)
            path = model_dir / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        path.mkdir()
        return path

    def write(self, sf: SourceFile, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if sf.rel.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
            return
        files.copy_file(sf.path, target)
        self.progress(sf.size)
        self.pause.tick()

    def run(self) -> None:
        changes = self.plan.changes
        models = sorted({c.rel.split("/", 1)[0] for c in changes})
        new_models = [m for m in models if not (self.root / m).exists()]
        # 1. versions of existing models, each assembled whole and renamed (or swapped) into place
        versions = sorted({v for c in changes if c.action != "delete" and (v := _version_of(c.rel))
                           and v.split("/")[0] not in new_models})
        for version in versions:
            self._version(version)
        # 2. new models, assembled whole (ensembles last: they need their steps)
        for model in sorted(new_models, key=lambda m: _ensemble_config(self.source.get(f"{m}/{CONFIG_FILE}"))):
            if any(c.action != "delete" for c in changes if c.rel.startswith(model + "/")):
                self._model(model)
        # 3. model-level files, then configs, of existing models
        for phase in (MODEL_LEVEL, CONFIG):
            for change in changes:
                if change.phase == phase and change.rel.split("/", 1)[0] not in new_models:
                    self._file(change.rel)
        # 4. deletions
        self._deletions([c for c in changes if c.action == "delete"])

    def _version(self, version: str) -> None:
        model, folder = version.split("/")
        model_dir = self.root / model
        staged = self.staging(model_dir)
        current = model_dir / folder
        deleting = {c.rel for c in self.plan.changes if c.action == "delete"}
        for rel, sf in sorted(self.source.items(), key=lambda kv: kv[0] in self._model_files()):
            if not rel.startswith(version + "/"):
                continue
            target = staged / rel[len(version) + 1:]
            have = current / rel[len(version) + 1:]
            unchanged = not any(c.rel == rel for c in self.plan.changes)
            if unchanged and have.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                _place(have, target)
            else:
                self.write(sf, target)
        if current.is_dir():  # files the source does not have stay unless --delete removes them
            for path, rel in files.plan_tree(current):
                full = f"{version}/{rel}"
                if full not in self.source and full not in deleting and not (staged / rel).exists():
                    (staged / rel).parent.mkdir(parents=True, exist_ok=True)
                    _place(path, staged / rel)
        with files.locked_dir(model_dir):
            if current.exists():
                files.exchange(staged, current)  # one rename: the old version now lives in `staged`
            else:
                os.rename(staged, current)
            files.fsync_dir(model_dir)
        files.remove_tree(staged)

    def _model_files(self) -> set[str]:
        return {c.rel for c in self.plan.changes if c.phase == MODEL_FILE}

    def _model(self, model: str) -> None:
        staged = self.staging(self.root / model) if self.session is not None else None
        if staged is None:  # no work folder: the model folder appears first, its versions one by one
            for rel in sorted({v for r in self.source if r.startswith(model + "/") and (v := _version_of(r))}):
                self._version(rel)
            for rel in sorted(r for r in self.source if r.startswith(model + "/") and _version_of(r) is None):
                self._file(rel)
            return
        ordered = sorted((r for r in self.source if r.startswith(model + "/")),
                         key=lambda r: (r in self._model_files(), r.endswith(f"/{CONFIG_FILE}"), r))
        for rel in ordered:
            self.write(self.source[rel], staged / rel[len(model) + 1:])
        os.rename(staged, self.root / model)
        files.fsync_dir(self.root)

    def _file(self, rel: str) -> None:
        sf = self.source[rel]
        target = self.root / rel
        if rel.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
            return
        staged = self.staging(target.parent) if self.session is not None else None
        if staged is None:
            target.parent.mkdir(parents=True, exist_ok=True)
            files.atomic_write(target, files.read_regular(sf.path, 1 << 40)) if sf.size < (64 << 20) else \
                self.write(sf, target)
            self.progress(sf.size)
            return
        self.write(sf, staged / target.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged / target.name, target)
        files.fsync_dir(target.parent)

    def _deletions(self, deletions: list[Change]) -> None:
        whole_models = sorted({c.rel.split("/", 1)[0] for c in deletions if c.reason == "model not in source"})
        versions = sorted({v for c in deletions if (v := _version_of(c.rel)) and not any(
            s.startswith(v + "/") for s in self.source) and v.split("/")[0] not in whole_models})
        for model in whole_models:
            self._remove(self.root / model)
        for version in versions:
            self._remove(self.root / version)
        for change in deletions:
            path = self.root / change.rel
            if change.rel.split("/", 1)[0] in whole_models or (_version_of(change.rel) in versions):
                continue
            with contextlib.suppress(FileNotFoundError):
                if path.is_dir() and not path.is_symlink():
                    path.rmdir()
                else:
                    path.unlink()

    def _remove(self, path: Path) -> None:
        """Take a folder out of the repository in one rename, then delete it where Triton does not look."""
        if not path.exists():
            return
        if self.session is not None:
            self.counter += 1
            aside = self.session / f"removed-{self.counter}"
            os.rename(path, aside)
        else:
            aside = path.with_name(f"{STAGING_PREFIX}removed-{os.getpid()}-{secrets.token_hex(4)}")
            os.rename(path, aside)
        files.remove_tree(aside)


# ---- writing: S3 -------------------------------------------------------------------------------------------------


def apply_s3(plan: Plan, source: dict[str, SourceFile], dest: S3Destination, *, progress: Callable[[int], None],
             pause: _Pause) -> None:
    s3, url, remote = dest.s3, dest.url, dest.remote
    known = {rel: f.sha256 for rel, f in remote.files.items() if f.sha256}
    if plan.pending:
        journal = manifest.Manifest(_entries(remote), sorted(set(plan.pending) | set(remote.manifest.pending)))
        s3.write(url, manifest.MANIFEST, journal.dumps(), _sha(journal.dumps()))
    writes = [c for c in plan.changes if c.action != "delete"]
    for change in _in_dependency_order(writes, _dependencies(writes, source), s3.jobs,
                                       lambda c: _write_object(s3, url, c, source, progress, pause)):
        if change.action != "mkdir":
            known[change.rel] = source[change.rel].sha256
    deletions = [c.rel for c in plan.changes if c.action == "delete"]
    if deletions:
        s3.delete(url, deletions)
    final = s3.list(url)
    entries = {rel: manifest.Entry(known[rel], obj.size, obj.etag) for rel, obj in final.items()
               if rel in known and rel != manifest.MANIFEST}
    done = manifest.Manifest(entries, [])
    data = done.dumps()
    s3.write(url, manifest.MANIFEST, data, _sha(data))


def _dependencies(writes: list[Change], source: dict[str, SourceFile]) -> dict[str, set[str]]:
    """What must be written before each write: a version's other files before its model file; everything of a
    model before its config; every other config before an ensemble's."""
    deps: dict[str, set[str]] = {c.rel: set() for c in writes}
    ensembles = {c.rel for c in writes if c.phase == CONFIG and _ensemble_config(source.get(c.rel))}
    for c in writes:
        model, version = c.rel.split("/", 1)[0], _version_of(c.rel)
        if c.phase == MODEL_FILE:
            deps[c.rel] = {o.rel for o in writes if o.phase == PAYLOAD and _version_of(o.rel) == version}
        elif c.phase == CONFIG:
            deps[c.rel] = {o.rel for o in writes if o.rel != c.rel and o.rel.split("/", 1)[0] == model}
            if c.rel in ensembles:
                deps[c.rel] |= {o.rel for o in writes if o.phase == CONFIG and o.rel not in ensembles}
    return deps


def _in_dependency_order(writes: list[Change], deps: dict[str, set[str]], jobs: int,
                         write: Callable[[Change], None]):
    """Run `write` for every change, `jobs` at a time, each once what it depends on is written (the largest
    first among those ready). Yields each change once written; the first failure stops new writes and is raised
    once the writes under way have ended."""
    from concurrent.futures import FIRST_COMPLETED, wait

    waiting = sorted(writes, key=lambda c: -c.size)
    done: set[str] = set()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        running: dict = {}
        while waiting or running:
            ready = [c for c in waiting if deps[c.rel] <= done]
            for change in ready:
                running[pool.submit(write, change)] = change
            waiting = [c for c in waiting if c not in ready]
            if not running:
                raise TritonctlError("sync: writes depend on each other in a circle (a bug in tritonctl)")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                change = running.pop(future)
                try:
                    future.result()
                except BaseException:
                    waiting = []
                    for other in running:
                        other.cancel()
                    wait(running)
                    raise
                done.add(change.rel)
                yield change


def _ensemble_config(sf: SourceFile | None) -> bool:
    """Whether a config file says `platform: "ensemble"` (its steps must be there before it)."""
    import re

    try:
        text = files.read_regular(sf.path, 64 << 20) if sf is not None else b""
    except OSError:
        return False
    return re.search(rb'platform\s*:\s*"ensemble"', text) is not None


def _entries(remote) -> dict[str, manifest.Entry]:
    return {rel: manifest.Entry(f.sha256, f.size, f.etag) for rel, f in remote.files.items()
            if f.sha256 and not rel.endswith("/")}


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _write_object(s3: S3, url: S3Url, change: Change, source: dict[str, SourceFile],
                  progress: Callable[[int], None], pause: _Pause) -> None:
    if change.action == "mkdir":
        s3.client.put_object(Bucket=url.bucket, Key=url.key(change.rel))
        return
    sf = source[change.rel]
    if change.action == "copy" and change.copy_from:
        s3.copy(url, change.copy_from, change.rel)
    else:
        s3.upload(sf.path, url, change.rel, sf.sha256, progress)
    pause.tick()


# ---- the command -------------------------------------------------------------------------------------------------


def check_sides(source: Path | S3Url, destination: Path | S3Url) -> None:
    if isinstance(source, Path):
        if not source.exists():
            raise TritonctlError(f"source '{source}' does not exist")
        if not source.is_dir():
            raise TritonctlError(f"source '{source}' is a file, not a model repository folder")
        if not any(m.looks_like_a_model for m in open_repository(source).models):
            raise TritonctlError(f"source '{source}' is no model repository (no subfolder has a config.pbtxt or a "
                                 "version folder)")
    if isinstance(destination, Path) and destination.exists() and not destination.is_dir():
        raise TritonctlError(f"destination '{destination}' is a file, not a folder")
    if isinstance(source, Path) and isinstance(destination, Path):
        a, b = os.path.realpath(source), os.path.realpath(destination)
        if a == b:
            raise TritonctlError("source and destination are the same folder")
        if is_inside(a, b) or is_inside(b, a):
            raise TritonctlError(f"source and destination are nested ('{source}', '{destination}'); a repository "
                                 "cannot be synced into itself")
    if isinstance(source, S3Url) and isinstance(destination, S3Url) and source.bucket == destination.bucket:
        a, b = source.prefix, destination.prefix
        if a == b or not a or not b or a.startswith(b + "/") or b.startswith(a + "/"):
            raise TritonctlError("source and destination are the same or nested S3 prefixes")


def sync(source_root: Path, destination: Path | S3Url, *, source_label: str, models: list[str] | None = None,
         delete: bool = False, dry_run: bool = False, endpoint_url: str | None = None, jobs: int = 8,
         hashes: HashCache, progress: Callable[[int], None] = lambda _n: None,
         planned: Callable[[Plan], None] = lambda _p: None) -> SyncResult:
    """Sync the local repository `source_root` to `destination`. `planned` sees the plan before anything is
    written (the CLI sizes its progress bar with it)."""
    start = time.monotonic()
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    source, layouts = scan_source(source_root, models, hashes)
    if isinstance(destination, S3Url):
        dest = S3Destination(S3(endpoint_url, jobs=jobs), destination)
    else:
        dest = LocalDestination(destination, hashes)
    plan = make_plan(source, layouts, dest, dest.state(), models=models, delete=delete, source_label=source_label)
    planned(plan)
    try:
        if not dry_run and not plan.empty:
            pause = _Pause()
            if isinstance(dest, S3Destination):
                apply_s3(plan, source, dest, progress=progress, pause=pause)
            else:
                apply_local(plan, source, destination, progress=progress, pause=pause)
    finally:
        if isinstance(dest, S3Destination):
            dest.s3.close()
    return SyncResult(plan, dry_run, time.monotonic() - start)


def publish(source: Path | S3Url, destination: Path | S3Url, *, models: list[str] | None = None,
            delete: bool = False, dry_run: bool = False, endpoint_url: str | None = None, jobs: int = 8,
            check: Callable[[Path, list[str] | None], list] | None = None, hashes: HashCache,
            progress: Callable[[int], None] = lambda _n: None,
            planned: Callable[[Plan], None] = lambda _p: None) -> SyncResult:
    """Sync `source` to `destination` (each a folder or an S3 prefix). An S3 source is read through its local copy.
    `check(folder, models)` returns the validation errors of the source; any refuses the sync (ValidationRefused)."""
    from tritonctl.errors import ValidationRefused
    from tritonctl.s3_cache import view

    check_sides(source, destination)
    local = view(source, endpoint_url=endpoint_url)
    if check is not None:
        errors = check(local.path, models)
        if errors:
            raise ValidationRefused(f"{source} has {len(errors)} error{'s' * (len(errors) != 1)} Triton would refuse; "
                                    "nothing was synced", errors, hint="fix them, or sync anyway with --no-validate")
    result = sync(local.path, destination, source_label=str(source), models=models, delete=delete, dry_run=dry_run,
                  endpoint_url=endpoint_url, jobs=jobs, hashes=hashes, progress=progress, planned=planned)
    return result
