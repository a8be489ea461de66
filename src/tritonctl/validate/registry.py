"""The rule registry: one function per rule, its code, name, severity and documentation beside it."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum
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


class Stage(IntEnum):
    """Triton 2.51's load steps, in the order it takes them; it reports the first error it meets, so the error of
    the earliest stage is the one it prints (triton-inference-server/core src/model_repository_manager/
    model_repository_manager.cc, Poll and LoadModelByDependency; src/model_lifecycle.cc, CreateModel;
    src/backend_model.cc, TritonModel::Create)."""

    CONFIG = 0  # reading and validating the config, when the repository is polled
    NAME = 1  # the config's name against the model folder's, still at poll
    ENSEMBLE = 2  # an ensemble's dependencies on other models
    VERSIONS = 3  # the versions its version policy selects
    BACKEND = 4  # the backend library and the instance groups
    MODEL_INIT = 5  # the backend's model initialisation: the model file
    IO = 6  # the core's checks of inputs and outputs (Model::Init)
    INSTANCES = 7  # instance creation and warmup
    SCHEDULER = 8  # the scheduler (the sequence batcher's controls)
    STEPS = 9  # an ensemble's steps against the models they name, once those are loaded
    ADVICE = 10  # no load failure: warnings, the repository's layout

    @property
    def at_poll(self) -> bool:
        """Whether Triton meets it when it reads the repository, before anything loads (a model failing there is
        'not available' to an ensemble)."""
        return self <= Stage.NAME


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    fn: Callable[[ModelContext], Iterator[Problem]]
    triton_core: bool  # enforced by Triton's core (not a backend), so the live-Triton tests cover it
    needs_config: bool  # skipped when config.pbtxt does not parse
    stage: Stage
    strict_stage: Stage | None = None  # the stage under --disable-auto-complete-config, when another one
    stray: bool = False  # also runs on a folder that holds no model (a stray or unreadable one)

    def stage_for(self, autocomplete: bool) -> Stage:
        return self.stage if autocomplete or self.strict_stage is None else self.strict_stage

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.fn.__doc__ or "")

    @property
    def family(self) -> str:
        return FAMILIES.get(self.code[:4], "")


RULES: dict[str, Rule] = {}


def rule(code: str, name: str, severity: Severity, summary: str, *, stage: Stage, triton_core: bool = True,
         needs_config: bool = True, strict_stage: Stage | None = None, stray: bool = False):
    if not CODE.match(code):
        raise ValueError(f"bad rule code {code!r}")

    def register(fn):
        if code in RULES:
            raise ValueError(f"rule code {code} registered twice")
        RULES[code] = Rule(code, name, severity, summary, fn, triton_core, needs_config, stage, strict_stage, stray)
        return fn

    return register


def all_rules() -> list[Rule]:
    import tritonctl.validate.rules  # noqa: F401  (registers every rule, in Triton's order)

    return list(RULES.values())


def check_codes(codes) -> None:
    """UsageError for a code or prefix that names no rule."""
    from tritonctl.errors import UsageError

    rules = all_rules()
    for prefix in codes:
        if not any(r.code.startswith(prefix.upper()) for r in rules):
            raise UsageError(f"unknown rule code '{prefix}'", hint="list the codes with: tritonctl rules")


ALWAYS = frozenset({"TRT001", "TRT002"})  # a config that does not parse or cannot be read: reported whatever is chosen


def select_rules(select: list[str] | None, ignore: list[str] | None) -> list[Rule]:
    """Rules whose code starts with one of `select` (all when empty) and with none of `ignore`; a config that does
    not parse or cannot be read is reported whatever they say (as ruff reports syntax errors)."""
    rules = all_rules()
    check_codes([*(select or []), *(ignore or [])])
    chosen = [r for r in rules if not select or any(r.code.startswith(s.upper()) for s in select)]
    return [r for r in rules if r.code in ALWAYS or (
        r in chosen and not any(r.code.startswith(i.upper()) for i in (ignore or [])))]
