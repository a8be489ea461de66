"""tritonctl server start | stop | logs | list: local Triton servers, each under a name."""

from __future__ import annotations

import contextlib
from enum import Enum
from typing import Annotated, Optional


from tritonctl.cli._params import Option
from tritonctl.cli._options import DataFormat, DataFormatOpt, EndpointOpt, ServerOpt, TimeoutOpt


NameOpt = Annotated[str, Option("--name", "-n", metavar="NAME", help="The new server's name.")]


class Mode(str, Enum):
    explicit = "explicit"
    poll = "poll"
    none = "none"


def start(
    repo: Annotated[str, Option("--repo", "-r", envvar="TRITONCTL_REPO", metavar="REPO",
                                help="Model repository: a folder, or s3://bucket/prefix (Triton reads S3 "
                                     "itself; credentials from the AWS chain, passed in its environment).")]
    = ".",
    endpoint_url: EndpointOpt = None,
    name: NameOpt = "default",
    address: Annotated[str, Option("--address", metavar="ADDRESS",
                                   help="Loopback address to listen on (127.0.0.1 to 127.255.255.254).")]
    = "127.0.0.1",
    mode: Annotated[Mode, Option("--mode", help="Model control mode.")] = Mode.explicit,
    http_port: Annotated[Optional[int], Option("--http-port", min=1, max=65535, metavar="PORT", help="Default: a free port.")]
    = None,
    grpc_port: Annotated[Optional[int], Option("--grpc-port", min=1, max=65535, metavar="PORT", help="Default: a free port.")]
    = None,
    metrics_port: Annotated[Optional[int], Option("--metrics-port", min=1, max=65535, metavar="PORT",
                                                  help="Default: a free port.")] = None,
    load: Annotated[Optional[list[str]], Option("--load", metavar="MODEL", help="Load this model at start.")]
    = None,
    foreground: Annotated[bool, Option("--foreground", help="Run in this terminal until Ctrl-C, its normal stop (exit 0).")] = False,
    validate_first: Annotated[bool, Option("--validate", help="Refuse to start when validate finds errors.")]
    = False,
    timeout: TimeoutOpt = 120.0,
) -> None:
    """Start Triton 2.51 (from the nvidia-pytriton wheel) on the CPU, listening on a loopback address only.
    Exit 1 when a model given with --load did not load (the server keeps running)."""
    from tritonctl.cli._output import out, render_report, say, settings_warnings
    from tritonctl.errors import ExitCode, ModelsNotLoaded, Verdict
    from tritonctl.local_servers import start_server

    if validate_first:
        from tritonctl.locations import parse
        from tritonctl.cli._options import local_view
        from tritonctl.validate.engine import validate_repository
        from tritonctl.validate.settings import for_repository

        location = parse(repo)
        settings = for_repository(location)
        settings_warnings(settings)
        local = local_view(location, endpoint_url=endpoint_url)
        report = validate_repository(local.path, models=load or None, settings=settings).relabeled(local.label)
        if report.fails(settings.fail_on):
            render_report(report, "table")
            say("not started: validate found errors (start without --validate to let Triton refuse them itself)")
            raise Verdict(ExitCode.FINDINGS)
    from tritonctl.cli._output import working

    loading = f", loading {', '.join(load)}" if load else ""
    with working(f"starting Triton '{name}' on {address} from {repo}{loading}") if not foreground else \
            contextlib.nullcontext():
        started = start_server(repo, name=name, address=address, mode=mode.value, http_port=http_port,
                               grpc_port=grpc_port, metrics_port=metrics_port, load=load, timeout=timeout,
                               foreground=foreground, endpoint_url=endpoint_url)
    s = started.state
    if started.exit_code is not None:  # --foreground: it ran here until it was stopped
        out(f"Triton '{s.name}' stopped (pid {s.pid}, exit status {started.exit_code})")
        if started.exit_code not in (0, -2):  # -2: the SIGINT itself
            raise Verdict(ExitCode.ERROR)
        return
    out(f"Triton '{s.name}' started: {s.url} (grpc {s.address}:{s.grpc_port}, metrics {s.address}:{s.metrics_port}),"
        f" pid {s.pid}, mode {s.mode}, repository {s.repository}")
    for model in started.loaded:
        out(f"loaded '{model}'")
    say(f"log: {s.log}")
    if started.failed:
        for model, reason in started.failed.items():
            say(f"'{model}' did not load: {reason}")
        raise ModelsNotLoaded(f"{len(started.failed)} of {len(load or [])} models did not load; the server runs",
                              hint="the reasons are above; the whole story: tritonctl server logs")


def stop(server: ServerOpt = None) -> None:
    """Stop a local Triton (the only one running, or --server NAME)."""
    from tritonctl.cli._output import out, working
    from tritonctl.local_servers import stop_server
    from tritonctl.targets import lifecycle_name

    name = lifecycle_name(server)
    with working(f"stopping Triton '{name}' (it unloads its models first)"):
        state = stop_server(name)
    out(f"stopped Triton '{state.name}' (pid {state.pid}, {state.url})")


def logs(
    server: ServerOpt = None,
    follow: Annotated[bool, Option("--follow", "-f", help="Keep printing new lines.")] = False,
    last: Annotated[bool, Option("--last", help="The log of a stopped server (its last run).")] = False,
) -> None:
    """Print a local Triton's log: the whole text, backend tracebacks included."""
    import sys
    import time

    from tritonctl.io.files import open_regular
    from tritonctl.local_servers import log_path
    from tritonctl.server_state import read_state
    from tritonctl.targets import lifecycle_name

    name = lifecycle_name(server)
    path, live = log_path(name, last=last)
    with open_regular(path) as f:
        while True:
            chunk = f.read(1 << 16)
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
                continue
            if not follow or not live or read_state(name) is None:
                return
            time.sleep(0.3)


def list_(fmt: DataFormatOpt = DataFormat.table) -> None:
    """The local servers running: name, pid, URL, repository, mode, uptime."""
    from tritonctl.cli._output import render_servers, say
    from tritonctl.local_servers import list_servers

    listed, died = list_servers()
    for gone in died:
        say(f"warning: Triton '{gone.name}' (pid {gone.pid}) is no longer running; its log ends: {gone.log_tail}")
    render_servers(listed, fmt.value)


# The group's commands in the order its help lists them (cli/app.py builds the group; its help: cli/commands.py)
COMMANDS = (
    ("start", start),
    ("stop", stop),
    ("logs", logs),
    ("list", list_),
)
