"""The typer group every command runs in: it invokes the command through the boundary (cli/_boundary.py) and says
click's usage errors in one line (exit 2); `tritonctl` or a group alone prints its help."""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from tritonctl.cli._boundary import flushed, outcome, sigterm_unwinds
from tritonctl.cli._help import (
    ClickException,
    UsageError,
    is_no_args_is_help,
    format_parameters,
    usage_message,
    usage_pieces,
)
from tritonctl.cli._output import error
from tritonctl.cli._plain import quiet_stdout
from tritonctl.errors import ExitCode


class TritonctlGroup(TyperGroup):
    def invoke(self, ctx):
        if ctx.parent is not None:  # a sub-group: the root group's invoke handles everything
            return super().invoke(ctx)
        with sigterm_unwinds():
            code = outcome(lambda: super(TritonctlGroup, self).invoke(ctx),
                           passthrough=(typer.Exit, typer.Abort, ClickException))  # usage errors: main says them
        if code is not None:
            raise typer.Exit(code)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False,
                                **extra)
            code = code if isinstance(code, int) else 0
        except UsageError as e:
            if is_no_args_is_help(e):
                e.show()
            else:
                where = e.ctx.command_path if e.ctx is not None else "tritonctl"
                error(usage_message(e), f"see: {where} --help")
            code = int(ExitCode.USAGE)
        except ClickException as e:
            error(e.format_message())
            code = e.exit_code
        except typer.Abort:
            error("aborted")
            code = int(ExitCode.INTERRUPTED)
        except BrokenPipeError:
            quiet_stdout()
            code = int(ExitCode.BROKEN_PIPE)
        code = flushed(code)
        if not standalone_mode:
            return code
        sys.exit(code)

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [*usage_pieces(self, ctx), self.subcommand_metavar]

    def format_options(self, ctx, formatter) -> None:
        format_parameters(self, ctx, formatter)
        self.format_commands(ctx, formatter)
