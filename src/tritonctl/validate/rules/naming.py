"""TRT101: the model's name, checked by Triton after the rest of the config."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule


@rule("TRT101", "name-mismatch", Severity.ERROR, "'name' must equal the model's folder name", stage=Stage.NAME)
def name_mismatch(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses a model whose config names it differently from its folder ("unexpected
    directory name"). Leaving `name` out is fine: Triton takes the folder name.

    Bad:  text_detection/config.pbtxt with name: "detector"
    Good: name: "text_detection" (or no name at all)
    """
    config = ctx.config
    if config.name and config.name != ctx.model.name:
        yield Problem("name", f"name '{config.name}' differs from the folder name '{ctx.model.name}'; "
                      f"rename one of them or remove 'name'",
                      f"unexpected directory name '{ctx.model.name}' for model '{config.name}', "
                      "directory name must equal model name")
