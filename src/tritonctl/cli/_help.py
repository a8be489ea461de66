"""How tritonctl's help and usage errors read: click's plain layout, with tritonctl's own names for values.

Typer 0.29 prints a type beside every parameter (`<bool>` on flags, `<list[str]>`, `<int range>`) and cuts long
option names in its rich panels. Here every option that takes a value shows one metavar in capitals (`--repo REPO`,
`--model MODEL`), choices in brackets (`--format [table|json|github]`), flags nothing; arguments appear in the
usage line as `MODEL` (required) or `[REPO]`; click's formatter wraps the help text and never cuts a name.

Only typer's public API is used: its parameter classes (`typer.core`) and `typer.BadParameter`, whose bases are
click's usage errors, in whichever click the installed typer uses (its own copy since 0.29, click itself before).
"""

from __future__ import annotations

import re

import typer
from typer.core import TyperArgument, TyperCommand, TyperOption

BadParameter = typer.BadParameter
UsageError = next(c for c in BadParameter.__mro__ if c.__name__ == "UsageError")
ClickException = next(c for c in BadParameter.__mro__ if c.__name__ == "ClickException")
Argument = TyperArgument


def is_missing(error) -> bool:
    """click's MissingParameter, which typer does not export."""
    return type(error).__name__ == "MissingParameter"


def is_no_args_is_help(error) -> bool:
    """click's NoArgsIsHelpError (a group or a command given nothing): its help is the answer."""
    return type(error).__name__ == "NoArgsIsHelpError"


def choices(param) -> list[str] | None:
    """The values a parameter accepts, when it is a choice (typer 0.29's type descriptor, or click's Choice)."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and getattr(descriptor, "is_choice", False) and descriptor.choices:
        return [str(getattr(c, "value", c)) for c in descriptor.choices]
    found = getattr(getattr(param, "type", None), "choices", None)
    if found and not isinstance(found, str):
        return [str(getattr(c, "value", c)) for c in found]
    return None


def metavar(param) -> str | None:
    """What an option's value is called in help: None for a flag."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):  # --help is click's own option
        return None
    values = choices(param)
    if values:
        return "[" + "|".join(values) + "]"
    if param.metavar:
        return param.metavar
    longest = max(getattr(param, "opts", []) or [param.name or "value"], key=len)
    return longest.lstrip("-").replace("-", "_").upper()


def argument_name(param) -> str:
    return param.metavar or (param.name or "arg").upper()


def _extras(param, ctx) -> list[str]:
    extras = []
    envvar = getattr(param, "envvar", None)
    if envvar and getattr(param, "show_envvar", True) is not False:
        extras.append(f"env var: {envvar if isinstance(envvar, str) else ', '.join(envvar)}")
    default = param.default
    show = getattr(param, "show_default", None)
    shown = isinstance(param, TyperOption) and not param.is_flag and default not in (None, (), [], "") \
        and show is not False and not callable(default)
    if shown:
        value = getattr(default, "value", default)
        extras.append(f"default: {value}")
    if isinstance(param, TyperOption) and param.multiple:
        extras.append("repeatable")
    return extras


def help_record(param, ctx) -> tuple[str, str] | None:
    if getattr(param, "hidden", False):
        return None
    if isinstance(param, Argument):
        name = argument_name(param)
    else:
        names = sorted(param.opts, key=lambda o: (not o.startswith("--"), o))  # long form first
        name = ", ".join(reversed(names)) if len(names) > 1 and names[-1].startswith("-") and not \
            names[-1].startswith("--") else ", ".join(names)
        if param.secondary_opts:
            name += " / " + ", ".join(param.secondary_opts)
        value = metavar(param)
        if value:
            name += f" {value}"
    text = getattr(param, "help", None) or ""
    extras = _extras(param, ctx)
    if extras:
        text = f"{text}  [{'; '.join(extras)}]" if text else f"[{'; '.join(extras)}]"
    return name, text


def format_parameters(command, ctx, formatter) -> None:
    arguments, options = [], []
    for param in command.get_params(ctx):
        record = help_record(param, ctx)
        if record is not None:
            (arguments if isinstance(param, Argument) else options).append(record)
    if arguments:
        with formatter.section("Arguments"):
            formatter.write_dl(arguments)
    if options:
        with formatter.section("Options"):
            formatter.write_dl(options)


def usage_pieces(command, ctx) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, Argument):
            name = argument_name(param) + ("..." if param.nargs != 1 else "")
            pieces.append(name if param.required else f"[{name}]")
    return pieces


class TritonctlCommand(TyperCommand):
    def collect_usage_pieces(self, ctx) -> list[str]:
        return usage_pieces(self, ctx)

    def format_options(self, ctx, formatter) -> None:
        format_parameters(self, ctx, formatter)


def usage_message(error) -> str:
    """A usage error as one line: `--format must be one of table, json, github, not 'foo'`."""
    param = getattr(error, "param", None)
    if is_missing(error) and param is not None:
        kind = "argument" if isinstance(param, Argument) else "option"
        return f"missing {kind} {_param_label(param)}"
    if isinstance(error, BadParameter) and param is not None:
        where = _param_label(param)
        values = choices(param)
        given = _given(error)
        if values and given is not None:
            return f"{where} must be one of {', '.join(values)}, not '{given}'"
        message = error.message
        within = re.match(r"^(-?[\d.e+]+) is not in the range (-?\d+(?:\.\d+)?)<=x<=(-?\d+(?:\.\d+)?)\.?$", message)
        if within:  # click's words for a bounded range: say which bound
            value, low, high = within.groups()
            return f"{where} must be {'at least ' + low if float(value) < float(low) else 'at most ' + high}"
        for pattern, wording in _BOUNDS:
            m = re.match(pattern, message)
            if m:
                return f"{where} must be {wording.format(*m.groups())}"
        return f"{where}: {message}"
    message = error.format_message()
    return message[:1].lower() + message[1:] if message else "usage error"


# click's words for a one-sided range and a value that is not a number
_BOUNDS = [
    (r".*is not in the range x>=(-?\d+(?:\.\d+)?)\.?$", "at least {}"),
    (r".*is not in the range x<=(-?\d+(?:\.\d+)?)\.?$", "at most {}"),
    (r"'.*' is not a valid int(?:eger)?(?: range)?\.?$", "a whole number"),
    (r"'.*' is not a valid float(?:ing point number)?(?: range)?\.?$", "a number"),
]


def _param_label(param) -> str:
    if isinstance(param, Argument):
        return argument_name(param)
    return max(param.opts, key=len)


def _given(error) -> str | None:
    m = re.search(r"'(.*?)' is not (?:one of|a valid)", error.message)
    return m.group(1) if m else None
