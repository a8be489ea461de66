"""tritonctl sync: a model repository to a local folder or to S3, by content, in an order that a Triton polling the
destination (or loading from it right after) never loads half of, deleting only what tritonctl wrote.

The source is a local folder; an s3:// source is first brought into the local S3 cache (s3_cache.py). What each
side holds is known by content: local files by sha256 (the hash cache); S3 objects by the ETag S3 computed from
their bytes, compared with the ETag the local file's upload gets (io/hash_cache.py), so unchanged bytes are never sent
again whatever their mtime, changed bytes are, whatever their size, and no manifest entry or metadata that someone
else wrote can make a changed file look unchanged.

Order: a version's other files first, its model file last; then model-level files (labels, warmup data); a model's
config.pbtxt only once every version it selects is complete (ensembles after the models they use); deletions
(`--delete`) last, never of a version the new config names.
- Local destinations: each changed version and each new model is assembled in a work folder beside the destination
  (`.<name>.tritonctl-work/`, the same filesystem) and renamed into place, so it appears whole; a changed version is
  swapped in one rename. A destination that is a mount point has no such place: versions are staged inside their
  model folder, under a name that sorts after every version folder.
- S3 has no rename, but an object being uploaded in parts does not exist until its upload is completed. A version
  that changes in more than one object has its other files (and any file past the multipart threshold) uploaded
  first as multipart uploads at the keys they go to; then each is completed in the order above, its model file last,
  so Triton sees the version's files appear within a few requests, never one being written. The versions being
  placed and the uploads under way are named in the manifest first (the journal: `pending`, `uploads`), so a sync
  killed midway is finished by the next run (its uploads aborted; versions the source no longer has removed) and
  reading commands call them unfinished. A version that changes in one object changes at once: no journal. One sync
  writes a prefix at a time (s3_lease.py).

What `--delete` removes: only in a destination tritonctl synced before (a local folder with `.tritonctl-repository`
at its root; an S3 prefix whose manifest says so) or one it is told to adopt (`--adopt`), and only model folders,
their versions and files; anything else there is kept and named. An empty source is refused (`--allow-empty-source`
to empty a repository on purpose), and so is a destination that holds other repositories below it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tritonctl.errors import SyncRefused, TritonctlError, UsageError
from tritonctl.io import faults, files, manifest
from tritonctl.io.confine import is_inside
from tritonctl.io.hash_cache import HashCache
from tritonctl.io.background import Background
from tritonctl.io.s3 import MULTIPART_CHUNK, MULTIPART_THRESHOLD, S3, S3Url
from tritonctl.repository import CONFIG_FILE, STAGING_PREFIX, open_repository, stoll_prefix

PAYLOAD, MODEL_FILE, MODEL_LEVEL, CONFIG, DELETE = 1, 2, 3, 4, 5
WORK_SUFFIX = ".tritonctl-work"
MARKER = ".tritonctl-repository"  # at the root of a local destination tritonctl synced (a file: no model to Triton)
LOCK = ".tritonctl-sync.lock"  # at the root of a local destination while a sync writes it
S3_STAGING = ".tritonctl-staging"  # `<prefix>.tritonctl-staging/`: where earlier releases staged versions
_OWN = (".tritonctl-", "~tritonctl-")  # tritonctl's own folders and files: never synced


@dataclass(frozen=True)
class SourceFile:
    rel: str  # repository-relative, "/"-separated; an empty folder ends in "/"
    path: Path
    size: int
    sha256: str
    etag: str | None = None  # the ETag its upload to S3 gets (only computed for an S3 destination)
    parts: bytes | None = None  # the MD5s of that upload's parts, past the multipart threshold

    def part_md5s(self) -> list[bytes]:
        from tritonctl.io.hash_cache import Digests

        return Digests(self.sha256, self.etag, self.parts).part_md5s()


@dataclass(frozen=True)
class Change:
    action: str  # upload (bytes sent), copy (from an identical object already there), mkdir, delete
    rel: str
    size: int
    reason: str  # new, changed, not in source, unfinished version, model not in source
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
    adopt: bool = False  # the destination becomes one tritonctl manages (--adopt, or it was empty)

    @property
    def empty(self) -> bool:
        return not self.changes and not self.manifest_stale and not self.adopt

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


def scan_source(root: Path, models: list[str] | None, hashes: HashCache, *, etags: bool = False
                ) -> tuple[dict[str, SourceFile], _Layouts]:
    """Every file of the source repository's chosen models, with its sha256 (and with `etags` its S3 upload's ETag,
    in the same read); links that leave the repository, FIFOs and devices are refused (naming them) before anything
    is sent."""
    repo = open_repository(root)
    chosen = [repo.model(name) for name in models] if models else [m for m in repo.models if not _own(m.name)]
    out: dict[str, SourceFile] = {}
    planned: list[tuple[Path, str, os.stat_result]] = []
    for model in chosen:
        tree = files.scan_tree(model.path, within=root)  # an unreadable folder, a link out, a FIFO: refused here
        found = [(path, f"{model.name}/{rel.replace(os.sep, '/')}", st) for path, rel, st in tree.files]
        planned += [item for item in found if not _own(item[1])]
        empty = [f"{model.name}/{folder.replace(os.sep, '/')}/" for folder in tree.empty]
        for full in [e for e in empty if not _own(e)] or ([] if found else [f"{model.name}/"]):
            out[full] = SourceFile(full, root / full, 0, "")
    digests = hashes.digests_of([path for path, _full, _st in planned], etag=etags,
                                jobs=min(8, (os.cpu_count() or 2) * 2), stats=[st for _p, _f, st in planned])
    for (path, full, st), digest in zip(planned, digests):
        out[full] = SourceFile(full, path, st.st_size, digest.sha256, digest.etag, digest.parts)
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
    same: Callable[[SourceFile], bool]  # whether it holds that source file's bytes (asked only when sizes match)


def _model_folders(rels) -> set[str]:
    """Top-level folders that are models to Triton: a config.pbtxt or a numeric version folder in them."""
    out = set()
    for rel in rels:
        parts = rel.split("/")
        if len(parts) >= 2 and (parts[1] == CONFIG_FILE or _version_of(rel) is not None):
            out.add(parts[0])
    return out


def _nested_repositories(rels) -> list[str]:
    """Folders that are repositories of their own (a manifest or marker of tritonctl's, or model folders one level
    down) rather than models: a sync into the folder above them would mix repositories."""
    models = _model_folders(rels)
    out = set()
    for rel in rels:
        parts = rel.split("/")
        if len(parts) == 2 and parts[1] in (manifest.MANIFEST, MARKER):
            out.add(parts[0])
        elif len(parts) == 3 and parts[2] == CONFIG_FILE and parts[0] not in models:
            out.add(parts[0])
    return sorted(out)


class LocalDestination:
    def __init__(self, root: Path, hashes: HashCache) -> None:
        self.root = root
        self.hashes = hashes
        self.label = str(root)
        self.files: dict[str, _DestFile] = {}
        self.other: list[str] = []  # entries at the root that are no part of any model (files, hidden folders)
        self.markers: list[str] = []  # tritonctl's markers one level down
        self.empty = True
        if root.exists():
            self._scan()
        self.owned = (root / MARKER).is_file()

    def _scan(self) -> None:
        for folder, dirs, names in os.walk(self.root):
            base = Path(folder)
            rel_base = str(base.relative_to(self.root)).replace(os.sep, "/")
            if rel_base == ".":
                self.empty = not [n for n in [*dirs, *names] if not n.startswith(_OWN) and not (
                    n.startswith(".") and n.endswith(WORK_SUFFIX))]
                self.other = sorted(n for n in names if not n.startswith(_OWN) and not files.TEMP_FILE.match(n))
            dirs[:] = [d for d in dirs if not d.startswith(_OWN)]
            for name in names:
                rel = f"{rel_base}/{name}" if rel_base != "." else name
                if name == MARKER and rel.count("/") == 1:
                    self.markers.append(rel)  # a repository of its own, below this one
                if _own(rel) or "/" not in rel:
                    continue
                path = base / name
                with contextlib.suppress(OSError):
                    self.files[rel] = _DestFile(path.stat().st_size,
                                                lambda sf, p=path: self.hashes.sha256(p) == sf.sha256)
            if not dirs and not names and rel_base != ".":
                self.files[rel_base + "/"] = _DestFile(0, lambda sf: True)


class S3Destination:
    def __init__(self, s3: S3, url: S3Url, hashes: HashCache) -> None:
        from tritonctl.s3_cache import holds, remote_state, upload_etag

        self.s3 = s3
        self.url = url
        self.label = str(url)
        self.remote = remote_state(s3, url)  # a silent endpoint or a missing bucket: one line, within the timeout
        self.empty = not self.remote.files
        self.owned = self.remote.manifest.present and self.remote.manifest.owned
        self.other = sorted(rel for rel in self.remote.files if "/" not in rel)
        self.files: dict[str, _DestFile] = {}
        for rel, f in self.remote.files.items():
            if "/" not in rel:
                continue

            def same(sf: SourceFile, f=f) -> bool:
                comparable = upload_etag(f.size, f.etag)
                if comparable:  # S3's own MD5 of the object's bytes: the truth
                    return holds(sf.etag, f.size, f.etag)
                # another ETag scheme (SSE-KMS): what tritonctl recorded when it wrote that very object
                return comparable is None and f.sha256 is not None and f.sha256 == sf.sha256

            self.files[rel] = _DestFile(f.size, same)


# ---- the plan ----------------------------------------------------------------------------------------------------


def make_plan(source: dict[str, SourceFile], layouts: _Layouts, dest, *, models: list[str] | None, delete: bool,
              source_label: str) -> Plan:
    from tritonctl.io.hash_cache import canonical_etag
    from tritonctl.s3_cache import upload_etag

    plan = Plan(source_label, dest.label)
    dest_files = dest.files
    by_content: dict[tuple[str, int], str] = {}
    if isinstance(dest, S3Destination):
        for rel, f in dest.remote.files.items():
            if upload_etag(f.size, f.etag) and not rel.endswith("/") and "/" in rel:
                by_content.setdefault((canonical_etag(f.size, f.etag, MULTIPART_THRESHOLD), f.size), rel)
        plan.manifest_stale = not dest.remote.manifest_matches
    pending = set(dest.remote.manifest.pending) if isinstance(dest, S3Destination) else set()
    touched_versions: set[str] = set()
    for rel, sf in sorted(source.items()):
        have = dest_files.get(rel)
        if have is not None and have.size == sf.size and (rel.endswith("/") or have.same(sf)):
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
        twin = by_content.get((canonical_etag(sf.size, sf.etag, MULTIPART_THRESHOLD), sf.size)) if sf.etag else None
        if twin is not None and twin != rel:
            plan.changes.append(Change("copy", rel, sf.size, reason, phase, copy_from=twin))
        else:
            plan.changes.append(Change("upload", rel, sf.size, reason, phase))
    scope = layouts.names()
    dest_models = _model_folders(dest_files)
    kept: set[str] = set(dest.other) if delete else set()
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
        elif delete and model in dest_models:
            reason = "model not in source"
        else:
            if delete:
                kept.add(model + "/")
            continue
        plan.changes.append(Change("delete", rel, dest_files[rel].size, reason, DELETE))
    for name in sorted(kept):
        plan.warnings.append(f"kept {name}: not part of a model repository")
    if not delete:
        extra = sorted(dest_models - scope)
        if extra and not models:
            plan.warnings.append(f"the destination has models the source does not ({', '.join(extra[:5])}"
                                 f"{', …' if len(extra) > 5 else ''}); --delete removes them")
    # a version that changes in one object changes at once; one that changes in more is being placed meanwhile
    changes_per_version: dict[str, int] = {}
    for change in plan.changes:
        if (version := _version_of(change.rel)) is not None:
            changes_per_version[version] = changes_per_version.get(version, 0) + 1
    plan.pending = sorted(v for v in touched_versions if changes_per_version.get(v, 0) > 1)
    ensembles = {model for c in plan.changes if c.phase == CONFIG
                 and layouts[model := c.rel.split("/", 1)[0]].ensemble}
    plan.changes.sort(key=lambda c: (c.phase, c.phase == CONFIG and c.rel.split("/", 1)[0] in ensembles, c.rel))
    return plan


# ---- writing: local ----------------------------------------------------------------------------------------------


def _work_dir(root: Path) -> Path | None:
    """The work folder beside `root` on the same filesystem (a rename from it is atomic), or None (a mount point,
    or a parent that cannot be written)."""
    work = root.parent / f".{root.name}{WORK_SUFFIX}"
    try:
        if os.path.ismount(root):
            return None
        work.mkdir(exist_ok=True)
        if os.stat(work).st_dev != os.stat(root).st_dev:
            with contextlib.suppress(OSError):
                work.rmdir()
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


@contextlib.contextmanager
def _destination_lock(root: Path):
    """One sync writes a local destination at a time: a second one refuses, naming the first (its pid)."""
    import errno
    import fcntl

    path = root / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            holder = os.pread(fd, 100, 0).decode(errors="replace").strip() or "?"
            from tritonctl.s3_lease import LeaseHeld

            raise LeaseHeld(f"'{root}' is being written by another tritonctl sync (pid {holder})",
                            hint="wait for it to end, then run this one again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def apply_local(plan: Plan, source: dict[str, SourceFile], root: Path, *, progress: Callable[[int], None],
                pause: faults.FileCounter) -> None:
    root.mkdir(parents=True, exist_ok=True)
    with _destination_lock(root):
        if plan.adopt:
            files.atomic_write(root / MARKER, b"written by tritonctl sync: sync --delete removes models here\n")
        work = _work_dir(root)
        if work is None and plan.changes:
            plan.warnings.append(f"'{root}' is a mount point or its parent cannot be written: versions are staged "
                                 "inside their model folders (a polling Triton reloads a model while its version is "
                                 "staged)")
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
        try:
            files.copy_file(sf.path, target)
        except OSError as e:
            with contextlib.suppress(OSError):
                target.unlink()
            raise TritonctlError(f"cannot write '{self.root / sf.rel}': {files.describe(e)}",
                                 hint="nothing half-written was left; free space (or fix the destination) and run "
                                      "the sync again") from None
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
                if change.phase == phase and change.action != "delete" and \
                        change.rel.split("/", 1)[0] not in new_models:
                    self._file(change.rel)
        # 4. deletions
        self._deletions([c for c in changes if c.action == "delete"])

    def _version(self, version: str) -> None:
        model, folder = version.split("/")
        model_dir = self.root / model
        staged = self.staging(model_dir)
        try:
            self._assemble(version, staged)
            current = model_dir / folder
            with files.locked_dir(model_dir):
                if current.exists():
                    files.exchange(staged, current)  # one rename: the old version now lives in `staged`
                else:
                    os.rename(staged, current)
                files.fsync_dir(model_dir)
        finally:
            files.remove_tree(staged)

    def _assemble(self, version: str, staged: Path) -> None:
        current = self.root / version
        deleting = {c.rel for c in self.plan.changes if c.action == "delete"}
        changed = {c.rel for c in self.plan.changes}
        for rel, sf in sorted(self.source.items(), key=lambda kv: kv[0] in self._model_files()):
            if not rel.startswith(version + "/"):
                continue
            target = staged / rel[len(version) + 1:]
            have = current / rel[len(version) + 1:]
            if rel not in changed and have.is_file():
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

    def _model_files(self) -> set[str]:
        return {c.rel for c in self.plan.changes if c.phase == MODEL_FILE}

    def _model(self, model: str) -> None:
        if self.session is None:  # no work folder: whole versions one by one, then the model's files, config last
            for rel in sorted({v for r in self.source if r.startswith(model + "/") and (v := _version_of(r))}):
                self._version(rel)
            for rel in sorted((r for r in self.source if r.startswith(model + "/") and _version_of(r) is None),
                              key=lambda r: (r == f"{model}/{CONFIG_FILE}", r)):
                self._file(rel)
            return
        staged = self.staging(self.root / model)
        ordered = sorted((r for r in self.source if r.startswith(model + "/")),
                         key=lambda r: (r in self._model_files(), r.endswith(f"/{CONFIG_FILE}"), r))
        for rel in ordered:
            self.write(self.source[rel], staged / rel[len(model) + 1:])
        os.rename(staged, self.root / model)
        files.fsync_dir(self.root)

    def _file(self, rel: str) -> None:
        """One file into place in one rename, staged beside it (its folder: the same filesystem), streamed."""
        sf = self.source[rel]
        target = self.root / rel
        if rel.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tritonctl-{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            self.write(sf, tmp)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
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
        from tritonctl.repository import REMOVED_PREFIX

        if not path.exists():
            return
        if self.session is not None:
            self.counter += 1
            aside = self.session / f"removed-{self.counter}"
        else:
            aside = path.with_name(f"{REMOVED_PREFIX}{os.getpid()}-{secrets.token_hex(4)}")
        os.rename(path, aside)
        files.remove_tree(aside)


# ---- writing: S3 -------------------------------------------------------------------------------------------------


def apply_s3(plan: Plan, source: dict[str, SourceFile], dest: S3Destination, *, progress: Callable[[int], None],
             pause: faults.FileCounter, break_lock: bool = False, command: str = "") -> None:
    from tritonctl.s3_lease import Lease

    s3, url, remote = dest.s3, dest.url, dest.remote
    lease = Lease(s3, url, command)
    lease.acquire(break_lock=break_lock)
    try:
        if lease.advisory:
            plan.warnings.append(f"the S3 endpoint ignores conditional writes: the lease on {url} is advisory (two "
                                 "syncs at once are not kept apart)")
        if s3.etag_of(url, manifest.MANIFEST) != remote.manifest_etag:
            raise TritonctlError(f"{url} changed while this sync planned (another writer finished meanwhile); "
                                 "nothing was written", hint="run the sync again")
        _S3Writer(plan, source, dest, lease, progress, pause).run()
    finally:
        lease.release()


class _S3Writer:
    """A plan written to S3. What must appear together is uploaded first as multipart uploads at the keys it goes
    to (S3 shows nothing of an upload until it is completed: nothing Triton reads changes meanwhile); then
    everything is put in place in dependency order, where an upload in place is its completion."""

    def __init__(self, plan, source, dest: S3Destination, lease, progress, pause) -> None:
        self.plan, self.source, self.dest, self.lease = plan, source, dest, lease
        self.s3, self.url, self.remote = dest.s3, dest.url, dest.remote
        self.progress, self.pause = progress, pause
        self.uploads: dict[str, str] = {}  # rel -> multipart upload id
        self.parts: dict[str, list[str]] = {}  # rel -> the ETags of its parts, in order
        self.written: dict[str, tuple[int, str]] = {}  # rel -> (size, ETag S3 gave it)
        self.leads = _leads(plan)

    def staged(self, change: Change) -> bool:
        """Whether a write's bytes are uploaded before anything is placed: past the multipart threshold, or one of
        the other files of a version that changes in more than one object (but its lead)."""
        if change.action not in ("upload", "copy") or change.size == 0:
            return False
        if change.size >= MULTIPART_THRESHOLD:
            return True
        return change.action == "upload" and change.phase == PAYLOAD and change.rel not in self.leads and \
            _version_of(change.rel) in self.plan.pending

    def run(self) -> None:
        plan, s3, url = self.plan, self.s3, self.url
        writes = [c for c in plan.changes if c.action != "delete"]
        staged = [c for c in writes if self.staged(c)]
        self._abort_leftovers()
        try:
            # 1. a multipart upload for each staged write, and the journal naming them and the versions being placed
            for change, upload in _each(staged, s3.jobs, lambda c: s3.create_upload(url, c.rel, self._sha(c))):
                self.uploads[change.rel] = upload
            if plan.pending or self.uploads or plan.adopt or not self.remote.manifest.present:
                journal = manifest.Manifest(self._entries(self.remote_objects(), set()),
                                            sorted(set(plan.pending) | set(self.remote.manifest.pending)),
                                            owned=self.dest.owned or plan.adopt or self.dest.empty,
                                            uploads=self.uploads)
                s3.write(url, manifest.MANIFEST, journal.dumps(), _sha(journal.dumps()))
            # 2. their bytes, parts of the largest first: nothing Triton reads changes
            self._send_parts(staged)
            if staged:
                self.lease.check()
            # 3. into place in dependency order: a version's files (uploads completed), its model file last, configs
            for _change in _in_dependency_order(writes, _dependencies(writes, self.source, self.leads), s3.jobs,
                                                self._place):
                pass
        except BaseException:
            for rel, upload in self.uploads.items():  # what was not completed: nothing of it stays behind
                if rel not in self.written:
                    with contextlib.suppress(TritonctlError):
                        s3.abort_upload(url, rel, upload, attempts=1)
            raise
        self.lease.check()
        # 4. deletions, then the manifest of what is there now (from S3's answers)
        deletions = [c.rel for c in plan.changes if c.action == "delete"]
        if deletions:
            s3.delete(url, deletions)
        final = self.remote_objects()
        final.update(self.written)
        for rel in deletions:
            final.pop(rel, None)
        done = manifest.Manifest(self._entries(final, set(self.written)), [],
                                 owned=self.dest.owned or plan.adopt or self.dest.empty)
        data = done.dumps()
        s3.write(url, manifest.MANIFEST, data, _sha(data))

    def remote_objects(self) -> dict[str, tuple[int, str]]:
        return {rel: (f.size, f.etag) for rel, f in self.remote.files.items()}

    def _abort_leftovers(self) -> None:
        """What a killed sync left unfinished: the multipart uploads its journal names (this sync holds the lease),
        and the staging folder beside the prefix that earlier releases uploaded versions to."""
        left = self.remote.manifest.uploads
        for _ in _each(sorted(left.items()), self.s3.jobs, lambda item: self.s3.abort_upload(self.url, *item)):
            pass
        if self.remote.manifest.pending and self.url.prefix:
            staging = S3Url(self.url.bucket, f"{self.url.prefix}{S3_STAGING}")
            stale = list(self.s3.list(staging))
            if stale:
                self.s3.delete(staging, stale)

    def _sha(self, change: Change) -> str | None:
        sf = self.source.get(change.rel)
        return sf.sha256 if sf is not None and change.action == "upload" else None

    def _send_parts(self, staged: list[Change]) -> None:
        """Every part of the staged writes, `jobs` at a time: uploaded from the file with its MD5 (a file that
        changed since it was hashed stops the sync before anything of it is placed), or copied from the object
        holding the same bytes."""
        from tritonctl.io.hash_cache import part_size

        tasks = []
        left: dict[str, int] = {}
        for change in sorted(staged, key=lambda c: -c.size):
            step = part_size(change.size, MULTIPART_CHUNK) if change.size >= MULTIPART_THRESHOLD else change.size
            count = -(-change.size // step)
            self.parts[change.rel] = [""] * count
            left[change.rel] = count
            tasks += [(change, n, n * step, min(step, change.size - n * step)) for n in range(count)]
        lock = threading.Lock()

        def send(task) -> None:
            change, n, offset, length = task
            if change.action == "copy":
                etag = self.s3.copy_part(self.url, change.rel, self.uploads[change.rel], n + 1, change.copy_from,
                                         offset, offset + length - 1)
            else:
                sf = self.source[change.rel]
                md5 = sf.part_md5s()[n]
                etag = self.s3.upload_part(self.url, change.rel, self.uploads[change.rel], n + 1, sf.path, offset,
                                           length, md5, self.progress)
            with lock:
                self.parts[change.rel][n] = etag
                left[change.rel] -= 1
                whole = left[change.rel] == 0
            if whole:
                self.pause.tick()

        for _ in _each(tasks, self.s3.jobs, send):
            pass

    def _place(self, change: Change) -> None:
        s3, url = self.s3, self.url
        if change.action == "mkdir":
            etag = s3.put(url, change.rel, b"")
        elif change.rel in self.uploads:
            etag = s3.complete_upload(url, change.rel, self.uploads[change.rel], self.parts[change.rel])
        elif change.action == "copy" and change.copy_from:
            etag = s3.copy(url, change.copy_from, change.rel)
        else:
            sf = self.source[change.rel]
            etag = s3.put(url, change.rel, sf.path, md5=sf.part_md5s()[0], size=sf.size, sha256=sf.sha256,
                          progress=self.progress)
        self.written[change.rel] = (change.size, etag)
        self.pause.tick()

    def _entries(self, objects: dict[str, tuple[int, str]], written: set[str]) -> dict[str, manifest.Entry]:
        """What the manifest can say of each object: for one the source has, its sha256 where the object holds its
        bytes (verified by the MD5 ETag S3 computed); for any other, the entry it had while still true."""
        from tritonctl.s3_cache import holds, upload_etag

        out: dict[str, manifest.Entry] = {}
        for rel, (size, etag) in objects.items():
            if rel.endswith("/") or rel == manifest.MANIFEST or "/" not in rel:
                continue
            sf = self.source.get(rel)
            if sf is not None and sf.size == size and holds(sf.etag, size, etag):
                out[rel] = manifest.Entry(sf.sha256, size, etag, True)
            elif sf is not None and sf.size == size and rel in written and upload_etag(size, etag) is None:
                # not an MD5 (SSE-KMS): what this sync, holding the lease, wrote
                out[rel] = manifest.Entry(sf.sha256, size, etag, False)
            else:
                known = self.remote.manifest.files.get(rel)
                if known is not None and (known.size, known.etag) == (size, etag) and sf is None:
                    out[rel] = known
        return out


def _each(items: list, jobs: int, fn: Callable):
    """fn(item) for every item, `jobs` at a time; yields (item, result) as each ends. The first failure stops new
    calls and is raised once the calls under way have ended."""
    if not items:
        return
    if jobs <= 1 or len(items) == 1:
        for item in items:
            yield item, fn(item)
        return
    with ThreadPoolExecutor(max_workers=min(jobs, len(items))) as pool:
        futures = {pool.submit(fn, item): item for item in items}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _leads(plan: Plan) -> set[str]:
    """In each version that changes in more than one object, the file placed first, by a plain PUT: its largest
    other file below the multipart threshold. An object sent in one request appears only once it is whole, as a
    completed upload does, so it needs no staging; the version's other files, staged, then appear behind it."""
    best: dict[str, Change] = {}
    for c in plan.changes:
        version = _version_of(c.rel)
        if c.action == "upload" and c.phase == PAYLOAD and 0 < c.size < MULTIPART_THRESHOLD and \
                version in plan.pending and (version not in best or c.size > best[version].size):
            best[version] = c
    return {c.rel for c in best.values()}


