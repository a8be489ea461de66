"""Configs written from the model file, and configs as Triton will serve them.

- `generate_config`: an ONNX signature -> a ModelConfig, batching decided as Triton 2.51's onnxruntime
  auto-complete decides (onnxruntime_backend src/onnxruntime.cc, AutoCompleteMaxBatch) unless the caller says
  otherwise.
- `render`: a ModelConfig as readable text in the layout Triton's docs use, fields in a stable order.
- `update_config`: only input, output and max_batch_size of an existing config rewritten, comments kept.
- `show_config`, `convert`, `init_model`: the config commands' domain side.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tritonctl.errors import ModelFileError, TritonctlError, UsageError
from tritonctl.io import files, pbtxt
from tritonctl.io.config_json import from_json, to_triton_json
from tritonctl.repository import CONFIG_FILE, read_model

if TYPE_CHECKING:
    from tritonctl.io.onnxsig import OnnxSignature
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

# What a user could convert an unsupported ONNX element type to, for the message
_SUGGEST = {"BFLOAT16": "FLOAT16 or FLOAT (TYPE_FP16/TYPE_FP32)", "COMPLEX64": "two FLOAT tensors",
            "COMPLEX128": "two DOUBLE tensors"}
FIELD_ORDER = ["name", "platform", "backend", "runtime", "max_batch_size", "version_policy", "input", "output",
               "batch_input", "batch_output", "dynamic_batching", "sequence_batching", "ensemble_scheduling",
               "instance_group", "default_model_filename", "cc_model_filenames", "parameters", "model_warmup",
               "optimization", "model_transaction_policy", "response_cache"]


def find_model_file(path: Path) -> Path:
    """PATH as a model file: the file itself, or in a model folder the newest version's ONNX file."""
    if path.is_file():
        return path
    if not path.exists():
        raise TritonctlError(f"'{path}' does not exist")
    if not path.is_dir():
        raise TritonctlError(f"'{path}' is {files.kind(path.stat().st_mode)}, not a model file or folder")
    candidates = sorted(path.glob("*.onnx"))
    if not candidates:
        model = read_model(path)
        for version in reversed(model.versions):
            candidates = sorted(version.path.glob("*.onnx"))
            if candidates:
                break
    if not candidates:
        raise TritonctlError(f"no ONNX model file in '{path}' or its version folders")
    if len(candidates) > 1:
        raise UsageError(f"several model files in '{candidates[0].parent}': "
                         f"{', '.join(c.name for c in candidates)}; pass the one to use")
    return candidates[0]


def read_onnx(path: Path) -> OnnxSignature:
    from tritonctl.io.confine import confine
    from tritonctl.io.onnxsig import read_signature

    sig = read_signature(path)
    for location in sig.external_data:  # onnxruntime would open these: they must stay beside the model
        confine(path.parent, location, f"external data of '{path}'")
    if not sig.outputs:
        raise ModelFileError(f"'{path}' has no outputs; Triton has nothing to return")
    for t in [*sig.inputs, *sig.outputs]:
        if t.kind != "ONNX_TYPE_TENSOR":
            raise ModelFileError(f"'{t.name}' in '{path}' is a {t.kind}; Triton serves tensors only")
        if t.triton_type is None:
            hint = _SUGGEST.get(t.onnx_type, "a supported type")
            raise ModelFileError(f"'{t.name}' in '{path}' has element type {t.onnx_type}, which Triton 2.51's "
                                 f"onnxruntime backend does not support; export it as {hint}")
    return sig


