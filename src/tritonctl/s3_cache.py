"""An S3 repository as tritonctl reads it: what its objects hold, and a local copy kept by content.

`remote_state` tells, for every object under a prefix, its size and ETag (from the listing) and its sha256 where the
manifest says so and still agrees with the listing. `materialize` keeps a local copy of the repository in the state
folder (`s3-cache/`, one folder per endpoint, bucket and prefix), downloading only objects whose ETag differs from
the one the copy was made from, and checking what it downloads against the ETag (an MD5 where S3 computed one):
`validate`, `status`, `version list`, `policy show`, `config show` and a sync from S3 read that copy.

Every key, folder marker and manifest entry is checked before it becomes a path (`..`, absolute or empty parts are
refused, naming the key); a link found in the copy is removed and replaced, never followed. Versions a sync is
still placing (the manifest's `pending`) are copied as they are and marked, so that `validate` names them unfinished
instead of broken.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tritonctl.errors import TritonctlError, UnsafePath
from tritonctl.io import files, manifest
from tritonctl.io.confine import safe_relative
from tritonctl.io.hash_cache import HashCache, etag_matches, part_size
from tritonctl.io.s3 import MULTIPART_CHUNK, MULTIPART_THRESHOLD, S3, S3Url
from tritonctl.repository import UNFINISHED_MARKER
from tritonctl.server_state import state_dir

FOLDER = "/"  # a key ending in "/" is a folder marker: an empty folder (an ensemble's version) on S3
OWN_PREFIX = ".tritonctl-"  # tritonctl's own objects at the prefix root (manifest, lease): no part of any model
_INDEX = ".tritonctl-cache-index.json"  # in the local copy: the ETag each file was downloaded from
_MD5_ETAG = re.compile(r'^"[0-9a-f]{32}(?:-(\d+))?"$')


@dataclass(frozen=True)
class RemoteFile:
    size: int
    etag: str
    sha256: str | None  # from a manifest entry that still matches the listing; None: not known without asking
    verified: bool = False  # that entry's ETag was the one S3 computes from the bytes tritonctl wrote


@dataclass
class Remote:
    url: S3Url
    files: dict[str, RemoteFile]  # relative key -> file; folder markers end in "/"; no key of tritonctl's own
    manifest: manifest.Manifest
    manifest_etag: str | None = None  # of the manifest object when it was read (a sync checks it did not change)
    rechecked: list[str] = field(default_factory=list)  # objects whose manifest entry did not match the listing

    @property
    def manifest_matches(self) -> bool:
        """Whether the manifest describes exactly the objects there (nothing rechecked, nothing missing)."""
        listed = {rel for rel in self.files if not rel.endswith(FOLDER)}
        return not self.rechecked and set(self.manifest.files) == listed


def checked_rel(rel: str, url: S3Url) -> str:
    """A key below the prefix as a relative path; one that would leave it is refused, naming it."""
    if manifest.plain(rel):  # no empty, '.' or '..' part, no NUL, not absolute: already what the checks below ask
        return rel
    stripped = rel[:-1] if rel.endswith(FOLDER) else rel
    try:
        normal = safe_relative(stripped, f"the S3 key '{url.key(rel)}'")
    except UnsafePath as e:
        raise UnsafePath(e.message + " (it would leave the repository prefix)") from None
    if not stripped or normal.replace(os.sep, "/") != stripped or not manifest.plain(rel):
        raise UnsafePath(f"the S3 key '{url.key(rel)}' is not a plain path ('.', '..' or '//' in it)")
    return rel


def own(rel: str) -> bool:
    """An object of tritonctl's own at the prefix root (manifest, lease)."""
    return "/" not in rel and rel.startswith(OWN_PREFIX)


