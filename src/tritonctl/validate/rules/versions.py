"""TRT404 and TRT406: the version folders the policy serves (core src/model_repository_manager/model_repository_manager.cc
and src/model_lifecycle.cc)."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.repository import selected_versions
from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule


@rule("TRT404", "no-version-available", Severity.ERROR,
      "the version policy must select at least one version folder that exists", stage=Stage.VERSIONS)
def no_version_available(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses a model whose version policy selects no existing version folder ("at least
    one version must be available under the version policy"). An ensemble needs an empty version folder
    too; `latest {}` means num_versions 0; versions listed under `specific` that are missing are skipped.

    Bad:  version_policy: { specific: { versions: [3] } } with only 1/ present
    Good: version_policy: { specific: { versions: [1] } }
    """
    config = ctx.completed
    if config is None or ctx.is_stray:
        return
    numbers = [v.number for v in ctx.model.versions]
    if selected_versions(config.version_policy, numbers):
        return
    if not numbers:
        message = f"model '{ctx.name}' has no version folder; add one (tritonctl version add)"
        field = None
    else:
        present = ", ".join(str(n) for n in numbers)
        message = f"the version policy selects none of the version folders present ({present}); change it"
        field = "version_policy"
    yield Problem(field, message,
                  f"at least one version must be available under the version policy of model '{ctx.model_name}'")


@rule("TRT406", "specific-version-missing", Severity.WARNING,
      "versions listed under specific exist as folders", triton_core=False, stage=Stage.ADVICE)
def specific_version_missing(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton skips a version listed in version_policy { specific } whose folder is missing, logging
    only an error line, and serves the others: the version you meant to serve is silently not there.

    Bad:  version_policy: { specific: { versions: [1, 2] } } with only 1/ present
    Good: version_policy: { specific: { versions: [1] } }
    """
    config = ctx.completed
    if config is None or config.version_policy.WhichOneof("policy_choice") != "specific":
        return
    present = {v.number for v in ctx.model.versions}
    served = selected_versions(config.version_policy, list(present))
    if not served:
        return  # TRT404
    for i, number in enumerate(config.version_policy.specific.versions):
        if number not in present:
            yield Problem(f"version_policy.specific.versions[{i}]", f"version {number} is listed but has no "
                          "folder; Triton skips it", f"version {number} is specified for model "
                          f"'{ctx.model_name}', but the version directory is not present")
