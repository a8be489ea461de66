"""tritonctl load | unload | status | infer: a running Triton, the local one or any other (--url), or a fleet of them
(--url more than once, --fleet, --all-addresses)."""

from __future__ import annotations

from typing import Annotated, Optional

from tritonctl.cli._params import Argument, Option
from tritonctl.cli._options import DataFormat, DataFormatOpt, EndpointOpt, ModelArg, ServerRepoOpt, talks_to_servers

ParallelOpt = Annotated[int, Option("--parallel", min=1, metavar="N", help="Over a fleet: replicas changed at "
                                                                           "once.")]
DryRunOpt = Annotated[bool, Option("--dry-run", help="Over a fleet: print the plan, change nothing.")]


def local_repository(repo: str | None, targets, endpoint_url: str | None):
    """The repository to read beside the server(s): --repo, else the first local server's (a local view of it)."""
    from tritonctl.cli._options import local_view
    from tritonctl.targets import repository

    location = repository(repo, targets.first)
    if location is None:
        return None
    return local_view(location, endpoint_url=endpoint_url or targets.first.s3_endpoint)


def run_rollout(targets, change, parallel: int, dry_run: bool, fmt: str = "table") -> None:
    """A change over every replica (fleet.rollout), rendered; exit 1 when it failed, 130 when interrupted."""
    from tritonctl.cli._output import render_rollout, status_line
    from tritonctl.errors import ExitCode, Verdict
    from tritonctl.fleet import rollout

    with status_line() as progress:  # interrupted: the boundary renders the table the error carries
        result = rollout(targets.endpoints, change, parallel=parallel, dry_run=dry_run, progress=progress)
    render_rollout(result)
    if result.failed:
        raise Verdict(ExitCode.FINDINGS)


@talks_to_servers(timeout=120.0)
def load(
    model: ModelArg,
    version: Annotated[Optional[list[int]], Option("--version", "-v", metavar="VERSION",
                                                   help="Serve exactly these versions.")] = None,
    reload: Annotated[bool, Option("--reload", help="Without the repository: unload, then load again "
                                                    "(requests to MODEL fail meanwhile).")] = False,
    wait: Annotated[bool, Option("--wait/--no-wait", help="Wait until the versions are READY.")] = True,
    smoke: Annotated[bool, Option("--smoke", help="Over a fleet: a smoke inference on each replica after its "
                                                  "load, part of the health gate.")] = False,
    parallel: ParallelOpt = 1,
    dry_run: DryRunOpt = False,
    repo: ServerRepoOpt = None,
    endpoint_url: EndpointOpt = None,
    targets=None,
) -> None:
    """Serve exactly what MODEL's config in the repository selects (or --version), without a gap in service.

    The request carries the config from the repository, so a load after `load --version` serves the config's
    versions again (Triton keeps what it serves when a load changes no file). With --url and no --repo, tritonctl
    cannot read the config: pass --repo, or --reload. Over a fleet the load rolls: --parallel replicas at a time,
    each READY (and answering --smoke) before the next; the first failure stops it and puts that replica back."""
    from tritonctl.cli._output import out, say
    from tritonctl.errors import ServerRejected, UsageError
    from tritonctl.io.triton_client import rejection_kind
    from tritonctl.loading import load_model

    timeout = targets.connection.timeout
    local = local_repository(repo, targets, endpoint_url)
    if targets.several or smoke or dry_run:
        from tritonctl.fleet import Change

        if reload or local is None:
            raise UsageError("a rollout needs the repository (--repo): each load carries the model's config from "
                             "there (--reload is for one server)")
        run_rollout(targets, Change(model, "load", repo=local.path, versions=version, smoke=smoke, timeout=timeout),
                    parallel, dry_run)
        return
    from tritonctl.cli._output import working

    try:
        with working(f"loading '{model}' on {targets.first.endpoint.label}"):
            result = load_model(targets.first.endpoint, model, repo=local.path if local else None, versions=version,
                                reload=reload, wait=wait, timeout=timeout)
    except ServerRejected as e:
        if rejection_kind(e) == "poll_failure" and local is not None:  # Triton says only that: validate says why
            from tritonctl.validate.engine import model_errors

            e.findings = model_errors(local.path, model)
            e.findings_intro = f"Triton's log has the reason; validate finds in '{model}':"
        raise
    if result.reloaded:
        say(f"'{model}' was unloaded, then loaded: requests to it failed meanwhile")
    out(f"loaded '{model}' (READY: {', '.join(map(str, result.versions)) or 'none'}) in {result.seconds:.1f} s")