def _dependencies(writes: list[Change], source: dict[str, SourceFile], leads: set[str] = frozenset()
                  ) -> dict[str, set[str]]:
    """What must be written before each write: a version's lead before its other files (`leads`), its other files
    before its model file; everything of a model before its config; every other config before an ensemble's."""
    by_version: dict[str | None, list[str]] = {}
    by_model: dict[str, list[str]] = {}
    for c in writes:
        if c.phase == PAYLOAD:
            by_version.setdefault(_version_of(c.rel), []).append(c.rel)
        by_model.setdefault(c.rel.split("/", 1)[0], []).append(c.rel)
    configs = [c.rel for c in writes if c.phase == CONFIG]
    ensembles = {rel for rel in configs if _ensemble_config(source.get(rel))}
    plain_configs = {rel for rel in configs if rel not in ensembles}
    lead_of = {_version_of(rel): rel for rel in leads}
    deps: dict[str, set[str]] = {}
    for c in writes:
        if c.phase == MODEL_FILE:
            deps[c.rel] = set(by_version.get(_version_of(c.rel), ()))
        elif c.phase == PAYLOAD and (lead := lead_of.get(_version_of(c.rel))) not in (None, c.rel):
            deps[c.rel] = {lead}
        elif c.phase == CONFIG:
            deps[c.rel] = {o for o in by_model[c.rel.split("/", 1)[0]] if o != c.rel}
            if c.rel in ensembles:
                deps[c.rel] |= plain_configs
        else:
            deps[c.rel] = set()
    return deps


