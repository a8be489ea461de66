"""Exit codes and the errors tritonctl raises on purpose.

Every layer raises these; only the CLI boundary turns them into a line on stderr and an exit code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1  # the tool worked and the verdict is negative: findings, a refused add, a model that did not load
    USAGE = 2  # bad flags or arguments
    ERROR = 3  # the tool could not do its job: missing path, server down, a guarded refusal, ...
    INTERNAL = 70  # a bug in tritonctl, nothing else
    INTERRUPTED = 130  # Ctrl-C or SIGTERM
    BROKEN_PIPE = 141  # the reader of stdout went away (`tritonctl status | head -1`)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is so that cleanup runs as for Ctrl-C (exit 130)."""


class Verdict(Exception):
    """The command has said everything (findings, a failed rollout's table) and ends with `code`: no line added."""

    def __init__(self, code: ExitCode) -> None:
        super().__init__(int(code))
        self.code = ExitCode(code)


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


NAMES_SHOWN = 10  # an error lists this many of the models there are, then how many more


def some_names(names: list[str]) -> str:
    """The models an error lists: all of a few, the first NAMES_SHOWN of many and how many more, or "none"."""
    shown = ", ".join(names[:NAMES_SHOWN]) or "none"
    return shown if len(names) <= NAMES_SHOWN else f"{shown}, … ({len(names) - NAMES_SHOWN} more)"


def did_you_mean(name: str, names: list[str]) -> str | None:
    """A hint naming the model whose name is closest to `name`, when one is close and no other is as close."""
    import difflib

    def ratio(other: str) -> float:  # as get_close_matches scores it
        return difflib.SequenceMatcher(None, other, name).ratio()

    close = difflib.get_close_matches(name, names, n=2, cutoff=0.8)
    if not close or (len(close) == 2 and ratio(close[0]) == ratio(close[1])):
        return None
    return f"did you mean '{close[0]}'?"


class ConfigParseError(TritonctlError):
    """A config.pbtxt that does not parse: a verdict against the input, whichever command meets it."""

    exit_code = ExitCode.FINDINGS

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


class VersionRefused(TritonctlError):
    """The repository is fine but the request is refused (exists, served, the last one, unsafe content)."""


class ValidationRefused(TritonctlError):
    """A staged version has errors (`findings`): a verdict against the input, as validate's."""

    exit_code = ExitCode.FINDINGS

    def __init__(self, message: str, findings: list, hint: str = "fix them, or add anyway with --no-validate") -> None:
        super().__init__(message, hint=hint)
        self.findings = findings


class SyncRefused(TritonctlError):
    """A sync refused before anything was written (a --delete where tritonctl did not write, an empty source, a
    destination holding other repositories): a verdict against the input."""

    exit_code = ExitCode.FINDINGS


class ServerUnreachable(TritonctlError):
    """No answer from the server: refused, timed out, unknown host, connection lost."""


class ServerRejected(TritonctlError):
    """Triton answered with an error: `reason` its message on one line, `full` as Triton wrote it (backend
    tracebacks included), `status` its HTTP status."""

    def __init__(self, reason: str, *, status: str | None = None, hint: str | None = None,
                 full: str | None = None) -> None:
        super().__init__(reason, hint=hint)
        self.reason = reason
        self.status = status
        self.full = full if full is not None else reason


class NotTriton(TritonctlError):
    """The server answered, but not as Triton does (a body that is not JSON, or JSON of another shape)."""


class ModelsNotLoaded(TritonctlError):
    """The server runs, but models it was asked to load at start did not load: a verdict on those models."""

    exit_code = ExitCode.FINDINGS


class BackendUnresolved(Exception):
    """Triton cannot determine a model's backend (core's AutoCompleteBackendFields): its message, word for word."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"Invalid model name: Could not determine backend for model '{name}' with no backend in model "
            "configuration. Expected model name of the form 'model.<backend_name>'."
        )


class RolloutInterrupted(TritonctlError):
    """Ctrl-C (or SIGTERM) during a rollout over a fleet: the replica in flight was put back; `rollout` (a
    fleet.Rollout) says which replicas changed."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, rollout) -> None:
        changed = ", ".join(rollout.changed) or "no replica"
        super().__init__(f"interrupted: {changed} changed; the replica in flight serves what it served before")
        self.rollout = rollout


class ReplicasFailed(TritonctlError):
    """An action sent to every replica of a fleet (`infer --each`) failed on some of them; the others were still
    tried. Exits as the first failure would have."""

    def __init__(self, failures: list[tuple[str, TritonctlError]], total: int) -> None:
        label, first = failures[0]
        super().__init__(f"{len(failures)} of {total} replicas failed (first, {label}: {first})", hint=first.hint)
        self.exit_code = first.exit_code
        self.failures = failures
