"""A passing and a failing fixture per rule.

Each case is two model folders, `<code>_pass` and `<code>_fail` (lower case), written from the file maps
below (a folder is `None`; an ONNX file is built on demand). `lines` are the lines of config.pbtxt (0: a
finding on a folder or file, not a config line) where the failing fixture must produce that code and nothing
else of it. `triton` is Triton 2.51's message for the failing fixture, with `{model}` for its name and
`{dir}` for its absolute folder. `live` says whether the live-Triton test can load the pair in the local
server (python backend only): every rule Triton's core enforces is live unless a reason is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conftest import Link
from validate.onnx_models import onnx_file
from validate.savedmodel_files import savedmodel_file

PY_MODEL = """\
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "x")
            outputs = [pb_utils.Tensor("y", x.as_numpy())] if x is not None else []
            responses.append(pb_utils.InferenceResponse(outputs))
        return responses
"""
PY = {"1/model.py": PY_MODEL}
AUTO_COMPLETE = PY_MODEL + """

    @staticmethod
    def auto_complete_config(config):
        config.add_input({{{add}}})
        config.add_output({{"name": "y", "data_type": "TYPE_FP32", "dims": [4]}})
        return config
"""
X_FP32_4 = '"name": "x", "data_type": "TYPE_FP32", "dims": [4]'
FORCE_CPU = 'parameters {{ key: "FORCE_CPU_ONLY_INPUT_TENSORS" value: {{ string_value: "{}" }} }}\n'
ENV_PATH = 'parameters {{ key: "EXECUTION_ENV_PATH" value: {{ string_value: "$$TRITON_MODEL_DIRECTORY/{}" }} }}\n'


TF = 'platform: "tensorflow_savedmodel"\n'
NO_TF = "the local Triton has no tensorflow backend"
FIXED = {"serving_default": ([("x", "DT_FLOAT", [3, 4])], [("y", "DT_FLOAT", [3, 4])])}
TWO_SIGNATURES = {"predict": ([("x", "DT_FLOAT", [-1, 4])], [("y", "DT_FLOAT", [-1, 4])]),
                  "embed": ([("x", "DT_FLOAT", [-1, 4])], [("e", "DT_FLOAT", [-1, 8])])}
SIGNATURE_PREDICT = 'parameters { key: "TF_SIGNATURE_DEF" value: { string_value: "predict" } }\n'


def tf(config: str, signatures=None, **kwargs) -> dict:
    return {"config.pbtxt": config, "1/model.savedmodel/saved_model.pb": savedmodel_file(signatures, **kwargs),
            "1/model.savedmodel/variables": None}


def tf_io(in_dims: str, in_type: str = "TYPE_FP32", name: str = "x") -> str:
    return (f'max_batch_size: 8\ninput [ {{ name: "{name}" data_type: {in_type} dims: {in_dims} }} ]\n'
            'output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]\n')


@dataclass
class Case:
    fail: dict
    passing: dict
    lines: list[int]
    triton: str | None = None
    options: dict = field(default_factory=dict)  # validate Options for both fixtures
    extra: dict = field(default_factory=dict)  # other models the pair needs (name -> files), e.g. ensemble steps
    live: bool | str = True  # False or a reason when the local server cannot show it
    fail_name: str | None = None  # folder name of the failing model when it must be special


def py(config: str, **files) -> dict:
    return {"config.pbtxt": config, **PY, **files}


def io_config(extra: str = "", mbs: int = 4, in_dims: str = "[ 4 ]", out_dims: str = "[ 4 ]") -> str:
    return (
        'backend: "python"\n'
        f"max_batch_size: {mbs}\n"
        "input [\n"
        "  {\n"
        '    name: "x"\n'
        "    data_type: TYPE_FP32\n"
        f"    dims: {in_dims}\n"
        "  }\n"
        "]\n"
        "output [\n"
        "  {\n"
        '    name: "y"\n'
        "    data_type: TYPE_FP32\n"
        f"    dims: {out_dims}\n"
        "  }\n"
        "]\n" + extra
    )


def seq(controls: str, mbs: int = 4) -> str:
    return io_config(f"sequence_batching {{\n{controls}}}\n", mbs=mbs)


START = ('  control_input [\n    {\n      name: "START"\n      control [ { kind: CONTROL_SEQUENCE_START '
         "int32_false_true: [ 0, 1 ] } ]\n    }\n  ]\n")

ENSEMBLE_STEP = {"config.pbtxt": io_config(mbs=8), **PY}


def ensemble(steps: str, mbs: int = 8, extra: str = "", in_type: str = "TYPE_FP32") -> dict:
    return {"config.pbtxt": (
        'platform: "ensemble"\n'
        f"max_batch_size: {mbs}\n"
        f'input [ {{ name: "in" data_type: {in_type} dims: [ 4 ] }} ]\n'
        'output [ { name: "out" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
        "ensemble_scheduling {\n"
        "  step [\n" + steps + "  ]\n"
        "}\n" + extra), "1": None}


def step(model: str = "ens_step", inp: str = 'input_map { key: "x" value: "in" }',
         out: str = 'output_map { key: "y" value: "out" }', version: int = -1) -> str:
    return (f'    {{\n      model_name: "{model}"\n      model_version: {version}\n      {inp}\n      {out}\n'
            "    }\n")


ORT = 'backend: "onnxruntime"\n'
X4 = [("x", [-1, 4])]
Y4 = [("y", [-1, 4])]

CASES: dict[str, Case] = {
    # TRT0: parse
    "TRT001": Case(py('backend: "python"\nmax_batch_size: 2\nfoo: 1\n'), py('backend: "python"\n'), [3],
                   "failed to read text proto from {dir}/config.pbtxt"),
    "TRT002": Case({"config.pbtxt/": None, "config.pbtxt/x": "", **PY}, py('backend: "python"\n'), [1],
                   "failed to open text file for read {dir}/config.pbtxt: Is a directory",
                   live="a folder named config.pbtxt is read by Triton's ifstream without a clear error"),
    "TRT003": Case({"1/model.pt": "torchscript"}, {"1/model.py": PY_MODEL}, [0],
                   "model configuration is not provided for model '{model}'",
                   live="the local server has no pytorch backend"),
    # TRT1: model-level
    "TRT101": Case(py('name: "other"\nbackend: "python"\n'), py('backend: "python"\n'), [1],
                   "unexpected directory name '{model}' for model 'other', directory name must equal model name"),
    "TRT102": Case({"config.pbtxt": "max_batch_size: 0\n", "1": None}, py("max_batch_size: 0\n"), [1],
                   "Invalid model name: Could not determine backend for model '{model}' with no backend in model "
                   "configuration. Expected model name of the form 'model.<backend_name>'."),
    "TRT103": Case({"config.pbtxt": 'platform: "onnx"\n', "1": None}, py('backend: "python"\n'), [1],
                   "unexpected platform type 'onnx' for {model}"),
    "TRT104": Case({"config.pbtxt": 'platform: "ensemble"\nbackend: "python"\n', "1": None},
                   py('backend: "python"\n'), [2],
                   "Ensemble model '{model}' must have platform type 'ensemble' and empty backend type"),
    "TRT105": Case({"config.pbtxt": 'backend: "pytorch"\nplatform: "onnxruntime_onnx"\n', "1": None},
                   py('backend: "python"\n'), [2],
                   "unexpected 'platform' and 'backend' pair, got:onnxruntime_onnx, pytorch"),
    "TRT106": Case(py('backend: "python"\nmax_batch_size: -1\n'), py('backend: "python"\nmax_batch_size: 0\n'), [2],
                   "'max_batch_size' must be non-negative value for {model}"),
    "TRT107": Case({"config.pbtxt": 'backend: "tensorflow"\nplatform: "tensorflow_savedmodel"\n',
                    "1/model.savedmodel/saved_model.pb": ""}, py('backend: "python"\n'), [1],
                   "unable to find backend library for backend 'tensorflow', try specifying runtime on the model "
                   "configuration.", options={"backends": frozenset({"python"})}),
    "TRT108": Case(py('backend: "python"\n', **{"1/model.py": AUTO_COMPLETE.format(add='"name": "x", "dims": [4]')}),
                   py('backend: "python"\n', **{"1/model.py": AUTO_COMPLETE.format(add=X_FP32_4)}), [0],
                   "ValueError: input 'x' in auto-complete-config function for model '{model}' is missing "
                   "'data_type' property.", options={"run_python": True}),
    "TRT109": Case(py('backend: "python"\n', **{"1/model.py": "import not_installed_anywhere\n" + PY_MODEL}),
                   py('backend: "python"\n'), [0], options={"run_python": True}, live=False),
    "TRT110": Case(py('backend: "python"\nruntime: "libtriton_nope.so"\n'),
                   py('backend: "python"\nruntime: "libtriton_python.so"\n'), [2],
                   "unable to find backend library 'libtriton_nope.so' for model '{model}', searched: '{dir}/1' "
                   "'{dir}' "),
    # TRT2: tensors
    "TRT201": Case(py(io_config(in_dims="[ 0, 3 ]")), py(io_config()), [7],
                   "model input 'x' dimension must be integer >= 1, or -1 to indicate a variable-size dimension "
                   "for {model}"),
    "TRT202": Case(py(io_config().replace("    dims: [ 4 ]\n", "    format: FORMAT_NCHW\n    dims: [ 4 ]\n", 1)),
                   py(io_config()), [7], "model input NHWC/NCHW require 3 dims for {model}"),
    "TRT203": Case(py(io_config().replace("]\noutput", '  ,{ name: "x" data_type: TYPE_FP32 dims: [ 4 ] }\n]\n'
                                          "output", 1)), py(io_config()), [9]),
    "TRT204": Case(py(io_config('batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_INT64 '
                                'source_input: "x" } ]\n')),
                   py(io_config('batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_INT32 '
                                'source_input: "x" } ]\n')), [17],
                   "batch input data type must be TYPE_INT32 or TYPE_FP32 for {model}"),
    "TRT205": Case(py(io_config('batch_output [ { kind: BATCH_SCATTER_WITH_INPUT_SHAPE target_name: "nope" '
                                'source_input: "x" } ]\n')),
                   py(io_config('batch_output [ { kind: BATCH_SCATTER_WITH_INPUT_SHAPE target_name: "y" '
                                'source_input: "x" } ]\n')), [17],
                   "unknown target output name 'nope' for {model}"),
    "TRT206": Case(py(io_config().replace('name: "y"\n', 'name: "y"\n    label_filename: "labels.txt"\n')),
                   py(io_config().replace('name: "y"\n', 'name: "y"\n    label_filename: "labels.txt"\n'),
                      **{"labels.txt": "a\nb\nc\nd\n"}), [13],
                   "failed to open text file for read {dir}/labels.txt: No such file or directory"),
    # TRT3: scheduling and instances
    "TRT301": Case(py(io_config("dynamic_batching {\n  preferred_batch_size: [ 0 ]\n}\n")),
                   py(io_config("dynamic_batching {\n  preferred_batch_size: [ 2 ]\n}\n")), [18],
                   "dynamic batching preferred size must be positive for {model}"),
    "TRT302": Case(py(io_config("dynamic_batching {\n  preferred_batch_size: [ 8 ]\n}\n")),
                   py(io_config("dynamic_batching {\n  preferred_batch_size: [ 4 ]\n}\n")), [18],
                   "dynamic batching preferred size must be <= max batch size for {model}"),
    "TRT303": Case(py(io_config("dynamic_batching {\n  priority_levels: 3\n}\n")),
                   py(io_config("dynamic_batching {\n  priority_levels: 3\n  default_priority_level: 2\n}\n")), [18],
                   "default priority level must be in range [1, 3] for {model}"),
    "TRT304": Case(py(io_config("dynamic_batching {\n  priority_levels: 2\n  default_priority_level: 1\n"
                                "  priority_queue_policy { key: 3 value { max_queue_size: 1 } }\n}\n")),
                   py(io_config("dynamic_batching {\n  priority_levels: 3\n  default_priority_level: 1\n"
                                "  priority_queue_policy { key: 3 value { max_queue_size: 1 } }\n}\n")), [20],
                   "priority queue policy must have priority level in range [1, 2] for {model}"),
    "TRT305": Case(py(io_config("dynamic_batching {\n  preserve_ordering: true\n  priority_levels: 2\n"
                                "  default_priority_level: 1\n}\n")),
                   py(io_config("dynamic_batching {\n  preserve_ordering: true\n}\n")), [18],
                   "Only one priority level is allowed when 'preserve_ordering' is true for {model}"),
    "TRT306": Case(py(io_config("dynamic_batching {\n  preserve_ordering: true\n  default_queue_policy { "
                                "timeout_action: DELAY default_timeout_microseconds: 100 }\n}\n")),
                   py(io_config("dynamic_batching {\n  preserve_ordering: true\n  default_queue_policy { "
                                "timeout_action: REJECT default_timeout_microseconds: 100 }\n}\n")), [19],
                   "Queue policy can not have DELAY as timeout action when 'preserve_ordering' is true for {model}"),
    "TRT307": Case(py(io_config('dynamic_batching { }\nparameters { key: "TRITON_BATCH_STRATEGY_PATH" value: '
                                '{ string_value: "/nonexistent/libbatch.so" } }\n')),
                   py(io_config("dynamic_batching { }\n")), [18],
                   "Batching library path not found: /nonexistent/libbatch.so"),
    "TRT310": Case(py(seq('  control_input [\n    {\n      control [ { kind: CONTROL_SEQUENCE_START '
                          "int32_false_true: [ 0, 1 ] } ]\n    }\n  ]\n")), py(seq(START)), [19],
                   "sequence batching control tensor must have a name for {model}"),
    "TRT311": Case(py(seq('  control_input [\n    { name: "C" control [ { kind: CONTROL_SEQUENCE_START '
                          'int32_false_true: [ 0, 1 ] } ] },\n    { name: "C" control [ { kind: CONTROL_SEQUENCE_END '
                          "int32_false_true: [ 0, 1 ] } ] }\n  ]\n")), py(seq(START)), [20],
                   "sequence batching control tensor 'C' is specified for multiple control kinds for {model}"),
    "TRT312": Case(py(seq('  control_input [\n    { name: "E1" control [ { kind: CONTROL_SEQUENCE_END '
                          'int32_false_true: [ 0, 1 ] } ] },\n    { name: "E2" control [ { kind: CONTROL_SEQUENCE_END'
                          " int32_false_true: [ 0, 1 ] } ] }\n  ]\n")), py(seq(START)), [20],
                   "sequence batching specifies multiple CONTROL_SEQUENCE_END tensors for {model}"),
    "TRT313": Case(py(seq('  control_input [\n    { name: "R" control [ { kind: CONTROL_SEQUENCE_READY } ] }\n'
                          "  ]\n")), py(seq(START)), [19],
                   "sequence batching must specify either 'int32_false_true', 'fp32_false_true' or "
                   "'bool_false_true' for CONTROL_SEQUENCE_READY for {model}"),
    "TRT314": Case(py(seq('  control_input [\n    { name: "ID" control [ { kind: CONTROL_SEQUENCE_CORRID } ] }\n'
                          "  ]\n")),
                   py(seq('  control_input [\n    { name: "ID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: '
                          "TYPE_UINT64 } ] }\n  ]\n")), [19],
                   "unexpected data type for control CONTROL_SEQUENCE_CORRID for {model}. Allowed data types are "
                   "TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 and TYPE_STRING"),
    "TRT315": Case(py(seq("  oldest { preferred_batch_size: [ 8 ] }\n")),
                   py(seq("  oldest { preferred_batch_size: [ 4 ] }\n")), [18],
                   "sequence batching preferred batch size must be <= max batch size for {model}"),
    "TRT316": Case(py(seq("  direct { minimum_slot_utilization: 1.5 }\n")),
                   py(seq("  direct { minimum_slot_utilization: 0.5 }\n")), [18],
                   "sequence batching minimum slot utilization must be in range (0.0, 1.0] for {model}"),
    "TRT317": Case(py(seq('  state [ { input_name: "S_IN" output_name: "S_OUT" data_type: TYPE_INT32 dims: [ 1 ]\n'
                          '    initial_state: { name: "init" data_type: TYPE_FP32 dims: [ 1 ] zero_data: true } } ]\n')),
                   py(seq('  state [ { input_name: "S_IN" output_name: "S_OUT" data_type: TYPE_INT32 dims: [ 1 ]\n'
                          '    initial_state: { name: "init" data_type: TYPE_INT32 dims: [ 1 ] zero_data: true } } ]\n'
                          )), [19],
                   "The data type used for 'initial_state' field of state 'S_IN' does not match the state data type."),
    "TRT320": Case(py(seq("") + "response_cache { enable: true }\n"), py(seq("")), [19],
                   "Response Cache does not currently support model {model} with sequence batching scheduler. "
                   "Please disable the response cache."),
    "TRT321": Case(py(io_config("model_transaction_policy { decoupled: true }\nresponse_cache { enable: true }\n")),
                   py(io_config("model_transaction_policy { decoupled: true }\n")), [18],
                   "Response Cache does not currently support model {model} with 'decoupled' transaction policy. "
                   "Please disable the response cache."),
    "TRT330": Case(py(io_config("instance_group [ { kind: KIND_CPU gpus: [ 0 ] } ]\n")),
                   py(io_config("instance_group [ { kind: KIND_CPU } ]\n")), [17],
                   "instance group {model}_0 of model {model} has kind KIND_CPU but specifies one or more GPUs"),
    "TRT331": Case(py(io_config("instance_group [ { kind: KIND_GPU } ]\n")),
                   py(io_config("instance_group [ { kind: KIND_AUTO } ]\n")), [17],
                   "instance group {model}_0 of model {model} has kind KIND_GPU but no GPUs are available",
                   options={"gpus": 0}),
    "TRT332": Case(py(io_config('instance_group [ { kind: KIND_CPU profile: [ "0" ] } ]\n')),
                   py(io_config("instance_group [ { kind: KIND_CPU } ]\n")), [17],
                   "instance group {model}_0 of model {model} and platform specifies profile field which is only "
                   "supported for TensorRT models"),
    "TRT333": Case(py(io_config("instance_group [ { kind: KIND_CPU count: 0 } ]\n")),
                   py(io_config("instance_group [ { kind: KIND_CPU count: 1 } ]\n")), [17]),
    "TRT340": Case(py(io_config('model_warmup [ { name: "w" batch_size: 1 inputs { key: "x" value { data_type: '
                                "TYPE_FP32 dims: [ -1 ] zero_data: true } } } ]\n")),
                   py(io_config('model_warmup [ { name: "w" batch_size: 1 inputs { key: "x" value { data_type: '
                                "TYPE_FP32 dims: [ 4 ] zero_data: true } } } ]\n")), [17],
                   "warmup setting expects all variable-size dimensions are specified for input 'x'"),
    "TRT341": Case(py(io_config('model_warmup [ { name: "w" batch_size: 8 inputs { key: "x" value { data_type: '
                                "TYPE_FP32 dims: [ 4 ] zero_data: true } } } ]\n")),
                   py(io_config('model_warmup [ { name: "w" batch_size: 4 inputs { key: "x" value { data_type: '
                                "TYPE_FP32 dims: [ 4 ] zero_data: true } } } ]\n")), [17],
                   "failed to run warmup sample 'w': " + "batch size 8 for '{model}_0', max allowed is 4; " * 7
                   + "batch size 8 for '{model}_0', max allowed is 4;"),
    # TRT4: repository and versions
    "TRT401": Case({"1": None}, py('backend: "python"\n'), [0], fail_name=".trt401_hidden"),
    "TRT402": Case(py('backend: "python"\n', **{"01/model.py": PY_MODEL}), py('backend: "python"\n'), [0]),
    "TRT403": Case(py('backend: "python"\n', **{"2abc/model.py": PY_MODEL}), py('backend: "python"\n'), [0]),
    "TRT404": Case(py('backend: "python"\nversion_policy: { specific: { versions: [ 3 ] } }\n'),
                   py('backend: "python"\nversion_policy: { specific: { versions: [ 1 ] } }\n'), [2],
                   "at least one version must be available under the version policy of model '{model}'"),
    "TRT405": Case({"config.pbtxt": ORT, "1": None},
                   {"config.pbtxt": ORT, "1/model.onnx": onnx_file(X4, Y4)}, [0],
                   "unable to find '{dir}/1/model.onnx' for model instance '{model}'", live=False),
    "TRT408": Case(py('backend: "python"\n', **{"~tritonctl-staging-1-dead/model.py": PY_MODEL,
                                                 ".tritonctl-removed-2-1-dead/model.py": PY_MODEL}),
                   py('backend: "python"\n'), [0, 0]),
    "TRT409": Case(py('backend: "python"\n', **{".config.pbtxt.tritonctl-999999999-0a1b2c3d.tmp": "x",
                                                 "1/.model.py.abcdefgh.tmp": "y"}),
                   py('backend: "python"\n', **{".config.pbtxt.notours.txt": "z"}), [0, 0]),
    "TRT410": Case(py('backend: "python"\n', **{"1/labels.txt": Link("/dev/null")}),
                   py('backend: "python"\n', **{"1/labels.txt": Link("model.py")}), [0]),
    "TRT411": Case(py('backend: "python"\n', **{"1/.tritonctl-unfinished": "a tritonctl sync is placing it\n"}),
                   py('backend: "python"\n'), [0]),
    "TRT406": Case(py('backend: "python"\nversion_policy: { specific: { versions: [ 1, 2 ] } }\n'),
                   py('backend: "python"\nversion_policy: { specific: { versions: [ 1 ] } }\n'), [2]),
    # TRT5: model file (onnxruntime)
    "TRT501": Case({"config.pbtxt": ORT, "1/model.onnx": b"\x08\x08garbage"},
                   {"config.pbtxt": ORT, "1/model.onnx": onnx_file(X4, Y4)}, [0]),
    "TRT502": Case({"config.pbtxt": ORT, "1/model.onnx": onnx_file(X4, Y4, ir=11)},
                   {"config.pbtxt": ORT, "1/model.onnx": onnx_file(X4, Y4, ir=10)}, [0],
                   "Unsupported model IR version: 11, max supported IR version: 10"),
    "TRT503": Case({"config.pbtxt": ORT, "1/model.onnx": onnx_file(X4, Y4, opset=22)},
                   {"config.pbtxt": ORT, "1/model.onnx": onnx_file(X4, Y4, opset=21)}, [0]),
    "TRT504": Case({"config.pbtxt": ORT, "1/model.onnx": onnx_file(X4, Y4, weights=True, external="w.bin")},
                   {"config.pbtxt": ORT, "1/model.onnx": onnx_file(X4, Y4, weights=True, external="w.bin"),
                    "1/w.bin": b"\x00" * 4}, [0]),
    "TRT111": Case(py('backend: "python"\n' + ENV_PATH.format("env.tar.gz")),
                   py('backend: "python"\n' + ENV_PATH.format("env"), **{"env/bin/activate": "# an environment\n"}),
                   [2], "Failed to get the canonical path for {dir}/env.tar.gz."),
    "TRT112": Case(py('backend: "python"\n' + FORCE_CPU.format("true")), py('backend: "python"\n' + FORCE_CPU.format("no")),
                   [2], "Incorrect value for FORCE_CPU_ONLY_INPUT_TENSORS: true'"),
    "TRT510": Case({"config.pbtxt": ORT + "max_batch_size: 8\n", "1/model.onnx": onnx_file([("x", [1, 4])],
                                                                                           [("y", [1, 4])])},
                   {"config.pbtxt": ORT + "max_batch_size: 0\n", "1/model.onnx": onnx_file([("x", [1, 4])],
                                                                                           [("y", [1, 4])])}, [2],
                   "autofill failed for model '{model}': model does not support batching while non-zero "
                   "max_batch_size is specified"),
    "TRT511": Case({"config.pbtxt": ORT + "max_batch_size: 8\n"
                    'input [ { name: "x" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]\n'
                    'output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]\n',
                    "1/model.onnx": onnx_file(X4, Y4)},
                   {"config.pbtxt": ORT + "max_batch_size: 8\n"
                    'input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
                    'output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]\n',
                    "1/model.onnx": onnx_file(X4, Y4)}, [3],
                   "model '{model}', tensor 'x': the model expects 2 dimensions (shape [-1,4]) but the model "
                   "configuration specifies 3 dimensions (an initial batch dimension because max_batch_size > 0 "
                   "followed by the explicit tensor shape, making complete shape [-1,-1,4])"),
    "TRT520": Case({"config.pbtxt": ORT + 'parameters { key: "execution_mode" value: { string_value: "2" } }\n',
                    "1/model.onnx": onnx_file(X4, Y4)},
                   {"config.pbtxt": ORT + 'parameters { key: "execution_mode" value: { string_value: "1" } }\n',
                    "1/model.onnx": onnx_file(X4, Y4)}, [2],
                   "Invalid configuration value provided. Expected values for  execution_mode are 0 or 1 but got 2 ."),
    "TRT521": Case({"config.pbtxt": ORT + "optimization { execution_accelerators {\n  gpu_execution_accelerator : "
                    '[ { name : "foo" } ] } }\n', "1/model.onnx": onnx_file(X4, Y4)},
                   {"config.pbtxt": ORT + "optimization { execution_accelerators {\n  gpu_execution_accelerator : "
                    '[ { name : "cuda" } ] } }\n', "1/model.onnx": onnx_file(X4, Y4)}, [3],
                   "unknown Execution Accelerator 'foo' is requested"),
    "TRT522": Case({"config.pbtxt": ORT + 'model_operations { op_library_filename: "/nonexistent/libops.so" }\n',
                    "1/model.onnx": onnx_file(X4, Y4)},
                   {"config.pbtxt": ORT, "1/model.onnx": onnx_file(X4, Y4)}, [2]),
    "TRT530": Case({"config.pbtxt": 'backend: "pytorch"\nmax_batch_size: 4\n'
                    'input [ { name: "INPUT__0" data_type: TYPE_FP32 dims: [ 4 ] } ]\n', "1/model.pt": "ts"},
                   {"config.pbtxt": 'backend: "pytorch"\nmax_batch_size: 4\n'
                    'input [ { name: "INPUT__0" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
                    'output [ { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [ 4 ] } ]\n', "1/model.pt": "ts"}, [1],
                   "model configuration must contain at least one output, none were specified."),
    # TRT54: TensorFlow SavedModels (no tensorflow backend in the local Triton: the backend's source is the reference)
    "TRT540": Case({"config.pbtxt": TF + "max_batch_size: 8\n", "1/model.savedmodel/variables": None},
                   tf(TF + "max_batch_size: 8\n"), [0],
                   "SavedModel file does not exist at: {dir}/1/model.savedmodel/{{saved_model.pbtxt|saved_model.pb}}",
                   live=NO_TF),
    "TRT541": Case(tf(TF + "max_batch_size: 8\n", tags=("serve", "gpu")), tf(TF + "max_batch_size: 8\n"), [0],
                   "Could not find meta graph def matching supplied tags: {{ serve }}. To inspect available tag-sets in "
                   "the SavedModel, please use the SavedModel CLI: `saved_model_cli`", live=NO_TF),
    "TRT542": Case(tf(TF, TWO_SIGNATURES), tf(TF + SIGNATURE_PREDICT, TWO_SIGNATURES), [0],
                   "unable to find default serving signature 'serving_default', using signature 'predict'",
                   live=NO_TF),
    "TRT543": Case(tf(TF + "max_batch_size: 8\n", FIXED), tf(TF + "max_batch_size: 0\n", FIXED), [2],
                   "unable to autofill for '{model}', configuration specified max-batch 8 but model signature does "
                   "not support batching", live=NO_TF),
    "TRT544": Case(tf(TF + tf_io("[ -1, 4 ]")), tf(TF + tf_io("[ 4 ]")), [3],
                   "model '{model}', tensor 'x': the model expects 2 dimensions (shape [-1,4]) but the model "
                   "configuration specifies 3 dimensions (an initial batch dimension because max_batch_size > 0 "
                   "followed by the explicit tensor shape, making complete shape [-1,-1,4])",
                   options={"autocomplete": False}, live=NO_TF),
    "TRT545": Case(tf(TF + "max_batch_size: 8\n" + 'input [ { name: "x" data_type: TYPE_FP32 dims: [ 3 ] } ]\n'),
                   tf(TF + "max_batch_size: 8\n" + 'input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'),
                   [3], live=NO_TF),
    "TRT546": Case(tf(TF + 'parameters { key: "MAX_SESSION_SHARE_COUNT" value: { string_value: "0" } }\n'),
                   tf(TF + 'parameters { key: "MAX_SESSION_SHARE_COUNT" value: { string_value: "2" } }\n'), [2],
                   "parameter 'MAX_SESSION_SHARE_COUNT' must be positive number for TensorFlow model '{model}'",
                   live=NO_TF),
    # TRT6: ensembles
    "TRT601": Case({"config.pbtxt": 'platform: "ensemble"\nmax_batch_size: 8\n', "1": None},
                   ensemble(step()), [1],
                   "ensemble scheduling must be set for ensemble {model} whose platform is ensemble",
                   extra={"ens_step": ENSEMBLE_STEP}),
    "TRT602": Case(ensemble(step(), extra="instance_group [ { kind: KIND_CPU } ]\n"), ensemble(step()), [15],
                   "instance group should not be specified for ensemble '{model}'", extra={"ens_step": ENSEMBLE_STEP}),
    "TRT603": Case(ensemble(step(inp="")), ensemble(step()), [7],
                   "must specify 'input_map' in step 0 of ensemble '{model}'", extra={"ens_step": ENSEMBLE_STEP}),
    "TRT604": Case(ensemble(step() + "    ,\n" + step()), ensemble(step()), [18],
                   "ensemble tensor 'out' can appear in an output map only once for ensemble '{model}' step 1",
                   extra={"ens_step": ENSEMBLE_STEP}),
    "TRT605": Case(ensemble(step(inp='input_map { key: "x" value: "other" }')), ensemble(step()), [3],
                   "ensemble input 'in' for ensemble {model}' is not used", extra={"ens_step": ENSEMBLE_STEP}),
    "TRT610": Case(ensemble(step(model="no_such_model")), ensemble(step()), [8],
                   "ensemble {model} contains models that are not available or ambiguous: no_such_model",
                   extra={"ens_step": ENSEMBLE_STEP}),
    "TRT611": Case(ensemble(step(model="trt611_fail", inp='input_map { key: "in" value: "in" }',
                                 out='output_map { key: "out" value: "out" }')), ensemble(step()), [5],
                   "circular dependency between ensembles: {model} -> ... -> {model} -> {model}",
                   extra={"ens_step": ENSEMBLE_STEP}),
    "TRT612": Case(ensemble(step(version=5)), ensemble(step(version=1)), [9],
                   "ensemble '{model}' depends on 'ens_step' whose required version 5 is not loaded.",
                   extra={"ens_step": ENSEMBLE_STEP}),
    "TRT613": Case(ensemble(step(model="ens_step4")), ensemble(step(model="ens_step4"), mbs=4), [2],
                   "ensemble {model} allows maximum batch size 8, but it contains model ens_step4 which only allows "
                   "maximum batch size to be 4", extra={"ens_step4": {"config.pbtxt": io_config(mbs=4), **PY}}),
    "TRT614": Case(ensemble(step(inp='input_map { key: "nope" value: "in" }')), ensemble(step()), [10],
                   "in ensemble {model}, ensemble tensor in is mapping to non-existing input nope in model ens_step",
                   extra={"ens_step": ENSEMBLE_STEP}),
    "TRT615": Case(ensemble(step(), in_type="TYPE_INT32"), ensemble(step()), [10],
                   "in ensemble {model}, ensemble tensor in: inconsistent data type: TYPE_INT32 is inferred from "
                   "model {model} while TYPE_FP32 is inferred from model ens_step", extra={"ens_step": ENSEMBLE_STEP}),
}


@dataclass
class Branch:
    """Another way a rule's check fails: a failing model named `<code>_fail_<branch>` (lower case)."""

    fail: dict
    lines: list[int]
    triton: str | None = None
    live: bool | str = True  # a reason when the local server cannot show it


