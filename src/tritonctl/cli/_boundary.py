"""The one place where errors become a line on stderr and an exit code."""

from __future__ import annotations

import os
import sys

import typer
from typer.core import TyperGroup

from tritonctl.errors import ExitCode, TritonctlError


def _say(message: str, hint: str | None = None) -> None:
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


class TritonctlGroup(TyperGroup):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TritonctlError as e:
            _say(e.message, e.hint)
            raise typer.Exit(int(e.exit_code)) from None
        except KeyboardInterrupt:
            _say("interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except BrokenPipeError:  # the reader went away (`tritonctl rules | head`): stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(int(ExitCode.FINDINGS)) from None
        except Exception as e:  # a bug: one line unless TRITONCTL_DEBUG=1
            if os.environ.get("TRITONCTL_DEBUG") == "1":
                raise
            if type(e).__name__ in ("UsageError", "BadParameter", "NoSuchOption", "MissingParameter"):
                raise
            _say(f"internal error: {type(e).__name__}: {e}", "set TRITONCTL_DEBUG=1 for the traceback")
            raise typer.Exit(int(ExitCode.INTERNAL)) from None
