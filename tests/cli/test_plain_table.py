"""Tables off a terminal are written without rich (cli/_plain.table_text): the same bytes rich writes, or rich."""

from __future__ import annotations

import io
import os
import random
import string
import subprocess
import sys

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tritonctl.cli import _plain
from tritonctl.cli._output import fields
from tritonctl.cli._output.fields import Field


def _rich(headers, right, wrap, rows, width, soft_wrap) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, highlight=False, soft_wrap=soft_wrap, emoji=False, width=width)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for header, r, w in zip(headers, right, wrap):
        table.add_column(header, no_wrap=not w, justify="right" if r else "left")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console.print(table)
    return buffer.getvalue()


def _cell(rng: random.Random, longest: int) -> str:
    alphabet = string.ascii_letters + string.digits + " -_.:,;()/[]*" + "\u2026\u4e2d"  # and a wide character
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))


def test_the_text_is_the_bytes_rich_writes_whenever_it_is_given():
    rng = random.Random(23)
    written = refused = 0
    for _ in range(1500):
        n = rng.randint(1, 6)
        headers = [_cell(rng, 10) or "h" for _ in range(n)]
        right = [rng.random() < 0.3 for _ in range(n)]
        wrap = [False] * (n - 1) + [rng.random() < 0.5]  # the one column that may wrap is the last
        rows = [[_cell(rng, rng.choice((3, 12, 40))) for _ in range(n)] for _ in range(rng.randint(0, 5))]
        width, soft_wrap = rng.choice(((200, True), (100, False), (40, False), (25, True)))
        text = _plain.table_text(headers, right, rows, width)
        if text is None:
            refused += 1
            continue
        written += 1
        assert text == _rich(headers, right, wrap, rows, width, soft_wrap), (headers, rows, width)
    assert written > 300 and refused > 300  # both ways taken: plain tables and ones left to rich


@pytest.mark.parametrize("spare", [-1, 0, 1])
def test_a_table_at_the_width_limit(spare):
    headers, rows = ["model", "n"], [["a" * 30, "7"], ["b", "12345"]]
    width = 30 + 2 + 5 + spare
    text = _plain.table_text(headers, [False, True], rows, width)
    assert (text is None) == (spare < 0)
    if text is not None:
        assert text == _rich(headers, [False, True], [False, True], rows, width, False)


@pytest.mark.parametrize("env, tty", [({}, False), ({}, True), ({"FORCE_COLOR": "1"}, False),
                                      ({"FORCE_COLOR": ""}, True), ({"TTY_COMPATIBLE": "0"}, True),
                                      ({"TTY_COMPATIBLE": "1"}, False), ({"TTY_COMPATIBLE": "x"}, False),
                                      ({"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"}, False)])
def test_plain_exactly_when_rich_sees_no_terminal(monkeypatch, env, tty):
    class Stream(io.StringIO):
        def isatty(self):
            return tty

    for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    stream = Stream()
    monkeypatch.setattr("sys.stdout", stream)
    assert _plain.plain_stdout() is not Console(file=stream).is_terminal


def test_print_table_writes_plain_text_and_rich_for_the_rest(monkeypatch, capsys):
    declared = (Field("name", "model", lambda r: r[0]), Field("n", "requests", lambda r: r[1], right=True),
                Field("note", "note", lambda r: r[2], wrap=True))
    consoles = []

    def console():
        consoles.append(Console(file=sys.stdout, highlight=False, emoji=False, width=100))
        return consoles[-1]

    monkeypatch.setattr(_plain, "plain_stdout", lambda: True)
    fields.print_table(declared, [("a\x1bb", 3, None), ("c", 12, ["x", "y"])], 100, console)
    assert capsys.readouterr().out == ("model   requests  note\n"
                                       "a\\x1bb         3  -   \n"
                                       "c             12  x, y\n")
    assert consoles == []  # written without rich
    fields.print_table(declared, [("caf\u00e9", 1, "")], 100, console)  # not ASCII: rich measures it
    assert capsys.readouterr().out == "model  requests  note\ncaf\u00e9          1      \n"
    assert len(consoles) == 1


