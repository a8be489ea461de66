"""Small ONNX files for fixtures, built with an explicit IR version and opset (onnx's helper defaults to IR 14,
which Triton 2.51's onnxruntime refuses)."""

from __future__ import annotations


def onnx_bytes(inputs, outputs, *, ir: int = 8, opset: int = 17, elem: int = 1, external: str | None = None,
               weights: bool = False) -> bytes:
    """An Identity/Add graph: inputs and outputs given as [(name, dims)], dims with None or -1 for symbolic.

    Each output i copies input i (or input 0); with `weights`, output 0 adds an initializer `w`. With
    `external`, that initializer's data is declared to live in the file `external` (not written).
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def shape(dims):
        return [d if d not in (None, -1) else "N" for d in dims]

    vi_in = [helper.make_tensor_value_info(n, elem, shape(d)) for n, d in inputs]
    vi_out = [helper.make_tensor_value_info(n, elem, shape(d)) for n, d in outputs]
    nodes, inits = [], []
    for i, (name, _dims) in enumerate(outputs):
        source = inputs[min(i, len(inputs) - 1)][0]
        if i == 0 and weights:
            w = numpy_helper.from_array(np.zeros([1], np.float32), "w")
            if external:
                w.ClearField("raw_data")
                w.data_location = TensorProto.EXTERNAL
                for key, value in (("location", external), ("offset", "0"), ("length", "4")):
                    entry = w.external_data.add()
                    entry.key, entry.value = key, value
            inits.append(w)
            nodes.append(helper.make_node("Add", [source, "w"], [name]))
        else:
            nodes.append(helper.make_node("Identity", [source], [name]))
    graph = helper.make_graph(nodes, "g", vi_in, vi_out, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir)
    return model.SerializeToString()


def onnx_file(*args, **kwargs):
    """A deferred file: built when the fixture is written (so importing the cases needs no onnx)."""
    return lambda: onnx_bytes(*args, **kwargs)
