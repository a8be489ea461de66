"""The one place where errors become a line on stderr and an exit code.

- TritonctlError: its message (and hint), its exit code.
- click's usage errors (recognised by type): one line, exit 2; `tritonctl` or a group alone prints its help.
- Ctrl-C and SIGTERM: exit 130, after `finally` blocks ran. A closed stdout (`| head -1`): exit 141, quietly.
- An OSError that reached here: the environment refused, exit 3. Anything else is a bug: exit 70, one line
  (the traceback with TRITONCTL_DEBUG=1).
"""

from __future__ import annotations

import signal
import sys

import typer
from typer.core import TyperGroup

from tritonctl.cli._help import (
    ClickException,
    UsageError,
    is_no_args_is_help,
    format_parameters,
    usage_message,
    usage_pieces,
)
from tritonctl.cli._output import _debug, error, render_carried
from tritonctl.cli._plain import quiet_stdout
from tritonctl.errors import ExitCode, Terminated, TritonctlError


def _terminate(signum, frame) -> None:
    raise Terminated()


def _run(invoke, ctx) -> int | None:
    """Invoke the command; map what it raises to an exit code (None: it returned)."""
    try:
        invoke(ctx)
        return None
    except TritonctlError as e:
        render_carried(e)
        error(e.message, e.hint)
        return int(e.exit_code)
    except KeyboardInterrupt as e:
        error("terminated" if isinstance(e, Terminated) else "interrupted")
        return int(ExitCode.INTERRUPTED)
    except (typer.Exit, typer.Abort, ClickException):
        raise  # usage errors: TritonctlGroup.main says them
    except BrokenPipeError:
        quiet_stdout()
        return int(ExitCode.BROKEN_PIPE)
    except OSError as e:  # the environment refused (disk full, I/O error, ...): not a bug of tritonctl
        where = f" ({e.filename})" if e.filename else ""
        error(f"{e.strerror or e}{where}")
        return int(ExitCode.ERROR)
    except Exception as e:  # a bug: one line unless TRITONCTL_DEBUG=1
        if _debug():
            raise
        error(f"internal error: {type(e).__name__}: {e}", "set TRITONCTL_DEBUG=1 for the traceback")
        return int(ExitCode.INTERNAL)


class TritonctlGroup(TyperGroup):
    def invoke(self, ctx):
        if ctx.parent is not None:  # a sub-group: the root group's invoke handles everything
            return super().invoke(ctx)
        try:  # SIGTERM unwinds like Ctrl-C, so staging folders and temporary files are cleaned up
            previous = signal.signal(signal.SIGTERM, _terminate)
        except ValueError:  # not the main thread
            previous = None
        try:
            code = _run(super().invoke, ctx)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
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
        try:
            sys.stdout.flush()  # here, not at interpreter exit where a closed pipe prints a traceback
        except BrokenPipeError:
            quiet_stdout()
            code = int(ExitCode.BROKEN_PIPE)
        except (OSError, ValueError):
            pass
        if not standalone_mode:
            return code
        sys.exit(code)

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [*usage_pieces(self, ctx), self.subcommand_metavar]

    def format_options(self, ctx, formatter) -> None:
        format_parameters(self, ctx, formatter)
        self.format_commands(ctx, formatter)
