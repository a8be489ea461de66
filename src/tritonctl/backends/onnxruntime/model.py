"""tritonctl's onnxruntime stand-in: a Python-based Triton backend serving `backend: "onnxruntime"` configs.

Triton 2.51 runs `<backend-dir>/onnxruntime/model.py` for models whose backend is onnxruntime when no
libtriton_onnxruntime.so is installed (the local Triton from the nvidia-pytriton wheel has only the python
backend). It behaves like the C++ backend where a repository can tell: it completes missing inputs, outputs and
max_batch_size from the model, and refuses at load, with the C++ backend's messages, what that backend
(onnxruntime 1.19.2) refuses. The checks are tritonctl's own (`tritonctl.validate.rules.onnx`), so `validate`
and this backend agree by construction; the real server remains the reference for them.
"""

import json
import os

import triton_python_backend_utils as pb_utils

MAX_IR_VERSION = 10
MAX_OPSET = 21
_TRITON_TO_NUMPY = {  # numpy dtype names
    "TYPE_BOOL": "bool", "TYPE_UINT8": "uint8", "TYPE_UINT16": "uint16", "TYPE_UINT32": "uint32",
    "TYPE_UINT64": "uint64", "TYPE_INT8": "int8", "TYPE_INT16": "int16", "TYPE_INT32": "int32",
    "TYPE_INT64": "int64", "TYPE_FP16": "float16", "TYPE_FP32": "float32", "TYPE_FP64": "float64",
    "TYPE_STRING": "object",
}


def _model_path_from_cmdline():
    """The stub is started as `triton_python_backend_stub <model file> ...`; auto-complete gets no path."""
    with open("/proc/self/cmdline", "rb") as f:
        args = f.read().split(b"\0")
    return args[1].decode() if len(args) > 1 else ""


def _config_message(config_dict):
    from google.protobuf import json_format

    from tritonctl.io.proto.model_config_pb2 import ModelConfig

    return json_format.ParseDict(config_dict, ModelConfig(), ignore_unknown_fields=True)


def _refuse(message):
    raise pb_utils.TritonModelException(message)


def _load_checks(path):
    from tritonctl.io.onnxsig import read_signature

    sig = read_signature(path)
    if sig.ir_version > MAX_IR_VERSION:
        _refuse(f"onnx runtime error 1: Load model from {path} failed:Unsupported model IR version: "
                f"{sig.ir_version}, max supported IR version: {MAX_IR_VERSION}")
    if sig.opset > MAX_OPSET:
        _refuse(f"onnx runtime error 1: Load model from {path} failed:ONNX Runtime only *guarantees* support for "
                f"models stamped with official released onnx opset versions. Opset {sig.opset} is under development "
                "and support for this is limited. The operator schemas and or other functionality may change before "
                "next ONNX release and in this case ONNX Runtime will not guarantee backward compatibility. Current "
                f"official support for domain ai.onnx is till opset {MAX_OPSET}.")
    return sig


class TritonPythonModel:
    @staticmethod
    def auto_complete_config(auto_complete_model_config):
        from tritonctl.normalize import ort_autocomplete

        current = auto_complete_model_config.as_dict()
        path = _model_path_from_cmdline()
        if os.path.isdir(path):
            path = os.path.join(path, "model.onnx")
        if not os.path.exists(path):
            _refuse(f"unable to find '{path}' for model instance '{current.get('name', '')}'")
        config = _config_message(current)
        before_inputs, before_outputs = len(config.input), len(config.output)
        sig = _load_checks(path)
        error = ort_autocomplete(config, sig)
        if error:
            _refuse(error)
        auto_complete_model_config.set_max_batch_size(config.max_batch_size)
        if before_inputs == 0 and not current.get("batch_input"):
            for io in config.input:
                auto_complete_model_config.add_input(_io_dict(io))
        if before_outputs == 0:
            for io in config.output:
                auto_complete_model_config.add_output(_io_dict(io))
        if config.HasField("dynamic_batching") and not any(
                k in current for k in ("dynamic_batching", "sequence_batching")):
            auto_complete_model_config.set_dynamic_batching()
        return auto_complete_model_config

    def initialize(self, args):
        import onnxruntime as ort

        from tritonctl.validate.rules.onnx import ort_load_errors

        self.config = json.loads(args["model_config"])
        filename = self.config.get("default_model_filename") or "model.onnx"
        path = os.path.join(args["model_repository"], args["model_version"], filename)
        if os.path.isdir(path):
            path = os.path.join(path, "model.onnx")
        if not os.path.exists(path):
            _refuse(f"unable to find '{path}' for model instance '{args.get('model_instance_name', '')}'")
        sig = _load_checks(path)
        errors = ort_load_errors(_config_message(self.config), sig)
        if errors:
            _refuse(errors[0][2])
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        self.inputs = [(io["name"], io["data_type"]) for io in self.config.get("input", [])]
        self.outputs = [io["name"] for io in self.config.get("output", [])]

    def execute(self, requests):
        import numpy as np

        responses = []
        for request in requests:
            feed = {}
            for name, data_type in self.inputs:
                tensor = pb_utils.get_input_tensor_by_name(request, name)
                if tensor is None:
                    continue
                array = tensor.as_numpy()
                feed[name] = array.astype(_TRITON_TO_NUMPY.get(data_type, array.dtype), copy=False)
            try:
                results = self.session.run(self.outputs, feed)
            except Exception as e:  # noqa: BLE001 - the client gets the reason
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(f"onnx runtime error: {e}")))
                continue
            tensors = [pb_utils.Tensor(name, np.ascontiguousarray(value)) for name, value in zip(self.outputs, results)]
            responses.append(pb_utils.InferenceResponse(tensors))
        return responses


def _io_dict(io):
    from tritonctl.io.proto.model_config_pb2 import DataType

    item = {"name": io.name, "data_type": DataType.Name(io.data_type), "dims": list(io.dims)}
    if io.HasField("reshape"):
        item["reshape"] = {"shape": list(io.reshape.shape)}
    return item