def remote_state(s3: S3, url: S3Url) -> Remote:
    """The objects under `url` and what its manifest says of them. The listing's first request is the command's
    first (tried once: a silent endpoint is one line in time); the manifest is read beside the listing, on a thread of
    its own."""
    from tritonctl.io.background import Background

    reading = Background(lambda: s3.read_versioned(url, manifest.MANIFEST, manifest.MAX_BYTES), "tritonctl-manifest")
    objects, markers = s3.listing(url, probe=True)
    found = reading.result() if manifest.MANIFEST in objects else None
    known = manifest.loads(found[0] if found else None)
    remote = Remote(url, {}, known, found[1] if found else None)
    for rel, obj in sorted(objects.items()):
        if own(rel):
            continue
        checked_rel(rel, url)
        entry = known.files.get(rel)
        if entry is not None and entry.size == obj.size and entry.etag == obj.etag:
            remote.files[rel] = RemoteFile(obj.size, obj.etag, entry.sha256, entry.verified)
        else:
            remote.files[rel] = RemoteFile(obj.size, obj.etag, None)
            remote.rechecked.append(rel)
    for marker in markers:
        remote.files[checked_rel(marker, url)] = RemoteFile(0, "", None)
    return remote


def upload_etag(size: int, etag: str) -> bool | None:
    """Whether an ETag is one tritonctl can compute from a local file (an MD5, the MD5 of the MD5 of one part, or the
    MD5 of MD5s for the part count its uploads give that size): True, False (another scheme or part size), None (no
    MD5 at all)."""
    m = _MD5_ETAG.match(etag)
    if m is None:
        return None
    parts = m.group(1)
    if size < MULTIPART_THRESHOLD:
        return parts is None or parts == "1"
    return parts is not None and int(parts) == -(-size // part_size(size, MULTIPART_CHUNK))


def holds(local_etag: str | None, size: int, listed_etag: str) -> bool:
    """Whether an object listed with `listed_etag` holds the bytes whose upload ETag is `local_etag`."""
    return etag_matches(local_etag, size, listed_etag, MULTIPART_THRESHOLD)


def hash_cache() -> HashCache:
    return HashCache(state_dir() / "hashes.sqlite", etag_threshold=MULTIPART_THRESHOLD, etag_chunk=MULTIPART_CHUNK)


def cache_root(s3: S3, url: S3Url) -> Path:
    """The local copy's folder: one per endpoint, bucket and prefix, whatever characters they hold."""
    key = hashlib.sha256("\0".join((s3.endpoint, url.bucket, url.prefix)).encode()).hexdigest()[:24]
    return state_dir() / "s3-cache" / key


@dataclass
class Materialized:
    url: S3Url
    path: Path  # the local copy, a repository folder
    downloaded: int
    bytes: int
    unfinished: list[str] = field(default_factory=list)  # "model/version" a sync is still placing

    def label(self, text: str) -> str:
        """`text` with the local copy's path shown as the S3 address it stands for."""
        return text.replace(str(self.path), str(self.url))


def materialize(url: S3Url, *, endpoint_url: str | None = None, jobs: int = 8,
                progress: Callable[[int], None] | None = None) -> Materialized:
    """Bring the local copy of `url` up to date (by ETag) and return it."""
    s3 = S3(endpoint_url, jobs=jobs)
    try:
        remote = remote_state(s3, url)
        root = cache_root(s3, url)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TritonctlError(f"cannot use the local copy of {url}: {files.describe(e)}") from None
        with files.locked_dir(root):
            return _refresh(s3, url, remote, root, jobs, progress)
    finally:
        s3.close()


def _refresh(s3: S3, url: S3Url, remote: Remote, root: Path, jobs: int, progress) -> Materialized:
    index = _read_index(root)
    _remove_links(root)
    present = _local_files(root)
    todo: list[tuple[str, RemoteFile]] = []
    for rel, rf in remote.files.items():
        if rel.endswith(FOLDER):
            _real_folder(root, rel.rstrip("/"))
            continue
        if rel in present and index.get(rel) == rf.etag and present[rel].stat().st_size == rf.size:
            continue
        todo.append((rel, rf))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(lambda item: _download(s3, url, root, item[0], item[1], progress), todo))
    wanted = {rel for rel in remote.files if not rel.endswith(FOLDER)}
    for rel, path in present.items():
        if rel not in wanted:
            with contextlib.suppress(OSError):
                path.unlink()
    unfinished = [v for v in remote.manifest.pending if any(r.startswith(v + "/") for r in remote.files)]
    for version in unfinished:
        folder = _real_folder(root, version)
        (folder / UNFINISHED_MARKER).write_text("a tritonctl sync is placing this version\n")
    keep = {rel.rstrip("/") for rel in remote.files if rel.endswith(FOLDER)} | set(unfinished)
    _prune(root, keep, set(unfinished))
    _write_index(root, {rel: rf.etag for rel, rf in remote.files.items() if not rel.endswith(FOLDER)})
    return Materialized(url, root, len(todo), sum(rf.size for _, rf in todo), unfinished)


