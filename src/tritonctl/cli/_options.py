"""Options shared by several commands, declared once (cli/_params.py: typer's arguments, without typer)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

from tritonctl.cli._output import FINDINGS_FORMATS
from tritonctl.cli._params import Argument, Option
from tritonctl.project import MAX_GPUS, MAX_PYTHON_TIMEOUT


def _writable(value):
    """A repository the command writes: a folder (an s3:// address is a usage error, with a hint)."""
    from tritonctl.locations import writable

    return None if value is None else writable(value)


RepoOpt = Annotated[
    Path,
    Option("--repo", "-r", envvar="TRITONCTL_REPO", metavar="REPO", help="Model repository folder.",
           callback=_writable),
]
ReadRepoOpt = Annotated[
    str,
    Option("--repo", "-r", envvar="TRITONCTL_REPO", metavar="REPO",
           help="Model repository: a folder, or s3://bucket/prefix (read through a local copy)."),
]
EndpointOpt = Annotated[Optional[str], Option(
    "--endpoint-url", metavar="URL", help="The S3 endpoint of s3:// repositories (default: AWS_ENDPOINT_URL or the "
    "AWS configuration).")]
ModelArg = Annotated[str, Argument(metavar="MODEL", help="Model name (its folder in the repository).")]


FindingsFormat = Enum("FindingsFormat", {name: name for name in FINDINGS_FORMATS}, type=str)


class DataFormat(str, Enum):
    table = "table"
    json = "json"


FindingsFormatOpt = Annotated[
    Optional[FindingsFormat],
    Option("--format", "-f", help="Output format (default: github under GitHub Actions, else table)."),
]
DataFormatOpt = Annotated[DataFormat, Option("--format", "-f", help="Output format.")]

UrlOpt = Annotated[Optional[list[str]], Option(
    "--url", "-u", metavar="URL", help="Triton's HTTP address, again for each server of a fleet; user:password@ becomes "
    "a Basic Authorization header [env: TRITONCTL_URL, comma-separated] (default: the local server, else "
    "http://localhost:8000).")]
FleetOpt = Annotated[Optional[str], Option(
    "--fleet", metavar="NAME", help="The servers of a fleet named in the project configuration "
    "([tool.tritonctl.fleets.NAME] urls = [...]).")]
AllAddressesOpt = Annotated[bool, Option(
    "--all-addresses", help="Every address the --url's name resolves to is a server (a Kubernetes headless "
    "Service); the name stays the Host header and the TLS name.")]
ServerOpt = Annotated[Optional[str], Option(
    "--server", metavar="NAME", help="A local server by the name it was started with [env: TRITONCTL_SERVER].")]
TimeoutOpt = Annotated[float, Option("--timeout", min=0.1, metavar="SECONDS", help="Seconds to wait for the "
                                                                                   "server.")]
SslOpt = Annotated[bool, Option("--ssl", help="Use HTTPS.")]
HeaderOpt = Annotated[Optional[list[str]], Option("--header", "-H", metavar="KEY:VALUE",
                                                  help="An HTTP header sent with every request.")]
ServerRepoOpt = Annotated[Optional[str], Option("--repo", "-r", envvar="TRITONCTL_REPO", metavar="REPO",
                                                help="Model repository, a folder or s3://bucket/prefix "
                                                     "(default: the local server's).")]


CaCertOpt = Annotated[Optional[Path], Option(
    "--ca-cert", envvar="TRITONCTL_CA_CERT", metavar="PATH", help="A CA bundle (PEM) the server's TLS certificate "
    "is checked against, for a server whose certificate a private CA signed.")]

# Every option that says which server(s) a command talks to, and how: one bundle, taken whole by every such command
# (talks_to_servers), resolved once (targets.resolve_targets). A new connection option is one entry here, and the
# field of targets.Connection it fills.
SERVER_OPTIONS: dict[str, tuple[object, object]] = {
    "url": (UrlOpt, None),
    "server": (ServerOpt, None),
    "fleet": (FleetOpt, None),
    "all_addresses": (AllAddressesOpt, False),
    "timeout": (TimeoutOpt, 60.0),
    "ssl": (SslOpt, False),
    "header": (HeaderOpt, None),
    "ca_cert": (CaCertOpt, None),
}


def _choice(values: dict):
    from tritonctl.targets import Connection, ServerChoice

    connection = Connection(values["timeout"], values["ssl"], list(values["header"] or []),
                            str(values["ca_cert"]) if values["ca_cert"] is not None else None)
    return ServerChoice(tuple(values["url"] or ()), values["server"], values["fleet"], values["all_addresses"],
                        connection)


def project_start(repo: str | None) -> Path | None:
    """Where the project configuration (fleets) is looked for: the --repo folder, else the current folder."""
    from tritonctl.locations import parse

    location = parse(repo) if repo is not None else None
    return location if isinstance(location, Path) else None


def talks_to_servers(*, timeout: float):
    """A command that talks to servers: it takes every option of SERVER_OPTIONS (`--timeout` defaulting to
    `timeout` seconds) and gets them resolved into its `targets` parameter (targets.Targets). A fleet is looked for
    in the project configuration found from the command's --repo folder, else the current folder."""
    import functools
    import inspect

    def decorate(command):
        signature = inspect.signature(command, eval_str=True)
        kept = [p for p in signature.parameters.values() if p.name != "targets"]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                                   default=timeout if name == "timeout" else default)
                 for name, (annotation, default) in SERVER_OPTIONS.items()]

        @functools.wraps(command)
        def run(**kwargs):
            from tritonctl.targets import resolve_targets

            values = {name: kwargs.pop(name) for name in SERVER_OPTIONS}
            return command(targets=resolve_targets(_choice(values), project_start(kwargs.get("repo"))), **kwargs)

        run.__signature__ = signature.replace(parameters=[*kept, *added])
        run.__annotations__ = {p.name: p.annotation for p in run.__signature__.parameters.values()}
        run.talks_to_servers = True  # tests/cli/test_server_options.py finds the commands by this
        return run

    return decorate


GpusOpt = Annotated[Optional[int], Option("--gpus", min=0, max=MAX_GPUS, metavar="N",
                                          help="GPUs the target server has (GPU checks only when given).")]
BackendsOpt = Annotated[Optional[str], Option("--backends", metavar="LIST",
                                              help="Comma-separated backends the target server has (default: "
                                                   "Triton's standard set).")]
PythonTimeoutOpt = Annotated[Optional[float], Option(
    "--python-timeout", min=0.1, max=MAX_PYTHON_TIMEOUT, metavar="SECONDS",
    help="Longest one model's auto_complete_config may take (default: 30).")]
PythonMemoryOpt = Annotated[Optional[str], Option(
    "--python-memory", metavar="SIZE", help="Memory one model's auto_complete_config may use (default: 4GiB).")]


def memory_bytes(text: str | None) -> int | None:
    """--python-memory SIZE in bytes (None when not given); exit 2 for a size outside its bounds."""
    from tritonctl.project import python_memory

    return None if text is None else python_memory(text)


def local_view(location, endpoint_url: str | None = None):
    """A repository as a local folder (locations.view); an S3 one is brought up to date under a spinner."""
    from tritonctl.cli._output import working
    from tritonctl.io.s3_url import S3Url
    from tritonctl.locations import view

    if not isinstance(location, S3Url):
        return view(location)
    with working(f"reading {location} (a local copy, by content)"):
        return view(location, endpoint_url=endpoint_url)


def backend_list(backends: str | None) -> list[str] | None:
    """--backends a,b as a list (None when not given)."""
    return [b.strip() for b in backends.split(",") if b.strip()] if backends is not None else None