def generate_config(
    sig: OnnxSignature,
    *,
    name: str,
    max_batch_size: int | None = None,
    dynamic_batching: bool | None = None,
    instances: int | None = None,
    kind: str | None = None,
) -> ModelConfig:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig
    from tritonctl.onnxruntime_backend import autocomplete, can_batch

    config = ModelConfig(name=name, backend="onnxruntime")
    batches = can_batch(sig.inputs, sig.outputs)
    if max_batch_size is not None:
        if max_batch_size > 0 and not batches:
            shapes = ", ".join(f"{t.name} {list(t.dims or ())}" for t in [*sig.inputs, *sig.outputs])
            raise UsageError(f"the model cannot batch (first dimensions are not all variable: {shapes}); "
                             "use --max-batch-size 0")
        config.max_batch_size = max_batch_size
        if max_batch_size == 0:
            batches = False
    if not batches and max_batch_size is None:
        config.max_batch_size = 0
    probe = ModelConfig(name=name, max_batch_size=config.max_batch_size)
    if max_batch_size == 0:
        # autocomplete would raise the batch size: fill IO as for a non-batching model
        _fill_without_batching(probe, sig)
    else:
        error = autocomplete(probe, sig)
        if error:
            raise TritonctlError(error)
    config.max_batch_size = probe.max_batch_size
    config.input.extend(probe.input)
    config.output.extend(probe.output)
    _serving(config, probe.HasField("dynamic_batching") if dynamic_batching is None else dynamic_batching,
             instances, kind)
    return config


def _serving(config: ModelConfig, dynamic_batching: bool, instances: int | None, kind: str | None) -> None:
    """The serving settings `config generate` was asked for: dynamic batching, one instance group."""
    from tritonctl.io.proto.model_config_pb2 import ModelInstanceGroup

    if dynamic_batching:
        if config.max_batch_size == 0:
            raise UsageError("dynamic batching needs max_batch_size > 0")
        config.dynamic_batching.SetInParent()
    if instances is not None or kind is not None:
        group = config.instance_group.add()
        group.kind = ModelInstanceGroup.Kind.Value(kind) if kind else ModelInstanceGroup.KIND_CPU
        group.count = instances if instances is not None else 1


def _fill_without_batching(config, sig) -> None:
    from tritonctl.io.proto.model_config_pb2 import DataType

    for target, tensors in ((config.input, sig.inputs), (config.output, sig.outputs)):
        for t in tensors:
            io = target.add(name=t.name, data_type=DataType.Value(t.triton_type))
            io.dims.extend(list(t.dims or ()) or [1])


# ---- rendering -------------------------------------------------------------------------------------------


def _scalar(field, value) -> str:
    from google.protobuf import text_encoding
    from google.protobuf.descriptor import FieldDescriptor as F

    if field.type == F.TYPE_ENUM:
        desc = field.enum_type.values_by_number.get(value)
        return desc.name if desc else str(value)
    if field.type == F.TYPE_STRING:
        return '"' + text_encoding.CEscape(value, as_utf8=True) + '"'
    if field.type == F.TYPE_BOOL:
        return "true" if value else "false"
    if field.type == F.TYPE_FLOAT:
        return shortest_float32(value)
    if field.type == F.TYPE_DOUBLE:
        return repr(float(value)) if math.isfinite(value) else _NON_FINITE[str(value)]
    return str(value)


_NON_FINITE = {"inf": "inf", "-inf": "-inf", "nan": "nan"}


def shortest_float32(value: float) -> str:
    """The shortest decimal that reads back as the same float32 (0.1, not 0.10000000149011612), as protobuf's
    text_format prints it; written here because protobuf's own helper loops forever on subnormal values."""
    import struct

    if not math.isfinite(value):
        return _NON_FINITE[str(value)]
    packed = struct.pack("<f", value)
    for digits in range(1, 10):  # 9 significant digits always suffice for a float32
        text = f"{value:.{digits}g}"
        try:
            if struct.pack("<f", float(text)) == packed:
                return text
        except OverflowError:  # rounded past the largest float32
            continue
    return repr(value)


