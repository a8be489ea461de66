"""How a command declares its options and arguments without importing typer: `Option(...)` and `Argument(...)` in
`Annotated[...]`, with typer's own keyword arguments, recorded as given.

Two readers, one declaration: cli/app.py hands each command to typer with these records turned into typer's
(`typer_ready`: the same arguments to `typer.Option` / `typer.Argument`), so typer parses, checks and explains
exactly what it always did; cli/_direct.py reads the same records to answer the commonest command lines of the
server commands and validate without importing typer at all.
"""

from __future__ import annotations


class _Param:
    __slots__ = ("decls", "kwargs")

    def __init__(self, *decls: str, **kwargs) -> None:
        self.decls, self.kwargs = decls, kwargs

    def get(self, key: str, default=None):
        return self.kwargs.get(key, default)


class Option(_Param):
    """`typer.Option(*decls, **kwargs)`, declared: `Annotated[int, Option("--parallel", min=1, help=...)] = 1`."""

    __slots__ = ()


class Argument(_Param):
    """`typer.Argument(**kwargs)`, declared: `Annotated[str, Argument(metavar="MODEL", help=...)]`."""

    __slots__ = ()


def declared(annotation) -> tuple[object, _Param | None]:
    """The type and the Option or Argument of an evaluated annotation (None: not declared here)."""
    from typing import Annotated, get_args, get_origin

    if get_origin(annotation) is not Annotated:
        return annotation, None
    base, *extras = get_args(annotation)
    found = [e for e in extras if isinstance(e, _Param)]
    return base, (found[0] if found else None)


def typer_ready(command):
    """COMMAND with every Option and Argument of its signature turned into typer's, for typer to read."""
    import functools
    import inspect
    from typing import Annotated

    import typer

    def convert(annotation):
        base, param = declared(annotation)
        if param is None:
            return annotation
        make = typer.Option if isinstance(param, Option) else typer.Argument
        return Annotated[base, make(*param.decls, **param.kwargs)]

    signature = inspect.signature(command, eval_str=True)
    parameters = [p.replace(annotation=convert(p.annotation)) for p in signature.parameters.values()]

    @functools.wraps(command)
    def run(**kwargs):
        return command(**kwargs)

    run.__signature__ = signature.replace(parameters=parameters)
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    return run
