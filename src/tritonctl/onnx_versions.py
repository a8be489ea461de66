"""An ONNX model into the repository as a new version, its config planned from the file: the config generated when
the model has none, else only its inputs, outputs and max_batch_size rewritten (comments and layout kept). The
staged version is validated with the planned config, and the config is written only once the version is in place.

Used by `export` (every export) and `version add --update-config` (a scaffold from `config init`, or a model whose
tensors changed). Made of the generate, versions and validate families, so it sits above them (import-linter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tritonctl.errors import TritonctlError
from tritonctl.repository import CONFIG_FILE


@dataclass
class Added:
    result: object  # versions.AddResult
    config: Path
    diff: str | None  # the config's change, when it existed and changed
    created_config: bool  # written from the model (it had none)


def add_onnx_version(repo: Path, model: str, source: Path, *, settings, version: int | None = None,
                     force: bool = False, progress: Callable[[str], None] = lambda _m: None) -> Added:
    """Add `source` (an ONNX file, or a folder holding model.onnx and its external data) as a version of `model`
    with its config planned from the file."""
    from tritonctl.generate import generate_config, render, update_config
    from tritonctl.io.files import atomic_write
    from tritonctl.io.onnxsig import read_signature
    from tritonctl.validate.engine import staged_version_errors
    from tritonctl.versions import add_version

    if not repo.is_dir():
        raise TritonctlError(f"no model repository at '{repo}'", hint="create the folder, or pass --repo")
    model_file = source / "model.onnx" if source.is_dir() else source
    sig = read_signature(model_file)
    folder = repo / model
    if (folder / CONFIG_FILE).exists():
        planned = update_config(folder, sig, max_batch_size=None, write=False, label=f"{model}/{CONFIG_FILE}")
        config_text, diff, current = planned.text, planned.diff, planned.old_text
    else:
        config_text, diff, current = render(generate_config(sig, name=model)), None, None
    created = not folder.exists()
    if created:
        folder.mkdir()
    progress("adding the version (staged, validated, renamed into place)")
    try:
        added = add_version(repo, model, source, version=version, force=force,
                            check=lambda m, n: staged_version_errors(m, n, settings, config=config_text))
    except BaseException:
        if created and not any(folder.iterdir()):
            folder.rmdir()
        raise
    if config_text != current:
        atomic_write(folder / CONFIG_FILE, config_text.encode(), root=repo)
    return Added(added, folder / CONFIG_FILE, diff if config_text != current else None, current is None)
