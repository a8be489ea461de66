"""`tritonctl`'s entry point: the root's help, --version and the rules list answered without typer; the commonest
command lines of the server commands, validate and sync run on the direct path (cli/_direct.py); the rest by the
typer application (cli/app.py).

Importing typer and every command takes several times Python's own start; these three answers need neither. Each
is computed whole before anything is written, and anything unexpected while computing it (or while reading a
command line on the direct path) leaves the question to the typer application, which answers the same
(tests/cli/test_start.py compares the bytes and exit codes, tests/cli/test_direct.py the keyword arguments).
"""

from __future__ import annotations

import sys

from tritonctl.cli import _plain, commands
from tritonctl.errors import ExitCode


def _answer(args: list[str]) -> tuple[str, int] | None:
    """What the start path prints for ARGS on stdout, and the exit code; None: not one of its questions."""
    if len(args) == 1 and args[0] in commands.HELP_NAMES:
        return _plain.root_help(_plain.program_name(), _plain.terminal_width()), int(ExitCode.OK)
    if args == ["--version"]:
        from tritonctl import __version__

        return f"tritonctl {__version__}\n", int(ExitCode.OK)
    if args == ["rules"]:
        from tritonctl.validate.registry import all_rules

        return "".join(f"{line}\n" for line in _plain.rule_lines(all_rules())), int(ExitCode.OK)
    return None


def main() -> None:
    try:
        try:
            answer = _answer(sys.argv[1:])
        except Exception:  # the typer application answers it, and reports what went wrong the usual way
            answer = None
        if answer is None:
            try:
                from tritonctl.cli import _direct

                direct = _direct.prepare(sys.argv[1:])
            except Exception:  # as above: the typer application reads it
                direct = None
            if direct is None:
                from tritonctl.cli.app import main as typer_main

                typer_main()
                return
            sys.exit(_direct.execute(*direct))
        text, code = answer
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            _plain.quiet_stdout()
            code = int(ExitCode.BROKEN_PIPE)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")  # as the boundary says it (cli/_boundary.py)
        code = int(ExitCode.INTERRUPTED)
    sys.exit(code)