def _real_folder(root: Path, rel: str) -> Path:
    """root/rel as real folders all the way down: a link or a file in the way is removed first (never followed)."""
    folder = root
    for part in safe_relative(rel, "a cache path").split(os.sep):
        folder = folder / part
        try:
            st = os.lstat(folder)
        except FileNotFoundError:
            folder.mkdir(exist_ok=True)  # another download thread may make it first
            st = os.lstat(folder)
        if not stat.S_ISDIR(st.st_mode):
            folder.unlink()
            folder.mkdir(exist_ok=True)
    return folder


def _download(s3: S3, url: S3Url, root: Path, rel: str, rf: RemoteFile,
              progress: Callable[[int], None] | None) -> None:
    parent, _, name = rel.rpartition("/")
    folder = _real_folder(root, parent) if parent else root
    target = folder / name
    tmp = folder / f".{name}.tritonctl-{os.getpid()}-download.tmp"
    try:
        for attempt in (1, 2):
            s3.download(url, rel, tmp, rf.size, progress)
            if _holds(tmp, rf):
                break
            if attempt == 2:
                raise TritonctlError(f"{url}/{rel} changed while it was read (its bytes do not match its ETag); "
                                     "run the command again")
        if target.is_symlink() or target.is_dir():
            files.remove_tree(target)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


# Parts of 8 MiB: aws-cli's and boto3's default, and tritonctl's own for files past 8 MiB before its uploads went in one
# request up to MULTIPART_THRESHOLD
_COMMON_PART = 8 << 20


def _holds(path: Path, rf: RemoteFile) -> bool:
    """Whether a downloaded file has the bytes the listing's ETag stands for (when it is an MD5 we can compute: of the
    whole, or of parts of tritonctl's size or of 8 MiB)."""
    from tritonctl.io.hash_cache import digests

    if path.stat().st_size != rf.size:
        return False
    if upload_etag(rf.size, rf.etag):
        return holds(digests(path, etag_threshold=MULTIPART_THRESHOLD, etag_chunk=MULTIPART_CHUNK).etag, rf.size,
                     rf.etag)
    m = _MD5_ETAG.match(rf.etag)
    if m and m.group(1) and int(m.group(1)) == -(-rf.size // part_size(rf.size, _COMMON_PART)):
        return digests(path, etag_threshold=1, etag_chunk=_COMMON_PART).etag == rf.etag
    return True  # another scheme or part size: nothing to compare with


def _read_index(root: Path) -> dict[str, str]:
    try:
        doc = json.loads(files.read_regular(root / _INDEX, manifest.MAX_BYTES))
        return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_index(root: Path, index: dict[str, str]) -> None:
    files.atomic_write(root / _INDEX, json.dumps(index, sort_keys=True).encode())


def _remove_links(root: Path) -> None:
    """Links in the copy (planted there: tritonctl writes none) are removed, so nothing is written through them."""
    for folder, dirs, names in os.walk(root):
        for name in [*dirs, *names]:
            path = Path(folder) / name
            if path.is_symlink():
                with contextlib.suppress(OSError):
                    path.unlink()


def _local_files(root: Path) -> dict[str, Path]:
    out = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            rel = str(path.relative_to(root)).replace(os.sep, "/")
            if rel == _INDEX or name == UNFINISHED_MARKER or files.TEMP_FILE.match(name) or \
                    name.endswith("-download.tmp"):
                continue
            out[rel] = path
    return out


def _prune(root: Path, keep: set[str], unfinished: set[str]) -> None:
    for folder, dirs, names in os.walk(root, topdown=False):
        path = Path(folder)
        rel = str(path.relative_to(root)).replace(os.sep, "/")
        if UNFINISHED_MARKER in names and rel not in unfinished:
            with contextlib.suppress(OSError):
                (path / UNFINISHED_MARKER).unlink()
        if path != root and rel not in keep and not any((path / n).exists() for n in [*names, *dirs]):
            with contextlib.suppress(OSError):
                path.rmdir()
