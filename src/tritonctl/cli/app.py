"""The `tritonctl` typer application: the root group and its commands from the table in cli/commands.py.

`build(name)` holds the root and the one command asked for, so `tritonctl status` imports the status command and
not the other twelve; `app` (every command) is built when first asked for: for `tritonctl --help` in any form typer
answers, an unknown command's suggestions, and the tests.
"""

from __future__ import annotations

import importlib

import typer

from tritonctl import __version__
from tritonctl.cli import commands
from tritonctl.cli._group import TritonctlGroup
from tritonctl.cli._help import TritonctlCommand
from tritonctl.cli._params import typer_ready

COMMAND = {"cls": TritonctlCommand}  # every command's class: help as cli/_help.py renders it


def _version(value: bool) -> None:
    if value:
        print(f"tritonctl {__version__}")
        raise typer.Exit()


def root(
    version: bool = typer.Option(False, commands.VERSION_OPTION[0], callback=_version, is_eager=True,
                                 help=commands.VERSION_OPTION[1]),
) -> None:
    """tritonctl: one safe command per step from a trained model to a running Triton."""


def build(only: str | None = None) -> typer.Typer:
    """The application with every command, or with the root and the command named ONLY."""
    application = typer.Typer(
        cls=TritonctlGroup,
        name="tritonctl",
        help=commands.HELP,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"help_option_names": list(commands.HELP_NAMES)},
    )
    application.callback()(root)
    for command in commands.COMMANDS:
        if only is not None and command.name != only:
            continue
        defined = getattr(importlib.import_module(f"tritonctl.cli.{command.module}"), command.attribute)
        if command.group:
            group = typer.Typer(cls=TritonctlGroup, no_args_is_help=True, rich_markup_mode=None)
            for name, function in defined:
                group.command(name, **COMMAND)(typer_ready(function))
            application.add_typer(group, name=command.name, help=command.summary, short_help=command.summary)
        else:
            application.command(command.name, short_help=command.summary, **COMMAND)(typer_ready(defined))
    return application


def __getattr__(name: str):
    if name == "app":
        globals()["app"] = application = build()
        return application
    raise AttributeError(name)


def main(args: list[str] | None = None) -> None:
    """Run the command ARGS (sys.argv's) names, with only that command built when the table has it."""
    import sys

    args = sys.argv[1:] if args is None else args
    named = args[0] if args and args[0] in {c.name for c in commands.COMMANDS} else None
    build(named)(args)
