"""The sha256 of local files, remembered by what identifies a file's content on disk.

A file is hashed again only when its device, inode, size, mtime_ns or ctime_ns changed: touching a file (mtime)
rehashes it and finds the same digest; a write that restores the mtime still changes ctime. The cache is one SQLite
file in the state folder; when it cannot be used, files are simply hashed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path

from tritonctl.io.files import sha256_file


class HashCache:
    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.hashed = 0  # files read whole (cache misses), for reports and tests
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS digests (dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER,"
                       " ctime_ns INTEGER, sha256 TEXT, PRIMARY KEY (dev, ino))")
            self._db = db
        except (sqlite3.Error, OSError):
            self._db = None

    def sha256(self, path: Path) -> str:
        st = os.stat(path)
        key = (st.st_dev, st.st_ino)
        identity = (st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if self._db is not None:
            with self._lock, contextlib.suppress(sqlite3.Error):
                row = self._db.execute("SELECT size, mtime_ns, ctime_ns, sha256 FROM digests WHERE dev=? AND ino=?",
                                       key).fetchone()
                if row is not None and tuple(row[:3]) == identity:
                    return row[3]
        digest = sha256_file(path)
        self.hashed += 1
        after = os.stat(path)
        if self._db is not None and (after.st_size, after.st_mtime_ns, after.st_ctime_ns) == identity:
            with self._lock, contextlib.suppress(sqlite3.Error):
                self._db.execute("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?, ?)", (*key, *identity, digest))
        return digest

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
