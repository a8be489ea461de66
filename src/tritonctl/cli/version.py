"""tritonctl version add | list | rm: numbered version folders, changed atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tritonctl.cli._boundary import TritonctlGroup
from tritonctl.cli._options import DataFormat, DataFormatOpt, ModelArg, RepoOpt

app = typer.Typer(cls=TritonctlGroup, no_args_is_help=True, help="Add, list and remove model versions.")


@app.command("add")
def add(
    model: ModelArg,
    source: Annotated[Path, typer.Argument(help="A model file, or a folder holding the version's files.")],
    repo: RepoOpt = Path("."),
    version: Annotated[Optional[str], typer.Option("--version", "-v", help="Version number (default: newest + 1).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing version.")] = False,
    no_validate: Annotated[bool, typer.Option("--no-validate", help="Add even if validation finds errors.")] = False,
) -> None:
    """Add SOURCE as a new version of MODEL: staged, validated in place, then renamed into place."""
    from tritonctl.cli._output import render_add, render_report_findings
    from tritonctl.validate.engine import staged_version_errors
    from tritonctl.versions import ValidationRefused, add_version, parse_version

    number = parse_version(version) if version is not None else None
    try:
        result = add_version(repo, model, source, version=number, force=force,
                             check=None if no_validate else staged_version_errors)
    except ValidationRefused as e:
        render_report_findings(e.findings)
        raise
    render_add(result)


@app.command("list")
def list_(model: ModelArg, repo: RepoOpt = Path("."), fmt: DataFormatOpt = DataFormat.table) -> None:
    """List MODEL's versions: file, size, sha256, time, whether the version policy serves it."""
    from tritonctl.cli._output import render_versions
    from tritonctl.versions import list_versions

    render_versions(model, list_versions(repo, model), fmt.value)


@app.command("rm")
def rm(
    model: ModelArg,
    version: Annotated[str, typer.Argument(help="The version number to remove.")],
    repo: RepoOpt = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Remove even a served or the last version.")] = False,
) -> None:
    """Remove a version (renamed aside, then deleted). Refuses a served or the last version without --force."""
    from tritonctl.cli._output import say
    from tritonctl.versions import parse_version, remove_version

    result = remove_version(repo, model, parse_version(version), force=force)
    say(f"removed version {result.version} of '{result.model}'" + (" (it was served)" if result.was_served else ""))
