"""The manifest tritonctl keeps at the root of an S3 repository: the sha256, size and ETag of every object it wrote.

One object, `.tritonctl-manifest.json`, directly at the prefix root (a file there is no model to Triton, which reads
every sub-prefix as one). A listing gives size and ETag but no content hash: the manifest is how tritonctl knows an
object's sha256 without reading it. It is trusted only where it agrees with the object: same size and ETag, and
`verified` (the ETag was the one S3 computes from the bytes tritonctl meant to write, see io/hash_cache.py).
`pending` names the versions a sync is placing and has not finished (a `kill -9` leaves them for the next run, and
reading commands call them unfinished); `uploads` the multipart uploads it started (key -> upload id), which the
next sync aborts when this one was killed before completing them. `owned` says the prefix is a repository tritonctl manages: it created it,
or was told to adopt it; only there does `sync --delete` remove anything. Its presence is the marker.

Nothing read from a manifest is used as a path before it is checked: keys and pending versions that are not plain
relative paths are dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

MANIFEST = ".tritonctl-manifest.json"
MAX_BYTES = 64 << 20
_PART = r"[^/\x00]+"
_KEY = re.compile(rf"^{_PART}(/{_PART})*/?$")
_VERSION = re.compile(rf"^{_PART}/{_PART}$")
_UPLOAD_ID = re.compile(r"^[\x21-\x7e]{1,1024}$")


@dataclass(frozen=True)
class Entry:
    sha256: str
    size: int
    etag: str
    verified: bool = True


@dataclass
class Manifest:
    files: dict[str, Entry] = field(default_factory=dict)  # relative key -> entry
    pending: list[str] = field(default_factory=list)  # "model/version" prefixes a sync is placing
    owned: bool = True  # absent in manifests of tritonctl before 0.3: those were all written by its syncs
    present: bool = False  # whether the object exists (a missing manifest is an empty one)
    uploads: dict[str, str] = field(default_factory=dict)  # relative key -> multipart upload id, while a sync runs

    def dumps(self) -> bytes:
        doc = {"schema": 1, "owned": self.owned,
               "files": {k: {"sha256": e.sha256, "size": e.size, "etag": e.etag, "verified": e.verified}
                         for k, e in sorted(self.files.items())},
               "pending": sorted(set(self.pending)), "uploads": dict(sorted(self.uploads.items()))}
        return (json.dumps(doc, indent=1) + "\n").encode()


def plain(key: str) -> bool:
    """A relative key without '', '.' or '..' parts (a folder marker may end in '/')."""
    return bool(_KEY.match(key)) and not any(p in (".", "..") for p in key.rstrip("/").split("/"))


def loads(data: bytes | None) -> Manifest:
    """A manifest from its bytes; an unreadable one (or none) is an empty manifest: every object is asked."""
    if data is None:
        return Manifest()
    try:
        doc = json.loads(data)
        files = {str(k): Entry(str(v["sha256"]), int(v["size"]), str(v["etag"]), bool(v.get("verified", True)))
                 for k, v in doc["files"].items() if plain(str(k))}
        pending = [str(p) for p in doc.get("pending", []) if _VERSION.match(str(p)) and plain(str(p))]
        owned = doc.get("owned", True) is not False
        uploads = {str(k): str(v) for k, v in doc.get("uploads", {}).items()
                   if plain(str(k)) and not str(k).endswith("/") and _UPLOAD_ID.match(str(v))}
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return Manifest(present=True)
    return Manifest(files, pending, owned, present=True, uploads=uploads)
