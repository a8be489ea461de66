"""What every renderer shares: the consoles, escaping, stdout and stderr lines, sizes, progress on a terminal."""

from __future__ import annotations

import contextlib
import re
import sys

PIPE_WIDTH = 200  # tables are not wrapped to 80 columns in pipes and files


def _console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else PIPE_WIDTH
    return Console(file=stream, highlight=False, soft_wrap=True, emoji=False, width=width)


# C0 and C1 control characters, DEL, and the bidirectional overrides: from input (a model name, a message, a
# file name) they could clear the screen, forge lines (a GitHub Actions `::error` under a newline) or reorder text
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_KEEP_NEWLINES = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/@\s:]*):[^/@\s]*@")


def _escape(m: re.Match) -> str:
    c = m.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def safe(text: str, *, keep_newlines: bool = False) -> str:
    """Text that prints anywhere: undecodable bytes of file names (surrogate escapes) become U+FFFD, control
    characters become escapes (\\x1b, \\n), and a password in a URL becomes ***."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:***@", text)
    return (_CONTROL_KEEP_NEWLINES if keep_newlines else _CONTROL).sub(_escape, text)


def out(line: str) -> None:
    """A result line on stdout, escaped like everything from input."""
    sys.stdout.write(safe(line) + "\n")


def out_text(text: str) -> None:
    """Lines of text on stdout (a diff, a config): escaped, its own newlines kept."""
    sys.stdout.write(safe(text, keep_newlines=True))


def say(message: str) -> None:
    """A diagnostic line on stderr."""
    print(safe(message), file=sys.stderr)


def error(message: str, hint: str | None = None) -> None:
    """An error line (and its hint) on stderr."""
    say(f"error: {message}")
    if hint:
        say(f"hint: {hint}")


def _size(n: int | float | None) -> str:
    from tritonctl.units import format_size

    return format_size(n)


def _debug() -> bool:
    import os

    return os.environ.get("TRITONCTL_DEBUG") == "1"


class _Status:
    """A spinner line on stderr for long steps (a plain line per step when stderr is not a terminal)."""

    def __init__(self) -> None:
        self.status = None

    def __enter__(self):
        if sys.stderr.isatty():
            self.status = _console(stderr=True).status("")
            self.status.__enter__()
        return self.update

    def update(self, message: str) -> None:
        if self.status is not None:
            self.status.update(message)
        else:
            say(message)

    def __exit__(self, *exc) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)


def status_line() -> _Status:
    return _Status()


@contextlib.contextmanager
def working(message: str):
    """A spinner with `message` on stderr while a step runs, on a terminal only (a script's stderr stays clean)."""
    if not sys.stderr.isatty():
        yield
        return
    with _console(stderr=True).status(safe(message)):
        yield


def render_carried(error) -> None:
    """What an error carries beside its message, rendered before it (the one boundary calls this): the findings
    that refused a version or a sync, the table of a rollout that was interrupted."""
    findings = getattr(error, "findings", None)
    if findings:
        intro = getattr(error, "findings_intro", None)
        if intro:
            say(intro)
        from tritonctl.cli._output.findings import render_report_findings

        render_report_findings(findings)
    rollout = getattr(error, "rollout", None)
    if rollout is not None:
        from tritonctl.cli._output.servers import render_rollout

        render_rollout(rollout)


def settings_warnings(settings) -> None:
    """What there is to say about the settings file in force (ignored, another user's), on stderr."""
    for warning in settings.warnings:
        say(f"warning: {warning}")
