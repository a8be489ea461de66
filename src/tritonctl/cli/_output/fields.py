"""An output described once: a list of Fields, from which the JSON document and the table are both built.

A Field names its JSON key, its table header (None: JSON only), how the value is read from the object, and how it
reads as a cell. The table's columns and each row's cells come from the same list, so a value cannot slide under
another header, and a field added to the data is in the JSON and the table at once; the JSON schemas in
`tests/schemas/` are checked against these lists in the quick lane (tests/cli/test_output_declarations.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tritonctl.cli._output.common import PIPE_WIDTH, _console, safe


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


@dataclass(frozen=True)
class Field:
    key: str | None  # the JSON key (None: a table column only)
    header: str | None  # the table column (None: JSON only)
    value: Callable[[Any], Any]
    cell: Callable[[Any], str] | None = None  # the cell's text from the object (default: the value, as text)
    right: bool = False  # numbers are right-aligned
    wrap: bool = False  # the one column that may wrap (placed last)
    after: bool = False  # a field of an outer object whose column comes after the inner object's

    def text(self, obj: Any) -> str:
        return self.cell(obj) if self.cell is not None else _text(self.value(obj))


def document(fields: Sequence[Field], obj: Any) -> dict:
    """The JSON object of `obj`: every field with a key, in order."""
    return {f.key: f.value(obj) for f in fields if f.key is not None}


def columns(fields: Sequence[Field]) -> list[Field]:
    return [f for f in fields if f.header is not None]


def _rich_table(shown: Sequence[Field], cells: list[list[str]]):
    from rich.table import Table
    from rich.text import Text

    result = Table(box=None, header_style="bold", pad_edge=False)
    for f in shown:
        result.add_column(f.header, no_wrap=not f.wrap, justify="right" if f.right else "left")
    for row in cells:
        result.add_row(*(Text(cell) for cell in row))
    return result


def _cells(shown: Sequence[Field], rows: Sequence[Any]) -> list[list[str]]:
    return [[safe(f.text(row)) for f in shown] for row in rows]


def table(fields: Sequence[Field], rows: Sequence[Any]):
    """A rich Table of `rows`, one column per field with a header, every cell escaped."""
    shown = columns(fields)
    return _rich_table(shown, _cells(shown, rows))


def print_table(fields: Sequence[Field], rows: Sequence[Any], width: int = PIPE_WIDTH,
                console: Callable[[], Any] = _console) -> None:
    """The table of `rows` on stdout. Off a terminal a table of printable ASCII that fits `width` is written as the
    text rich would write for it (cli/_plain.table_text), without importing rich; else `console()` prints it."""
    from tritonctl.cli._plain import plain_stdout, table_text

    shown = columns(fields)
    cells = _cells(shown, rows)
    text = table_text([f.header for f in shown], [f.right for f in shown], cells, width) if plain_stdout() else None
    if text is not None:
        sys.stdout.write(text)
    else:
        console().print(_rich_table(shown, cells))
