"""The one place where errors become a line on stderr and an exit code."""

from __future__ import annotations

import os
import signal
import sys

import typer
from typer.core import TyperGroup

from tritonctl.cli._output import error
from tritonctl.errors import ExitCode, Terminated, TritonctlError


def _terminate(signum, frame) -> None:
    raise Terminated()


class TritonctlGroup(TyperGroup):
    def invoke(self, ctx):
        if ctx.parent is not None:  # a sub-group: the root group's invoke handles everything
            return super().invoke(ctx)
        try:  # SIGTERM unwinds like Ctrl-C, so staging folders and temporary files are cleaned up
            previous = signal.signal(signal.SIGTERM, _terminate)
        except ValueError:  # not the main thread
            previous = None
        try:
            return super().invoke(ctx)
        except TritonctlError as e:
            error(e.message, e.hint)
            raise typer.Exit(int(e.exit_code)) from None
        except KeyboardInterrupt as e:
            error("terminated" if isinstance(e, Terminated) else "interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except BrokenPipeError:  # the reader went away (`tritonctl rules | head`): stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(int(ExitCode.FINDINGS)) from None
        except OSError as e:  # the environment refused (disk full, I/O error, ...): not a bug of tritonctl
            where = f" ({e.filename})" if e.filename else ""
            error(f"{e.strerror or e}{where}")
            raise typer.Exit(int(ExitCode.ERROR)) from None
        except Exception as e:  # a bug: one line unless TRITONCTL_DEBUG=1
            if os.environ.get("TRITONCTL_DEBUG") == "1":
                raise
            if type(e).__name__ in ("UsageError", "BadParameter", "NoSuchOption", "MissingParameter"):
                raise
            error(f"internal error: {type(e).__name__}: {e}", "set TRITONCTL_DEBUG=1 for the traceback")
            raise typer.Exit(int(ExitCode.INTERNAL)) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
