"""What onnx.load reads from an ONNX file, in the shape of tritonctl's wire-format reader (io/onnxsig.py), so the
two can be compared field for field."""

from __future__ import annotations

KINDS = {"tensor_type": "ONNX_TYPE_TENSOR", "sequence_type": "ONNX_TYPE_SEQUENCE", "map_type": "ONNX_TYPE_MAP",
         "sparse_tensor_type": "ONNX_TYPE_SPARSETENSOR", "optional_type": "ONNX_TYPE_OPTIONAL"}


def _tensor(value_info) -> tuple:
    t = value_info.type
    kind = KINDS.get(t.WhichOneof("value"), "ONNX_TYPE_TENSOR")
    if kind != "ONNX_TYPE_TENSOR":
        return value_info.name, 0, None, kind
    tensor = t.tensor_type
    dims = None
    if tensor.HasField("shape"):
        dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim)
    return value_info.name, tensor.elem_type, dims, kind


def reference(data: bytes) -> dict:
    import onnx

    model = onnx.load_model_from_string(data)
    initializers = {i.name for i in model.graph.initializer}
    external = []
    for init in model.graph.initializer:
        for entry in init.external_data:
            if entry.key == "location" and entry.value not in external:
                external.append(entry.value)
    return {"ir_version": model.ir_version, "opsets": {o.domain: o.version for o in model.opset_import},
            "inputs": [_tensor(v) for v in model.graph.input if v.name not in initializers],
            "outputs": [_tensor(v) for v in model.graph.output], "initializers": initializers,
            "external_data": external}


def ours(data: bytes) -> dict:
    from tritonctl.io.onnxsig import parse_signature

    sig = parse_signature(data)
    return {"ir_version": sig.ir_version, "opsets": dict(sig.opsets),
            "inputs": [(t.name, t.elem_type, t.dims, t.kind) for t in sig.inputs],
            "outputs": [(t.name, t.elem_type, t.dims, t.kind) for t in sig.outputs],
            "initializers": set(sig.initializers), "external_data": list(sig.external_data)}
