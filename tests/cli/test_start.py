"""The start path (cli/start.py) answers the root's help, --version and the rules list without typer: byte for byte
and exit code for exit code what the typer application answers, at any terminal width."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tritonctl.cli import commands

START = [sys.executable, "-c", "import sys; sys.argv[0] = 'tritonctl'; from tritonctl.cli.start import main; main()"]
TYPER = [sys.executable, "-c", "import sys; sys.argv[0] = 'tritonctl'; from tritonctl.cli.app import main; main()"]
QUESTIONS = [["-h"], ["--help"], ["--version"], ["rules"]]


def run(cmd: list[str], columns: int | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("columns", [None, 50, 64, 200])
@pytest.mark.parametrize("args", QUESTIONS, ids=lambda a: " ".join(a) or "nothing")
def test_the_start_path_answers_as_the_typer_application(args, columns):
    ours, theirs = run([*START, *args], columns), run([*TYPER, *args], columns)
    assert (ours.stdout, ours.stderr, ours.returncode) == (theirs.stdout, theirs.stderr, theirs.returncode)
    assert ours.stdout  # both said something


def test_every_command_is_in_the_table_and_listed():
    from tritonctl.cli.app import app

    import typer.main

    group = typer.main.get_command(app)
    assert sorted(group.commands) == sorted(c.name for c in commands.COMMANDS)
    page = run([*START, "--help"]).stdout
    for command in commands.COMMANDS:
        assert f"  {command.name}  " in page


def test_the_start_path_imports_neither_typer_nor_rich():
    probe = ("import sys; sys.argv = ['tritonctl', {!r}]\n"
             "from tritonctl.cli.start import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('typer', 'rich', 'click') if m in sys.modules), file=sys.stderr)")
    for question in ("--help", "rules", "--version"):
        done = subprocess.run([sys.executable, "-c", probe.format(question)], capture_output=True, text=True)
        assert done.stderr.strip() == "[]", question


def test_run_as_a_module_it_is_called_as_click_calls_it():
    ours = subprocess.run([sys.executable, "-m", "tritonctl", "--help"], capture_output=True, text=True)
    typer_path = subprocess.run([sys.executable, "-m", "tritonctl", "rules", "--help"], capture_output=True, text=True)
    assert ours.stdout.splitlines()[0] == "Usage: python -m tritonctl [OPTIONS] COMMAND [ARGS]..."
    assert typer_path.stdout.splitlines()[0].startswith("Usage: python -m tritonctl rules ")


def test_a_closed_stdout_is_exit_141_without_a_traceback():
    read, write = os.pipe()
    os.close(read)  # the reader went away before a byte was written
    try:
        done = subprocess.run([*START, "rules"], stdout=write, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


def test_other_questions_go_to_the_typer_application():
    done = run([*START, "rules", "TRT101"])
    assert done.returncode == 0 and done.stdout.startswith("TRT101 name-mismatch")
    done = run([*START, "--no-such-flag"])
    assert done.returncode == 2 and "no such option" in done.stderr.lower()


def test_a_command_is_built_alone():
    probe = ("import sys; sys.argv = ['tritonctl', 'rules', 'TRT101']\n"
             "from tritonctl.cli.start import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith('tritonctl.cli.') and m.count('.') == 2"
             " and not m.split('.')[2].startswith('_')), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.startswith("TRT101 ")
    assert done.stderr.strip() == "['tritonctl.cli.app', 'tritonctl.cli.commands', 'tritonctl.cli.rules', " \
                                  "'tritonctl.cli.start']"
