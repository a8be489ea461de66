"""Files and folders, read only when they are regular files and changed so that nobody sees them half-written.

- `open_regular` / `read_regular`: open without blocking on a FIFO, refuse anything but a regular file, cap the size.
- `atomic_write`: write a temporary file beside the target (locked while in use, so a later write can tell a
  leftover of a killed run from a write in flight), fsync, rename over it; the mode the umask gives, or the
  replaced file's.
- `plan_tree` / `copy_file`: what a folder copy would copy, checked before anything is written; a chunked copy
  (with the test-only pause of io/faults.py, so crash tests can kill a copy in flight).
- `locked_dir`: an exclusive flock held on a folder for the life of a `with` block.
- `exchange`: swap two paths atomically (Linux renameat2 RENAME_EXCHANGE), with a two-rename fallback.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tritonctl.errors import TritonctlError, UnsafePath
from tritonctl.io import faults
from tritonctl.io.confine import is_inside, safe_relative

CHUNK = 4 << 20

# The temporary file of an atomic write: `.<name>.tritonctl-<pid>-<random>.tmp`; before 0.2 `.<name>.<random>.tmp`
TEMP_FILE = re.compile(r"^\.(?P<target>.+)\.(?:tritonctl-(?P<pid>\d+)-)?[a-z0-9_]{8}\.tmp$")
STALE_AFTER_S = 60.0  # a temporary file of a live process is never older than this without its lock


def describe(e: OSError) -> str:
    return e.strerror or str(e)


def kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


class NotRegularFile(OSError):
    """A path that is a FIFO, a device, a socket or a directory where a regular file is read."""


class TooLarge(OSError):
    pass


def _open_regular_fd(path: str | os.PathLike[str], max_bytes: int | None) -> tuple[int, os.stat_result]:
    """The descriptor (blocking) and status of a regular file opened for reading; see open_regular."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(errno.EINVAL, f"is {kind(st.st_mode)}, not a regular file", os.fspath(path))
        if max_bytes is not None and st.st_size > max_bytes:
            raise TooLarge(errno.EFBIG, f"is {st.st_size:,} bytes, larger than the {max_bytes:,} read here",
                           os.fspath(path))
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return fd, st
    except BaseException:
        os.close(fd)
        raise


