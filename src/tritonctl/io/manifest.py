"""The manifest tritonctl keeps at the root of an S3 repository: the sha256, size and ETag of every object it wrote.

One object, `.tritonctl-manifest.json`, directly at the prefix root (a file there is no model to Triton, which reads
every sub-prefix as one). A listing gives size and ETag but no content hash, and a multipart upload's ETag is no
MD5: the manifest is how tritonctl knows what an object holds without reading it. An entry whose size or ETag no
longer matches the listing (another tool wrote the object) is not trusted; the object's own metadata is asked.
`pending` names the versions a sync started and has not finished (a `kill -9` leaves them for the next run).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

MANIFEST = ".tritonctl-manifest.json"
MAX_BYTES = 64 << 20


@dataclass(frozen=True)
class Entry:
    sha256: str
    size: int
    etag: str


@dataclass
class Manifest:
    files: dict[str, Entry] = field(default_factory=dict)  # relative key -> entry
    pending: list[str] = field(default_factory=list)  # "model/version" prefixes a sync is writing

    def dumps(self) -> bytes:
        doc = {"schema": 1, "files": {k: {"sha256": e.sha256, "size": e.size, "etag": e.etag}
                                      for k, e in sorted(self.files.items())},
               "pending": sorted(set(self.pending))}
        return (json.dumps(doc, indent=1) + "\n").encode()


def loads(data: bytes | None) -> Manifest:
    """A manifest from its bytes; an unreadable one (or none) is an empty manifest: every object is asked."""
    if not data:
        return Manifest()
    try:
        doc = json.loads(data)
        files = {str(k): Entry(str(v["sha256"]), int(v["size"]), str(v["etag"])) for k, v in doc["files"].items()}
        pending = [str(p) for p in doc.get("pending", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        return Manifest()
    return Manifest(files, pending)