def _in_dependency_order(writes: list[Change], deps: dict[str, set[str]], jobs: int,
                         write: Callable[[Change], None]):
    """Run `write` for every change, `jobs` at a time, each once what it depends on is written (the largest
    first among those ready). Yields each change once written; the first failure stops new writes and is raised
    once the writes under way have ended."""
    from concurrent.futures import FIRST_COMPLETED, wait

    waiting_on = {c.rel: len(deps[c.rel]) for c in writes}
    unblocks: dict[str, list[Change]] = {}
    for c in writes:
        for before in deps[c.rel]:
            unblocks.setdefault(before, []).append(c)
    ready = sorted((c for c in writes if not waiting_on[c.rel]), key=lambda c: c.size)  # the largest at the end
    left = len(writes)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        running: dict = {}
        while left:
            while ready and len(running) < max(1, jobs):
                change = ready.pop()
                running[pool.submit(write, change)] = change
            if not running:
                raise TritonctlError("sync: writes depend on each other in a circle (a bug in tritonctl)")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                change = running.pop(future)
                try:
                    future.result()
                except BaseException:
                    for other in running:
                        other.cancel()
                    wait(running)
                    raise
                left -= 1
                for after in unblocks.get(change.rel, ()):
                    waiting_on[after.rel] -= 1
                    if not waiting_on[after.rel]:
                        ready.append(after)
                ready.sort(key=lambda c: c.size)
                yield change


