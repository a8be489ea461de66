"""The rule registry: one function per rule, its code, name, severity and documentation beside it."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tritonctl.validate.model import Problem, Severity

if TYPE_CHECKING:
    from tritonctl.validate.context import ModelContext

CODE = re.compile(r"^TRT\d{3}$")

FAMILIES = {
    "TRT0": "parse and schema",
    "TRT1": "model-level fields",
    "TRT2": "tensors",
    "TRT3": "instances and scheduling",
    "TRT4": "repository and versions",
    "TRT5": "model file cross-check",
    "TRT6": "ensembles",
}


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    fn: Callable[[ModelContext], Iterator[Problem]]
    triton_core: bool  # enforced by Triton's core (not a backend), so the live-Triton tests cover it
    needs_config: bool  # skipped when config.pbtxt does not parse

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.fn.__doc__ or "")

    @property
    def family(self) -> str:
        return FAMILIES.get(self.code[:4], "")


RULES: dict[str, Rule] = {}


def rule(code: str, name: str, severity: Severity, summary: str, *, triton_core: bool = True,
         needs_config: bool = True):
    if not CODE.match(code):
        raise ValueError(f"bad rule code {code!r}")

    def register(fn):
        if code in RULES:
            raise ValueError(f"rule code {code} registered twice")
        RULES[code] = Rule(code, name, severity, summary, fn, triton_core, needs_config)
        return fn

    return register


def all_rules() -> list[Rule]:
    import tritonctl.validate.rules  # noqa: F401  (registers every rule, in Triton's order)

    return list(RULES.values())


def select_rules(select: list[str] | None, ignore: list[str] | None) -> list[Rule]:
    """Rules whose code starts with one of `select` (all when empty) and with none of `ignore`."""
    from tritonctl.errors import UsageError

    rules = all_rules()
    for prefix in [*(select or []), *(ignore or [])]:
        if not any(r.code.startswith(prefix.upper()) for r in rules):
            raise UsageError(f"unknown rule code '{prefix}'", hint="list the codes with: tritonctl rules")
    chosen = [r for r in rules if not select or any(r.code.startswith(s.upper()) for s in select)]
    return [r for r in chosen if not any(r.code.startswith(i.upper()) for i in (ignore or []))]
