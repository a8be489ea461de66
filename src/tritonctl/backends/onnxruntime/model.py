"""tritonctl's onnxruntime stand-in: a Python-based Triton backend serving `backend: "onnxruntime"` configs.

Triton 2.51 runs `<backend-dir>/onnxruntime/model.py` for models whose backend is onnxruntime when no
libtriton_onnxruntime.so is installed (the local Triton from the nvidia-pytriton wheel has only the python
backend). It behaves like the C++ backend where a repository can tell: it completes missing inputs, outputs and
max_batch_size from the model, and refuses at load, with the C++ backend's messages, what that backend
(onnxruntime 1.19.2) refuses. What it decides comes from `tritonctl.onnxruntime_backend`, the one emulation of the C++
backend that `validate` uses too; its tests hold outcomes written from the C++ backend's source.
"""

import json
import os

import triton_python_backend_utils as pb_utils

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
    from tritonctl.onnxruntime_backend import version_errors

    sig = read_signature(path)
    for _what, message in version_errors(sig, path):
        _refuse(message)
    return sig


class TritonPythonModel:
    @staticmethod
    def auto_complete_config(auto_complete_model_config):
        from tritonctl.onnxruntime_backend import autocomplete

        current = auto_complete_model_config.as_dict()
        path = _model_path_from_cmdline()
        if os.path.isdir(path):
            path = os.path.join(path, "model.onnx")
        if not os.path.exists(path):
            _refuse(f"unable to find '{path}' for model instance '{current.get('name', '')}'")
        config = _config_message(current)
        before_inputs, before_outputs = len(config.input), len(config.output)
        sig = _load_checks(path)
        error = autocomplete(config, sig)
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

        from tritonctl.onnxruntime_backend import load_errors

        self.config = json.loads(args["model_config"])
        filename = self.config.get("default_model_filename") or "model.onnx"
        path = os.path.join(args["model_repository"], args["model_version"], filename)
        if os.path.isdir(path):
            path = os.path.join(path, "model.onnx")
        if not os.path.exists(path):
            _refuse(f"unable to find '{path}' for model instance '{args.get('model_instance_name', '')}'")
        sig = _load_checks(path)
        errors = load_errors(_config_message(self.config), sig)
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