def _ensemble_config(sf: SourceFile | None) -> bool:
    """Whether a config file says `platform: "ensemble"` (its steps must be there before it)."""
    import re

    try:
        text = files.read_regular(sf.path, 64 << 20) if sf is not None else b""
    except OSError:
        return False
    return re.search(rb'platform\s*:\s*"ensemble"', text) is not None


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


# ---- the command -------------------------------------------------------------------------------------------------


def _empty_folder(path: Path) -> bool:
    try:
        return not any(not e.name.startswith(".") for e in os.scandir(path))
    except OSError:
        return False


def check_sides(source: Path | S3Url, destination: Path | S3Url, *, allow_empty_source: bool = False) -> None:
    if isinstance(source, Path):
        if not source.exists():
            raise TritonctlError(f"source '{source}' does not exist")
        if not source.is_dir():
            raise TritonctlError(f"source '{source}' is a file, not a model repository folder")
        if not (allow_empty_source and _empty_folder(source)) and \
                not any(m.looks_like_a_model for m in open_repository(source).models):
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


def _check_destination(dest, *, delete: bool, adopt: bool, source_empty: bool, allow_empty_source: bool) -> None:
    nested = _nested_repositories([*dest.files, *getattr(dest, "markers", [])])
    if nested:
        raise SyncRefused(f"{dest.label} holds other repositories ({', '.join(n + '/' for n in nested[:5])}); a sync "
                          "there would mix repositories; nothing was synced",
                          hint=f"sync into one of them, e.g. {dest.label.rstrip('/')}/{nested[0]}")
    if delete and source_empty and not allow_empty_source:
        raise SyncRefused("the source has no model: --delete would empty the destination; nothing was synced",
                          hint="check the source address; to empty the repository on purpose add "
                               "--allow-empty-source")
    if delete and not dest.empty and not dest.owned and not adopt:
        raise SyncRefused(f"{dest.label} was not written by tritonctl sync (no {_marker_name(dest)}): --delete would "
                          "remove what it holds; nothing was synced",
                          hint="take it over with --adopt (see first what --delete would remove: --dry-run --adopt)")