def _message(msg, indent: int, order: list[str] | None = None) -> list[str]:
    pad = "  " * indent
    lines: list[str] = []
    fields = [f for f, _ in msg.ListFields()]
    if order:
        fields.sort(key=lambda f: order.index(f.name) if f.name in order else len(order) + f.number)
    for field in fields:
        value = getattr(msg, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            key_field = field.message_type.fields_by_name["key"]
            for key in sorted(value):
                lines.append(f"{pad}{field.name} {{")
                lines.append(f"{pad}  key: {_scalar(key_field, key)}")
                if value_field.message_type is not None:
                    inner = _message(value[key], indent + 2)
                    lines += [f"{pad}  value {{", *inner, f"{pad}  }}"] if inner else [f"{pad}  value {{ }}"]
                else:
                    lines.append(f"{pad}  value: {_scalar(value_field, value[key])}")
                lines.append(f"{pad}}}")
        elif field.is_repeated and field.message_type is not None:
            lines.append(f"{pad}{field.name} [")
            for i, item in enumerate(value):
                inner = _message(item, indent + 2)
                comma = "," if i < len(value) - 1 else ""
                lines += [f"{pad}  {{", *inner, f"{pad}  }}{comma}"]
            lines.append(f"{pad}]")
        elif field.is_repeated:
            lines.append(f"{pad}{field.name}: [ {', '.join(_scalar(field, v) for v in value)} ]")
        elif field.message_type is not None:
            inner = _message(value, indent + 1)
            lines += [f"{pad}{field.name} {{", *inner, f"{pad}}}"] if inner else [f"{pad}{field.name} {{ }}"]
        else:
            lines.append(f"{pad}{field.name}: {_scalar(field, value)}")
    return lines


def render(config: ModelConfig) -> str:
    """The config as text: Triton docs' layout, fields in a stable order, max_batch_size always written."""
    lines = _message(config, 0, FIELD_ORDER)
    if not any(line.startswith("max_batch_size:") for line in lines):
        index = next((i for i, line in enumerate(lines)
                      if line.split(":")[0].split(" ")[0] not in ("name", "platform", "backend", "runtime")),
                     len(lines))
        lines.insert(index, "max_batch_size: 0")
    return "\n".join(lines) + "\n"


def _read_config_file(path: Path) -> str:
    from tritonctl.repository import CONFIG_MAX_BYTES

    try:
        return pbtxt.decode(files.read_regular(path, CONFIG_MAX_BYTES), str(path))
    except OSError as e:
        raise TritonctlError(f"cannot read '{path}': {files.describe(e)}") from None


def convert(path: Path) -> tuple[str, str]:
    """A config file in JSON -> pbtxt, or pbtxt -> JSON: (target format, text)."""
    text = _read_config_file(path)
    if not text.strip():
        raise TritonctlError(f"'{path}' is empty: nothing to convert")
    if text.lstrip().startswith("{"):
        try:
            json.loads(text)
        except ValueError as e:
            raise TritonctlError(f"{path}: not JSON: {e}") from None
        return "pbtxt", render(from_json(text, str(path)))
    config = pbtxt.parse(text, str(path))
    return "json", json.dumps(to_triton_json(config), indent=2) + "\n"


# ---- writing -------------------------------------------------------------------------------------------------


@dataclass
class WriteResult:
    path: Path
    text: str
    diff: str
    written: bool
    created: bool
    old_text: str = ""


def diff_text(old: str, new: str, label: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        f"a/{label}", f"b/{label}"))


def write_config(folder: Path, text: str, *, force: bool, label: str) -> WriteResult:
    path = folder / CONFIG_FILE
    if path.exists() and not force:
        raise TritonctlError(f"'{path}' exists", hint="overwrite it with --force, or keep its settings with --update")
    old = _read_config_file(path) if path.exists() else ""
    try:
        files.atomic_write(path, text.encode(), root=folder.parent)
    except OSError as e:
        raise TritonctlError(f"cannot write '{path}': {files.describe(e)}") from None
    return WriteResult(path, text, diff_text(old, text, label), True, not old, old)


def update_config(folder: Path, sig: OnnxSignature, *, max_batch_size: int | None, write: bool,
                  label: str) -> WriteResult:
    """Rewrite input, output and max_batch_size of the existing config from the model; keep everything else."""
    path = folder / CONFIG_FILE
    if not path.exists():
        raise TritonctlError(f"cannot read '{path}': it does not exist",
                             hint="without a config use: tritonctl config generate --write")
    old_text = _read_config_file(path)
    old = pbtxt.parse(old_text, str(path))
    if max_batch_size is None:  # keep a batch size the model allows; 0 when it cannot batch
        from tritonctl.onnxruntime_backend import can_batch

        max_batch_size = (old.max_batch_size or None) if can_batch(sig.inputs, sig.outputs) else 0
    fresh = generate_config(sig, name=old.name or folder.name, max_batch_size=max_batch_size)
    new = type(old)()
    new.CopyFrom(old)
    for f in ("input", "output"):
        new.ClearField(f)
    new.input.extend(fresh.input)
    new.output.extend(fresh.output)
    new.max_batch_size = fresh.max_batch_size
    text = _splice(old_text, old, new) or render(new)
    result = WriteResult(path, text, diff_text(old_text, text, label), False, False, old_text)
    if write and text != old_text:
        try:
            files.atomic_write(path, text.encode(), root=folder.parent)
        except OSError as e:
            raise TritonctlError(f"cannot write '{path}': {files.describe(e)}") from None
        result.written = True
    return result


