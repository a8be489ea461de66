"""TRT405 and TRT501-TRT530: the model file, and what Triton's onnxruntime backend (onnxruntime 1.19.2 in
Triton 2.51) checks against it at load (triton-inference-server/onnxruntime_backend src/onnxruntime.cc)."""

from __future__ import annotations

from collections.abc import Iterator

from tritonctl.validate.context import ModelContext
from tritonctl.validate.model import Problem, Severity
from tritonctl.validate.registry import Stage, rule

from tritonctl.onnxruntime_backend import MAX_IR_VERSION, MAX_OPSET, load_errors, opset_message


@rule("TRT405", "model-file-missing", Severity.ERROR,
      "every served version folder holds the model file the config names", stage=Stage.MODEL_INIT)
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
    # a backend that is not a known one decides which file it opens, if any: Triton fills "model.<backend>" for a
    # backend taken from the model's name ('<name>.<backend>'), but the identity backend, for one, opens none
    if filename is None or (config.backend not in KNOWN_FILE_BACKENDS and not ctx.config.default_model_filename):
        return
    import os
    import stat

    from tritonctl.io.files import kind

    for number in ctx.served_versions:
        path = ctx.model_file(number)
        if path is None or number in ctx.unfinished_versions:  # TRT411 says so
            continue
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = None
        if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)) and config.backend != "onnxruntime":
            # (a folder is a model too: a SavedModel; an ONNX file's reader says it itself: TRT501)
            yield Problem(None, f"version {number}'s '{filename}' is {kind(mode)}, not a file: the backend would "
                          "block or fail reading it", file=f"{number}/{filename}")
            continue
        if mode is not None:
            continue
        absolute = ctx.triton_path(str(number), filename)
        triton = None
        if config.backend == "onnxruntime":
            triton = f"unable to find '{absolute}' for model instance '{ctx.model_name}'"
        hangs = ""
        if config.backend == "python":
            # what the local Triton 2.51's python backend logs; its load request then never returns (seen here:
            # the stub exits, the backend waits for it)
            triton = f"Python model file not found in '{absolute}'"
            hangs = " (Triton 2.51 logs that it is not found, then never answers the load request)"
        yield Problem(None, f"version {number} has no '{filename}' (the {config.backend or config.platform} "
                      f"model file){hangs}; add it with: tritonctl version add", triton, file=f"{number}")


KNOWN_FILE_BACKENDS = frozenset({"onnxruntime", "tensorrt", "pytorch", "openvino", "python", "tensorflow"})


def _onnx_versions(ctx: ModelContext):
    """(version, signature) for each served version whose model file is a readable ONNX signature."""
    from tritonctl.io.onnxsig import OnnxSignature

    for number in ctx.served_versions:
        sig = ctx.signature(number)
        if isinstance(sig, OnnxSignature):
            yield number, sig


@rule("TRT501", "onnx-unreadable", Severity.ERROR, "the model file is a readable ONNX model",
      triton_core=False, stage=Stage.MODEL_INIT)
def onnx_unreadable(ctx: ModelContext) -> Iterator[Problem]:
    """Why: onnxruntime cannot open a file that is not an ONNX protobuf (truncated, another format, empty)
    and Triton refuses the model.

    Bad:  1/model.onnx holding a TorchScript file
    Good: 1/model.onnx exported with torch.onnx or tf2onnx
    """
    from tritonctl.errors import ModelFileError

    if ctx.completed is None or ctx.completed.backend != "onnxruntime":
        return
    for number in ctx.served_versions:
        sig = ctx.signature(number)
        if isinstance(sig, ModelFileError):
            yield Problem(None, str(sig), None, file=str(number))


@rule("TRT502", "onnx-ir-version", Severity.ERROR,
      f"the ONNX IR version is at most {MAX_IR_VERSION} (onnxruntime 1.19 in Triton 2.51)", triton_core=False,
      stage=Stage.MODEL_INIT)