def _marker_name(dest) -> str:
    return f"{manifest.MANIFEST} at the prefix" if isinstance(dest, S3Destination) else f"{MARKER} at its root"


def sync(source_root: Path, destination: Path | S3Url, *, source_label: str, models: list[str] | None = None,
         delete: bool = False, dry_run: bool = False, endpoint_url: str | None = None, jobs: int = 8,
         hashes: HashCache, adopt: bool = False, allow_empty_source: bool = False, break_lock: bool = False,
         timeout: float | None = None, command: str = "", progress: Callable[[int], None] = lambda _n: None,
         planned: Callable[[Plan], None] = lambda _p: None, reading: _S3Reading | None = None) -> SyncResult:
    """Sync the local repository `source_root` to `destination`. `planned` sees the plan before anything is
    written (the CLI sizes its progress bar with it); `reading` is the S3 destination's, when already started."""
    start = time.monotonic()
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    own = isinstance(destination, S3Url) and reading is None
    if own:
        reading = _S3Reading(destination, endpoint_url, jobs=jobs, timeout=timeout, hashes=hashes)
    try:
        if reading is not None:  # the bucket's listing and manifest are read while the source is scanned here
            try:
                source, layouts = scan_source(source_root, models, hashes, etags=True)
            except Exception:
                reading.result()  # its error first, as when it was read before the scan
                raise
            dest = reading.result()
        else:
            dest = LocalDestination(destination, hashes)
            source, layouts = scan_source(source_root, models, hashes, etags=False)
        _check_destination(dest, delete=delete, adopt=adopt, source_empty=not layouts.names(),
                           allow_empty_source=allow_empty_source)
        plan = make_plan(source, layouts, dest, models=models, delete=delete, source_label=source_label)
        plan.adopt = (adopt or dest.empty) and not dest.owned
        planned(plan)
        if not dry_run and not plan.empty:
            pause = faults.FileCounter()
            if isinstance(dest, S3Destination):
                apply_s3(plan, source, dest, progress=progress, pause=pause, break_lock=break_lock, command=command)
            else:
                apply_local(plan, source, destination, progress=progress, pause=pause)
    finally:
        if own:
            reading.close()
    return SyncResult(plan, dry_run, time.monotonic() - start)


