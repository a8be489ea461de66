"""tritonctl server start | stop | logs, and load, unload, status, infer against a running Triton."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tritonctl.cli._boundary import TritonctlGroup
from tritonctl.cli._options import (
    DataFormat,
    DataFormatOpt,
    HeaderOpt,
    ModelArg,
    ServerRepoOpt,
    SslOpt,
    TimeoutOpt,
    UrlOpt,
)

app = typer.Typer(cls=TritonctlGroup, no_args_is_help=True, help="Run a local Triton 2.51 on the CPU.")


@app.command("start")
def start(
    repo: Annotated[Path, typer.Option("--repo", "-r", envvar="TRITONCTL_REPO", help="Model repository (a folder or s3://host:port/bucket/path).")] = Path("."),
    mode: Annotated[str, typer.Option("--mode", help="Model control mode: explicit, poll or none.")] = "explicit",
    http_port: Annotated[Optional[int], typer.Option("--http-port", help="Default: a free port.")] = None,
    grpc_port: Annotated[Optional[int], typer.Option("--grpc-port", help="Default: a free port.")] = None,
    metrics_port: Annotated[Optional[int], typer.Option("--metrics-port", help="Default: a free port.")] = None,
    load: Annotated[Optional[list[str]], typer.Option("--load", help="Load this model at start (repeatable).")] = None,
    foreground: Annotated[bool, typer.Option("--foreground", help="Run in this terminal until Ctrl-C.")] = False,
    validate_first: Annotated[bool, typer.Option("--validate", help="Refuse to start when validate finds errors.")] = False,
    timeout: TimeoutOpt = 120.0,
) -> None:
    """Start Triton 2.51 (from the nvidia-pytriton wheel) on the CPU, listening on 127.0.0.1 only."""
    from tritonctl.cli._output import render_report, say
    from tritonctl.errors import ExitCode
    from tritonctl.server import start_server

    repository = str(repo)
    if validate_first and not repository.startswith("s3://"):
        from tritonctl.validate.engine import validate_repository

        from tritonctl.validate.model import Severity

        report = validate_repository(repo, models=load or None)
        if report.fails(Severity.ERROR):
            render_report(report, "table")
            say("not started: validate found errors (start without --validate to let Triton refuse them itself)")
            raise typer.Exit(int(ExitCode.FINDINGS))
    started = start_server(repository, mode=mode, http_port=http_port, grpc_port=grpc_port,
                           metrics_port=metrics_port, load=load, timeout=timeout, foreground=foreground)
    s = started.state
    print(f"Triton started: {s.url} (grpc 127.0.0.1:{s.grpc_port}, metrics 127.0.0.1:{s.metrics_port}), "
          f"pid {s.pid}, mode {s.mode}, repository {s.repository}")
    for name in started.loaded:
        say(f"loaded '{name}'")
    for name, reason in started.failed.items():
        say(f"'{name}' did not load: {reason}")
    say(f"log: {s.log}")


@app.command("stop")
def stop() -> None:
    """Stop the local Triton started by tritonctl server start."""
    from tritonctl.cli._output import say
    from tritonctl.server import stop_server

    state = stop_server()
    say(f"stopped Triton (pid {state.pid}, {state.url})")


@app.command("logs")
def logs(follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False) -> None:
    """Print the local Triton's log."""
    import sys
    import time

    from tritonctl.io.files import open_regular
    from tritonctl.server import log_file, read_state

    path = log_file()
    with open_regular(path) as f:
        while True:
            chunk = f.read(1 << 16)
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
                continue
            if not follow or read_state() is None:
                return
            time.sleep(0.3)


def load(
    model: ModelArg,
    version: Annotated[Optional[list[int]], typer.Option("--version", "-v", help="Serve exactly these versions (repeatable).")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the versions are READY.")] = True,
    repo: ServerRepoOpt = None,
    url: UrlOpt = None,
    timeout: TimeoutOpt = 120.0,
    ssl: SslOpt = False,
    header: HeaderOpt = None,
) -> None:
    """Load (or reload) MODEL on a server in EXPLICIT mode; --version serves exactly those versions."""
    from tritonctl.cli._output import render_load_failure, say
    from tritonctl.io.triton import ServerRejected
    from tritonctl.server import POLL_FAILURE, load_model, resolve_endpoint, resolve_repo

    endpoint = resolve_endpoint(url, timeout, ssl, header)
    repository = resolve_repo(repo)
    try:
        result = load_model(endpoint, model, versions=version, repo=repository, wait=wait, timeout=timeout)
    except ServerRejected as e:
        if POLL_FAILURE in e.reason and repository is not None:
            from tritonctl.errors import TritonctlError
            from tritonctl.repository import open_repository

            if model not in {m.name for m in open_repository(repository).models}:
                raise TritonctlError(f"no model '{model}' in the server's repository '{repository}'") from None
            render_load_failure(repository, model)
        raise
    say(f"loaded '{model}' (ready versions: {', '.join(result.versions) or 'none'}) in {result.seconds:.1f} s")


def unload(
    model: ModelArg,
    dependents: Annotated[bool, typer.Option("--dependents", help="Also unload models that only this one used.")] = False,
    url: UrlOpt = None,
    timeout: TimeoutOpt = 60.0,
    ssl: SslOpt = False,
    header: HeaderOpt = None,
) -> None:
    """Unload MODEL (all its versions) from a server in EXPLICIT mode."""
    from tritonctl.cli._output import say
    from tritonctl.server import resolve_endpoint, unload_model

    unload_model(resolve_endpoint(url, timeout, ssl, header), model, dependents=dependents)
    say(f"unloaded '{model}'")


def status(
    model: Annotated[Optional[str], typer.Argument(help="One model (default: all).")] = None,
    repo: ServerRepoOpt = None,
    fmt: DataFormatOpt = DataFormat.table,
    url: UrlOpt = None,
    timeout: TimeoutOpt = 30.0,
    ssl: SslOpt = False,
    header: HeaderOpt = None,
) -> None:
    """The repository on disk beside what the server has loaded: versions, states, inferences, drift."""
    from tritonctl.cli._output import render_status
    from tritonctl.server import resolve_endpoint, resolve_repo
    from tritonctl.server import status as server_status

    render_status(server_status(resolve_endpoint(url, timeout, ssl, header), resolve_repo(repo), model), fmt.value)


def infer(
    model: ModelArg,
    version: Annotated[str, typer.Option("--version", "-v", help="Model version (default: the server's choice).")] = "",
    input_: Annotated[Optional[list[str]], typer.Option("--input", "-i", help="NAME=FILE.npy (repeatable).")] = None,
    shape: Annotated[Optional[list[str]], typer.Option("--shape", "-s", help="NAME=d1,d2,... for random data (repeatable).")] = None,
    url: UrlOpt = None,
    timeout: TimeoutOpt = 60.0,
    ssl: SslOpt = False,
    header: HeaderOpt = None,
) -> None:
    """A smoke inference: random data shaped from the model (-1 dimensions become 32) unless given."""
    from tritonctl.cli._output import render_infer
    from tritonctl.errors import UsageError
    from tritonctl.server import infer as server_infer
    from tritonctl.server import parse_shapes, resolve_endpoint

    files = {}
    for item in input_ or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--input '{item}' is not NAME=FILE.npy")
        files[name] = Path(path)
    result = server_infer(resolve_endpoint(url, timeout, ssl, header), model, version=version, inputs=files,
                          shapes=parse_shapes(shape or []))
    render_infer(result)
