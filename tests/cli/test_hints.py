"""Every hint tritonctl can print names a command and flags that exist.

The source is read, not run: every `hint=` an error is given, and every message that tells the user to run
`tritonctl <command> ...`, is checked against the CLI itself (typer's command tree): the command path must exist and
each --flag after it must be one of that command's options. A hint with flags and no command must name flags some
command has.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "tritonctl"
PLACEHOLDER = "\0"


def _text(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else PLACEHOLDER for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.IfExp):
        return _text(node.body) or _text(node.orelse)
    return None


def _strings() -> list[tuple[str, int, str, bool]]:
    """(file, line, text, is a hint) for every string literal of the package."""
    out = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text())
        hints = {id(kw.value) for node in ast.walk(tree) if isinstance(node, ast.Call) for kw in node.keywords
                 if kw.arg == "hint"}
        seen = set()
        for node in ast.walk(tree):
            if id(node) in seen:
                continue
            text = _text(node)
            if text is None:
                continue
            for child in ast.walk(node):
                seen.add(id(child))
            out.append((str(path.relative_to(SRC)), getattr(node, "lineno", 0), text, id(node) in hints))
    return out


def _tree():
    import typer

    from tritonctl.cli.app import app

    return typer.main.get_command(app)


def _options(command) -> set[str]:
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts) if opt.startswith("-")}


def _all_options(group) -> set[str]:
    found = set(_options(group))
    for sub in getattr(group, "commands", {}).values():
        found |= _all_options(sub)
    return found


def _invocations(text: str, root) -> list[tuple[list[str], list[str]]]:
    """(command path, flags after it) for each 'tritonctl <command> ...' in `text` whose first word is a command."""
    out = []
    for m in re.finditer(r"(?:^|(?<=[\s`'\"(:]))tritonctl ([^;`'\")\n]*)", text):
        words = m.group(1).split()
        if not words or words[0] not in root.commands:
            continue  # prose ("tritonctl itself", ...)
        path, command = [], root
        for word in words:
            sub = getattr(command, "commands", {}).get(word)
            if sub is None:
                break
            path.append(word)
            command = sub
        flags = [w.split("=")[0].rstrip(",.") for w in words[len(path):] if w.startswith("-") and w != "-"]
        out.append((path, flags))
    return out


def test_every_hint_and_suggested_command_exists():
    root = _tree()
    every_flag = _all_options(root)
    problems = []
    checked = 0
    for where, line, text, is_hint in _strings():
        for path, flags in _invocations(text, root):
            checked += 1
            command = root
            for word in path:
                command = command.commands[word]
            if getattr(command, "commands", None):
                problems.append(f"{where}:{line}: 'tritonctl {' '.join(path)}' is a group, not a command: {text!r}")
                continue
            for flag in flags:
                if PLACEHOLDER in flag:
                    continue
                if flag not in _options(command):
                    problems.append(f"{where}:{line}: 'tritonctl {' '.join(path)}' has no {flag}: {text!r}")
        if is_hint and "tritonctl " not in text and not re.search(r"\b(pip|aws|chmod|kubectl)\b", text):
            for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text):
                checked += 1
                if flag not in every_flag:
                    problems.append(f"{where}:{line}: no command has {flag}: {text!r}")
    assert checked > 40  # the walk found the hints (a broken walk must not pass)
    assert problems == []


@pytest.mark.parametrize("text", ["run tritonctl validate --no-such-flag", "tritonctl version add --force-it"])
def test_the_walk_catches_a_flag_that_does_not_exist(text):
    root = _tree()
    [(path, flags)] = _invocations(text, root)
    command = root
    for word in path:
        command = command.commands[word]
    assert any(flag not in _options(command) for flag in flags)