def _splice(old_text: str, old, new) -> str | None:
    """The old text with only input, output and max_batch_size replaced (comments kept), or None when the
    fields are interleaved with others and a clean splice is impossible."""
    located = pbtxt.locate(old_text)
    pieces = []
    for name in ("input", "output"):
        lines = _message_field(new, name)
        pieces.append((name, "\n".join(lines)))
    pieces.append(("max_batch_size", f"max_batch_size: {new.max_batch_size}"))
    text = old_text
    replacements = []
    appended = []
    for name, block in pieces:
        span = located.spans.get(name)
        if span is None:
            appended.append(block)
        else:
            replacements.append((span, block))
    for (start, end), block in sorted(replacements, reverse=True):
        text = text[:start] + block + text[end:]
    if appended:
        text = text.rstrip("\n") + "\n" + "\n".join(appended) + "\n"
    try:
        check = pbtxt.parse(text, "<splice>")
    except TritonctlError:
        return None
    return text if check == new else None


def _message_field(config, name: str) -> list[str]:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

    only = ModelConfig()
    getattr(only, name).extend(getattr(config, name))
    return _message(only, 0)


# ---- the config Triton serves ------------------------------------------------------------------------------


@dataclass
class ShownConfig:
    config: ModelConfig
    notes: list[str]


def show_config(repo: Path, name: str) -> ShownConfig:
    """The model's config as Triton parses it (an empty one when it has no config file)."""
    from tritonctl.io.proto.model_config_pb2 import ModelConfig
    from tritonctl.repository import open_repository

    text = open_repository(repo).model(name).read_config()
    if text is None:
        return ShownConfig(ModelConfig(), [f"'{name}' has no {CONFIG_FILE}: Triton starts from an empty config"])
    return ShownConfig(text.config, [])


# ---- the command-level operations ----------------------------------------------------------------------------


@dataclass
class Generated:
    text: str
    result: WriteResult | None


def find_saved_model(path: Path) -> Path | None:
    """PATH as a TensorFlow SavedModel: the folder itself (it holds saved_model.pb), or in a model folder the newest
    version's model.savedmodel; None when PATH is neither."""
    from tritonctl.io.savedmodel import SAVED_MODEL_FILE

    if not path.is_dir():
        return None
    if (path / SAVED_MODEL_FILE).exists():
        return path
    try:
        model = read_model(path)
    except TritonctlError:
        return None
    for version in reversed(model.versions):
        if (version.path / "model.savedmodel" / SAVED_MODEL_FILE).exists():
            return version.path / "model.savedmodel"
    return None


def generate_saved_model_config(saved_path: Path, *, name: str, max_batch_size: int | None,
                                dynamic_batching: bool | None, instances: int | None,
                                kind: str | None) -> ModelConfig:
    """A config for a SavedModel: its tensors as the tensorflow backend's auto-complete fills them
    (tensorflow_backend.autocomplete), max_batch_size 4 when the signature batches and none is given."""
    from tritonctl.io.proto.model_config_pb2 import ModelConfig
    from tritonctl.io.savedmodel import read_saved_model
    from tritonctl.tensorflow_backend import autocomplete, can_batch, fill_io, pick

    saved = read_saved_model(saved_path)
    picked = pick(saved, name)
    if picked.error is not None:
        raise ModelFileError(f"'{saved_path}': {picked.error}")
    if max_batch_size is None:
        max_batch_size = 4 if can_batch(picked.signature) else 0
    config = ModelConfig(name=name, platform="tensorflow_savedmodel", max_batch_size=max_batch_size)
    # max_batch_size 0 with a signature that batches: full dims, which Triton reads as "no batching" (with none
    # listed it would fill max_batch_size 1)
    error = fill_io(config, picked.signature, False) if max_batch_size == 0 else autocomplete(config, saved)
    if error is not None:
        raise UsageError(error) if "max-batch" in error else ModelFileError(error)
    _serving(config, config.max_batch_size > 1 if dynamic_batching is None else dynamic_batching, instances, kind)
    return config


