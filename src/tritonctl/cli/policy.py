"""tritonctl policy show | set: the version_policy of a model in the repository."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tritonctl.cli._boundary import TritonctlGroup
from tritonctl.cli._options import ModelArg, RepoOpt

app = typer.Typer(cls=TritonctlGroup, no_args_is_help=True,
                  help="Show or set which versions Triton serves (version_policy).")


@app.command("show")
def show(model: ModelArg, repo: RepoOpt = Path(".")) -> None:
    """Show MODEL's version policy and the versions it serves."""
    from tritonctl.cli._output import render_policy
    from tritonctl.policy import show_policy

    render_policy(show_policy(repo, model))


@app.command("set")
def set_(
    model: ModelArg,
    spec: Annotated[str, typer.Argument(metavar="POLICY", help="latest:N | all | specific:1,3")],
    repo: RepoOpt = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the change without writing it.")] = False,
) -> None:
    """Set MODEL's version policy, changing only that part of config.pbtxt (comments and layout kept)."""
    from tritonctl.cli._output import render_policy_change
    from tritonctl.policy import set_policy

    render_policy_change(set_policy(repo, model, spec, dry_run=dry_run), dry_run)