class _S3Reading:
    """An S3 destination read on a thread of its own from the moment a sync knows it: its listing and manifest
    come while the source is checked, validated and scanned. result() is the S3Destination, or raises what
    reading it raised."""

    def __init__(self, url: S3Url, endpoint_url: str | None, *, jobs: int, timeout: float | None,
                 hashes: HashCache) -> None:
        self.s3 = S3(endpoint_url, jobs=jobs, timeout=timeout)
        self._reading = Background(lambda: S3Destination(self.s3, url, hashes), "tritonctl-sync-read")

    def result(self) -> S3Destination:
        return self._reading.result()

    def close(self) -> None:
        self.s3.close()


def publish(source: Path | S3Url, destination: Path | S3Url, *, models: list[str] | None = None,
            delete: bool = False, dry_run: bool = False, endpoint_url: str | None = None, jobs: int = 8,
            check: Callable[..., list] | None = None, hashes: HashCache, adopt: bool = False,
            allow_empty_source: bool = False, break_lock: bool = False, timeout: float | None = None,
            command: str = "", progress: Callable[[int], None] = lambda _n: None,
            planned: Callable[[Plan], None] = lambda _p: None) -> SyncResult:
    """Sync `source` to `destination` (each a folder or an S3 prefix). An S3 source is read through its local copy.
    `check(folder, models, label)` returns the validation errors of the source (paths shown as `label` gives them);
    any refuses the sync (ValidationRefused)."""
    from tritonctl.errors import ValidationRefused
    from tritonctl.locations import view

    check_sides(source, destination, allow_empty_source=allow_empty_source)
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    reading = _S3Reading(destination, endpoint_url, jobs=jobs, timeout=timeout, hashes=hashes) \
        if isinstance(destination, S3Url) else None  # while the source is read and validated
    try:
        local = view(source, endpoint_url=endpoint_url)
        has_models = any(m.looks_like_a_model for m in open_repository(local.path).models)
        if isinstance(source, S3Url) and not has_models and not allow_empty_source:
            raise TritonctlError(f"source '{source}' is no model repository (no prefix below it has a config.pbtxt "
                                 "or a version folder)", hint="check the bucket and prefix")
        if check is not None and has_models:
            errors = check(local.path, models, local.label)
            if errors:
                settings = getattr(check, "settings_file", None)
                raise ValidationRefused(f"{source} has {len(errors)} error{'s' * (len(errors) != 1)} Triton would "
                                        f"refuse{f' (settings: {settings})' if settings else ''}; nothing was synced",
                                        errors, hint="fix them, or sync anyway with --no-validate")
        return sync(local.path, destination, source_label=str(source), models=models, delete=delete, dry_run=dry_run,
                    endpoint_url=endpoint_url, jobs=jobs, hashes=hashes, adopt=adopt,
                    allow_empty_source=allow_empty_source, break_lock=break_lock, timeout=timeout, command=command,
                    progress=progress, planned=planned, reading=reading)
    finally:
        if reading is not None:
            reading.close()
