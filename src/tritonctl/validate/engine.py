"""Run the rules over a repository and turn what they yield into findings with positions."""

from __future__ import annotations

import dataclasses
import os
from contextlib import ExitStack
from typing import TYPE_CHECKING

from tritonctl.repository import open_repository
from tritonctl.validate.context import ModelContext, Options
from tritonctl.validate.model import Finding, Report, Severity
from tritonctl.validate.registry import Rule, all_rules, select_rules
from tritonctl.validate.settings import Settings

if TYPE_CHECKING:
    from tritonctl.normalize import Served


def validate_repository(path: str | os.PathLike[str], *, models: list[str] | None = None,
                        settings: Settings | None = None, options: Options | None = None,
                        shown_as: str | None = None) -> Report:
    """Every finding of the chosen rules in the repository at `path` (`options` alone: Settings(options=options)).
    `shown_as`: the repository as the user named it, when `path` is a local copy of it (an S3 one)."""
    settings = settings or Settings(options=options or Options())
    options = settings.options
    rules = _rules(settings)
    repo = open_repository(path)
    if not any(m.looks_like_a_model for m in repo.models):
        from tritonctl.errors import RepositoryNotFound

        if _is_model_folder(repo.path):
            raise RepositoryNotFound(f"'{repo.path}' is a model folder, not a model repository",
                                     hint=f"validate its repository: tritonctl validate {repo.path.parent} --model "
                                          f"{repo.path.name}")
        what = "no subfolder has a config.pbtxt or a numeric version folder" if repo.models else "it has no subfolder"
        if shown_as is not None:
            what = "no prefix below it has a config.pbtxt or a version folder" if repo.models else "nothing is " \
                "stored under it"
            raise RepositoryNotFound(f"no model repository at '{shown_as}' ({what})",
                                     hint="check the bucket and the prefix (tritonctl validate s3://BUCKET/PREFIX)")
        raise RepositoryNotFound(f"no model repository at '{repo.path}' ({what})",
                                 hint="pass the repository: tritonctl validate PATH")
    chosen = [repo.model(name) for name in models] if models else repo.models
    with ExitStack() as stack:
        if options.run_python and options.python is None:
            from tritonctl.io.python_autocomplete import PythonAutoComplete

            pool = stack.enter_context(PythonAutoComplete(timeout=options.python_timeout,
                                                          memory=options.python_memory))
            options = dataclasses.replace(options, python=pool)
        report = Report(str(repo.path), rules=rules, settings_file=settings.project_file,
                        notes=settings.unknown_models(m.name for m in repo.models))
        peers: dict[str, ModelContext] = {}
        for model in repo.models:
            peers[model.name] = ModelContext(repo, model, options, peers)
        if options.python is not None:
            _run_python_models([peers[model.name] for model in chosen], options.python)
            isolation = getattr(options.python, "isolation", None)
            if isolation and not isolation.startswith("each model"):
                report.notes.append(f"--run-python: {isolation}")
        contexts = [peers[model.name] for model in chosen]
        for findings, has_config in _check_all(contexts, rules, settings):
            report.findings.extend(findings)
            report.models_checked += 1
            report.files_checked += 1 if has_config else 0
    return report


PARALLEL_FROM = 200  # models; below, forking workers costs more than it saves


