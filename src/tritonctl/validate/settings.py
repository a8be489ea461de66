"""The settings a validation runs with: the project configuration, then the command line over it.

Flags replace what the project sets; --extend-select and --extend-ignore add to it. Every command that validates
(validate, version add, export, server start --validate, sync's gate) resolves its settings here, so they agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from tritonctl.errors import UsageError
from tritonctl.project import MAX_PYTHON_TIMEOUT, Project, ProjectConfigError
from tritonctl.project import python_memory as project_memory
from tritonctl.units import format_size
from tritonctl.validate.context import Options
from tritonctl.validate.model import Severity

DEFAULT = "default"


@dataclass(frozen=True)
class Settings:
    options: Options = Options()
    select: tuple[str, ...] = ()  # rule codes or prefixes to run; empty: all
    ignore: tuple[str, ...] = ()
    fail_on: Severity = Severity.ERROR
    per_model_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # setting -> where it is set
    project_file: str | None = None  # the project configuration read, if any
    warnings: tuple[str, ...] = ()  # about the settings file (ignored, or another user's): said on stderr
    per_model_where: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # model -> file:line

    def unknown_models(self, names) -> list[str]:
        """A note per model [per-model-ignores] names that the repository does not have (a typo silences nothing)."""
        import difflib

        known = sorted(names)
        notes = []
        for model in sorted(set(self.per_model_ignores) - set(known)):
            close = difflib.get_close_matches(model, known, n=1)
            guess = f"; did you mean '{close[0]}'?" if close else ""
            notes.append(f"{self.per_model_where.get(model, self.project_file)}: [per-model-ignores] names '{model}', "
                         f"which is no model of this repository{guess}")
        return notes

    def ignored_for(self, model: str, code: str) -> bool:
        return any(code.startswith(prefix) for prefix in self.per_model_ignores.get(model, ()))

    def shown(self) -> list[tuple[str, str, str]]:
        """(setting, value, where it comes from) for `validate --show-config`."""
        o = self.options
        values = {
            "select": ", ".join(self.select) or "all rules",
            "ignore": ", ".join(self.ignore) or "none",
            "fail-on": self.fail_on.value,
            "gpus": "unknown (GPU checks skipped)" if o.gpus is None else str(o.gpus),
            "backends": ", ".join(sorted(o.backends)) if o.backends is not None else "Triton's standard set",
            "run-python": "true" if o.run_python else "false",
            "python-timeout": f"{o.python_timeout:g} s",
            "python-memory": format_size(o.python_memory),
            "autocomplete": "on" if o.autocomplete else "off",
        }
        rows = [("configuration file", self.project_file or "none found (defaults and flags)", "")]
        rows += [(key, value, self.sources.get(key, DEFAULT)) for key, value in values.items()]
        return rows + [(f"per-model-ignores.{model}", ", ".join(codes), self.sources.get("per-model-ignores", DEFAULT))
                       for model, codes in sorted(self.per_model_ignores.items())]


def resolve(project: Project, *, select: list[str] | None = None, extend_select: list[str] | None = None,
            ignore: list[str] | None = None, extend_ignore: list[str] | None = None, fail_on: str | None = None,
            gpus: int | None = None, backends: list[str] | None = None, run_python: bool | None = None,
            python_timeout: float | None = None, python_memory: int | None = None, autocomplete: bool = True
            ) -> Settings:
    """The project's settings with the flags given (None: not given) over them."""
    from tritonctl.validate.registry import check_codes

    sources: dict[str, str] = {}

    def pick(key: str, flag, flag_name: str):
        if flag is not None:
            sources[key] = flag_name
            return flag
        if key in project.values:
            sources[key] = project.where(key)
            return project.values[key]
        return None

    configured = [(key, project.values[key]) for key in ("select", "ignore") if key in project.values]
    configured += [(f"per-model-ignores.{model}", codes)
                   for model, codes in (project.get("per-model-ignores") or {}).items()]
    for key, codes in configured:
        try:
            check_codes(codes)
        except UsageError as e:  # an unknown code, said with the file and line
            raise ProjectConfigError(f"{project.where(key)}: {e.message}", hint=e.hint) from None
    chosen_select = list(pick("select", select, "--select") or [])
    chosen_ignore = list(pick("ignore", ignore, "--ignore") or [])
    if extend_select:
        chosen_select += extend_select
        sources["select"] = _joined(sources.get("select"), "--extend-select")
    if extend_ignore:
        chosen_ignore += extend_ignore
        sources["ignore"] = _joined(sources.get("ignore"), "--extend-ignore")
    chosen_backends = pick("backends", backends, "--backends")
    timeout = pick("python-timeout", python_timeout, "--python-timeout")
    if python_timeout is not None and not 0 < python_timeout <= MAX_PYTHON_TIMEOUT:  # nan included
        raise UsageError(f"--python-timeout must be a number of seconds above 0, at most {MAX_PYTHON_TIMEOUT:g}")
    memory = pick("python-memory", python_memory, "--python-memory")
    options = Options(gpus=pick("gpus", gpus, "--gpus"),
                      backends=frozenset(chosen_backends) if chosen_backends is not None else None,
                      autocomplete=autocomplete, run_python=bool(pick("run-python", run_python, "--run-python")),
                      python_timeout=float(timeout) if timeout is not None else Options.python_timeout,
                      python_memory=(memory if isinstance(memory, int) else project_memory(memory)) if memory is not None
                      else Options.python_memory)
    if not autocomplete:
        sources["autocomplete"] = "--no-autocomplete"
    per_model = {model: tuple(c.upper() for c in codes)
                 for model, codes in (project.get("per-model-ignores") or {}).items()}
    if per_model:
        sources["per-model-ignores"] = project.where("per-model-ignores")
    return Settings(options=options, select=tuple(c.upper() for c in chosen_select),
                    ignore=tuple(c.upper() for c in chosen_ignore),
                    fail_on=Severity(pick("fail-on", fail_on, "--fail-on") or "error"),
                    per_model_ignores=MappingProxyType(per_model), sources=MappingProxyType(sources),
                    project_file=str(project.path) if project.path is not None else None,
                    warnings=project.warnings,
                    per_model_where=MappingProxyType({m: project.where(f"per-model-ignores.{m}") for m in per_model}))


def _joined(first: str | None, second: str) -> str:
    return f"{first} + {second}" if first else second


def for_repository(location, **flags) -> Settings:
    """Settings for a repository given as a local folder (Path) or an S3 location (anything else: the project is
    looked for from the current folder)."""
    from tritonctl.project import load

    start = location if isinstance(location, Path) else None
    return resolve(load(start), **flags)
