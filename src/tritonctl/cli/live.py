"""tritonctl load | unload | status | infer: a running Triton, the local one or any other (--url)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from tritonctl.cli._options import (
    DataFormat,
    DataFormatOpt,
    EndpointOpt,
    HeaderOpt,
    ModelArg,
    ServerOpt,
    ServerRepoOpt,
    SslOpt,
    TimeoutOpt,
    UrlOpt,
    connection,
)


def load(
    model: ModelArg,
    version: Annotated[Optional[list[int]], typer.Option("--version", "-v", metavar="VERSION",
                                                         help="Serve exactly these versions.")] = None,
    reload: Annotated[bool, typer.Option("--reload", help="Without the repository: unload, then load again "
                                                          "(requests to MODEL fail meanwhile).")] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the versions are READY.")] = True,
    repo: ServerRepoOpt = None,
    endpoint_url: EndpointOpt = None,
    url: UrlOpt = None,
    server: ServerOpt = None,
    timeout: TimeoutOpt = 120.0,
    ssl: SslOpt = False,
    header: HeaderOpt = None,
) -> None:
    """Serve exactly what MODEL's config in the repository selects (or --version), without a gap in service.

    The request carries the config from the repository, so a load after `load --version` serves the config's
    versions again (Triton keeps what it serves when a load changes no file). With --url and no --repo, tritonctl
    cannot read the config: pass --repo, or --reload."""
    from tritonctl.cli._output import out, say
    from tritonctl.errors import ServerRejected
    from tritonctl.io.triton_client import rejection_kind
    from tritonctl.loading import load_model
    from tritonctl.s3_cache import view
    from tritonctl.targets import repository, resolve

    target = resolve(url, server, connection(timeout, ssl, header))
    location = repository(repo, target)
    local = view(location, endpoint_url=endpoint_url or target.s3_endpoint).path if location is not None else None
    try:
        result = load_model(target.endpoint, model, repo=local, versions=version, reload=reload, wait=wait,
                            timeout=timeout)
    except ServerRejected as e:
        if rejection_kind(e) == "poll_failure" and local is not None:
            from tritonctl.cli._output import render_load_failure

            render_load_failure(local, model)
        raise
    if result.reloaded:
        say(f"'{model}' was unloaded, then loaded: requests to it failed meanwhile")
    out(f"loaded '{model}' (READY: {', '.join(map(str, result.versions)) or 'none'}) in {result.seconds:.1f} s")


def unload(
    model: ModelArg,
    dependents: Annotated[bool, typer.Option("--dependents", help="Also unload models that only this one used.")]
    = False,
    url: UrlOpt = None,
    server: ServerOpt = None,
    timeout: TimeoutOpt = 60.0,
    ssl: SslOpt = False,
    header: HeaderOpt = None,
) -> None:
    """Unload MODEL (all its versions) from a server in EXPLICIT mode."""
    from tritonctl.cli._output import out
    from tritonctl.loading import unload_model
    from tritonctl.targets import resolve

    target = resolve(url, server, connection(timeout, ssl, header))
    result = unload_model(target.endpoint, model, dependents=dependents, timeout=timeout)
    out(f"unloaded '{model}' (was READY: {', '.join(map(str, result.versions)) or 'none'})")


def status(
    model: Annotated[Optional[str], typer.Argument(metavar="MODEL", help="One model (default: all).")] = None,
    repo: ServerRepoOpt = None,
    endpoint_url: EndpointOpt = None,
    fmt: DataFormatOpt = DataFormat.table,
    url: UrlOpt = None,
    server: ServerOpt = None,
    timeout: TimeoutOpt = 30.0,
    ssl: SslOpt = False,
    header: HeaderOpt = None,
) -> None:
    """What the server serves beside what the repository selects: versions, states, inferences, drift."""
    from tritonctl.cli._output import render_status
    from tritonctl.s3_cache import view
    from tritonctl.status import status as server_status
    from tritonctl.targets import repository, resolve

    target = resolve(url, server, connection(timeout, ssl, header))
    location = repository(repo, target)
    local = view(location, endpoint_url=endpoint_url or target.s3_endpoint) if location is not None else None
    report = server_status(target.endpoint, local.path if local else None, model)
    render_status(report.relabeled(local.label) if local else report, fmt.value)


def infer(
    model: ModelArg,
    version: Annotated[Optional[int], typer.Option("--version", "-v", metavar="VERSION",
                                                   help="Model version (default: the server's choice).")] = None,
    input_: Annotated[Optional[list[str]], typer.Option("--input", "-i", metavar="NAME=FILE",
                                                        help="An input's values from a .npy file (NumPy's format).")] = None,
    shape: Annotated[Optional[list[str]], typer.Option("--shape", "-s", metavar="NAME=D1,D2,...",
                                                       help="An input's shape for random values.")] = None,
    cast: Annotated[bool, typer.Option("--cast", help="Cast .npy values to the input's data type even when some "
                                                      "change.")] = False,
    url: UrlOpt = None,
    server: ServerOpt = None,
    timeout: TimeoutOpt = 60.0,
    ssl: SslOpt = False,
    header: HeaderOpt = None,
) -> None:
    """A smoke inference: random values shaped from the served model (-1 dimensions become 32) unless given."""
    from tritonctl.cli._output import render_infer
    from tritonctl.inference import infer as run_inference
    from tritonctl.inference import parse_inputs, parse_shapes
    from tritonctl.targets import resolve

    target = resolve(url, server, connection(timeout, ssl, header))
    render_infer(run_inference(target.endpoint, model, version=version, inputs=parse_inputs(input_ or []),
                               shapes=parse_shapes(shape or []), cast=cast))
