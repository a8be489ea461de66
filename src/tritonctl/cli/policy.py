"""tritonctl policy show | set: the version_policy of a model in the repository."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated


from tritonctl.cli._params import Argument, Option
from tritonctl.cli._options import (
    EndpointOpt,
    ModelArg,
    ReadRepoOpt,
    RepoOpt,
    ServerRepoOpt,
    talks_to_servers,
)



def show(model: ModelArg, repo: ReadRepoOpt = ".", endpoint_url: EndpointOpt = None) -> None:
    """Show MODEL's version policy and the versions it serves."""
    from dataclasses import replace

    from tritonctl.cli._output import render_policy
    from tritonctl.locations import parse
    from tritonctl.policy import show_policy
    from tritonctl.cli._options import local_view

    local = local_view(parse(repo), endpoint_url=endpoint_url)
    shown = show_policy(local.path, model)
    render_policy(replace(shown, config_path=local.label(str(shown.config_path))))


def set_(
    model: ModelArg,
    spec: Annotated[str, Argument(metavar="POLICY", help="latest:N | all | specific:1,3")],
    repo: RepoOpt = Path("."),
    dry_run: Annotated[bool, Option("--dry-run", help="Show the change without writing it.")] = False,
) -> None:
    """Set MODEL's version policy, changing only that part of config.pbtxt (comments and layout kept)."""
    from tritonctl.cli._output import render_policy_change
    from tritonctl.policy import set_policy

    render_policy_change(set_policy(repo, model, spec, dry_run=dry_run), dry_run)


@talks_to_servers(timeout=120.0)
def apply(
    model: ModelArg,
    spec: Annotated[str, Argument(metavar="POLICY", help="latest:N | all | specific:1,3")],
    persist: Annotated[bool, Option("--persist", help="Also write the policy to config.pbtxt.")] = False,
    smoke: Annotated[bool, Option("--smoke", help="Over a fleet: a smoke inference on each replica, part of "
                                                  "the health gate.")] = False,
    parallel: Annotated[int, Option("--parallel", min=1, metavar="N", help="Over a fleet: replicas changed "
                                                                           "at once.")] = 1,
    dry_run: Annotated[bool, Option("--dry-run", help="Over a fleet: print the plan, change nothing.")] = False,
    repo: ServerRepoOpt = None,
    endpoint_url: EndpointOpt = None,
    targets=None,
) -> None:
    """Change which versions a running server serves, without dropping requests (a load carrying the config with
    POLICY). --persist also writes POLICY to config.pbtxt, so a restart (or a new replica) serves the same. Over a
    fleet the change rolls replica by replica, as `load` does."""
    from tritonctl.cli._output import out, render_policy_change
    from tritonctl.cli.live import local_repository, run_rollout
    from tritonctl.errors import UsageError
    from tritonctl.loading import load_model
    from tritonctl.locations import writable
    from tritonctl.policy import set_policy
    from tritonctl.repository import parse_policy
    from tritonctl.targets import repository

    wanted = parse_policy(spec)
    timeout = targets.connection.timeout
    local = local_repository(repo, targets, endpoint_url)
    if local is None:
        raise UsageError("policy apply needs the repository (--repo): the load carries the model's config from there")
    location = repository(repo, targets.first)
    if persist:  # check the edit before touching the server; written after the load succeeds
        set_policy(writable(location), model, spec, dry_run=True)
    if targets.several or smoke or dry_run:
        from tritonctl.fleet import Change

        run_rollout(targets, Change(model, "load", repo=local.path, policy=wanted, smoke=smoke, timeout=timeout),
                    parallel, dry_run)
    else:
        result = load_model(targets.first.endpoint, model, repo=local.path, policy=wanted, timeout=timeout)
        out(f"'{model}' now serves versions {', '.join(map(str, result.versions)) or 'none'}")
    if persist and not dry_run:
        render_policy_change(set_policy(writable(location), model, spec), False)


# The group's commands in the order its help lists them (cli/app.py builds the group; its help: cli/commands.py)
COMMANDS = (
    ("show", show),
    ("set", set_),
    ("apply", apply),
)
