"""The sha256 (and, for S3, the ETag an upload of it gets) of local files, remembered by what identifies a file's
content on disk.

A file is hashed again only when its device, inode, size, mtime_ns or ctime_ns changed: touching a file (mtime)
rehashes it and finds the same digest; a write that restores the mtime still changes ctime. The cache is one SQLite
file in the state folder; when it cannot be used, files are simply hashed.

The ETag is what S3 computes from the bytes tritonctl uploads (`io/s3.py`'s part size): the MD5 of the content
below the multipart threshold, else the MD5 of the parts' MD5s and `-<parts>`. A file below the threshold that a
sync stages is uploaded as one part, whose ETag is the MD5 of its MD5 and `-1`: both follow from the MD5
(`etag_matches`). Compared with the ETag a listing shows, it tells whether an object holds the local file's bytes
without reading the object, and without trusting metadata or a manifest that anyone can write. The parts' MD5s of a
file past the threshold are kept too: each part is sent with its Content-MD5, and a multipart upload is completed
with them, so S3 refuses bytes that are not the ones hashed.

The ETag is a function of the bytes, as the sha256 is: when a file the cache knows (same device, inode and size) is
read again and its sha256 comes out the same, the remembered ETag is still its ETag, so that read computes the sha256
alone (MD5 runs at about half sha256's rate: 740 against 1,500 MB/s on the machine the benchmarks run on). When the
sha256 differs and the ETag is asked for, the file is read a second time: a file touched costs one sha256 pass where it
cost both, a file changed in place one sha256 pass more.
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
    parts: bytes | None = None  # the MD5s of its upload's parts, 16 bytes each (past the multipart threshold)

    def part_md5s(self) -> list[bytes]:
        """The MD5 of each part of the file's upload: one part (the file's MD5) below the multipart threshold."""
        if self.parts is not None:
            return [self.parts[i:i + 16] for i in range(0, len(self.parts), 16)]
        return [bytes.fromhex(self.etag.strip('"'))]


def one_part_etag(md5_etag: str) -> str:
    """The ETag of bytes uploaded as a multipart upload of one part, from their MD5 ETag."""
    digest = hashlib.md5(bytes.fromhex(md5_etag.strip('"')), usedforsecurity=False).hexdigest()
    return f'"{digest}-1"'


def canonical_etag(size: int, etag: str, threshold: int) -> str:
    """One form for the ETags a file's bytes can get from tritonctl's uploads (below `threshold`: the one-part form)."""
    if size < threshold and etag.count("-") == 0 and len(etag.strip('"')) == 32:
        return one_part_etag(etag)
    return etag


def etag_matches(local: str | None, size: int, listed: str, threshold: int) -> bool:
    """Whether an object whose listing shows `listed` (and `size`) holds the bytes whose upload ETag is `local`."""
    if local is None:
        return False
    return listed == local or canonical_etag(size, listed, threshold) == canonical_etag(size, local, threshold)


def part_size(size: int, chunk: int, max_parts: int = 10000) -> int:
    """The part size of tritonctl's upload of a file of `size` bytes: `chunk`, doubled until the file takes at most
    10,000 parts (S3's limit; as s3transfer's ChunksizeAdjuster does)."""
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
    return Digests(sha.hexdigest(), etag, b"".join(parts) if multipart else None)


_THREADED_BYTES = 1 << 20  # files hashed on worker threads from this size


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    """What tells a file's content changed without reading it: size, mtime_ns, ctime_ns."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns


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
            db.execute("PRAGMA synchronous=NORMAL")  # a cache: a power cut may lose its last writes, never corrupt it
            db.execute("CREATE TABLE IF NOT EXISTS files (dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER,"
                       " ctime_ns INTEGER, sha256 TEXT, etag TEXT, etag_scheme TEXT, parts BLOB, "
                       "PRIMARY KEY (dev, ino))")
            if db.execute("PRAGMA user_version").fetchone()[0] < 1:  # a cache from before the parts were kept
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ALTER TABLE files ADD COLUMN parts BLOB")
                db.execute("PRAGMA user_version = 1")
            self._db = db
        except (sqlite3.Error, OSError):
            self._db = None

    def sha256(self, path: Path) -> str:
        return self.digests(path).sha256

    def etag(self, path: Path) -> str:
        """The ETag an upload of this file gets (needs the upload's threshold and part size, given at creation)."""
        return self.digests(path, etag=True).etag

    def digests(self, path: Path, *, etag: bool = False) -> Digests:
        return self.digests_of([path], etag=etag)[0]

    def digests_of(self, paths: list[Path], *, etag: bool = False, jobs: int = 1,
                   stats: list[os.stat_result] | None = None) -> list[Digests]:
        """The digests of many files (their `stats` when the caller has them): the cache asked in one query per few
        hundred files, the misses read (the large ones `jobs` at a time: hashlib releases the GIL; a small one costs
        less read here than handed to a thread), and what they found stored in one transaction."""
        if etag and self._etag[0] is None:
            raise ValueError("this hash cache was made without the upload's part size")
        scheme = f"{self._etag[0]}/{self._etag[1]}" if etag else None
        stats = stats if stats is not None else [os.stat(p) for p in paths]
        rows = self._rows([(st.st_dev, st.st_ino) for st in stats])
        out: list[Digests | None] = [None] * len(paths)
        misses: list[int] = []
        for i, st in enumerate(stats):
            row = rows.get((st.st_dev, st.st_ino))
            if row is not None and row[:3] == _identity(st) and (not etag or self._knows_etag(row, scheme)):
                out[i] = Digests(row[3], *(row[4], row[6]) if self._knows_etag(row, scheme) else (None, None))
            else:
                misses.append(i)

        def read(i: int):
            st = stats[i]
            return self._read(paths[i], st.st_size, rows.get((st.st_dev, st.st_ino)), etag, scheme)

        large = [i for i in misses if stats[i].st_size >= _THREADED_BYTES]
        found_at: dict[int, tuple] = {}
        if jobs > 1 and len(large) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=jobs) as pool:
                found_at.update(zip(large, pool.map(read, large)))
        found_at.update((i, read(i)) for i in misses if i not in found_at)
        found = [found_at[i] for i in misses]
        store = []
        for i, (digest, kept) in zip(misses, found):
            out[i] = digest
            st, after = stats[i], os.stat(paths[i])
            if (after.st_dev, after.st_ino, *_identity(after)) == (st.st_dev, st.st_ino, *_identity(st)):
                # unchanged while it was read
                etag_of = kept or (digest.etag, scheme, digest.parts)
                store.append((st.st_dev, st.st_ino, *_identity(st), digest.sha256, *etag_of))
        self._store(store)
        return out

    def _knows_etag(self, row: tuple, scheme: str | None) -> bool:
        """Whether a cache row holds the ETag of this scheme, and the parts' MD5s where the upload has parts."""
        return scheme is not None and row[5] == scheme and row[4] is not None and (
            row[0] < self._etag[0] or row[6] is not None)

    def _read(self, path: Path, size: int, row: tuple | None, etag: bool, scheme: str | None
              ) -> tuple[Digests, tuple | None]:
        """A file's digests read from its bytes, and the remembered (ETag, scheme, parts) still right for them."""
        if row is not None and row[0] == size and row[4] is not None and (
                not etag or self._knows_etag(row, scheme)):
            sha = digests(path).sha256  # known before: if its bytes are the same, so is their ETag
            self._count()
            if sha == row[3]:
                return Digests(sha, *(row[4], row[6]) if etag else (None, None)), (row[4], row[5], row[6])
            if not etag:
                return Digests(sha, None), None
        found = digests(path, etag_threshold=self._etag[0] if etag else None, etag_chunk=self._etag[1])
        self._count()
        return found, None

    def _count(self) -> None:
        with self._lock:
            self.hashed += 1

    def _rows(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], tuple]:
        """(size, mtime_ns, ctime_ns, sha256, etag, etag_scheme, parts) of the files the cache knows, by (dev, ino)."""
        out: dict[tuple[int, int], tuple] = {}
        if self._db is None:
            return out
        with self._lock, contextlib.suppress(sqlite3.Error):
            for start in range(0, len(keys), 400):  # 800 variables, under SQLite's oldest limit (999)
                chunk = keys[start:start + 400]
                query = ("SELECT dev, ino, size, mtime_ns, ctime_ns, sha256, etag, etag_scheme, parts FROM files "
                         f"WHERE (dev, ino) IN (VALUES {', '.join(['(?, ?)'] * len(chunk))})")
                for row in self._db.execute(query, [v for key in chunk for v in key]):
                    out[(row[0], row[1])] = tuple(row[2:])
        return out

    def _store(self, rows: list[tuple]) -> None:
        if self._db is None or not rows:
            return
        with self._lock, contextlib.suppress(sqlite3.Error):
            try:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except sqlite3.Error:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
