"""tritonctl validate: check a repository offline against every rule Triton applies at load time."""

from __future__ import annotations

import os
from enum import Enum
from typing import Annotated, Optional

import typer

from tritonctl.cli._options import EndpointOpt, FindingsFormat, FindingsFormatOpt, ReadRepoOpt


class FailOn(str, Enum):
    error = "error"
    warning = "warning"


def validate(
    repo_arg: Annotated[Optional[str], typer.Argument(metavar="REPO", help="Model repository, a folder or "
                                                                           "s3://bucket/prefix (default: --repo).")]
    = None,
    repo: ReadRepoOpt = ".",
    endpoint_url: EndpointOpt = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", metavar="MODEL",
                                                       help="Check only this model.")] = None,
    fmt: FindingsFormatOpt = None,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 on findings of this severity or worse.")]
    = FailOn.error,
    select: Annotated[Optional[list[str]], typer.Option("--select", metavar="CODE",
                                                        help="Only these rule codes or prefixes (TRT1, TRT301).")]
    = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", metavar="CODE",
                                                        help="Skip these rule codes or prefixes.")] = None,
    gpus: Annotated[Optional[int], typer.Option("--gpus", min=0, metavar="N",
                                                help="GPUs the target server has (GPU checks only when given).")]
    = None,
    backends: Annotated[Optional[str], typer.Option("--backends", metavar="LIST",
                                                    help="Comma-separated backends the target server has (default: "
                                                         "Triton's standard set).")] = None,
    no_autocomplete: Annotated[bool, typer.Option("--no-autocomplete", help="Check as Triton does under --disable-auto-complete-config.")] = False,
    run_python: Annotated[bool, typer.Option("--run-python", help="Run python models' auto_complete_config (it "
                                                                  "runs the models' code, in worker processes).")]
    = False,
    python_timeout: Annotated[float, typer.Option("--python-timeout", min=0.1, metavar="SECONDS",
                                                  help="Longest one model's auto_complete_config may take.")] = 30.0,
) -> None:
    """Check every model's config.pbtxt, version folders and model files as Triton 2.51 would at load."""
    from tritonctl.cli._output import render_report
    from tritonctl.errors import ExitCode
    from tritonctl.validate.context import Options
    from tritonctl.validate.engine import validate_repository
    from tritonctl.validate.model import Severity

    threshold = Severity(fail_on.value)
    if fmt is None:
        fmt = FindingsFormat.github if os.environ.get("GITHUB_ACTIONS") == "true" else FindingsFormat.table
    backend_set = frozenset(b.strip() for b in backends.split(",") if b.strip()) if backends is not None else None
    from tritonctl.locations import parse
    from tritonctl.s3_cache import view

    local = view(parse(repo_arg or repo), endpoint_url=endpoint_url)
    report = validate_repository(
        local.path,
        models=model,
        options=Options(gpus=gpus, backends=backend_set, autocomplete=not no_autocomplete, run_python=run_python,
                        python_timeout=python_timeout),
        select=select,
        ignore=ignore,
    )
    report = report.relabeled(local.label)
    render_report(report, fmt.value)
    if report.fails(threshold):
        raise typer.Exit(int(ExitCode.FINDINGS))
