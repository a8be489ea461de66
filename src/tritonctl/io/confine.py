"""Paths that stay inside their folder.

Relative names written inside files (an ONNX model's external-data locations) and the entries of a folder given
as a version are checked here before anything is read or written: never absolute, never climbing out with `..`,
never through a symbolic link whose target leaves the folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from tritonctl.errors import UnsafePath


def is_inside(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """Whether `path` is `root` or below it, both taken as written (resolve them first for links)."""
    path, root = os.path.normpath(path), os.path.normpath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def safe_relative(relative: str, what: str) -> str:
    """`relative` normalized ('a/./b' -> 'a/b'); refused when empty, absolute or climbing out with '..'."""
    if not relative or "\0" in relative:
        raise UnsafePath(f"{what} is empty or not a path")
    if os.path.isabs(relative):
        raise UnsafePath(f"{what} '{relative}' is an absolute path; it must be relative to its folder")
    normal = os.path.normpath(relative)
    if normal == ".." or normal.startswith(".." + os.sep) or normal == ".":
        raise UnsafePath(f"{what} '{relative}' points outside its folder")
    return normal


def confine(root: str | os.PathLike[str], relative: str, what: str) -> Path:
    """`root/relative` with every symbolic link resolved, refused when it is not inside `root` (resolved)."""
    normal = safe_relative(relative, what)
    base = os.path.realpath(root)
    real = os.path.realpath(os.path.join(base, normal))
    if not is_inside(real, base):
        raise UnsafePath(f"{what} '{relative}' goes through a symbolic link to '{real}', outside '{root}'")
    return Path(real)
