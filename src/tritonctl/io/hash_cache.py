"""The sha256 (and, for S3, the ETag an upload of it gets) of local files, remembered by what identifies a file's
content on disk.

A file is hashed again only when its device, inode, size, mtime_ns or ctime_ns changed: touching a file (mtime)
rehashes it and finds the same digest; a write that restores the mtime still changes ctime. The cache is one SQLite
file in the state folder; when it cannot be used, files are simply hashed.

The ETag is a function of the bytes, as the sha256 is: when a file the cache knows (same device, inode and size) is
read again and its sha256 comes out the same, the remembered ETag is still its ETag, so that read computes the sha256
alone (MD5 runs at about half sha256's rate: 740 against 1,500 MB/s on the machine the benchmarks run on). When the
sha256 differs and the ETag is asked for, the file is read a second time: a file touched costs one sha256 pass where it
cost both, a file changed in place one sha256 pass more.

The ETag is what S3 computes from the bytes tritonctl uploads (`io/s3.py`'s part size): the MD5 of the content
below the multipart threshold, else the MD5 of the parts' MD5s and `-<parts>`. Compared with the ETag a listing
shows, it tells whether an object holds the local file's bytes without reading the object, and without trusting
metadata or a manifest that anyone can write.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from tritonctl.io.files import open_regular


@dataclass(frozen=True)
class Digests:
    sha256: str
    etag: str | None  # None when not asked for


def part_size(size: int, chunk: int, max_parts: int = 10000) -> int:
    """The part size boto3's transfer manager uses for a file of `size` bytes (s3transfer's ChunksizeAdjuster: at
    most 10,000 parts, doubled until it fits)."""
    while -(-size // chunk) > max_parts:
        chunk *= 2
    return chunk


def digests(path: Path, *, etag_threshold: int | None = None, etag_chunk: int | None = None) -> Digests:
    """sha256 of a regular file and, given the upload's multipart threshold and part size, its S3 ETag: one read."""
    sha = hashlib.sha256()
    whole = hashlib.md5(usedforsecurity=False) if etag_threshold is not None else None
    parts: list[bytes] = []
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        chunk = part_size(size, etag_chunk) if etag_chunk else 1 << 20
        multipart = etag_threshold is not None and size >= etag_threshold
        part = hashlib.md5(usedforsecurity=False) if multipart else None
        in_part = 0
        while data := f.read(min(1 << 20, chunk - in_part) if multipart else 1 << 20):
            sha.update(data)
            if multipart:
                part.update(data)
                in_part += len(data)
                if in_part == chunk:
                    parts.append(part.digest())
                    part, in_part = hashlib.md5(usedforsecurity=False), 0
            elif whole is not None:
                whole.update(data)
    etag = None
    if etag_threshold is not None:
        if multipart:
            if in_part:
                parts.append(part.digest())
            etag = f'"{hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest()}-{len(parts)}"'
        else:
            etag = f'"{whole.hexdigest()}"'
    return Digests(sha.hexdigest(), etag)


class HashCache:
    def __init__(self, path: Path | None, *, etag_threshold: int | None = None, etag_chunk: int | None = None
                 ) -> None:
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.hashed = 0  # whole-file reads (cache misses; two for a known file whose bytes changed), for tests
        self._etag = (etag_threshold, etag_chunk)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS files (dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER,"
                       " ctime_ns INTEGER, sha256 TEXT, etag TEXT, etag_scheme TEXT, PRIMARY KEY (dev, ino))")
            self._db = db
        except (sqlite3.Error, OSError):
            self._db = None

    def sha256(self, path: Path) -> str:
        return self.digests(path).sha256

    def etag(self, path: Path) -> str:
        """The ETag an upload of this file gets (needs the upload's threshold and part size, given at creation)."""
        return self.digests(path, etag=True).etag

    def digests(self, path: Path, *, etag: bool = False) -> Digests:
        st = os.stat(path)
        key = (st.st_dev, st.st_ino)
        identity = (st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        scheme = f"{self._etag[0]}/{self._etag[1]}" if etag else None
        if etag and self._etag[0] is None:
            raise ValueError("this hash cache was made without the upload's part size")
        row = None
        if self._db is not None:
            with self._lock, contextlib.suppress(sqlite3.Error):
                row = self._db.execute("SELECT size, mtime_ns, ctime_ns, sha256, etag, etag_scheme FROM files "
                                       "WHERE dev=? AND ino=?", key).fetchone()
                if row is not None and tuple(row[:3]) == identity and (not etag or row[5] == scheme):
                    return Digests(row[3], row[4] if row[5] == scheme else None)
        found, kept = None, None  # kept: the remembered (ETag, scheme), still right for these bytes
        if row is not None and row[4] is not None and row[0] == st.st_size and (not etag or row[5] == scheme):
            sha = digests(path).sha256  # known before: if its bytes are the same, so is their ETag
            self.hashed += 1
            if sha == row[3]:
                kept = (row[4], row[5])
                found = Digests(sha, row[4] if etag else None)
            elif not etag:
                found = Digests(sha, None)
        if found is None:
            found = digests(path, etag_threshold=self._etag[0] if etag else None, etag_chunk=self._etag[1])
            self.hashed += 1
        after = os.stat(path)
        if self._db is not None and (after.st_size, after.st_mtime_ns, after.st_ctime_ns) == identity:
            with self._lock, contextlib.suppress(sqlite3.Error):
                self._db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 (*key, *identity, found.sha256, *(kept or (found.etag, scheme))))
        return found

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
