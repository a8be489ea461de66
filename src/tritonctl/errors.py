"""Exit codes and the errors tritonctl raises on purpose.

Every layer raises these; only the CLI boundary turns them into a line on stderr and an exit code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1  # the tool worked and the verdict is negative
    USAGE = 2  # bad flags or arguments
    ERROR = 3  # the tool could not do its job: missing path, server down, ...
    INTERNAL = 70  # a bug in tritonctl
    INTERRUPTED = 130


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is so that cleanup runs as for Ctrl-C (exit 130)."""


class TritonctlError(Exception):
    """An error with a one-line message for the user and an optional hint."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(TritonctlError):
    exit_code = ExitCode.USAGE


class RepositoryNotFound(TritonctlError):
    pass


class ModelNotFound(TritonctlError):
    pass


class ConfigParseError(TritonctlError):
    def __init__(self, path: str, line: int, column: int, detail: str, *, hint: str | None = None) -> None:
        super().__init__(f"{path}:{line}:{column}: {detail}", hint=hint)
        self.path = path
        self.line = line
        self.column = column
        self.detail = detail


class ConfigReadError(TritonctlError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ModelFileError(TritonctlError):
    """A model file (ONNX, ...) that cannot be read or is not what it claims to be."""


class MissingDependency(TritonctlError):
    pass


class ExportError(TritonctlError):
    pass


class UnsafePath(TritonctlError):
    """A path that would leave the folder it belongs to (an absolute or `..` path, a symbolic link pointing
    elsewhere), or a file that is not a regular file (a FIFO, a device): refused before anything is read or
    written."""
