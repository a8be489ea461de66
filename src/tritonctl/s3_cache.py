"""An S3 repository as tritonctl reads it: what its objects hold, and a local copy kept by content.

`remote_state` tells, for every object under a prefix, its size, ETag and sha256: from the manifest when its entry
still matches the listing, else from the object's metadata (one HEAD), else unknown (another tool wrote it).
`materialize` keeps a local copy of the repository in the state folder (`s3-cache/`), downloading only objects
whose content differs from the copy's: `validate`, `status`, `version list`, `policy show`, `config show` and a
sync from S3 read that copy. Keys that would leave the prefix (`..`, absolute) are refused, never followed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tritonctl.errors import TritonctlError, UnsafePath
from tritonctl.io import files, manifest
from tritonctl.io.confine import safe_relative
from tritonctl.io.hash_cache import HashCache
from tritonctl.io.s3 import S3, S3Url
from tritonctl.server_state import state_dir

FOLDER = "/"  # a key ending in "/" is a folder marker: an empty folder (an ensemble's version) on S3


@dataclass(frozen=True)
class RemoteFile:
    size: int
    etag: str
    sha256: str | None  # None: unknown content (written by another tool, without tritonctl's metadata)


@dataclass
class Remote:
    url: S3Url
    files: dict[str, RemoteFile]  # relative key -> file; folder markers end in "/"
    manifest: manifest.Manifest
    rechecked: list[str] = field(default_factory=list)  # objects whose manifest entry did not match the listing

    @property
    def manifest_matches(self) -> bool:
        """Whether the manifest describes exactly the objects there (nothing rechecked, nothing missing)."""
        listed = {rel for rel in self.files if not rel.endswith(FOLDER)}
        return not self.rechecked and set(self.manifest.files) == listed


def checked_rel(rel: str, url: S3Url) -> str:
    """A key below the prefix as a relative path; one that would leave it is refused, naming it."""
    try:
        normal = safe_relative(rel.rstrip("/"), f"the S3 key '{url.key(rel)}'")
    except UnsafePath as e:
        raise UnsafePath(e.message + " (it would leave the repository prefix)") from None
    if normal.replace(os.sep, "/") != rel.rstrip("/"):
        raise UnsafePath(f"the S3 key '{url.key(rel)}' is not a plain path ('.', '..' or '//' in it)")
    return rel


def remote_state(s3: S3, url: S3Url) -> Remote:
    objects = s3.list(url)
    data = s3.read(url, manifest.MANIFEST, manifest.MAX_BYTES) if manifest.MANIFEST in objects else None
    known = manifest.loads(data)
    remote = Remote(url, {}, known)
    for rel, obj in sorted(objects.items()):
        if rel == manifest.MANIFEST:
            continue
        checked_rel(rel, url)
        entry = known.files.get(rel)
        if entry is not None and entry.size == obj.size and entry.etag == obj.etag:
            sha = entry.sha256
        else:
            sha = s3.sha256_of(url, rel)
            remote.rechecked.append(rel)
        remote.files[rel] = RemoteFile(obj.size, obj.etag, sha)
    for marker in _folder_markers(s3, url):
        remote.files[marker] = RemoteFile(0, "", None)
    return remote


def _folder_markers(s3: S3, url: S3Url) -> list[str]:
    """Keys ending in '/' (empty folders), which `S3.list` leaves out."""
    out = []
    prefix = url.key("") if url.prefix else ""

    def run():
        paginator = s3.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=url.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if obj["Key"].endswith("/") and obj["Key"] != prefix:
                    out.append(url.rel(obj["Key"]))

    s3._call(f"listing {url}", run)
    return out


def hash_cache() -> HashCache:
    return HashCache(state_dir() / "hashes.sqlite")


def cache_root(s3: S3, url: S3Url) -> Path:
    endpoint = hashlib.sha1(s3.endpoint.encode()).hexdigest()[:12]
    return state_dir() / "s3-cache" / endpoint / url.bucket / (url.prefix or "_root")


@dataclass
class Materialized:
    url: S3Url
    path: Path  # the local copy, a repository folder
    downloaded: int
    bytes: int

    def label(self, text: str) -> str:
        """`text` with the local copy's path shown as the S3 address it stands for."""
        return text.replace(str(self.path), str(self.url))


def materialize(url: S3Url, *, endpoint_url: str | None = None, jobs: int = 8,
                progress: Callable[[int], None] | None = None) -> Materialized:
    """Bring the local copy of `url` up to date (by content) and return it."""
    s3 = S3(endpoint_url, jobs=jobs)
    s3.check_bucket(url)
    remote = remote_state(s3, url)
    root = cache_root(s3, url)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TritonctlError(f"cannot use the S3 cache '{root}': {files.describe(e)}") from None
    hashes = hash_cache()
    todo: list[tuple[str, RemoteFile]] = []
    with files.locked_dir(root):
        present = _local_files(root)
        for rel, rf in remote.files.items():
            path = root / rel
            if rel.endswith(FOLDER):
                path.mkdir(parents=True, exist_ok=True)
                continue
            if rel in present and rf.sha256 is not None and present[rel].stat().st_size == rf.size and \
                    hashes.sha256(present[rel]) == rf.sha256:
                continue
            todo.append((rel, rf))
        try:
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                list(pool.map(lambda item: _download(s3, url, root, item[0], item[1], progress), todo))
        finally:
            s3.close()
        wanted = {rel for rel in remote.files if not rel.endswith(FOLDER)}
        for rel, path in present.items():
            if rel not in wanted:
                with contextlib.suppress(OSError):
                    path.unlink()
        _prune_empty(root, {rel.rstrip("/") for rel in remote.files if rel.endswith(FOLDER)})
    hashes.close()
    return Materialized(url, root, len(todo), sum(rf.size for _, rf in todo))


def _download(s3: S3, url: S3Url, root: Path, rel: str, rf: RemoteFile,
              progress: Callable[[int], None] | None) -> None:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tritonctl-{os.getpid()}-download.tmp")
    try:
        s3.download(url, rel, tmp, progress)
        if rf.sha256 is not None and files.sha256_file(tmp) != rf.sha256:
            raise TritonctlError(f"{url}/{rel} changed while it was read (its content does not match its sha256); "
                                 "run the command again")
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _local_files(root: Path) -> dict[str, Path]:
    out = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            rel = str(path.relative_to(root)).replace(os.sep, "/")
            if not files.TEMP_FILE.match(name) and not name.endswith("-download.tmp"):
                out[rel] = path
    return out


def _prune_empty(root: Path, keep: set[str]) -> None:
    for folder, dirs, names in os.walk(root, topdown=False):
        path = Path(folder)
        rel = str(path.relative_to(root)).replace(os.sep, "/")
        if path != root and not names and not any((path / d).exists() for d in dirs) and rel not in keep:
            with contextlib.suppress(OSError):
                path.rmdir()


@dataclass
class View:
    """A repository as a local folder: the folder itself, or the local copy of an S3 repository."""

    path: Path
    source: str  # the repository as the user named it

    def label(self, text: str) -> str:
        """`text` with the local copy's path shown as the repository it stands for."""
        return text.replace(str(self.path), self.source) if self.source != str(self.path) else text


def view(location: Path | S3Url, *, endpoint_url: str | None = None) -> View:
    if isinstance(location, S3Url):
        copy = materialize(location, endpoint_url=endpoint_url)
        return View(copy.path, str(location))
    return View(location, str(location))