def onnx_ir_version(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton 2.51 ships onnxruntime 1.19.2, which refuses models of IR version 11 and later ("Unsupported
    model IR version"). Newer onnx and torch write newer IR versions by default (onnx.helper: IR 14).

    Bad:  a model saved with onnx.helper.make_model(...) defaults (IR 14)
    Good: onnx.helper.make_model(..., ir_version=10), or export with opset <= 21
    """
    for number, sig in _onnx_versions(ctx):
        if sig.ir_version > MAX_IR_VERSION:
            yield Problem(None, f"IR version {sig.ir_version} is newer than Triton 2.51's onnxruntime reads "
                          f"({MAX_IR_VERSION}); re-export or set model.ir_version = {MAX_IR_VERSION}",
                          f"Unsupported model IR version: {sig.ir_version}, max supported IR version: "
                          f"{MAX_IR_VERSION}", file=_rel(ctx, number))


@rule("TRT503", "onnx-opset", Severity.ERROR,
      f"the ai.onnx opset is at most {MAX_OPSET} (onnxruntime 1.19 in Triton 2.51)", triton_core=False,
      stage=Stage.MODEL_INIT)
def onnx_opset(ctx: ModelContext) -> Iterator[Problem]:
    """Why: onnxruntime 1.19.2 refuses models stamped with an ai.onnx opset newer than 21.

    Bad:  torch.onnx.export(..., opset_version=23)
    Good: torch.onnx.export(..., opset_version=20)
    """
    for number, sig in _onnx_versions(ctx):
        if sig.opset > MAX_OPSET:
            yield Problem(None, f"opset {sig.opset} is newer than Triton 2.51's onnxruntime supports "
                          f"({MAX_OPSET}); re-export with opset <= {MAX_OPSET}",
                          opset_message(sig.opset), file=_rel(ctx, number))


@rule("TRT504", "onnx-external-data", Severity.ERROR,
      "every external-data file the ONNX model references is inside its version folder", triton_core=False,
      stage=Stage.MODEL_INIT)
def onnx_external_data(ctx: ModelContext) -> Iterator[Problem]:
    """Why: large models (and torch's dynamo exporter, even for small ones) keep weights in separate files
    named inside the .onnx; onnxruntime opens them next to the model file, and a missing one fails the load.

    Bad:  1/model.onnx referencing model.onnx.data that was not copied
    Good: 1/model.onnx and 1/model.onnx.data together (or export with external_data=False)
    """
    import os

    for number, sig in _onnx_versions(ctx):
        base = os.path.dirname(sig.path)
        for location in sig.external_data:
            target = os.path.normpath(os.path.join(base, location))
            if os.path.isabs(location) or not target.startswith(os.path.normpath(base) + os.sep):
                yield Problem(None, f"external data '{location}' points outside the version folder; keep the "
                              "weights beside model.onnx", None, file=_rel(ctx, number))
            elif not os.path.exists(target):
                yield Problem(None, f"external data file '{location}' is missing from version {number}; copy "
                              "it beside the model file", None, file=_rel(ctx, number))


def _rel(ctx: ModelContext, number: int) -> str:
    path = ctx.model_file(number)
    return str(path.relative_to(ctx.model.path)) if path else str(number)


@rule("TRT510", "onnx-autofill", Severity.ERROR,
      "a model whose shapes cannot batch has max_batch_size 0 (onnxruntime auto-complete)", triton_core=False,
      stage=Stage.MODEL_INIT)
def onnx_autofill(ctx: ModelContext) -> Iterator[Problem]:
    """Why: when inputs or outputs are left out, Triton's onnxruntime backend completes them from the model;
    it refuses a non-zero max_batch_size for a model whose first dimensions are not all variable ("autofill
    failed ... model does not support batching").

    Bad:  max_batch_size: 8 (no input/output listed) for a model of input shape [1, 3, 224, 224]
    Good: max_batch_size: 0, or export the model with a dynamic batch axis
    """
    final = ctx.final
    if final is not None and ctx.autofill_error:
        yield Problem("max_batch_size", "set max_batch_size: 0 or export the model with a variable first dimension",
                      ctx.autofill_error)


@rule("TRT511", "onnx-signature", Severity.ERROR,
      "inputs and outputs match the ONNX model: count, names, data types, dims, batch dimension",
      triton_core=False, stage=Stage.INSTANCES)
def onnx_signature(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton's onnxruntime backend compares the config with the model when it creates an instance: the
    number of inputs, each name, data type and dims (the model's -1 accepts any config value for inputs;
    outputs must match exactly), a variable first dimension when max_batch_size > 0, scalars, optional and
    ragged inputs, sequence controls. Any difference fails the load.

    Every disagreement is listed (Triton reports the first; the others are what it reports next). When they are all
    in the inputs and outputs, `tritonctl config generate MODEL_FOLDER --update` rewrites those from the model.

    Bad:  max_batch_size: 8 input [ { name: "input.1" dims: [-1, 1, 32, 100] ... } ]  (batch dim listed twice)
    Good: max_batch_size: 8 input [ { name: "input.1" dims: [1, 32, 100] ... } ]
    """
    final = ctx.final
    if final is None or ctx.autofill_error or final.backend != "onnxruntime":
        return
    for number, sig in _onnx_versions(ctx):
        if sig.ir_version > MAX_IR_VERSION or sig.opset > MAX_OPSET:
            continue
        mismatches = load_errors(final, sig)
        if not mismatches:
            continue
        fixable = all(field is not None and field.startswith(("input", "output")) for field, _f, _t in mismatches)
        for i, (field, fix, triton) in enumerate(mismatches):
            message = f"version {number}: {fix}"
            if i == 0 and fixable and ctx.options.only_version is not None:  # a version being added
                message += (f" ({len(mismatches)} disagreement{'s' * (len(mismatches) != 1)} with the model; "
                            "tritonctl version add --update-config takes the inputs and outputs from it)")
            elif i == 0 and fixable and len(mismatches) > 1:
                message += (f" ({len(mismatches)} disagreements with the model; tritonctl config generate "
                            f"{ctx.model.path} --update rewrites the inputs and outputs from it)")
            yield Problem(field, message, triton, order=(i,))
        return


ORT_INT_PARAMS = {"execution_mode": None, "intra_op_thread_count": None, "inter_op_thread_count": None,
                  "cudnn_conv_algo_search": (0, 2), "arena_extend_strategy": (0, 1)}
ORT_BOOL_PARAMS = ("enable_mem_arena", "enable_mem_pattern")
TRT_EA_PARAMS = frozenset({
    "precision_mode", "max_workspace_size_bytes", "trt_max_partition_iterations", "trt_min_subgraph_size",
    "int8_calibration_table_name", "int8_use_native_calibration_table", "trt_dla_enable", "trt_dla_core",
    "trt_engine_cache_enable", "trt_engine_cache_path", "trt_engine_cache_prefix", "trt_dump_subgraphs",
    "trt_force_sequential_engine_build", "trt_context_memory_sharing_enable", "trt_layer_norm_fp32_fallback",
    "trt_timing_cache_enable", "trt_timing_cache_path", "trt_force_timing_cache", "trt_detailed_build_log",
    "trt_build_heuristics_enable", "trt_sparsity_enable", "trt_builder_optimization_level",
    "trt_auxiliary_streams", "trt_tactic_sources", "trt_extra_plugin_lib_paths", "trt_profile_min_shapes",
    "trt_profile_max_shapes", "trt_profile_opt_shapes", "trt_cuda_graph_enable", "trt_dump_ep_context_model",
    "trt_ep_context_file_path", "trt_ep_context_embed_mode",
})


@rule("TRT520", "onnxruntime-parameters", Severity.ERROR,
      "onnxruntime parameters hold values the backend can parse", triton_core=False, stage=Stage.MODEL_INIT)
def onnxruntime_parameters(ctx: ModelContext) -> Iterator[Problem]:
    """Why: the onnxruntime backend parses some parameters: execution_mode must be 0 or 1, thread counts and
    other integers must be numbers, enable_mem_arena/enable_mem_pattern booleans; otherwise the load fails.

    Bad:  parameters { key: "execution_mode" value: { string_value: "2" } }
    Good: parameters { key: "execution_mode" value: { string_value: "1" } }
    """
    from tritonctl.repository import stoll_prefix

    c = ctx.completed
    if c is None or c.backend != "onnxruntime":
        return
    for key in ORT_INT_PARAMS:
        if key not in c.parameters:
            continue
        value = c.parameters[key].string_value
        where = f'parameters["{key}"]'
        number = stoll_prefix(value)
        if number is None:
            yield Problem(where, f"'{value}' is not an integer", f"failed to convert '{value}' to integral number")
            return
        if key == "execution_mode" and number not in (0, 1):
            yield Problem(where, "execution_mode is 0 (sequential) or 1 (parallel)",
                          "Invalid configuration value provided. Expected values for  execution_mode are 0 or 1 but "
                          f"got {number} .")
            return
    for key in ORT_BOOL_PARAMS:
        if key in c.parameters:
            value = c.parameters[key].string_value
            if value.lower() not in ("true", "on", "1", "false", "off", "0"):
                yield Problem(f'parameters["{key}"]', f"'{value}' is not a boolean (true/false)",
                              f"failed to convert '{value}' to boolean")
                return


@rule("TRT521", "onnxruntime-accelerators", Severity.ERROR,
      "execution accelerators are ones onnxruntime knows, with known parameters", triton_core=False,
      stage=Stage.MODEL_INIT)
def onnxruntime_accelerators(ctx: ModelContext) -> Iterator[Problem]:
    """Why: Triton's onnxruntime backend accepts GPU accelerators 'tensorrt' and 'cuda' and the CPU accelerator
    'openvino'; the TensorRT accelerator takes a fixed list of parameters and precision_mode FP32, FP16 or INT8.

    Bad:  gpu_execution_accelerator : [ { name : "tensorrt" parameters { key: "precision_mode" value: "BF16" } } ]
    Good: gpu_execution_accelerator : [ { name : "tensorrt" parameters { key: "precision_mode" value: "FP16" } } ]
    """
    c = ctx.completed
    if c is None or c.backend != "onnxruntime" or not c.HasField("optimization"):
        return
    ea = c.optimization.execution_accelerators
    for i, acc in enumerate(ea.gpu_execution_accelerator):
        where = f"optimization.execution_accelerators.gpu_execution_accelerator[{i}]"
        if acc.name not in ("tensorrt", "cuda"):
            yield Problem(f"{where}.name", f"'{acc.name}' is not a GPU accelerator: use tensorrt or cuda",
                          f"unknown Execution Accelerator '{acc.name}' is requested")
            return
        if acc.name == "tensorrt":
            for key in sorted(acc.parameters):
                if key not in TRT_EA_PARAMS:
                    yield Problem(f"{where}.parameters", f"'{key}' is not a TensorRT accelerator parameter",
                                  f"unknown parameter '{key}' is provided for TensorRT Execution Accelerator")
                    return
            mode = acc.parameters.get("precision_mode")
            if mode is not None and mode not in ("FP32", "FP16", "INT8"):
                yield Problem(f"{where}.parameters", "precision_mode is FP32, FP16 or INT8",
                              f"unsupported precision mode '{mode}' is requested")
                return
    for i, acc in enumerate(ea.cpu_execution_accelerator):
        if acc.name != "openvino":
            yield Problem(f"optimization.execution_accelerators.cpu_execution_accelerator[{i}].name",
                          f"'{acc.name}' is not a CPU accelerator: use openvino",
                          f"unknown Execution Accelerator '{acc.name}' is requested")
            return


@rule("TRT522", "op-library-missing", Severity.ERROR,
      "model_operations.op_library_filename names files that exist", triton_core=False,
      stage=Stage.MODEL_INIT)
def op_library_missing(ctx: ModelContext) -> Iterator[Problem]:
    """Why: the onnxruntime backend registers each custom-op library listed in model_operations when it
    loads the model; a missing file fails the load.

    Bad:  model_operations { op_library_filename: "/opt/ops/libmissing.so" }
    Good: the path of a library that exists on the server
    """
    import os

    c = ctx.completed
    if c is None or c.backend != "onnxruntime" or not c.HasField("model_operations"):
        return
    for i, path in enumerate(c.model_operations.op_library_filename):
        if not os.path.exists(path):
            yield Problem(f"model_operations.op_library_filename[{i}]",
                          f"custom-op library '{path}' does not exist (paths are read on the server)")
            return


@rule("TRT530", "pytorch-outputs", Severity.ERROR, "a pytorch model's config lists at least one output",
      triton_core=False, stage=Stage.INSTANCES)
def pytorch_outputs(ctx: ModelContext) -> Iterator[Problem]:
    """Why: the pytorch backend does not complete configs and refuses one without outputs ("model
    configuration must contain at least one output, none were specified.").

    Bad:  backend: "pytorch" with input [ ... ] and no output
    Good: output [ { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [ -1 ] } ]
    """
    c = ctx.final
    if c is not None and c.backend == "pytorch" and len(c.output) == 0:
        yield Problem("output" if ctx.config_text and ctx.config_text.located.get("output") is not None else None,
                      "list the model's outputs (named OUTPUT__0, OUTPUT__1, ... for TorchScript models)",
                      "model configuration must contain at least one output, none were specified.")