def _off_a_terminal(probe: str) -> subprocess.CompletedProcess:
    """`probe` run by a fresh Python, its stdout and stderr pipes, nothing forcing rich's terminal mode."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)


def test_a_status_table_off_a_terminal_imports_no_rich():
    probe = ("import sys\n"
             "from tritonctl.status import ModelStatus, StatusReport, VersionStatus\n"
             "from tritonctl.cli._output.servers import render_status\n"
             "ready = VersionStatus(1, True, True, 'READY', '', 0)\n"
             "render_status(StatusReport('http://127.0.0.1:8000', '2.51.0', '/models',"
             " [ModelStatus('m', 'latest:1', True, [ready])]), 'table')\n"
             "print('rich' in sys.modules, file=sys.stderr)")
    done = _off_a_terminal(probe)
    assert done.stdout.splitlines()[2].split() == ["m", "1", "READY", "0", "0", "-", "latest:1"]
    assert done.stderr.strip() == "False"


def test_a_fleet_status_table_off_a_terminal_imports_no_rich():
    probe = ("import sys\n"
             "from tritonctl.status import ModelStatus, StatusReport, VersionStatus\n"
             "from tritonctl.fleet import FleetModel, FleetStatus, FleetVersion, Replica\n"
             "from tritonctl.cli._output.servers import render_fleet_status\n"
             "ready = VersionStatus(1, True, True, 'READY', '', 0)\n"
             "report = StatusReport('http://a:8000', '2.51.0', '/models', [ModelStatus('m', 'latest:1', True, [ready])])\n"
             "up = Replica('http://a:8000', True, triton_version='2.51.0', report=report)\n"
             "down = Replica('http://b:8000', False, error='connection refused')\n"
             "version = FleetVersion(1, ['http://a:8000'], {}, {})\n"
             "render_fleet_status(FleetStatus([up, down], [FleetModel('m', 'latest:1', [version])], '/models'),"
             " 'table')\n"
             "print('rich' in sys.modules, file=sys.stderr)")
    done = _off_a_terminal(probe)
    lines = done.stdout.splitlines()
    assert lines[0] == "1 of 2 replicas answered; repository /models"
    assert lines[1].split() == ["model", "version", "ready", "policy", "disagreeing"]
    assert lines[2].split() == ["m", "1", "1/1", "latest:1"]
    assert [line.split() for line in lines[4:]] == [["http://a:8000", "2.51.0", "1"],
                                                    ["http://b:8000", "-", "-", "unreachable", "(1)"],
                                                    ["(1)", "http://b:8000:", "connection", "refused"]]
    assert done.stderr.strip() == "False"


def test_lines_are_the_bytes_rich_writes_whenever_they_are_given():
    rng = random.Random(7)
    written = refused = 0
    for _ in range(800):
        lines = [_cell(rng, rng.choice((0, 10, 80, 300))) for _ in range(rng.randint(0, 4))]
        text = _plain.lines_text(lines)
        if text is None:
            refused += 1
            continue
        written += 1
        buffer = io.StringIO()
        console = Console(file=buffer, highlight=False, soft_wrap=True, emoji=False, width=200)  # as _console
        for line in lines:
            console.print(Text(line, style="red"))
        assert text == buffer.getvalue(), lines
    assert written > 100 and refused > 100


def test_validate_findings_off_a_terminal_are_written_without_rich(tmp_path):
    (tmp_path / "repo" / "m").mkdir(parents=True)
    (tmp_path / "repo" / "m" / "config.pbtxt").write_text('backend: "onnxruntime"\n')
    probe = ("import sys\n"
             "from tritonctl.cli.start import main\n"
             f"sys.argv = ['tritonctl', 'validate', {str(tmp_path / 'repo')!r}]\n"
             "try:\n    main()\n"
             "except SystemExit as e:\n    print('rich' in sys.modules, e.code, file=sys.stderr)")
    done = _off_a_terminal(probe)
    assert done.stdout.splitlines()[0].endswith("error TRT404 model 'm' has no version folder; add one (tritonctl "
                                                "version add)")
    assert done.stderr.splitlines() == ["1 model checked in " + str(tmp_path / "repo") + ": 1 error, 0 warnings",
                                        "False 1"]
