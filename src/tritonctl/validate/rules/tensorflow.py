"""TRT540-TRT546: TensorFlow SavedModels, as Triton 2.51's tensorflow backend reads them at load
(triton-inference-server/tensorflow_backend src/tensorflow.cc and src/tensorflow_backend_tf.cc; see
tritonctl.tensorflow_backend). The signature is read from saved_model.pb without TensorFlow."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule


def _is_savedmodel(config) -> bool:
    return config is not None and config.backend == "tensorflow" and config.platform == "tensorflow_savedmodel"


def _is_read_savedmodel(signature) -> bool:
    """Whether `signature` is a SavedModel as io/savedmodel read it. That module is imported only to read one
    (2 ms), so until then nothing is one: a repository of other models never imports it."""
    import sys

    module = sys.modules.get("tritonctl.io.savedmodel")
    return module is not None and isinstance(signature, module.SavedModel)


def _versions(ctx: ModelContext):
    """(version, SavedModel) for each served version whose SavedModel could be read."""
    if not _is_savedmodel(ctx.completed):
        return
    for number in ctx.served_versions:
        saved = ctx.signature(number)
        if _is_read_savedmodel(saved):
            yield number, saved


def _rel(ctx: ModelContext, number: int) -> str:
    path = ctx.model_file(number)
    return str(path.relative_to(ctx.model.path)) if path else str(number)


def _picked(ctx: ModelContext, saved):
    from tritonctl.tensorflow_backend import SIGNATURE_PARAMETER, TAG_PARAMETER, parameter, pick

    config = ctx.completed
    return pick(saved, ctx.model_name, parameter(config, TAG_PARAMETER), parameter(config, SIGNATURE_PARAMETER))


@rule("TRT540", "savedmodel-unreadable", Severity.ERROR,
      "model.savedmodel is a folder holding a readable saved_model.pb", triton_core=False, stage=Stage.MODEL_INIT)
def savedmodel_unreadable(ctx: ModelContext) -> Iterator[Problem]:
    """Why: TensorFlow loads a SavedModel from a folder holding saved_model.pb (or saved_model.pbtxt); a file in its
    place, a missing or truncated saved_model.pb fails the load.

    Bad:  1/model.savedmodel/ holding only variables/
    Good: 1/model.savedmodel/ as tf.saved_model.save wrote it (saved_model.pb, variables/)
    """
    from tritonctl.errors import ModelFileError

    if not _is_savedmodel(ctx.completed):
        return
    for number in ctx.served_versions:
        saved = ctx.signature(number)
        if isinstance(saved, ModelFileError):
            text = str(saved)
            triton = text if text.startswith("SavedModel file does not exist") else None
            yield Problem(None, text, triton, file=_rel(ctx, number))


@rule("TRT541", "savedmodel-signature", Severity.ERROR,
      "the SavedModel has the meta graph and signature the backend serves, of types Triton has",
      triton_core=False, stage=Stage.INSTANCES)
def savedmodel_signature(ctx: ModelContext) -> Iterator[Problem]:
    """Why: the tensorflow backend serves the meta graph tagged exactly "serve" (or the TF_GRAPH_TAG parameter)
    and its signature "serving_default" (or TF_SIGNATURE_DEF, else any one that is not an init or train op); each
    of its tensors needs a Triton type (no DT_BFLOAT16, DT_COMPLEX64, DT_RESOURCE, ...). Otherwise no instance is
    created.

    Bad:  tf.saved_model.save(m, path, signatures={"__saved_model_init_op": ...}) only; or tags {"serve", "gpu"}
    Good: tf.saved_model.save(m, path, signatures={"serving_default": m.serve})
    """
    for number, saved in _versions(ctx):
        picked = _picked(ctx, saved)
        if picked.error is None:
            continue
        tags = "; ".join("{" + ", ".join(t) + "}" for t in saved.tag_sets)
        if picked.signature is None and "meta graph" in picked.error:
            fix = f"the SavedModel's tag sets are {tags}: save it with tags ['serve'] or set parameter TF_GRAPH_TAG"
        elif picked.signature is None and "signature" in picked.error and "datatype" not in picked.error:
            fix = f"the SavedModel has no '{picked.wanted}' signature: save one under that key"
        else:
            fix = "cast the tensor to a type Triton has (TYPE_FP32, TYPE_INT64, TYPE_STRING, ...) in the signature"
        yield Problem(None, f"version {number}: {fix}", picked.error, file=_rel(ctx, number))


@rule("TRT542", "savedmodel-signature-fallback", Severity.WARNING,
      "the signature the backend serves is named, not picked by it", triton_core=False, stage=Stage.ADVICE)
def savedmodel_signature_fallback(ctx: ModelContext) -> Iterator[Problem]:
    """Why: without a "serving_default" signature (or the one TF_SIGNATURE_DEF names) the tensorflow backend serves
    another one and logs a warning; with several, which one is not fixed (it walks a protobuf map). Auto-complete
    always looks for "serving_default", whatever TF_SIGNATURE_DEF says.

    Bad:  signatures {"predict": ..., "embed": ...} and no TF_SIGNATURE_DEF
    Good: parameters { key: "TF_SIGNATURE_DEF" value: { string_value: "predict" } }
    """
    for number, saved in _versions(ctx):
        picked = _picked(ctx, saved)
        if picked.error is not None or not picked.fallback:
            continue
        if len(picked.fallback) == 1:
            message = (f"version {number} has no '{picked.wanted}' signature; the backend serves "
                       f"'{picked.fallback[0]}': name it with parameter TF_SIGNATURE_DEF")
        else:
            message = (f"version {number} has no '{picked.wanted}' signature; the backend serves one of "
                       f"{', '.join(picked.fallback)}, in no fixed order: name one with parameter TF_SIGNATURE_DEF")
        yield Problem(None, message, f"unable to find default serving signature '{picked.wanted}', using signature "
                      f"'{picked.fallback[0]}'", file=_rel(ctx, number))


@rule("TRT543", "tensorflow-autofill", Severity.ERROR,
      "max_batch_size and tensor ranks are ones the tensorflow auto-complete can fill", triton_core=False,
      stage=Stage.MODEL_INIT)
def tensorflow_autofill(ctx: ModelContext) -> Iterator[Problem]:
    """Why: with auto-complete on (Triton's default), the tensorflow backend completes the config from the
    SavedModel's "serving_default" signature: it refuses a non-zero max_batch_size when a tensor's first dimension
    is not -1, configs whose dims contradict each other about batching, and tensors of unknown rank or rank 0.

    Bad:  max_batch_size: 8 for a signature input of shape [3, 224, 224]
    Good: max_batch_size: 0, or save the signature with a None first dimension
    """
    served = ctx.served
    if served is None or not _is_read_savedmodel(served.signature) or not ctx.autofill_error:
        return
    error = ctx.autofill_error
    if error.startswith("unable to auto-complete model configuration"):
        return  # the SavedModel itself is refused: TRT541 says why
    if "max-batch" in error:
        fix = "set max_batch_size: 0, or save the signature with a variable (None) first dimension"
        field = "max_batch_size"
    elif "contradicting" in error:
        fix = "list dims for every tensor with the batch dimension left out, or for none"
        field = "input"
    elif "rank" in error:
        fix = "give the tensor a known shape in the signature (tf.TensorSpec([None, ...]))"
        field = None
    else:
        fix, field = "the auto-complete refuses the signature", None
    yield Problem(field, fix, error)


@rule("TRT544", "tensorflow-signature", Severity.ERROR,
      "inputs and outputs match the SavedModel's signature: count, names, data types, dims, batch dimension",
      triton_core=False, stage=Stage.INSTANCES)
def tensorflow_signature(ctx: ModelContext) -> Iterator[Problem]:
    """Why: the tensorflow backend checks the config against the signature it serves when it creates an instance:
    the number of inputs, each name, data type and dims (the signature's -1 accepts any config value for inputs;
    outputs must match exactly), a -1 first dimension when max_batch_size > 0, ragged inputs, sequence controls.
    With auto-complete on, the config was just filled from "serving_default", so this fails only when
    TF_SIGNATURE_DEF names another signature, or when auto-complete is off (--disable-auto-complete-config).

    Bad:  input [ { name: "x" data_type: TYPE_FP32 dims: [ 3 ] } ] for a signature input x of shape [-1, 4]
    Good: max_batch_size: 8 input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]
    """
    final = ctx.final
    if final is None or ctx.autofill_error or not _is_savedmodel(final):
        return
    from tritonctl.tensorflow_backend import load_errors

    for number, saved in _versions(ctx):
        picked = _picked(ctx, saved)
        if picked.signature is None:
            continue
        for i, (field, fix, triton) in enumerate(load_errors(final, picked.signature)):
            yield Problem(field, f"version {number}: {fix}", triton, order=(i,))
        return


@rule("TRT545", "tensorflow-io-replaced", Severity.WARNING,
      "inputs and outputs listed for a SavedModel are the ones auto-complete puts in their place",
      triton_core=False, stage=Stage.ADVICE)
def tensorflow_io_replaced(ctx: ModelContext) -> Iterator[Problem]:
    """Why: with auto-complete on, the tensorflow backend replaces the config's inputs and outputs with the
    signature's, even when the config lists them: a listed reshape, optional input or label file is dropped
    without a word, and dims that disagree with the model are served as the model has them.

    Bad:  input [ { name: "x" dims: [ 3 ] reshape: { shape: [ 1, 3 ] } } ] for a SavedModel model
    Good: list the signature's tensors as it has them (tritonctl config show MODEL --normalized shows them), or
          start Triton with --disable-auto-complete-config
    """
    served, config = ctx.served, ctx.completed
    if served is None or config is None or not _is_read_savedmodel(served.signature) or ctx.autofill_error:
        return
    from tritonctl.tensorflow_backend import replaced

    changes = replaced(config, ctx.final)
    if changes:
        shown = "; ".join(changes[:4]) + (f"; and {len(changes) - 4} more" if len(changes) > 4 else "")
        yield Problem("input" if any(c.startswith("input") for c in changes) else "output",
                      f"Triton replaces the listed inputs and outputs with the signature's: {shown}")


@rule("TRT546", "tensorflow-parameters", Severity.ERROR,
      "the tensorflow backend's parameters hold values it accepts", triton_core=False, stage=Stage.MODEL_INIT)
def tensorflow_parameters(ctx: ModelContext) -> Iterator[Problem]:
    """Why: the tensorflow backend parses MAX_SESSION_SHARE_COUNT (a positive integer), TF_NUM_INTRA_THREADS and
    TF_NUM_INTER_THREADS (integers of at least 0) and TF_USE_PER_SESSION_THREADS (a boolean) when it loads the
    model (ModelState::ParseParameters); anything else fails the load.

    Bad:  parameters { key: "MAX_SESSION_SHARE_COUNT" value: { string_value: "0" } }
    Good: parameters { key: "MAX_SESSION_SHARE_COUNT" value: { string_value: "2" } }
    """
    from tritonctl.repository import stoll_prefix

    c = ctx.completed
    if c is None or c.backend != "tensorflow":
        return
    name = ctx.model_name
    for key, least, words in (("MAX_SESSION_SHARE_COUNT", 1, "positive"),
                              ("TF_NUM_INTRA_THREADS", 0, "non-negative"), ("TF_NUM_INTER_THREADS", 0, "non-negative")):
        if key not in c.parameters:
            continue
        value = c.parameters[key].string_value
        number = stoll_prefix(value)
        where = f'parameters["{key}"]'
        if number is None:
            yield Problem(where, f"'{value}' is not an integer", f"failed to convert '{value}' to integral number")
            return
        if number < least:
            yield Problem(where, f"{key} must be a {words} number",
                          f"parameter '{key}' must be {words} number for TensorFlow model '{name}'")
            return
    if "TF_USE_PER_SESSION_THREADS" in c.parameters:
        value = c.parameters["TF_USE_PER_SESSION_THREADS"].string_value
        if value.lower() not in ("true", "on", "1", "false", "off", "0"):
            yield Problem('parameters["TF_USE_PER_SESSION_THREADS"]', f"'{value}' is not a boolean (true/false)",
                          f"failed to convert '{value}' to boolean")
