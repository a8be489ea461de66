"""Files and folders, changed so that nobody ever sees them half-written.

- `atomic_write`: write a temporary file beside the target, fsync, rename over it.
- `copy_file`: a chunked copy (with a test-only pause after N bytes, so crash tests can kill a copy in flight).
- `locked_dir`: an exclusive flock held on a folder for the life of a `with` block.
- `exchange`: swap two paths atomically (Linux renameat2 RENAME_EXCHANGE), with a two-rename fallback.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tritonctl.errors import TritonctlError

CHUNK = 4 << 20
PAUSE_BYTES_ENV = "TRITONCTL_TEST_PAUSE_AFTER_BYTES"  # test-only: pause a copy after this many bytes
PAUSE_MARKER_ENV = "TRITONCTL_TEST_PAUSE_MARKER"  # test-only: file created when the pause begins


def describe(e: OSError) -> str:
    return e.strerror or str(e)


def atomic_write(path: Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _pause_point() -> int | None:
    value = os.environ.get(PAUSE_BYTES_ENV)
    return int(value) if value else None


def copy_file(src: Path, dst: Path) -> int:
    """Copy bytes and permission bits; returns the size. Honours the test-only pause."""
    pause_at = _pause_point()
    copied = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while True:
            size = CHUNK if pause_at is None or copied >= pause_at else min(CHUNK, pause_at - copied)
            chunk = fin.read(size)
            if not chunk:
                break
            fout.write(chunk)
            copied += len(chunk)
            if pause_at is not None and copied >= pause_at:
                fout.flush()
                marker = os.environ.get(PAUSE_MARKER_ENV)
                if marker:
                    Path(marker).write_text(str(os.getpid()))
                time.sleep(3600)  # killed here by the crash test
        fout.flush()
        os.fsync(fout.fileno())
    shutil.copymode(src, dst)
    return copied


def copy_tree(src: Path, dst: Path) -> int:
    """Copy a folder's files (symlinks followed) into `dst`, which must exist; returns bytes copied."""
    total = 0
    for root, dirs, files in os.walk(src, followlinks=True):
        rel = Path(root).relative_to(src)
        for d in dirs:
            (dst / rel / d).mkdir(exist_ok=True)
        for f in files:
            total += copy_file(Path(root) / f, dst / rel / f)
    return total


@contextlib.contextmanager
def locked_dir(path: Path, *, blocking: bool = True) -> Iterator[int]:
    """Hold an exclusive flock on folder `path` (released when the block ends or the process dies)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        yield fd
    finally:
        os.close(fd)


def is_locked(path: Path) -> bool:
    """Whether a live process holds the flock of folder `path`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError as e:
        return e.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(fd)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> None:
    """Swap `a` and `b` in one step where the kernel allows it; else rename b aside, a into place."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        renameat2 = None
    if renameat2 is not None:
        rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
        if rc == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EPERM):
            raise OSError(err, os.strerror(err), str(a))
    aside = b.with_name(b.name + ".swap")
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)


def set_mtimes(root: Path, when_ns: int) -> None:
    """Stamp every file and folder under `root` (and root) with `when_ns`."""
    for path, dirs, files in os.walk(root):
        for name in files:
            os.utime(Path(path) / name, ns=(when_ns, when_ns))
    for path, dirs, _files in os.walk(root, topdown=False):
        os.utime(path, ns=(when_ns, when_ns))


def newest_mtime_ns(root: Path) -> int:
    newest = 0
    for path, _dirs, files in os.walk(root):
        for name in [*files, ""]:
            with contextlib.suppress(OSError):
                newest = max(newest, os.stat(Path(path) / name if name else path).st_mtime_ns)
    return newest


def sha256_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def remove_tree(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise TritonctlError(f"cannot remove '{path}': {describe(e)}") from None
