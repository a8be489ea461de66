"""Sizes in binary units, written and read one way everywhere (tables, summaries, progress bars, options)."""

from __future__ import annotations

import re

_UNITS = (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10))
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def format_size(n: int | float | None) -> str:
    """'0 B', '512 B', '1.5 KiB', '429.6 MiB', '2.0 GiB' ('-' for None)."""
    if n is None:
        return "-"
    for unit, shift in _UNITS:
        if abs(n) >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n:.0f} B"


def parse_size(text: str, *, what: str = "a size") -> int:
    """'4GiB', '512 MiB', '100B' as bytes; ValueError naming `what` for anything else (decimal units included:
    '4GB' is ambiguous)."""
    match = _SIZE.match(str(text))
    if match is None:
        raise ValueError(f"{what} is a number with a binary unit (B, KiB, MiB, GiB, TiB), e.g. 4GiB; not {text!r}")
    number, unit = float(match.group(1)), match.group(2).lower()
    shift = {"b": 0, **{u.lower(): s for u, s in _UNITS}}[unit]
    return int(number * (1 << shift))
