"""TRT001-TRT003: config.pbtxt must be readable and parse as Triton's ModelConfig (protobuf text format)."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.repository import CONFIG_FILE
from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule

@rule("TRT001", "config-parse-error", Severity.ERROR,
      "config.pbtxt must parse as Triton's ModelConfig (text format)", needs_config=False,
      stage=Stage.CONFIG)
def config_parse_error(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton refuses the model with "failed to read text proto from <path>" and logs the parser's
    detail only in the server log (unknown field, unknown enum value, a field given twice, two members of
    one oneof, an integer out of range, a missing ':').

    Bad:  max_batch_size: 8 dims: [3]
    Good: max_batch_size: 8
    """
    err = ctx.parse_error
    if err is not None:
        yield Problem(None, f"config does not parse: {err.detail}",
                      f"failed to read text proto from {ctx.triton_path(CONFIG_FILE)}")


@rule("TRT002", "config-unreadable", Severity.ERROR, "config.pbtxt must be a readable file",
      needs_config=False, stage=Stage.CONFIG)
def config_unreadable(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton cannot read the file and refuses the model ("failed to open text file for read").

    Bad:  config.pbtxt is a folder, or cannot be read
    Good: config.pbtxt is a readable text file
    """
    if ctx.read_error is not None:
        yield Problem(None, f"cannot read config.pbtxt: {ctx.read_error}",
                      f"failed to open text file for read {ctx.triton_path(CONFIG_FILE)}: {ctx.read_error}")


@rule("TRT003", "config-missing", Severity.ERROR,
      "a model without config.pbtxt loads only when its backend can complete the config", needs_config=False,
      stage=Stage.CONFIG)
def config_missing(ctx: ModelContext) -> Iterator[Problem]:
    """Why: without config.pbtxt Triton starts from an empty config and lets the backend complete it
    (onnxruntime, tensorrt, openvino, TensorFlow SavedModel; python runs the model's auto_complete_config
    and otherwise serves the empty config). PyTorch and TensorFlow GraphDef refuse with "model configuration is not provided"; with auto-complete disabled
    (--disable-auto-complete-config) every model needs the file.

    Bad:  text_recognition/1/model.pt and no config.pbtxt
    Good: text_recognition/config.pbtxt beside 1/model.pt
    """
    if ctx.has_config_file:
        return
    path = ctx.triton_path(CONFIG_FILE)
    if not ctx.options.autocomplete:
        yield Problem(None, "config.pbtxt is missing and auto-complete is off; write one "
                      "(tritonctl config generate --write)",
                      f"failed to open text file for read {path}: No such file or directory", file="")
        return
    completed = ctx.completed
    if completed is None:
        return  # the backend cannot be determined: TRT104 says so
    backend = completed.backend
    if backend in ("pytorch", "tensorflow") and completed.platform != "tensorflow_savedmodel":
        yield Problem(None, f"config.pbtxt is missing and the {backend} backend cannot complete one; "
                      "write config.pbtxt", f"model configuration is not provided for model '{ctx.name}'",
                      file="")

