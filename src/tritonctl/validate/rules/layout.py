"""TRT4xx and TRT101: folders, version folders, model files, and the model's name (rules §3, §12, R156)."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import rule
from tritonctl.repository import selected_versions


@rule("TRT401", "stray-folder", Severity.WARNING,
      "every folder in the repository is a model, hidden ones included", triton_core=False, needs_config=False)
def stray_folder(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton reads every subfolder of the repository as a model, hidden ones included
    (.ipynb_checkpoints, .git). In POLL mode, or with --load-model=*, it tries to load them and logs errors.

    Bad:  model_repository/.ipynb_checkpoints/
    Good: keep notebooks' checkpoints and other folders outside the repository
    """
    if ctx.is_stray:
        kind = "hidden folder" if ctx.model.is_hidden else "folder with no config.pbtxt and no version folder"
        yield Problem(None, f"{kind} '{ctx.name}' is read by Triton as a model; move it out of the repository",
                      file="")


@rule("TRT402", "version-folder-ignored", Severity.WARNING,
      "version folders are integers without leading zeros; others are ignored", triton_core=False,
      needs_config=False)
def version_folder_ignored(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton ignores, with only a warning in its log, a version folder named with leading zeros
    ("ignore version directory '01' which contains leading zeros in its directory name") or not a number.

    Bad:  text_detection/01/model.onnx
    Good: text_detection/1/model.onnx
    """
    for d in ctx.model.ignored_dirs:
        if d.reason == "leading zeros":
            hint = f"rename it to '{d.name.lstrip('0') or '0'}'"
            note = "which contains leading zeros in its directory name"
        else:
            hint = "version folders are named 1, 2, 3, ...; move other folders out of the model folder"
            note = "which fails to convert to integral number"
        yield Problem(None, f"folder '{d.name}' is not a version folder and is ignored; {hint}",
                      f"ignore version directory '{d.name}' {note}", file=d.name)


@rule("TRT403", "version-folder-misread", Severity.WARNING,
      "a version folder whose name only starts with a number is read as that number", triton_core=False,
      needs_config=False)
def version_folder_misread(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton reads version folder names with C++ std::stoll, which accepts a numeric prefix: '1abc'
    and '1.5' become version 1, '-1' version -1. Triton then looks for the files in a folder named
    after the number ('1'), not in the folder you wrote.

    Bad:  text_detection/1.5/model.onnx
    Good: text_detection/2/model.onnx
    """
    for v in ctx.model.versions:
        if v.name != str(v.number):
            yield Problem(None, f"folder '{v.name}' is read by Triton as version {v.number} "
                          f"(files are then looked for in '{v.number}/'); rename it to a plain number",
                          file=v.name)


@rule("TRT404", "no-version-available", Severity.ERROR,
      "the version policy must select at least one version folder that exists")
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


@rule("TRT405", "model-file-missing", Severity.ERROR,
      "every served version folder holds the model file the config names")
def model_file_missing(ctx: ModelContext) -> Iterator[Problem]:
    """Why: the backend opens <version>/<default_model_filename> (model.onnx, model.plan, model.pt,
    model.py, ...) for each version the policy serves; a missing file fails the load ("unable to find
    '<path>' for model instance '<m>'" from onnxruntime).

    Bad:  text_detection/1/ is empty
    Good: text_detection/1/model.onnx
    """
    from tritonctl.repository import default_model_filename

    config = ctx.completed
    if config is None or config.platform == "ensemble" or ctx.is_stray:
        return
    filename = default_model_filename(config)
    if filename is None or (config.backend not in _KNOWN_FILE_BACKENDS and not config.default_model_filename):
        return
    numbers = [v.number for v in ctx.model.versions]
    for number in selected_versions(config.version_policy, numbers):
        path = ctx.model.path / str(number) / filename
        if path.exists():
            continue
        absolute = ctx.triton_path(str(number), filename)
        triton = None
        if config.backend == "onnxruntime":
            triton = f"unable to find '{absolute}' for model instance '{ctx.model_name}'"
        yield Problem(None, f"version {number} has no '{filename}' (the {config.backend or config.platform} "
                      "model file); add it with: tritonctl version add", triton, file=f"{number}")


_KNOWN_FILE_BACKENDS = frozenset({"onnxruntime", "tensorrt", "pytorch", "openvino", "python", "tensorflow"})


@rule("TRT101", "name-mismatch", Severity.ERROR, "'name' must equal the model's folder name")
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
