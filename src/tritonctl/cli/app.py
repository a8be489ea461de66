"""The `tritonctl` command: the root group, its sub-commands, and main()."""

from __future__ import annotations

import typer

from tritonctl import __version__
from tritonctl.cli import config as config_cmd
from tritonctl.cli import export as export_cmd
from tritonctl.cli import live as live_cmd
from tritonctl.cli import policy as policy_cmd
from tritonctl.cli import rules as rules_cmd
from tritonctl.cli import server as server_cmd
from tritonctl.cli import sync as sync_cmd
from tritonctl.cli import tune as tune_cmd
from tritonctl.cli import version as version_cmd
from tritonctl.cli import validate as validate_cmd
from tritonctl.cli._boundary import TritonctlGroup
from tritonctl.cli._options import COMMAND

app = typer.Typer(
    cls=TritonctlGroup,
    name="tritonctl",
    help="From a training framework to a running Triton Inference Server: export, config, validate, "
    "version, sync, serve.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"tritonctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """tritonctl: one safe command per step from a trained model to a running Triton."""


app.command("validate", **COMMAND)(validate_cmd.validate)
app.command("rules", **COMMAND)(rules_cmd.rules)
app.add_typer(export_cmd.app, name="export")
app.add_typer(config_cmd.app, name="config")
app.add_typer(version_cmd.app, name="version")
app.add_typer(policy_cmd.app, name="policy")
app.add_typer(server_cmd.app, name="server")
app.command("load", **COMMAND)(live_cmd.load)
app.command("unload", **COMMAND)(live_cmd.unload)
app.command("status", **COMMAND)(live_cmd.status)
app.command("infer", **COMMAND)(live_cmd.infer)
app.command("sync", **COMMAND)(sync_cmd.sync)
app.command("tune", **COMMAND)(tune_cmd.tune)


def main() -> None:
    app()
