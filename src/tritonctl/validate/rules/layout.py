"""TRT101 and TRT401-TRT410: folders, version folders, leftovers and links, and the model's name."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule


@rule("TRT401", "stray-folder", Severity.WARNING,
      "every folder in the repository is a model, hidden ones included", triton_core=False, needs_config=False,
      stage=Stage.ADVICE, stray=True)
def stray_folder(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton reads every subfolder of the repository as a model, hidden ones included
    (.ipynb_checkpoints, .git). In POLL mode, or with --load-model=*, it tries to load them and logs errors.

    Bad:  model_repository/.ipynb_checkpoints/
    Good: keep notebooks' checkpoints and other folders outside the repository
    """
    if ctx.is_stray and ctx.model.read_error is None:
        kind = "hidden folder" if ctx.model.is_hidden else "folder with no config.pbtxt and no version folder"
        yield Problem(None, f"{kind} '{ctx.name}' is read by Triton as a model; move it out of the repository",
                      file="")


@rule("TRT402", "version-folder-ignored", Severity.WARNING,
      "version folders are integers without leading zeros; others are ignored", triton_core=False,
      needs_config=False, stage=Stage.ADVICE)
def version_folder_ignored(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton ignores, with only a warning in its log, a version folder named with leading zeros
    ("ignore version directory '01' which contains leading zeros in its directory name") or not a number.

    Bad:  text_detection/01/model.onnx
    Good: text_detection/1/model.onnx
    """
    for d in ctx.model.ignored_dirs:
        if d.name in ctx.model.leftovers:
            continue  # TRT408
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
      needs_config=False, stage=Stage.ADVICE)
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


@rule("TRT407", "model-folder-unreadable", Severity.ERROR, "every model folder can be listed",
      triton_core=False, needs_config=False, stage=Stage.ADVICE, stray=True)
def model_folder_unreadable(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton lists each model folder to find its versions; a folder it cannot read fails the model.

    Bad:  a model folder on a mount that refuses listing, or a broken network share
    Good: a readable folder
    """
    if ctx.model.read_error is not None:
        yield Problem(None, f"cannot read model folder: {ctx.model.read_error}", file="")


@rule("TRT408", "stale-staging", Severity.WARNING,
      "no folder left behind by an interrupted tritonctl version add or rm", triton_core=False,
      stage=Stage.ADVICE)
def stale_staging(ctx: ModelContext) -> Iterator[Problem]:
    """Why: `tritonctl version add` assembles a version in a hidden staging folder and renames it into place;
    a process killed midway leaves the staging folder (never a numbered one). Triton ignores it, but it
    holds disk space; the next `version add` clears it.

    Bad:  text_detection/~tritonctl-staging-4242-1a2b3c4d/ with nobody holding its lock (or .tritonctl-staging-…,
          as tritonctl named them before 0.2)
    Good: run `tritonctl version add` again, or delete the folder
    """
    from tritonctl.io.files import is_locked

    for name in ctx.model.leftovers:
        if not is_locked(ctx.model.path / name):
            yield Problem(None, f"'{name}' was left by an interrupted tritonctl version add or rm; the next "
                          "version add clears it (or delete it)", file=name)


@rule("TRT411", "unfinished-version", Severity.WARNING,
      "no version is still being placed by a tritonctl sync", triton_core=False, needs_config=False,
      stage=Stage.ADVICE)
def unfinished_version(ctx: ModelContext) -> Iterator[Problem]:
    """Why: on S3 a version cannot appear in one step: `tritonctl sync` uploads a version's files beside the
    repository and then places them, its model file last, naming the version in the manifest's `pending` while it
    does. A validate that runs meanwhile (or after the sync was killed) sees the version part-way; it is unfinished,
    not broken: the sync (or the next one) completes it.

    Bad:  s3://models/prod/text_detection/3/ listed as pending in .tritonctl-manifest.json
    Good: run the sync again
    """
    for number in sorted(ctx.unfinished_versions):
        yield Problem(None, f"version {number} is unfinished: a tritonctl sync is placing it, or was interrupted; "
                      "run the sync again to complete it", file=str(number))


@rule("TRT409", "stale-temporary-file", Severity.WARNING,
      "no temporary file left by an interrupted tritonctl write", triton_core=False, needs_config=False,
      stage=Stage.ADVICE)
def stale_temporary_file(ctx: ModelContext) -> Iterator[Problem]:
    """Why: tritonctl replaces a file (config.pbtxt by `policy set` or `config generate --write`, ...) by writing a
    hidden temporary file beside it and renaming it into place; a process killed midway leaves the temporary
    file, as large as the file it was replacing. Triton ignores it; the next write of the same file removes it.

    Bad:  text_detection/.config.pbtxt.tritonctl-4242-1a2b3c4d.tmp with nobody writing it
    Good: run the command again, or delete the file
    """
    from tritonctl.io.files import stale_temp_files

    for folder in [ctx.model.path, *(v.path for v in ctx.model.versions)]:
        try:
            names = [e.name for e in ctx.listing(folder)]
        except OSError:
            continue  # as stale_temp_files: nothing found where nothing can be listed
        for path in stale_temp_files(folder, names=names):
            rel = str(path.relative_to(ctx.model.path))
            yield Problem(None, f"'{rel}' was left by an interrupted tritonctl write; the next write of that file "
                          "removes it (or delete it)", file=rel)


@rule("TRT410", "link-leaves-repository", Severity.WARNING,
      "no symbolic link in a model folder points outside the repository", triton_core=False, needs_config=False,
      stage=Stage.ADVICE)
def link_leaves_repository(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton follows symbolic links, so a model file linked from elsewhere loads here; but the repository
    no longer holds what it serves: a copy (tritonctl sync, a container image, an S3 upload) leaves the target
    behind, and whoever changes the target changes the served model. `tritonctl sync` refuses such links.

    Bad:  text_detection/1/model.onnx -> /home/me/exports/east.onnx
    Good: text_detection/1/model.onnx (the file itself; add it with tritonctl version add)
    """
    import os

    from tritonctl.io.confine import is_inside

    root = ctx.repo.real_path
    pending = [ctx.model.path]
    while pending:
        folder = pending.pop()
        try:
            entries = ctx.listing(folder)
        except OSError:
            continue  # TRT407 or the model file's own finding says why
        for entry in entries:
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not is_inside(target, root):
                    rel = os.path.relpath(entry.path, ctx.model.path)
                    yield Problem(None, f"'{rel}' is a symbolic link to '{target}', outside the repository; put the "
                                  "file itself in the repository", file=rel)
            elif entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