def _check_all(contexts: list[ModelContext], rules: list[Rule], settings: Settings):
    """(findings, has a config file) per context, in order: in this process, or for a large repository spread
    over forked worker processes (each reads only the configs its share and their ensemble steps need)."""
    import threading

    workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8)
    if (len(contexts) < PARALLEL_FROM or workers < 2 or settings.options.python is not None
            or threading.active_count() > 1):  # a fork copies locks other threads may hold
        return [_check_one(ctx, rules, settings) for ctx in contexts]
    import multiprocessing  # (5 ms to import: not for a small repository)

    if "fork" not in multiprocessing.get_all_start_methods():
        return [_check_one(ctx, rules, settings) for ctx in contexts]
    global _FORKED
    _FORKED = (contexts, rules, settings)
    try:
        with multiprocessing.get_context("fork").Pool(workers, initializer=_worker_signals) as pool:
            return pool.map(_check_forked, range(len(contexts)), chunksize=max(1, len(contexts) // (workers * 4)))
    finally:
        _FORKED = None


_FORKED = None  # what forked workers check, set just before the fork


def _worker_signals() -> None:
    """A worker ends quietly when the pool is done with it (SIGTERM) and leaves Ctrl-C to the parent."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _check_forked(index: int):
    contexts, rules, settings = _FORKED
    return _check_one(contexts[index], rules, settings)


def _check_one(ctx: ModelContext, rules: list[Rule], settings: Settings) -> tuple[list[Finding], bool]:
    findings = [f for f in check_model(ctx, rules) if not settings.ignored_for(ctx.name, f.code)]
    return findings, ctx.has_config_file


def _rules(settings: Settings) -> list[Rule]:
    return select_rules(list(settings.select), list(settings.ignore))


def _is_model_folder(path) -> bool:
    """A config.pbtxt or a numeric version folder right in `path`."""
    from tritonctl.repository import CONFIG_FILE

    try:
        return (path / CONFIG_FILE).is_file() or any(e.name.isdigit() and e.is_dir() for e in os.scandir(path))
    except OSError:
        return False


def _run_python_models(contexts: list[ModelContext], pool) -> None:
    """Work out every model's served config at once, so the python models' auto_complete_config runs spread over
    the pool's workers (each context keeps its outcome)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=pool.workers) as threads:
        list(threads.map(lambda ctx: ctx.served, [ctx for ctx in contexts if ctx.config is not None]))


def check_model(ctx: ModelContext, rules: list[Rule]) -> list[Finding]:
    findings: list[Finding] = []
    config_path = ctx.model.config_path
    text = ctx.config_text  # its `located` is scanned only when a finding needs a position
    for rule in rules:
        if rule.needs_config and ctx.config is None:
            continue
        if ctx.is_stray and not rule.stray:
            continue
        for problem in rule.fn(ctx):
            line = column = None
            if problem.file is not None:
                path = str(ctx.model.path / problem.file) if problem.file else str(ctx.model.path)
            else:
                path = str(config_path)
                if ctx.parse_error is not None and problem.field is None:
                    line, column = ctx.parse_error.line, ctx.parse_error.column
                elif text is not None:
                    line, column = text.located.find(problem.field or "")
                elif ctx.has_config_file:
                    line, column = 1, 1
                else:
                    path = str(ctx.model.path)
            if text is not None and line is not None and text.located.ignores.covers(rule.code, line):
                continue
            findings.append(
                Finding(
                    model=ctx.name,
                    path=path,
                    line=line,
                    column=column,
                    code=rule.code,
                    severity=problem.severity or rule.severity,
                    message=problem.message,
                    triton_message=problem.triton_message,
                    field=problem.field,
                    order=problem.order,
                )
            )
    # Triton stops at its first error: mark it
    candidates = [i for i, f in enumerate(findings) if f.severity is Severity.ERROR and f.triton_message]
    if candidates:
        stages = {rule.code: rule.stage_for(ctx.options.autocomplete) for rule in rules}
        first = min(candidates, key=lambda i: (stages[findings[i].code], findings[i].order, i))
        findings[first] = Finding(**{**findings[first].__dict__, "triton_first": True})
    return findings


def served_model(path, name: str, options: Options | None = None) -> tuple[Served, list[Finding]]:
    """What Triton serves for model `name` of the repository at `path`, and the errors for which it refuses the
    model (when there are any, no config is served: `config show --normalized` shows them instead)."""
    from tritonctl.normalize import Served

    options = options or Options()
    repo = open_repository(path)
    model = repo.model(name)
    peers: dict[str, ModelContext] = {}
    for each in repo.models:
        peers[each.name] = ModelContext(repo, each, options, peers)
    ctx = peers[model.name]
    errors = [f for f in check_model(ctx, all_rules()) if f.severity is Severity.ERROR]
    return (ctx.served or Served(None, None)), errors


def model_errors(path, model: str) -> list[Finding]:
    """The errors validate finds in one model of the repository at `path` (none when it cannot check it)."""
    from tritonctl.errors import TritonctlError

    try:
        report = validate_repository(path, models=[model])
    except TritonctlError:
        return []
    return [f for f in report.findings if f.severity is Severity.ERROR]


def repository_errors(path, *, models: list[str] | None = None, settings: Settings | None = None,
                      relabel=None) -> list[Finding]:
    """The findings at or above the settings' fail-on (errors by default) in a repository: what refuses a
    publish."""
    settings = settings or Settings()
    report = validate_repository(path, models=models, settings=settings)
    if relabel is not None:
        report = report.relabeled(relabel)
    return [f for f in report.findings if f.severity.rank >= settings.fail_on.rank]


def staged_version_errors(model, number: int, settings: Settings | None = None, config: str | None = None
                          ) -> list[Finding]:
    """Findings at or above fail-on of version `number` of `model` (whose `versions` point that number at a staging
    folder), checked as if it were in place and served; version-policy findings are left out (the policy is not
    being changed)."""
    from tritonctl.repository import Repository

    settings = settings or Settings()
    opts = dataclasses.replace(settings.options, only_version=number)
    peers: dict[str, ModelContext] = {}
    text = None
    if config is not None:
        from tritonctl.io import pbtxt
        from tritonctl.repository import ConfigText

        text = ConfigText(model.config_path, config, pbtxt.parse(config, str(model.config_path)))
    ctx = ModelContext(Repository(model.path.parent, [model]), model, opts, peers, text)
    peers[model.name] = ctx
    return [f for f in check_model(ctx, _rules(settings))
            if f.severity.rank >= settings.fail_on.rank and f.code != "TRT404"
            and not settings.ignored_for(model.name, f.code)]


def edited_config_errors(path, name: str, text: str, settings: Settings | None = None) -> list[Finding]:
    """Findings at or above fail-on of model `name` of the repository at `path` were its config.pbtxt `text`:
    what refuses an edit before it is written (tune --write)."""
    from tritonctl.io import pbtxt
    from tritonctl.repository import ConfigText

    settings = settings or Settings()
    repo = open_repository(path)
    model = repo.model(name)
    peers: dict[str, ModelContext] = {}
    for each in repo.models:
        given = ConfigText(model.config_path, text, pbtxt.parse(text, str(model.config_path))) \
            if each.name == model.name else None
        peers[each.name] = ModelContext(repo, each, settings.options, peers, given)
    return [f for f in check_model(peers[model.name], _rules(settings))
            if f.severity.rank >= settings.fail_on.rank and not settings.ignored_for(model.name, f.code)]
