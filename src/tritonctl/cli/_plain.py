"""Output that needs neither typer nor rich, for the start path (cli/start.py) and the typer commands alike.

- `root_help`: `tritonctl --help` in click's layout (typer/_click/formatting.py HelpFormatter: write_usage,
  write_text, write_dl; core.py Group.format_commands), from the command table in cli/commands.py. The typer
  application renders the same page from the same table; tests/cli/test_start.py holds the two to the same bytes.
- `rule_lines`: the list `tritonctl rules` prints.
- `table_text`: a table off a terminal, the bytes rich writes for it (cli/_output/fields.print_table decides when;
  tests/cli/test_plain_table.py holds the two to the same bytes).
- `quiet_stdout`: what is done when the reader of stdout went away.
"""

from __future__ import annotations

import os
import sys

from tritonctl.cli import commands

COLUMN_MAX, COLUMN_SPACING, INDENT = 30, 2, 2  # click's write_dl defaults and its indent step


def terminal_width() -> int:
    """click's width: the terminal's columns (COLUMNS first, as shutil.get_terminal_size reads them; 80 when
    unknown), at most 80, less 2, at least 50."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(min(columns, 80) - 2, 50)


def program_name() -> str:
    """What click calls the program in its usage line (core.py _detect_program_name): `python -m tritonctl` when
    run as a module, else the script's name."""
    main = sys.modules.get("__main__")
    package = getattr(main, "__package__", None)
    path = sys.argv[0]
    if package in (None, ""):
        return os.path.basename(path)
    name = os.path.splitext(os.path.basename(path))[0]
    module = package if name == "__main__" else f"{package}.{name}"
    return f"python -m {module.lstrip('.')}"


def _wrap(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    from textwrap import TextWrapper  # only the help needs it, and every command starts here

    return TextWrapper(width, initial_indent=first, subsequent_indent=rest, replace_whitespace=False).wrap(text)


def _definitions(rows: list[tuple[str, str]], width: int) -> list[str]:
    first_col = min(max(len(first) for first, _ in rows), COLUMN_MAX) + COLUMN_SPACING
    indent = " " * INDENT
    lines = []
    for first, second in rows:
        wrapped = _wrap(second, max(width - first_col - 2, 10))
        if len(first) <= first_col - COLUMN_SPACING:
            lines.append(f"{indent}{first:<{first_col}}{wrapped[0]}")
        else:
            lines += [f"{indent}{first}", f"{indent}{'':<{first_col}}{wrapped[0]}"]
        lines += [f"{indent}{'':<{first_col}}{line}" for line in wrapped[1:]]
    return lines


def root_help(prog: str, width: int) -> str:
    prefix, arguments = f"Usage: {prog} ", "[OPTIONS] COMMAND [ARGS]..."
    if width >= len(prefix) + 20:
        usage = _wrap(arguments, width, prefix, " " * len(prefix))
    else:  # click puts the arguments on the next line
        usage = [prefix, *_wrap(arguments, width, " " * (len("Usage: ") + 4), " " * (len("Usage: ") + 4))]
    lines = [*usage, "", *_wrap(commands.HELP, width, " " * INDENT, " " * INDENT), "", "Options:"]
    lines += _definitions([commands.VERSION_OPTION, commands.HELP_OPTION], width)
    lines += ["", "Commands:", *_definitions([(c.name, c.summary) for c in commands.COMMANDS], width)]
    return "\n".join(lines) + "\n"


def rule_lines(rules) -> list[str]:
    width = max(len(r.name) for r in rules)
    return [f"{r.code}  {r.name:<{width}}  {r.severity.value:<7}  {r.summary}"
            for r in sorted(rules, key=lambda r: r.code)]


def plain_stdout() -> bool:
    """Whether rich would treat stdout as a file, not a terminal (rich/console.py Console.is_terminal: TTY_COMPATIBLE
    first, then FORCE_COLOR, then isatty): then it writes no style, and a table that fits is plain text."""
    return plain_stream(sys.stdout)


def plain_stream(stream) -> bool:
    """plain_stdout for another stream (stderr)."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "0"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force == ""
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


def lines_text(lines: list[str]) -> str | None:
    """The text rich writes off a terminal for each line printed as a Text by a soft-wrapping console (the line and a
    newline: no style, no wrapping), when every line is printable ASCII; else None (rich writes it)."""
    if not all(line.isascii() and line.isprintable() for line in lines):
        return None
    return "".join(f"{line}\n" for line in lines)


def table_text(headers: list[str], right: list[bool], rows: list[list[str]], width: int) -> str | None:
    """The text rich writes off a terminal for Table(box=None, pad_edge=False) of these cells (two spaces between
    columns, every cell padded to its column, numbers right-aligned), when every cell is printable ASCII and the
    table fits `width`; else None (rich renders it: wide characters, wrapping, a cell's edge spaces)."""
    grid = [headers, *rows]
    if not headers or any(not (cell.isascii() and cell.isprintable()) or cell != cell.strip(" ")
                          for row in grid for cell in row):
        return None
    widths = [max(len(row[i]) for row in grid) for i in range(len(headers))]
    if sum(widths) + 2 * (len(widths) - 1) > width:
        return None
    return "".join("  ".join(cell.rjust(w) if r else cell.ljust(w) for cell, w, r in zip(row, widths, right)) + "\n"
                   for row in grid)


def quiet_stdout() -> None:
    """The reader of stdout went away: send whatever is still buffered nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (an in-process runner)
        pass
