"""tritonctl sync SRC DST: a repository to a local folder or S3, by content, in an order Triton never loads half of."""

from __future__ import annotations

from typing import Annotated, Optional


from tritonctl.cli._params import Argument, Option
from tritonctl.cli._options import BackendsOpt, DataFormat, DataFormatOpt, EndpointOpt, GpusOpt, backend_list


def sync(
    source: Annotated[str, Argument(metavar="SRC", help="A repository folder, or s3://bucket/prefix.")],
    destination: Annotated[str, Argument(metavar="DST", help="A folder, or s3://bucket/prefix.")],
    model: Annotated[Optional[list[str]], Option("--model", "-m", metavar="MODEL",
                                                 help="Only this model.")] = None,
    delete: Annotated[bool, Option("--delete", help="Remove from DST the models, versions and files SRC does "
                                                    "not have (within the models given with --model), in a DST "
                                                    "tritonctl synced before; anything else is kept.")] = False,
    adopt: Annotated[bool, Option("--adopt", help="Take over a DST that tritonctl did not write (built by aws s3 "
                                                  "sync or by hand), so that --delete works there.")] = False,
    allow_empty_source: Annotated[bool, Option("--allow-empty-source", help="Let an empty SRC with --delete "
                                                                            "empty DST.")] = False,
    break_lock: Annotated[bool, Option("--break-lock", help="Remove the lease another sync left on an S3 DST "
                                                            "(after a kill -9; it also expires by "
                                                            "itself).")] = False,
    timeout: Annotated[Optional[float], Option("--timeout", min=0.1, max=3600, metavar="SECONDS",
                                               help="Seconds an S3 request may wait for the endpoint [env: "
                                                    "TRITONCTL_S3_TIMEOUT] (default: 30).")] = None,
    dry_run: Annotated[bool, Option("--dry-run", help="Print the plan; change nothing.")] = False,
    jobs: Annotated[int, Option("--jobs", "-j", min=1, max=64, metavar="N",
                                help="Transfers at once (and parts of one large file).")] = 8,
    endpoint_url: EndpointOpt = None,
    fmt: DataFormatOpt = DataFormat.table,
    no_validate: Annotated[bool, Option("--no-validate", help="Publish even if validate finds errors.")]
    = False,
    gpus: GpusOpt = None,
    backends: BackendsOpt = None,
) -> None:
    """Sync a model repository SRC to DST (each a folder or s3://bucket/prefix) by content: unchanged bytes are
    never sent again, whatever their mtime. A version's model file goes last, a model's config after its versions,
    deletions (--delete) last; local destinations get each version whole, in one rename. Refuses a source that
    validate finds errors in."""
    from tritonctl.cli._output import render_sync, settings_warnings, sync_progress
    from tritonctl.locations import parse
    from tritonctl.s3_cache import hash_cache
    from tritonctl.sync import publish

    check = None
    if not no_validate:
        from tritonctl.validate.engine import repository_errors
        from tritonctl.validate.settings import for_repository

        settings = for_repository(parse(source), gpus=gpus, backends=backend_list(backends))
        settings_warnings(settings)

        def check(folder, models, label):
            return repository_errors(folder, models=models, settings=settings, relabel=label)

        check.settings_file = settings.project_file

    hashes = hash_cache()
    try:
        with sync_progress(fmt.value) as (progress, planned):
            result = publish(parse(source), parse(destination), models=model, delete=delete, dry_run=dry_run,
                             endpoint_url=endpoint_url, jobs=jobs, check=check, hashes=hashes, adopt=adopt,
                             allow_empty_source=allow_empty_source, break_lock=break_lock, timeout=timeout,
                             command=f"tritonctl sync {source} {destination}", progress=progress, planned=planned)
    finally:
        hashes.close()
    render_sync(result, fmt.value)
