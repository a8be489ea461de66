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


def _save(nodes, inputs, outputs, inits=(), ir: int = 8, opset: int = 17) -> bytes:
    from onnx import helper

    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir).SerializeToString()


def str_like(offset: float = 0.0) -> bytes:
    """The STR signature: input.1 [N,1,32,100] -> 308 [N,26,37] (a slice of the input, plus `offset`)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 1, 32, 100])
    y = helper.make_tensor_value_info("308", TensorProto.FLOAT, ["N", 26, 37])
    consts = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
              (("starts", [0, 0, 0]), ("ends", [1, 26, 37]), ("axes", [1, 2, 3]), ("sq", [1]))]
    consts.append(numpy_helper.from_array(np.array([offset], np.float32), "offset"))
    nodes = [helper.make_node("Slice", ["input.1", "starts", "ends", "axes"], ["s"]),
             helper.make_node("Squeeze", ["s", "sq"], ["q"]),
             helper.make_node("Add", ["q", "offset"], ["308"])]
    return _save(nodes, [x], [y], consts)


def east_like() -> bytes:
    """The EAST signature: input_images:0 [N,H,W,3] -> [N,H/4,W/4,1] and [N,H/4,W/4,5]."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("input_images:0", TensorProto.FLOAT, ["N", "H", "W", 3])
    score = helper.make_tensor_value_info("feature_fusion/Conv_7/Sigmoid:0", TensorProto.FLOAT, ["N", "h", "w", 1])
    geo = helper.make_tensor_value_info("feature_fusion/concat_3:0", TensorProto.FLOAT, ["N", "h", "w", 5])
    consts = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
              (("c0", [0]), ("c1", [1]), ("c2", [2]), ("ax", [3]))]
    nodes = [helper.make_node("Transpose", ["input_images:0"], ["nchw"], perm=[0, 3, 1, 2]),
             helper.make_node("AveragePool", ["nchw"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
             helper.make_node("Transpose", ["pooled"], ["nhwc"], perm=[0, 2, 3, 1]),
             helper.make_node("Slice", ["nhwc", "c0", "c1", "ax"], ["first"]),
             helper.make_node("Sigmoid", ["first"], ["feature_fusion/Conv_7/Sigmoid:0"]),
             helper.make_node("Slice", ["nhwc", "c0", "c2", "ax"], ["two"]),
             helper.make_node("Concat", ["nhwc", "two"], ["feature_fusion/concat_3:0"], axis=3)]
    return _save(nodes, [x], [score, geo], consts)