@talks_to_servers(timeout=60.0)
def unload(
    model: ModelArg,
    dependents: Annotated[bool, Option("--dependents", help="Also unload models that only this one used.")]
    = False,
    parallel: ParallelOpt = 1,
    dry_run: DryRunOpt = False,
    targets=None,
) -> None:
    """Unload MODEL (all its versions) from a server in EXPLICIT mode; over a fleet, replica by replica (each checked
    unloaded and still live before the next)."""
    from tritonctl.cli._output import out
    from tritonctl.loading import unload_model

    timeout = targets.connection.timeout
    if targets.several or dry_run:
        from tritonctl.errors import UsageError
        from tritonctl.fleet import Change

        if dependents:
            raise UsageError("--dependents is for one server")
        run_rollout(targets, Change(model, "unload", timeout=timeout), parallel, dry_run)
        return
    from tritonctl.cli._output import working

    with working(f"unloading '{model}' on {targets.first.endpoint.label}"):
        result = unload_model(targets.first.endpoint, model, dependents=dependents, timeout=timeout)
    out(f"unloaded '{model}' (was READY: {', '.join(map(str, result.versions)) or 'none'})")


@talks_to_servers(timeout=30.0)
def status(
    model: Annotated[Optional[str], Argument(metavar="MODEL", help="One model (default: all).")] = None,
    repo: ServerRepoOpt = None,
    endpoint_url: EndpointOpt = None,
    fmt: DataFormatOpt = DataFormat.table,
    watch: Annotated[bool, Option("--watch", help="A live view on a terminal, refreshed every second: per "
                                  "model and version its state, inferences/s, average request and queue "
                                  "time and failures since the last refresh (from Triton's statistics); "
                                  "q or Ctrl-C leaves it.")] = False,
    targets=None,
) -> None:
    """What the server serves beside what the repository selects: versions, states, inferences, drift. Over a
    fleet: per version how many replicas serve it READY, and which disagree (with the disk or with each other);
    exit 3 when a replica did not answer (it is a row of the table)."""
    from tritonctl.cli._output import render_fleet_status, render_status
    from tritonctl.status import status as server_status

    local = local_repository(repo, targets, endpoint_url)
    if watch:
        import sys

        from tritonctl.cli._output import live_status
        from tritonctl.errors import UsageError
        from tritonctl.fleet import watch as watch_servers

        if fmt != DataFormat.table:
            raise UsageError("--watch is a live table; --format json is one reading", hint="tritonctl status -f json")
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise UsageError("--watch needs a terminal (it redraws in place and reads q)",
                             hint="for one reading: tritonctl status, or tritonctl status -f json")
        live_status(watch_servers(targets.endpoints, local.path if local else None, model), 1.0, targets.several)
        return
    if targets.several:
        from tritonctl.errors import ServerUnreachable
        from tritonctl.fleet import fleet_status

        report = fleet_status(targets.endpoints, local.path if local else None, model)
        render_fleet_status(report, fmt.value, local.label if local else None)
        silent = len(report.replicas) - len(report.reachable)
        if silent:  # the table (or JSON) is out; the exit code says the fleet was not all seen
            total = len(report.replicas)
            raise ServerUnreachable(f"{silent} of {total} servers did not answer" if total > 1 else
                                    "the server did not answer")
        return
    report = server_status(targets.first.endpoint, local.path if local else None, model)
    render_status(report.relabeled(local.label) if local else report, fmt.value)


@talks_to_servers(timeout=60.0)
def infer(
    model: ModelArg,
    version: Annotated[Optional[int], Option("--version", "-v", metavar="VERSION",
                                             help="Model version (default: the server's choice).")] = None,
    input_: Annotated[Optional[list[str]], Option("--input", "-i", metavar="NAME=FILE",
                                                  help="An input's values from a .npy file (NumPy's format).")] = None,
    shape: Annotated[Optional[list[str]], Option("--shape", "-s", metavar="NAME=D1,D2,...",
                                                 help="An input's shape for random values.")] = None,
    cast: Annotated[bool, Option("--cast", help="Cast .npy values to the input's data type even when some "
                                                "change.")] = False,
    each: Annotated[bool, Option("--each", help="Over a fleet: every replica (default: the first).")] = False,
    repo: Annotated[Optional[str], Option("--repo", "-r", envvar="TRITONCTL_REPO", metavar="REPO",
                                          help="Where --fleet is looked for: the project configuration found "
                                               "from this repository's folder (default: the current "
                                               "folder).")] = None,
    targets=None,
) -> None:
    """A smoke inference: random values shaped from the served model (-1 dimensions become 32) unless given."""
    from tritonctl.cli._output import error, render_infer
    from tritonctl.errors import ReplicasFailed, TritonctlError
    from tritonctl.inference import infer as run_inference
    from tritonctl.inference import parse_inputs, parse_shapes

    inputs, shapes = parse_inputs(input_ or []), parse_shapes(shape or [])
    chosen = list(targets) if each else [targets.first]
    failures: list[tuple[str, TritonctlError]] = []
    for target in chosen:
        label = target.endpoint.label
        try:
            render_infer(run_inference(target.endpoint, model, version=version, inputs=inputs, shapes=shapes,
                                       cast=cast), replica=label if len(targets) > 1 else None)
        except TritonctlError as failure:
            if len(chosen) == 1:
                raise
            error(f"{label}: {failure}")
            failures.append((label, failure))
    if failures:
        raise ReplicasFailed(failures, len(chosen))
