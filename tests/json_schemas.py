"""The JSON schemas of every `--format json` output (tests/schemas/), and a check against one."""

from __future__ import annotations

import json
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parent / "schemas"


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def check(document: dict, name: str) -> None:
    """Raise jsonschema's ValidationError when `document` is not what schema `name` allows."""
    import jsonschema

    jsonschema.validate(document, schema(name))
