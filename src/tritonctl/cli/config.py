"""tritonctl config generate | show | init | convert."""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import Annotated, Optional


from tritonctl.cli._params import Argument, Option
from tritonctl.cli._options import EndpointOpt, ModelArg, ReadRepoOpt, RepoOpt
from tritonctl.project import MAX_GPUS



class Kind(str, enum.Enum):
    KIND_CPU = "KIND_CPU"
    KIND_GPU = "KIND_GPU"
    KIND_AUTO = "KIND_AUTO"


class ShowFormat(str, enum.Enum):
    pbtxt = "pbtxt"
    json = "json"


class Template(str, enum.Enum):
    onnxruntime = "onnxruntime"
    python = "python"
    ensemble = "ensemble"
    pytorch_libtorch = "pytorch_libtorch"
    tensorrt_plan = "tensorrt_plan"


def generate(
    path: Annotated[str, Argument(metavar="PATH", help="A model folder (its newest version's ONNX file is "
                                                       "read) or an ONNX file; s3:// ones are read through a "
                                                       "local copy (not with --write).")],
    backend: Annotated[str, Option("--backend", metavar="BACKEND",
                                   help="Only onnxruntime is generated from a model file.")] = "onnxruntime",
    max_batch_size: Annotated[Optional[int], Option("--max-batch-size", min=0, metavar="N",
                                                    help="Default: as Triton's onnxruntime auto-complete "
                                                         "decides.")] = None,
    dynamic_batching: Annotated[Optional[bool], Option("--dynamic-batching/--no-dynamic-batching", help="Default: on when max_batch_size > 1.")] = None,
    instances: Annotated[Optional[int], Option("--instances", min=1, metavar="N",
                                               help="Instance count (adds an instance_group).")] = None,
    kind: Annotated[Optional[Kind], Option("--kind", help="Instance kind (adds an instance_group).")] = None,
    name: Annotated[Optional[str], Option("--name", metavar="NAME",
                                          help="Model name (default: the folder's name).")] = None,
    write: Annotated[bool, Option("--write", help="Write config.pbtxt into the model folder.")] = False,
    force: Annotated[bool, Option("--force", help="With --write: overwrite an existing config.")] = False,
    update: Annotated[bool, Option("--update", help="Rewrite only input, output and max_batch_size of the existing config.")] = False,
) -> None:
    """Write a config from an ONNX model: tensors, data types, dims and batching from the file."""
    from tritonctl.cli._output import render_generated
    from tritonctl.errors import UsageError
    from tritonctl.generate import generate_model_config
    from tritonctl.locations import writable

    if write or not path.startswith("s3://"):
        folder = writable(path, "PATH")  # written into: an S3 model folder is refused, with a hint
    else:
        folder, name = _s3_copy(path, name)
    if backend != "onnxruntime":
        raise UsageError(f"configs are generated from ONNX files only (backend onnxruntime), not '{backend}'",
                         hint="for other backends start from a template: tritonctl config init --backend B NAME")
    if force and not write:
        raise UsageError("--force needs --write")
    result = generate_model_config(folder, name=name, max_batch_size=max_batch_size, dynamic_batching=dynamic_batching,
                                   instances=instances, kind=kind.value if kind else None, write=write, force=force,
                                   update=update)
    render_generated(result)


def _s3_copy(address: str, name: str | None) -> tuple[Path, str]:
    """A local copy of an S3 model folder (s3://b/repo/m) or ONNX file (s3://b/repo/m/1/model.onnx) to generate a
    config from; printed, never written back. The model's name is its folder's, unless --name says otherwise."""
    from tritonctl.errors import UsageError
    from tritonctl.io.s3_url import S3Url, parse_url
    from tritonctl.s3_cache import materialize

    url = parse_url(address)
    parts = url.prefix.split("/") if url.prefix else []
    if parts and parts[-1].endswith(".onnx"):
        if len(parts) < 3:
            raise UsageError(f"'{address}': an ONNX file is read from a model's version folder "
                             "(s3://BUCKET/REPO/MODEL/VERSION/model.onnx)")
        copy = materialize(S3Url(url.bucket, "/".join(parts[:-1])))
        return copy.path / parts[-1], name or parts[-3]
    if not parts:
        raise UsageError(f"'{address}' is a bucket, not a model folder or an ONNX file")
    return materialize(url).path, name or parts[-1]


def show(
    model: ModelArg,
    repo: ReadRepoOpt = ".",
    endpoint_url: EndpointOpt = None,
    normalized: Annotated[bool, Option("--normalized", help="As Triton serves it: auto-completed and normalized.")] = False,
    gpus: Annotated[int, Option("--gpus", min=0, max=MAX_GPUS, metavar="N", help="GPUs of the serving host (for "
                                                                                 "--normalized).")] = 0,
    fmt: Annotated[ShowFormat, Option("--format", "-f", help="pbtxt, or JSON as Triton's /config returns it.")] = ShowFormat.pbtxt,
    run_python: Annotated[bool, Option("--run-python", help="Run a python model's auto_complete_config (in a subprocess).")] = False,
) -> None:
    """Show MODEL's config, or with --normalized the config Triton 2.51 will serve (exit 1 with the findings when
    Triton would refuse the model)."""
    from tritonctl.cli._output import render_shown
    from tritonctl.generate import ShownConfig, show_config
    from tritonctl.locations import parse
    from tritonctl.cli._options import local_view

    local = local_view(parse(repo), endpoint_url=endpoint_url)
    if normalized:
        from tritonctl.validate.context import Options
        from tritonctl.validate.engine import served_model

        served, errors = served_model(local.path, model, Options(gpus=gpus, run_python=run_python))
        if errors or served.config is None:
            from tritonctl.errors import ValidationRefused

            raise ValidationRefused(f"Triton 2.51 would refuse '{model}', so it serves no config ({len(errors)} "
                                    f"error{'' if len(errors) == 1 else 's'}; see above)",
                                    [dataclasses.replace(f, path=local.label(f.path)) for f in errors],
                                    hint=f"validate it: tritonctl validate {local.source} --model {model}")
        notes = served.notes + ([f"python auto_complete_config could not run here: {served.python_missing}"]
                                if served.python_missing else [])
        shown = ShownConfig(served.config, notes)
    else:
        shown = show_config(local.path, model)
    shown.notes = [local.label(note) for note in shown.notes]
    render_shown(shown, fmt.value)


def init(
    name: Annotated[str, Argument(metavar="NAME", help="The new model's name (its folder).")],
    backend: Annotated[Template, Option("--backend", help="Which template to start from.")] = Template.onnxruntime,
    repo: RepoOpt = Path("."),
) -> None:
    """Scaffold a model folder from a template: config.pbtxt and version 1/."""
    from tritonctl.cli._output import say
    from tritonctl.generate import init_model

    created = init_model(repo, name, backend.value)
    for path in created:
        say(f"created {path}")


def convert(path: Annotated[Path, Argument(metavar="FILE", help="A config in JSON (as Triton's /config "
                                                                "returns it) or pbtxt.")]) -> None:
    """Convert a config between JSON (Triton's /config form) and pbtxt; prints the other form."""
    from tritonctl.cli._output import out_text
    from tritonctl.generate import convert as convert_file

    _target, text = convert_file(path)
    out_text(text)


# The group's commands in the order its help lists them (cli/app.py builds the group; its help: cli/commands.py)
COMMANDS = (
    ("generate", generate),
    ("show", show),
    ("init", init),
    ("convert", convert),
)
