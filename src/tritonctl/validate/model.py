"""Findings as data: what a rule reports and what the engine stamps on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"

    @property
    def rank(self) -> int:
        return 2 if self is Severity.ERROR else 1


@dataclass(frozen=True)
class Problem:
    """What a rule yields: where (a field path in config.pbtxt, or a file/folder) and what is wrong.

    `message` says what to change; `triton_message` is Triton's own text for the refusal, placeholders
    filled, or None when Triton accepts the model (warnings) or says nothing quotable.
    """

    field: str | None
    message: str
    triton_message: str | None = None
    file: str | None = None  # a path relative to the model folder, when the problem is not in config.pbtxt
    severity: Severity | None = None  # overrides the rule's default (a rule with two outcomes)
    order: tuple[int, ...] = ()  # where in its load step Triton meets it, when rules share a step (ensembles)


@dataclass(frozen=True)
class Finding:
    model: str
    path: str
    line: int | None
    column: int | None
    code: str
    severity: Severity
    message: str
    triton_message: str | None = None
    field: str | None = None
    triton_first: bool = False  # the error Triton itself reports for this model (it stops at the first)
    order: tuple[int, ...] = ()

    def as_dict(self) -> dict:
        return {
            "model": self.model,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "triton_message": self.triton_message,
            "field": self.field,
            "triton_first": self.triton_first,
        }


@dataclass
class Report:
    repository: str
    findings: list[Finding] = field(default_factory=list)
    models_checked: int = 0
    files_checked: int = 0
    rules: list = field(default_factory=list)  # the Rules that ran, in the registry's order
    notes: list[str] = field(default_factory=list)  # said once on stderr (how --run-python was contained)
    settings_file: str | None = None  # the project configuration in force, named in every output

    def relative(self, path: str) -> str:
        """`path` relative to the repository ('m/config.pbtxt'), as written when it is not inside it."""
        root = self.repository.rstrip("/")
        return path[len(root) + 1:] if path.startswith(root + "/") else path

    def relabeled(self, label) -> Report:
        """The report with paths of a local copy shown as the repository it stands for (an S3 one)."""
        import dataclasses

        return dataclasses.replace(self, repository=label(self.repository),
                                   findings=[dataclasses.replace(f, path=label(f.path)) for f in self.findings])

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    def fails(self, fail_on: Severity) -> bool:
        return any(f.severity.rank >= fail_on.rank for f in self.findings)