def state(initial: str, dims: str = "[ 1 ]", more: str = "") -> str:
    return seq(f'  state [ {{ input_name: "S_IN" output_name: "S_OUT" data_type: TYPE_INT32 dims: {dims}\n'
               f"    initial_state: {initial} }}{more} ]\n")


def ort_model(config: str, inputs=X4, outputs=Y4, **kwargs) -> dict:
    return {"config.pbtxt": ORT + config, "1/model.onnx": onnx_file(inputs, outputs, **kwargs)}


def ort_io(inputs: str, outputs: str = '{ name: "y" data_type: TYPE_FP32 dims: [ 4 ] }', mbs: int = 8) -> str:
    return f"max_batch_size: {mbs}\ninput [ {inputs} ]\noutput [ {outputs} ]\n"


X_IN = '{ name: "x" data_type: TYPE_FP32 dims: [ 4 ] }'
INIT = 'name: "init" data_type: TYPE_INT32 dims: [ 1 ] zero_data: true'
BRANCHES: dict[str, dict[str, Branch]] = {
    "TRT405": {"python": Branch({"config.pbtxt": 'backend: "python"\n', "1": None}, [0],
                                "Python model file not found in '{dir}/1/model.py'",
                                live="the local Triton's load request for it never returns (its log says the stub "
                                     "found no model file; tests/validate/test_live_triton.py shows it)")},
    "TRT111": {"no_activate": Branch(py('backend: "python"\n' + ENV_PATH.format("env"), **{"env/lib": None}), [2],
                                     "Path {dir}/env/bin/activate does not exist. The Python environment should "
                                     "contain an 'activate' script.")},
    "TRT540": {"truncated": Branch({"config.pbtxt": TF + "max_batch_size: 8\n",
                                    "1/model.savedmodel/saved_model.pb": b"\x12\xff\xff\x01"}, [0], live=NO_TF)},
    "TRT541": {
        "signature": Branch(tf(TF, {"__saved_model_init_op": ([], [("__saved_model_init_op", "DT_INVALID", None)])}),
                            [0], "unable to load model '{model}', expected 'serving_default' signature", live=NO_TF),
        "datatype": Branch(tf(TF, {"serving_default": ([("x", "DT_BFLOAT16", [-1, 4])], [("y", "DT_FLOAT", [-1])])}),
                           [0], "unable to process input 'x' for '{model}', unsupported datatype 'DT_BFLOAT16'",
                           live=NO_TF),
    },
    "TRT543": {
        "contradicting": Branch(tf(TF + "max_batch_size: 0\n" + 'input [ { name: "x" dims: [ 4 ] }, '
                                '{ name: "z" dims: [ -1, 4 ] } ]\n',
                                {"serving_default": ([("x", "DT_FLOAT", [-1, 4]), ("z", "DT_FLOAT", [-1, 4])],
                                                     [("y", "DT_FLOAT", [-1, 4])])}), [3],
                                "unable to autofill for '{model}', model tensor configurations are contradicting each "
                                "other in terms of whether batching is supported", live=NO_TF),
        "rank": Branch(tf(TF, {"serving_default": ([("x", "DT_FLOAT", None)], [("y", "DT_FLOAT", [-1, 4])])}), [1],
                       "unable to autofill for '{model}': the rank of model tensor 'x' is 0 which is not supported",
                       live=NO_TF),
    },
    "TRT544": {
        "datatype": Branch(tf(TF + tf_io("[ 4 ]", "TYPE_INT32")), [3],
                           "unable to load model '{model}', configuration expects datatype TYPE_INT32 for input 'x', "
                           "model provides TYPE_FP32", live=NO_TF),
        "name": Branch(tf(TF + tf_io("[ 4 ]", name="z")), [3],
                       "unexpected inference input 'z', allowed inputs are: x", live=NO_TF),
        "config_type": Branch(tf(TF + tf_io("[ 4 ]", "TYPE_BF16")), [3],
                              "unsupported datatype 'TYPE_BF16' for tensor 'x' for model '{model}'", live=NO_TF),
    },
    "TRT108": {
        "raises": Branch(py('backend: "python"\n', **{"1/model.py": PY_MODEL + """
    @staticmethod
    def auto_complete_config(config):
        raise ValueError("no weights for this size")
"""}), [0], "ValueError: no weights for this size"),
        "returns_none": Branch(py('backend: "python"\n', **{"1/model.py": PY_MODEL + """
    @staticmethod
    def auto_complete_config(config):
        config.set_max_batch_size(4)
"""}), [0], "auto_complete_config function in model '{model}' must return a valid pb.ModelConfig object."),
        "conflict": Branch(py(io_config(mbs=0, in_dims="[ 3 ]"), **{"1/model.py": AUTO_COMPLETE.format(add=X_FP32_4)}),
                           [0], "ValueError: model '{model}', tensor 'x': the model expects dims [4] but the model "
                           "configuration specifies dims [3]"),
    },
    "TRT110": {
        "escapes": Branch(py('backend: "python"\nruntime: "../lib/libtriton_python.so"\n',
                             **{"lib/libtriton_python.so": b"\x7fELF"}), [2],
                          "backend library name '../lib/libtriton_python.so' escapes backend directory '{dir}/1', for "
                          "model '{model}', check model config runtime field"),
        "other_backend": Branch(py('backend: "python"\nruntime: "../onnxruntime/libtriton_onnxruntime.so"\n'), [2],
                                "backend library name '../onnxruntime/libtriton_onnxruntime.so' escapes backend "
                                "directory '", live="the local server's onnxruntime is a stand-in with no "
                                                    "libtriton_onnxruntime.so"),
    },
    "TRT313": {
        "several": Branch(py(seq('  control_input [\n    { name: "R" control [ { kind: CONTROL_SEQUENCE_READY '
                                 "int32_false_true: [ 0, 1 ] fp32_false_true: [ 0, 1 ] } ] }\n  ]\n")), [19],
                          "sequence batching specifies more than one from 'int32_false_true', 'fp32_false_true' and "
                          "'bool_false_true' for CONTROL_SEQUENCE_READY for {model}"),
        "count": Branch(py(seq('  control_input [\n    { name: "R" control [ { kind: CONTROL_SEQUENCE_READY '
                               "int32_false_true: [ 0, 1, 1 ] } ] }\n  ]\n")), [19],
                        "sequence batching control 'int32_false_true' must have exactly 2 entries for "
                        "CONTROL_SEQUENCE_READY for {model}"),
    },
    "TRT317": {
        "two": Branch(py(state(f"[ {{ {INIT} }}, {{ {INIT} }} ]")), [19],
                      "initial_state field for state input 'S_IN' must contain exactly one or zero element. Found "
                      "'2' elements."),
        "name": Branch(py(state("{ data_type: TYPE_INT32 dims: [ 1 ] zero_data: true }")), [19],
                       "Field 'name' must be set when using initial_state for state input 'S_IN'."),
        "input_twice": Branch(py(state(f"{{ {INIT} }}", more=f', {{ input_name: "S_IN" output_name: "S_OUT2" '
                                       f"data_type: TYPE_INT32 dims: [ 1 ] initial_state: {{ {INIT} }} }}")), [19],
                              "State input name 'S_IN' specified more than once."),
        "rank": Branch(py(state('{ name: "init" data_type: TYPE_INT32 dims: [ 1, 1 ] zero_data: true }')), [19],
                       "Number of dimensions in 'initial_state' doesn't match the size of 'state' dimensions for "
                       "state input 'S_IN'. 2 != 1"),
        "variable": Branch(py(state('{ name: "init" data_type: TYPE_INT32 dims: [ -1 ] zero_data: true }',
                                    dims="[ -1 ]")), [19],
                           "'initial_state' field for state input name 'S_IN' contains variable dimensions."),
        "dim": Branch(py(state('{ name: "init" data_type: TYPE_INT32 dims: [ 3 ] zero_data: true }', dims="[ 2 ]")),
                      [19], "'initial_state' dim for input name 'S_IN' doesn't match 'state' dim description. 3 != 2"),
        "no_data": Branch(py(state('{ name: "init" data_type: TYPE_INT32 dims: [ 1 ] }')), [19],
                          "initial_state setting expects state'S_IN' to have state_data set"),
        "file_missing": Branch(py(state('{ name: "init" data_type: TYPE_INT32 dims: [ 1 ] data_file: "none.bin" }')),
                               [19], "failed to open text file for read {dir}/initial_state/none.bin: No such file or "
                               "directory"),
        "file_short": Branch(py(state('{ name: "init" data_type: TYPE_INT32 dims: [ 2 ] data_file: "two.bin" }',
                                      dims="[ 2 ]"), **{"initial_state/two.bin": b"\x01\x00\x00\x00"}), [19],
                             "initial_state setting expects 8 bytes, but the data provided from two.binonly has 4 "
                             "bytes."),
    },
    "TRT340": {
        "missing_input": Branch(py('backend: "python"\ninput [ { name: "a" data_type: TYPE_FP32 dims: [ 1 ] }, '
                                   '{ name: "b" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
                                   'output [ { name: "y" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
                                   'model_warmup [ { name: "w" batch_size: 1 inputs { key: "a" value { data_type: '
                                   "TYPE_FP32 dims: [ 1 ] zero_data: true } } } ]\n"), [4],
                                "expected 2 inputs but got 1 inputs for model '{model}'. Got input(s) ['a'], but "
                                "missing required input(s) ['b']. Please provide all required input(s)."),
        "no_data": Branch(py(io_config('model_warmup [ { name: "w" batch_size: 1 inputs { key: "x" value { '
                                       "data_type: TYPE_FP32 dims: [ 4 ] } } } ]\n")), [17],
                          "warmup setting expects input 'x' to have input_data_type set"),
    },
    "TRT511": {
        "count": Branch(ort_model(ort_io(X_IN), inputs=[("x", [-1, 4]), ("x2", [-1, 4])]), [3],
                        "unable to load model '{model}', configuration expects 1 inputs, model provides 2"),
        "control_missing": Branch(ort_model(ort_io(X_IN) + 'sequence_batching { control_input [ { name: "START" '
                                            "control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] "
                                            "} ] }\n"), [5, 3],
                                  "configuration specified sequence control 'START', but model does not provide that "
                                  "input"),
        "control_dims": Branch(ort_model(ort_io(X_IN) + 'sequence_batching { control_input [ { name: "S" control '
                                         "[ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] } ] }\n",
                                         inputs=[("x", [-1, 4]), ("S", [-1, 2])]), [5],
                               "unable to load model '{model}', sequence control 'S' in model has dims [2] but dims "
                               "[1] is expected"),
        "control_type": Branch(ort_model(ort_io(X_IN) + 'sequence_batching { control_input [ { name: "S" control '
                                         "[ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] } ] }\n",
                                         inputs=[("x", [-1, 4]), ("S", [-1, 1])]), [5],
                               "unable to load model '{model}', sequence control 'S', the model expects data-type "
                               "FLOAT but the model configuration specifies data-type TYPE_INT32"),
        "name": Branch(ort_model(ort_io('{ name: "q" data_type: TYPE_FP32 dims: [ 4 ] }')), [3],
                       "unexpected inference input 'q', allowed inputs are: x"),
        "optional": Branch(ort_model(ort_io('{ name: "x" data_type: TYPE_FP32 dims: [ 4 ] optional: true }')
                                     + 'batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_FP32 '
                                       'source_input: "x" } ]\n'), [3],
                           "unable to load model '{model}', optional input 'x' is not supported for models that "
                           "support batching"),
        "unsupported_type": Branch(ort_model(ort_io('{ name: "x" data_type: TYPE_BF16 dims: [ 4 ] }')), [3],
                                   "unsupported datatype TYPE_BF16 for input 'x' for model '{model}'"),
        "type": Branch(ort_model(ort_io('{ name: "x" data_type: TYPE_INT32 dims: [ 4 ] }')), [3],
                       "unable to load model '{model}', configuration expects datatype TYPE_INT32 for input 'x', "
                       "model provides TYPE_FP32"),
        "ragged_shape": Branch(ort_model(ort_io('{ name: "x" data_type: TYPE_FP32 dims: [ 4 ] '
                                                "allow_ragged_batch: true }")), [3],
                               "unable to load model '{model}', configuration expects model provides input with shape "
                               "[-1]  for ragged input 'x', model provides [-1,4]"),
        "scalar": Branch(ort_model(ort_io('{ name: "x" data_type: TYPE_FP32 dims: [ 4 ] }',
                                          '{ name: "y" data_type: TYPE_FP32 dims: [ 1 ] }', mbs=0),
                                   inputs=[("x", [])], outputs=[("y", [])]), [3],
                         "unable to load model '{model}', scalar tensor 'x', should only provide 1 in the model "
                         "configuration when the model doesn't support batching. Model configuration provided: [4]."),
        "batch_axis": Branch(ort_model(ort_io(X_IN), inputs=[("x", [2, 4])], outputs=[("y", [2, 4])]), [3, 4],
                             "model '{model}', tensor 'x': for the model to support batching the shape should have at "
                             "least 1 dimension and the first dimension must be -1; but shape expected by the model "
                             "is [2,4]"),
        "no_batch": Branch(ort_model(ort_io('{ name: "x" data_type: TYPE_FP32 dims: [ 3 ] }',
                                            '{ name: "y" data_type: TYPE_FP32 dims: [ 4 ] }', mbs=0),
                                     inputs=[("x", [4])], outputs=[("y", [4])]), [3],
                           "model '{model}', tensor 'x': the model expects 1 dimensions (shape [4]) but the model "
                           "configuration specifies 1 dimensions (shape [3])"),
        "output_exact": Branch(ort_model(ort_io(X_IN, '{ name: "y" data_type: TYPE_FP32 dims: [ 4 ] }'),
                                         outputs=[("y", [-1, -1])]), [4],
                               "model '{model}', tensor 'y': the model expects 2 dimensions (shape [-1,-1]) but the "
                               "model configuration specifies 2 dimensions (an initial batch dimension because "
                               "max_batch_size > 0 followed by the explicit tensor shape, making complete shape "
                               "[-1,4])"),
    },
}
