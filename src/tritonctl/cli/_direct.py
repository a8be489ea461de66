"""The direct path: the commonest command lines of the commands that talk to a server, of validate and of sync,
parsed from their own declarations (cli/_params.py) and run through the boundary (cli/_boundary.py) without
importing typer, which is a quarter of such a command's time (`import typer` alone ~25 ms here).

It answers only what it is sure typer would read the same way: long and two-letter options by their declared names,
`--name=value`, flags, repeated options, arguments in any order among the options, an option's env var, numbers in
plain decimal within the declared bounds, a choice spelt as declared. Anything else (help, an unknown or misspelt
option, a value typer would convert or refuse in its own words, `--`, `-abc`, a missing argument, a value that
starts with `-`, an empty env var) is left to the typer application, which answers as it always did;
tests/cli/test_direct.py holds the two readings of the same command line to the same keyword arguments.
"""

from __future__ import annotations

import os
import re
from enum import Enum
from pathlib import Path

# A command's words, as typed. Each is one whose every parameter this path can read (test_direct checks).
DIRECT = ("load", "unload", "status", "policy apply", "validate", "sync")

_KNOWN = {"help", "metavar", "show_default", "envvar", "min", "max"}  # what else an Option may say: not read here
_INT = re.compile(r"[0-9]+")
_FLOAT = re.compile(r"[0-9]+(\.[0-9]+)?")
_NOT_READ = object()


class _Param:
    __slots__ = ("name", "argument", "kind", "multiple", "default", "declared", "flags")

    def __init__(self, name, argument, kind, multiple, default, declared) -> None:
        self.name, self.argument, self.kind, self.multiple = name, argument, kind, multiple
        self.default, self.declared = default, declared
        self.flags: dict[str, bool] = {}


def _kind(annotation):
    """(the value's type, several) of a parameter's type; None: not one this path reads."""
    from typing import Optional, Union, get_args, get_origin

    if get_origin(annotation) is Union:
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) != 1 or Optional[rest[0]] != annotation:
            return None
        annotation = rest[0]
    several = get_origin(annotation) is list
    if several:
        (annotation,) = get_args(annotation)
    if annotation in (str, int, float, bool, Path) or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return annotation, several
    return None


def parameters(command) -> list[_Param] | None:
    """What COMMAND takes, as this path reads it; None: something it does not read (a callback, a type, ...)."""
    import inspect

    from tritonctl.cli._params import Option, declared

    found = []
    for p in inspect.signature(command, eval_str=True).parameters.values():
        base, param = declared(p.annotation)
        kind = _kind(base)
        if param is None or kind is None or set(param.kwargs) - _KNOWN:
            return None
        value, several = kind
        default = None if p.default is inspect.Parameter.empty else p.default
        entry = _Param(p.name, not isinstance(param, Option), value, several, default, param)
        if entry.argument:
            if several or value is bool or param.decls:
                return None
            entry.default = _NOT_READ if p.default is inspect.Parameter.empty else p.default
        else:
            if not param.decls or (value is bool and several):
                return None
            for decl in param.decls:
                names = decl.split("/")
                if len(names) > 2 or (len(names) == 2 and value is not bool):
                    return None
                for name, flag in zip(names, (True, False)):
                    if not re.fullmatch(r"--[a-z][a-z0-9-]*|-[a-zA-Z]", name):
                        return None
                    entry.flags[name] = flag
        found.append(entry)
    return found


def _value(param: _Param, text: str):
    """TEXT as PARAM's value, as typer would give it; _NOT_READ: leave it to typer."""
    kind = param.kind
    if text == "" or text.startswith("-"):
        return _NOT_READ
    if kind is str:
        return text
    if kind is Path:
        return Path(text)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return next((m for m in kind if m.value == text), _NOT_READ)
    pattern = _INT if kind is int else _FLOAT if kind is float else None
    if pattern is None or not pattern.fullmatch(text):
        return _NOT_READ
    number = kind(text)
    low, high = param.declared.get("min"), param.declared.get("max")
    if (low is not None and number < low) or (high is not None and number > high):
        return _NOT_READ
    return number


def read(params: list[_Param], args: list[str], environ) -> dict | None:
    """The keyword arguments typer would call the command with for ARGS; None: leave ARGS to typer."""
    by_name = {name: p for p in params if not p.argument for name in p.flags}
    given: dict[str, object] = {}
    positional: list[str] = []
    tokens = iter(args)
    for token in tokens:
        if not token.startswith("-") or token == "-":
            positional.append(token)
            continue
        name, equals, attached = token.partition("=") if token.startswith("--") else (token, "", "")
        param = by_name.get(name)
        if param is None:  # --help, --, an unknown or clustered option: typer's to say
            return None
        if param.kind is bool:
            if equals:
                return None
            given[param.name] = param.flags[name]
            continue
        text = attached if equals else next(tokens, None)
        value = _NOT_READ if text is None else _value(param, text)
        if value is _NOT_READ:
            return None
        if param.multiple:
            given.setdefault(param.name, []).append(value)
        else:
            given[param.name] = value
    arguments = [p for p in params if p.argument]
    if len(positional) > len(arguments):
        return None
    values = {}
    for param in params:
        if param.argument:
            if positional:
                value = _value(param, positional.pop(0))
            elif param.default is _NOT_READ:
                return None  # missing: typer says which
            else:
                value = param.default
        elif param.name in given:
            value = given[param.name]
        elif (envvar := param.declared.get("envvar")) and envvar in environ:
            value = _NOT_READ if param.multiple else _value(param, environ[envvar])
        else:
            value = param.default
        if value is _NOT_READ:
            return None
        values[param.name] = value
    return values


def command(args: list[str]):
    """The command ARGS name on this path and the rest of ARGS; None: not one of them."""
    import importlib

    from tritonctl.cli import commands

    for words in (w.split() for w in DIRECT):
        if args[:len(words)] != words:
            continue
        row = next(c for c in commands.COMMANDS if c.name == words[0])
        defined = getattr(importlib.import_module(f"tritonctl.cli.{row.module}"), row.attribute)
        return (dict(defined)[words[1]] if row.group else defined), args[len(words):]
    return None


def prepare(args: list[str]):
    """(the command function, its keyword arguments) for ARGS on this path; None: ARGS are the typer
    application's."""
    found = command(args)
    if found is None:
        return None
    function, rest = found
    params = parameters(function)
    kwargs = read(params, rest, os.environ) if params is not None else None
    return None if kwargs is None else (function, kwargs)


def execute(function, kwargs: dict) -> int:
    """The exit code of FUNCTION(**KWARGS), its errors said by the boundary as the typer group says them."""
    from tritonctl.cli._boundary import flushed, outcome, sigterm_unwinds

    with sigterm_unwinds():
        code = outcome(lambda: function(**kwargs))
    return flushed(code or 0)
