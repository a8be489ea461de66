"""tritonctl version add | list | rm: numbered version folders, changed atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional


from tritonctl.cli._params import Argument, Option
from tritonctl.cli._options import (
    DataFormat,
    DataFormatOpt,
    EndpointOpt,
    ModelArg,
    ReadRepoOpt,
    RepoOpt,
    talks_to_servers,
)

VersionArg = Annotated[str, Argument(metavar="VERSION", help="The version number.")]


def add(
    model: ModelArg,
    source: Annotated[Path, Argument(metavar="SOURCE", help="A model file, or a folder holding the version's "
                                                            "files.")],
    repo: RepoOpt = Path("."),
    version: Annotated[Optional[str], Option("--version", "-v", metavar="VERSION",
                                             help="Version number (default: newest + 1).")] = None,
    force: Annotated[bool, Option("--force", help="Replace an existing version.")] = False,
    no_validate: Annotated[bool, Option("--no-validate", help="Add even if validation finds errors.")] = False,
    update_config: Annotated[bool, Option("--update-config", help="An ONNX SOURCE: take the config's inputs, "
                                                                  "outputs and max_batch_size from it (or "
                                                                  "write the config when there is none).")]
    = False,
) -> None:
    """Add SOURCE as a new version of MODEL: staged, validated in place, then renamed into place."""
    from tritonctl.cli._output import render_add, render_onnx_added, settings_warnings
    from tritonctl.errors import UsageError
    from tritonctl.validate.engine import staged_version_errors
    from tritonctl.validate.settings import for_repository
    from tritonctl.versions import add_version, parse_version

    number = parse_version(version) if version is not None else None
    settings = for_repository(repo)
    settings_warnings(settings)
    if update_config:
        from tritonctl.onnx_versions import add_onnx_version

        if no_validate:
            raise UsageError("--update-config validates the version with the config it plans; drop --no-validate")
        added = add_onnx_version(repo, model, source, settings=settings, version=number, force=force)
        render_onnx_added(added)
        return
    result = add_version(repo, model, source, version=number, force=force,
                         check=None if no_validate else lambda m, n: staged_version_errors(m, n, settings))
    render_add(result)


def list_(model: ModelArg, repo: ReadRepoOpt = ".", endpoint_url: EndpointOpt = None,
          fmt: DataFormatOpt = DataFormat.table) -> None:
    """List MODEL's versions: file, size, sha256, time, whether the version policy serves it."""
    from tritonctl.cli._output import render_versions
    from tritonctl.locations import parse
    from tritonctl.cli._options import local_view
    from tritonctl.versions import list_versions

    render_versions(model, list_versions(local_view(parse(repo), endpoint_url=endpoint_url).path, model), fmt.value)


@talks_to_servers(timeout=10.0)
def rm(
    model: ModelArg,
    version: VersionArg,
    repo: RepoOpt = Path("."),
    force: Annotated[bool, Option("--force", help="Remove even a served, a READY or the last version.")]
    = False,
    targets=None,
) -> None:
    """Remove a version (renamed aside, then deleted). Refuses, without --force, the last version, one the config
    serves, and one READY on a server of this repository (those --url, --server or --fleet name, else every local
    server started on it)."""
    from tritonctl.cli._output import out, say
    from tritonctl.targets import serving
    from tritonctl.versions import parse_version, remove_version

    number = parse_version(version)
    servers = [t.endpoint for t in serving(repo, targets)]
    result = remove_version(repo, model, number, force=force, servers=servers)
    for name in result.stale_cleared:
        say(f"cleared '{name}' left by an interrupted run")
    for url_, reason in result.unchecked:
        say(f"note: not checked against {url_} ({reason}); it may still serve version {number}")
    notes = [" (it was served by the config)" if result.was_served else "",
             f" (it was READY on {', '.join(result.ready_on)})" if result.ready_on else ""]
    out(f"removed version {result.version} of '{result.model}'" + "".join(notes))


# The group's commands in the order its help lists them (cli/app.py builds the group; its help: cli/commands.py)
COMMANDS = (
    ("add", add),
    ("list", list_),
    ("rm", rm),
)
