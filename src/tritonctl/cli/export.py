"""tritonctl export east | str: the tutorial's models to ONNX, straight into a new repository version."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Optional


from tritonctl.cli._params import Option
from tritonctl.cli._options import RepoOpt


SeedOpt = Annotated[int, Option("--seed", metavar="N", help="Seed of the random weights.")]
CheckOpt = Annotated[bool, Option("--check/--no-check", help="Fail when onnxruntime and the source differ.")]
RandomOpt = Annotated[bool, Option("--random-weights", help="The same architecture at full size, random weights.")]


def east(
    graph: Annotated[Optional[Path], Option("--graph", metavar="FILE",
                                            help="frozen_east_text_detection.pb (a frozen GraphDef).")] = None,
    random_weights: RandomOpt = False,
    seed: SeedOpt = 0,
    repo: RepoOpt = Path("."),
    model: Annotated[str, Option("--model", metavar="MODEL", help="Model name in the repository.")]
    = "text_detection",
    opset: Annotated[int, Option("--opset", metavar="N", help="ONNX opset (<= 21 for Triton 2.51).")] = 15,
    check: CheckOpt = True,
) -> None:
    """EAST from a TensorFlow frozen graph via tf2onnx (input_images:0 -> Conv_7/Sigmoid:0, concat_3:0)."""
    from tritonctl.export import export_east

    _need_one(graph, random_weights, "--graph")
    _run(repo, model, lambda workdir, progress: export_east(workdir, graph=graph, seed=seed, opset=opset,
                                                             check=check, progress=progress))


def str_(
    weights: Annotated[Optional[Path], Option("--weights", metavar="FILE",
                                              help="None-ResNet-None-CTC.pth (clovaai's checkpoint).")] = None,
    random_weights: RandomOpt = False,
    seed: SeedOpt = 0,
    repo: RepoOpt = Path("."),
    model: Annotated[str, Option("--model", metavar="MODEL", help="Model name in the repository.")]
    = "text_recognition",
    input_name: Annotated[str, Option("--input-name", metavar="NAME",
                                      help="ONNX input name (the tutorial's by default).")] = "input.1",
    output_name: Annotated[str, Option("--output-name", metavar="NAME",
                                       help="ONNX output name (the tutorial's by default).")] = "308",
    opset: Annotated[int, Option("--opset", metavar="N", help="ONNX opset (<= 21 for Triton 2.51).")] = 17,
    check: CheckOpt = True,
) -> None:
    """STR (None-ResNet-None-CTC) from a PyTorch checkpoint via torch.onnx, batch dimension dynamic."""
    from tritonctl.export import export_str

    _need_one(weights, random_weights, "--weights")
    _run(repo, model, lambda workdir, progress: export_str(workdir, weights=weights, seed=seed, opset=opset,
                                                            input_name=input_name, output_name=output_name,
                                                            check=check, progress=progress))


def _need_one(source: Optional[Path], random_weights: bool, flag: str) -> None:
    from tritonctl.errors import TritonctlError, UsageError

    if (source is None) == (not random_weights):
        raise UsageError(f"give either {flag} FILE or --random-weights")
    if source is not None and not source.is_file():
        raise TritonctlError(f"'{source}' does not exist or is not a file")


def _run(repo: Path, model: str, export) -> None:
    """Export into a temporary folder, then add it as a version with its config planned from it."""
    from tritonctl.cli._output import render_export, render_onnx_added, settings_warnings, status_line
    from tritonctl.errors import TritonctlError
    from tritonctl.onnx_versions import add_onnx_version
    from tritonctl.validate.settings import for_repository

    if not repo.is_dir():
        raise TritonctlError(f"no model repository at '{repo}'", hint="create the folder, or pass --repo")
    settings = for_repository(repo)
    settings_warnings(settings)
    with tempfile.TemporaryDirectory(prefix="tritonctl-export-") as tmp, status_line() as progress:
        result = export(Path(tmp), progress)
        render_export(result)
        added = add_onnx_version(repo, model, result.folder, settings=settings, progress=progress)
    render_onnx_added(added)


# The group's commands in the order its help lists them (cli/app.py builds the group; its help: cli/commands.py)
COMMANDS = (
    ("east", east),
    ("str", str_),
)