def generate_model_config(path: Path, *, name: str | None, max_batch_size: int | None,
                          dynamic_batching: bool | None, instances: int | None, kind: str | None, write: bool,
                          force: bool, update: bool) -> Generated:
    path = Path(path)
    saved = find_saved_model(path)
    if saved is not None:
        if update:
            raise UsageError("--update rewrites an ONNX model's tensors; for a SavedModel, Triton replaces them "
                             "from the signature at load (see: tritonctl config show MODEL --normalized)")
        from tritonctl.repository import stoll_prefix

        if saved != path:  # a model folder
            folder: Path | None = path
        else:  # the SavedModel folder: in <model>/<version>/ or anywhere
            folder = saved.parent.parent if stoll_prefix(saved.parent.name) is not None else None
        model_name = name or (folder.name if folder is not None else saved.name.removesuffix(".savedmodel"))
        text = render(generate_saved_model_config(saved, name=model_name, max_batch_size=max_batch_size,
                                                  dynamic_batching=dynamic_batching, instances=instances,
                                                  kind=kind))
        if not write:
            return Generated(text, None)
        if folder is None:
            raise UsageError(f"'{saved}' is not inside a model folder; --write needs one")
        return Generated(text, write_config(folder, text, force=force, label=f"{model_name}/{CONFIG_FILE}"))
    model_file = find_model_file(path)
    sig = read_onnx(model_file)
    folder = path if path.is_dir() else _model_folder_of(model_file)
    model_name = name or (folder.name if folder is not None else model_file.stem)
    label = f"{model_name}/{CONFIG_FILE}"
    if update:
        if folder is None:
            raise UsageError("--update needs a model folder (or a model file inside a version folder)")
        result = update_config(folder, sig, max_batch_size=max_batch_size, write=write, label=label)
        return Generated(result.text, result)
    text = render(generate_config(sig, name=model_name, max_batch_size=max_batch_size,
                                  dynamic_batching=dynamic_batching, instances=instances, kind=kind))
    if not write:
        return Generated(text, None)
    if folder is None:
        raise UsageError(f"'{model_file}' is not inside a model folder; --write needs one")
    return Generated(text, write_config(folder, text, force=force, label=label))


def _model_folder_of(model_file: Path) -> Path | None:
    """The model folder holding `model_file` (in a version folder, or directly)."""
    from tritonctl.repository import stoll_prefix

    parent = model_file.parent
    if stoll_prefix(parent.name) is not None:
        return parent.parent
    return parent if (parent / CONFIG_FILE).exists() else None


TEMPLATES = Path(__file__).resolve().parent / "templates"


def init_model(repo: Path, name: str, backend: str) -> list[Path]:
    import re

    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name) or name.startswith("."):
        raise UsageError(f"'{name}' is not a usable model name (letters, digits, '_', '-', '.'; not hidden)")
    repo = Path(repo)
    if not repo.is_dir():
        raise TritonctlError(f"no model repository at '{repo}'")
    folder = repo / name
    if folder.exists():
        raise TritonctlError(f"'{folder}' exists")
    template = (TEMPLATES / f"{backend}.pbtxt").read_text()
    folder.mkdir()
    (folder / "1").mkdir()
    created = [folder / CONFIG_FILE, folder / "1"]
    files.atomic_write(folder / CONFIG_FILE, template.replace("{name}", name).encode(), root=repo)
    if backend == "python":
        code = (TEMPLATES / "python_model.py").read_text().replace("{name}", name)
        files.atomic_write(folder / "1" / "model.py", code.encode(), root=repo)
        created.append(folder / "1" / "model.py")
    return created
