"""tritonctl validate: check a repository offline against every rule Triton applies at load time."""

from __future__ import annotations

import os
from enum import Enum
from typing import Annotated, Optional

from tritonctl.cli._params import Argument, Option
from tritonctl.cli._options import (
    BackendsOpt,
    EndpointOpt,
    FindingsFormat,
    FindingsFormatOpt,
    GpusOpt,
    PythonMemoryOpt,
    PythonTimeoutOpt,
    ReadRepoOpt,
    backend_list,
    memory_bytes,
)


class FailOn(str, Enum):
    error = "error"
    warning = "warning"


def validate(
    repo_arg: Annotated[Optional[str], Argument(metavar="REPO", help="Model repository, a folder or "
                                                                     "s3://bucket/prefix (default: --repo).")]
    = None,
    repo: ReadRepoOpt = ".",
    endpoint_url: EndpointOpt = None,
    model: Annotated[Optional[list[str]], Option("--model", "-m", metavar="MODEL",
                                                 help="Check only this model.")] = None,
    fmt: FindingsFormatOpt = None,
    fail_on: Annotated[Optional[FailOn], Option("--fail-on", help="Exit 1 on findings of this severity or "
                                                                  "worse (default: error).")] = None,
    select: Annotated[Optional[list[str]], Option("--select", metavar="CODE",
                                                  help="Only these rule codes or prefixes (TRT1, TRT301); "
                                                       "replaces the project's.")] = None,
    extend_select: Annotated[Optional[list[str]], Option("--extend-select", metavar="CODE",
                                                         help="Add to the project's select.")] = None,
    ignore: Annotated[Optional[list[str]], Option("--ignore", metavar="CODE",
                                                  help="Skip these rule codes or prefixes; replaces the "
                                                       "project's.")] = None,
    extend_ignore: Annotated[Optional[list[str]], Option("--extend-ignore", metavar="CODE",
                                                         help="Add to the project's ignore.")] = None,
    gpus: GpusOpt = None,
    backends: BackendsOpt = None,
    no_autocomplete: Annotated[bool, Option("--no-autocomplete", help="Check as Triton does under --disable-auto-complete-config.")] = False,
    run_python: Annotated[Optional[bool], Option("--run-python/--no-run-python", help="Run python models' "
                                                 "auto_complete_config. This runs the models' own code: it is "
                                                 "not a sandbox (a fresh process per model, no credentials in "
                                                 "its environment, a timeout and a memory limit).",
                                                 show_default=False)] = None,
    python_timeout: PythonTimeoutOpt = None,
    python_memory: PythonMemoryOpt = None,
    show_config: Annotated[bool, Option("--show-config", help="Print the settings in force and where each "
                                                              "comes from; check nothing.")] = False,
) -> None:
    """Check every model's config.pbtxt, version folders and model files as Triton 2.51 would at load.

    Settings come from [tool.tritonctl] in pyproject.toml or from tritonctl.toml, the nearest found upwards from
    the repository; flags replace them."""
    from tritonctl.cli._output import render_report, render_settings, settings_warnings
    from tritonctl.errors import ExitCode, Verdict
    from tritonctl.locations import parse
    from tritonctl.cli._options import local_view
    from tritonctl.validate.engine import validate_repository
    from tritonctl.validate.settings import for_repository

    location = parse(repo_arg or repo)
    settings = for_repository(location, select=select, extend_select=extend_select, ignore=ignore,
                              extend_ignore=extend_ignore, fail_on=fail_on.value if fail_on else None, gpus=gpus,
                              backends=backend_list(backends), run_python=run_python, python_timeout=python_timeout,
                              python_memory=memory_bytes(python_memory), autocomplete=not no_autocomplete)
    settings_warnings(settings)
    if show_config:
        render_settings(settings)
        return
    if fmt is None:
        fmt = FindingsFormat.github if os.environ.get("GITHUB_ACTIONS") == "true" else FindingsFormat.table
    local = local_view(location, endpoint_url=endpoint_url)
    report = validate_repository(local.path, models=model, settings=settings,
                                 shown_as=local.source if local.source != str(local.path) else None
                                 ).relabeled(local.label)
    render_report(report, fmt.value)
    if report.fails(settings.fail_on):
        raise Verdict(ExitCode.FINDINGS)