def open_regular(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> BinaryIO:
    """Open a regular file for reading; a FIFO is refused without blocking, a device or one larger than
    `max_bytes` is refused before a byte is read (NotRegularFile, TooLarge: OSErrors with a strerror)."""
    fd, _st = _open_regular_fd(path, max_bytes)
    try:
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


READ_CHUNK = 64 << 10  # bytes asked at once past the size the file had when opened (os.read allocates them)


def read_regular(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (it may grow while read: the cap holds). Read with
    os.read on the descriptor: what the file holds and one byte more first, then until the end (asking for the
    whole cap at once allocated it: 20 us for a config of 75 bytes under a 64 MiB cap)."""
    fd, st = _open_regular_fd(path, max_bytes)
    try:
        parts, total = [], 0
        ask = min(st.st_size, max_bytes) + 1
        while total <= max_bytes:
            chunk = os.read(fd, ask)
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
            ask = min(READ_CHUNK, max_bytes + 1 - total)  # it grew (or a short read): up to the cap
    finally:
        os.close(fd)
    if total > max_bytes:
        raise TooLarge(errno.EFBIG, f"is larger than the {max_bytes:,} bytes read here", os.fspath(path))
    return parts[0] if len(parts) == 1 else b"".join(parts)


def umask() -> int:
    """The process's umask, read without changing it where Linux tells it (/proc/self/status)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def new_file_mode() -> int:
    """The mode `open()` gives a new file: 0666 less the umask (0644 under umask 022)."""
    return 0o666 & ~umask()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temp_files(folder: Path, target: str | None = None, *, names: list[str] | None = None) -> list[Path]:
    """Temporary files of atomic writes in `folder` (of `target` only, when given) that no live write holds:
    their lock is free and their writer is gone (or, for old names without a pid, they are old). `names`: the
    folder's, when the caller has listed it."""
    out = []
    if names is None:
        try:
            names = os.listdir(folder)
        except OSError:
            return []
    for name in sorted(names):
        m = TEMP_FILE.match(name)
        if m is None or (target is not None and m.group("target") != target):
            continue
        path = folder / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a write in flight holds it
            pid = m.group("pid")
            gone = not _pid_alive(int(pid)) if pid else True
            old = time.time() - os.fstat(fd).st_mtime > STALE_AFTER_S
            if gone or old:
                out.append(path)
        finally:
            os.close(fd)
    return out


def write_target(path: Path, root: Path | None = None) -> Path:
    """Where a write of `path` lands: `path` itself, or the target of the symbolic link `path` when that target
    is inside `root` (default: the folder holding `path`). A link leaving it is refused (UnsafePath)."""
    if not path.is_symlink():
        return path
    real = Path(os.path.realpath(path))
    base = os.path.realpath(root if root is not None else path.parent)
    if not is_inside(real, base):
        raise UnsafePath(f"'{path}' is a symbolic link to '{real}', outside '{root if root is not None else path.parent}'"
                         "; not written", hint="replace the link with the file itself, or edit its target")
    return real


def atomic_write(path: Path, data: bytes, *, root: Path | None = None) -> Path:
    """Replace `path` (or the target of a link inside `root`, see `write_target`) with `data` in one rename;
    returns the path written. Leftovers of this target's killed writes are removed first."""
    target = write_target(Path(path), root)
    for leftover in stale_temp_files(target.parent, target.name):
        with contextlib.suppress(OSError):
            leftover.unlink()
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = new_file_mode()
    fd, tmp = _create_temp(target)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until closed: the file is in use
        with os.fdopen(fd, "wb", closefd=False) as f:
            f.write(data)
            f.flush()
            faults.in_write()  # killed here by the crash test
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        os.close(fd)
    return target


def _create_temp(target: Path) -> tuple[int, str]:
    import secrets

    for _ in range(100):
        tmp = target.parent / f".{target.name}.tritonctl-{os.getpid()}-{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), str(tmp)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(target.parent))


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def copy_file(src: Path, dst: Path) -> int:
    """Copy a regular file's bytes; returns the size. The copy gets the mode a new file gets (0644 under umask
    022: a Triton running as another user reads it), plus the source's execute bits. Honours the test-only pause."""
    pause_at = faults.bytes_before_pause()
    copied = 0
    with open_regular(src) as fin, open(dst, "wb") as fout:
        while True:
            size = CHUNK if pause_at is None or copied >= pause_at else min(CHUNK, pause_at - copied)
            chunk = fin.read(size)
            if not chunk:
                break
            fout.write(chunk)
            copied += len(chunk)
            if pause_at is not None and copied >= pause_at:
                fout.flush()
                faults.pause()  # killed here by the crash test
        fout.flush()
        os.fchmod(fout.fileno(), new_file_mode() | (os.fstat(fin.fileno()).st_mode & 0o111 & ~umask()))
        os.fsync(fout.fileno())
    return copied


def plan_tree(src: Path, *, within: Path | None = None) -> list[tuple[Path, str]]:
    """(file to read, path relative to `src`) for every file of folder `src`, checked before anything is copied:
    symbolic links are followed only while their targets stay inside `within` (default: `src`), and every entry is
    a folder or a regular file (UnsafePath otherwise; a link loop is refused too)."""
    return [(path, rel) for path, rel, _st in scan_tree(src, within=within).files]


@dataclass
class Tree:
    files: list[tuple[Path, str, os.stat_result]]  # (path, relative path, its stat) for every regular file
    empty: list[str]  # folders below the root, relative, with nothing in them


def scan_tree(src: Path, *, within: Path | None = None) -> Tree:
    """plan_tree's walk, with each file's stat (one call per entry) and the empty folders it met."""
    base = os.path.realpath(within if within is not None else src)
    tree = Tree([], [])

    def walk(folder: str, rel: str, ancestors: frozenset[tuple[int, int]]) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            raise UnsafePath(f"cannot list '{folder}': {describe(e)}") from None
        if not entries and rel:
            tree.empty.append(rel)
        for entry in entries:
            name = os.path.join(rel, entry.name) if rel else entry.name
            if entry.is_symlink() and not is_inside(os.path.realpath(entry.path), base):
                raise UnsafePath(f"'{entry.path}' is a symbolic link to '{os.path.realpath(entry.path)}', outside "
                                 f"'{within if within is not None else src}'",
                                 hint="copy the file into the folder instead of linking it")
            try:
                st = entry.stat()
            except OSError as e:
                raise UnsafePath(f"cannot read '{entry.path}': {describe(e)}") from None
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in ancestors:
                    raise UnsafePath(f"'{entry.path}' is a symbolic link loop")
                walk(entry.path, name, ancestors | {key})
            elif stat.S_ISREG(st.st_mode):
                tree.files.append((Path(entry.path), name, st))
            else:
                raise UnsafePath(f"'{entry.path}' is {kind(st.st_mode)}, not a regular file; only files are copied")

    root_st = os.stat(src)
    walk(str(src), "", frozenset({(root_st.st_dev, root_st.st_ino)}))
    return tree


def copy_planned(plan: list[tuple[Path, str]], dst: Path) -> int:
    """Copy each (source, relative name) of a plan into folder `dst`; returns bytes copied."""
    total = 0
    for source, rel in plan:
        target = dst / safe_relative(rel, "a file name")
        target.parent.mkdir(parents=True, exist_ok=True)
        total += copy_file(source, target)
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
    import ctypes  # here: every command imports this module, few swap folders

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
    with open_regular(path) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def remove_tree(path: Path) -> None:
    """Remove a folder and what it holds; a symbolic link is removed itself, never what it points to."""
    try:
        if os.path.islink(path):
            os.unlink(path)
        else:
            shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise TritonctlError(f"cannot remove '{path}': {describe(e)}") from None
