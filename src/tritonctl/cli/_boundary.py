"""The one place where errors become a line on stderr and an exit code, for both ways a command runs (the typer
group, cli/_group.py, which adds click's usage errors; and the direct path, cli/_direct.py). Imports no typer.

- TritonctlError: its message (and hint), its exit code. Verdict: its code, nothing said (the command said it).
- Ctrl-C and SIGTERM: exit 130, after `finally` blocks ran. A closed stdout (`| head -1`): exit 141, quietly.
- An OSError that reached here: the environment refused, exit 3. Anything else is a bug: exit 70, one line
  (the traceback with TRITONCTL_DEBUG=1).
"""

from __future__ import annotations

import contextlib
import signal
import sys

from tritonctl.cli._output import _debug, error, render_carried
from tritonctl.cli._plain import quiet_stdout
from tritonctl.errors import ExitCode, Terminated, TritonctlError, Verdict


def _terminate(signum, frame) -> None:
    raise Terminated()


@contextlib.contextmanager
def sigterm_unwinds():
    """SIGTERM unwinds like Ctrl-C meanwhile, so staging folders and temporary files are cleaned up."""
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def outcome(call, passthrough: tuple[type[BaseException], ...] = ()) -> int | None:
    """Run CALL; map what it raises to an exit code (None: it returned). PASSTHROUGH errors are raised on (the
    typer group's own: it says click's usage errors)."""
    try:
        call()
        return None
    except TritonctlError as e:
        render_carried(e)
        error(e.message, e.hint)
        return int(e.exit_code)
    except Verdict as e:
        return int(e.code)
    except KeyboardInterrupt as e:
        error("terminated" if isinstance(e, Terminated) else "interrupted")
        return int(ExitCode.INTERRUPTED)
    except passthrough:
        raise
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


def flushed(code: int) -> int:
    """CODE, after stdout is flushed here, not at interpreter exit where a closed pipe prints a traceback."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_stdout()
        return int(ExitCode.BROKEN_PIPE)
    except (OSError, ValueError):
        pass
    return code
