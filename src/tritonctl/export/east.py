"""The EAST text detector: a TensorFlow frozen graph (the real one, or the same network with random weights
built here with the same node names) converted to ONNX with tf2onnx, names kept.

Architecture of argman/EAST (the tutorial's detector): TF-slim resnet_v1_50 (NHWC, BN eps 1e-5, stride on the last unit of
blocks 1-3, SAME convs except conv2d_same for strides) and the feature-fusion head (three bilinear unpools,
concats, Conv..Conv_9), outputs `feature_fusion/Conv_7/Sigmoid` and `feature_fusion/concat_3`.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path

from tritonctl.errors import ExportError

INPUT = "input_images"
OUTPUTS = ("feature_fusion/Conv_7/Sigmoid", "feature_fusion/concat_3")
BLOCKS = (("block1", 3, 64, 256), ("block2", 4, 128, 512), ("block3", 6, 256, 1024), ("block4", 3, 512, 2048))


class _Weights:
    """Deterministic random weights: Glorot-uniform convolutions, batch-norm statistics near 0 / 1."""

    def __init__(self, seed: int):
        import numpy as np

        self.rng = np.random.default_rng(seed)
        self.np = np

    def conv(self, shape, gain: float = 1.0):
        kh, kw, cin, cout = shape
        bound = gain * math.sqrt(6.0 / (kh * kw * cin + kh * kw * cout))
        return self.rng.uniform(-bound, bound, shape).astype(self.np.float32)

    def bn(self, n):
        np, rng = self.np, self.rng
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32), (0.1 * rng.standard_normal(n)).astype(
            np.float32), (0.1 * rng.standard_normal(n)).astype(np.float32), (1.0 + 0.1 * rng.random(n)).astype(
            np.float32)


def _quiet_tensorflow():
    """TensorFlow, imported without the C++ start-up lines (absl, oneDNN) it writes straight to fd 2."""
    import os
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
    return tf


def build_random_graph(seed: int = 0):
    """The EAST network as a frozen GraphDef (weights as Const nodes) with random weights."""
    tf = _quiet_tensorflow()

    tf1 = tf.compat.v1
    w = _Weights(seed)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, None, None, 3], name=INPUT)

        def conv_bn(inp, scope, k, cout, stride=1, relu=True, same_pad=False, padding="SAME", gain=1.0):
            cin = int(inp.shape[-1])
            with tf1.name_scope(scope + "/"):
                weights = tf.constant(w.conv((k, k, cin, cout), gain), name="weights")
                if stride > 1 and same_pad:
                    pad_beg = (k - 1) // 2
                    inp = tf.pad(inp, [[0, 0], [pad_beg, k - 1 - pad_beg], [pad_beg, k - 1 - pad_beg], [0, 0]])
                    y = tf.nn.conv2d(inp, weights, [1, stride, stride, 1], "VALID", name="Conv2D")
                else:
                    y = tf.nn.conv2d(inp, weights, [1, stride, stride, 1], padding, name="Conv2D")
                gamma, beta, mean, var = w.bn(cout)
                with tf1.name_scope("BatchNorm/"):
                    y, _, _ = tf1.nn.fused_batch_norm(
                        y, tf.constant(gamma, name="gamma"), tf.constant(beta, name="beta"),
                        mean=tf.constant(mean, name="moving_mean"), variance=tf.constant(var, name="moving_variance"),
                        epsilon=1e-5, is_training=False, name="FusedBatchNorm")
                return tf.nn.relu(y, name="Relu") if relu else y

        def conv_bias(inp, scope, cout, activation):
            cin = int(inp.shape[-1])
            with tf1.name_scope(scope + "/"):
                weights = tf.constant(w.conv((1, 1, cin, cout)), name="weights")
                y = tf.nn.conv2d(inp, weights, [1, 1, 1, 1], "SAME", name="Conv2D")
                y = tf.nn.bias_add(y, tf.constant(w.np.zeros(cout, w.np.float32), name="biases"), name="BiasAdd")
                return activation(y, name="Sigmoid")

        # resnet_v1_50 trunk
        with tf1.name_scope("resnet_v1_50/"):
            net = tf.pad(x, [[0, 0], [3, 3], [3, 3], [0, 0]], name="Pad")
            # after the explicit Pad; the input is mean-subtracted pixels (about +-128): scale the first layer so
            # its output is near unit variance, as a trained network's batch-norm statistics would make it
            net = conv_bn(net, "resnet_v1_50/conv1", 7, 64, stride=2, padding="VALID", gain=1 / 64)
            net = tf.nn.max_pool2d(net, 3, 2, "SAME", name="pool1/MaxPool")
        ends = {"pool2": net}
        depth_in = 64
        for block, units, bottleneck, depth in BLOCKS:
            for u in range(1, units + 1):
                stride = 2 if (u == units and block != "block4") else 1
                scope = f"resnet_v1_50/{block}/unit_{u}/bottleneck_v1"
                if depth_in != depth:
                    shortcut = conv_bn(net, f"{scope}/shortcut", 1, depth, relu=False)
                elif stride > 1:
                    shortcut = tf.nn.max_pool2d(net, 1, stride, "SAME", name=f"{scope}/shortcut/MaxPool")
                else:
                    shortcut = net
                residual = conv_bn(net, f"{scope}/conv1", 1, bottleneck)
                residual = conv_bn(residual, f"{scope}/conv2", 3, bottleneck, stride=stride, same_pad=True)
                residual = conv_bn(residual, f"{scope}/conv3", 1, depth, relu=False)
                net = tf.nn.relu(shortcut + residual, name=f"{scope}/Relu")
                depth_in = depth
            ends[{"block1": "pool3", "block2": "pool4", "block3": "block3", "block4": "pool5"}[block]] = net

        # feature fusion
        with tf1.name_scope("feature_fusion/"):
            f = [ends["pool5"], ends["pool4"], ends["pool3"], ends["pool2"]]
            channels = [None, 128, 64, 32]
            h = g = None
            convs = iter(["Conv", "Conv_1", "Conv_2", "Conv_3", "Conv_4", "Conv_5", "Conv_6"])
            for i in range(4):
                if i == 0:
                    h = f[0]
                else:
                    c = tf.concat([g, f[i]], axis=-1, name="concat" if i == 1 else f"concat_{i - 1}")
                    c = conv_bn(c, "feature_fusion/" + next(convs), 1, channels[i])
                    h = conv_bn(c, "feature_fusion/" + next(convs), 3, channels[i])
                if i <= 2:
                    shape = tf.shape(h)
                    size = tf.stack([shape[1] * 2, shape[2] * 2])
                    name = "ResizeBilinear" if i == 0 else f"ResizeBilinear_{i}"
                    g = tf1.image.resize_bilinear(h, size, align_corners=False, half_pixel_centers=False, name=name)
                else:
                    g = conv_bn(h, "feature_fusion/" + next(convs), 3, 32)
            conv_bias(g, "feature_fusion/Conv_7", 1, tf.sigmoid)
            geo = conv_bias(g, "feature_fusion/Conv_8", 4, tf.sigmoid) * 512.0
            angle = (conv_bias(g, "feature_fusion/Conv_9", 1, tf.sigmoid) - 0.5) * (math.pi / 2)
            tf.concat([geo, angle], axis=-1, name="concat_3")
    return graph.as_graph_def()


def load_graph(path: Path):
    tf = _quiet_tensorflow()

    from tritonctl.io.files import describe, read_regular

    try:
        data = read_regular(path, 2 << 30)  # a protobuf message is at most 2 GiB
    except OSError as e:
        raise ExportError(f"cannot read '{path}': {describe(e)}") from None
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise ExportError(f"'{path}' is not a TensorFlow frozen graph (GraphDef): {type(e).__name__}") from None
    if not graph_def.node:
        raise ExportError(f"'{path}' is not a TensorFlow frozen graph (no nodes)")
    names = {n.name for n in graph_def.node}
    missing = [n for n in (INPUT, *OUTPUTS) if n not in names]
    if missing:
        placeholders = [n.name for n in graph_def.node if n.op == "Placeholder"]
        consumed = {i.split(":")[0].lstrip("^") for n in graph_def.node for i in n.input}
        sinks = [n.name for n in graph_def.node if n.name not in consumed and n.op != "Const"][:6]
        raise ExportError(f"'{path}' is not the EAST graph: no {', '.join(missing)} (its inputs: "
                          f"{', '.join(placeholders) or 'none'}; its outputs: {', '.join(sinks) or 'none'})")
    return graph_def


def to_onnx(graph_def, path: Path, opset: int) -> None:
    import logging

    _quiet_tensorflow()
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)

    def convert() -> None:
        tf2onnx.convert.from_graph_def(graph_def, input_names=[f"{INPUT}:0"], output_names=[f"{o}:0" for o in OUTPUTS],
                                       opset=opset, output_path=str(path))

    try:
        try:
            with _lean_tf2onnx():
                convert()
        except Exception:  # noqa: BLE001 - a pass that failed: the stock conversion skips it, at its memory cost
            convert()
    except Exception as e:  # noqa: BLE001 - tf2onnx raises many kinds
        raise ExportError(f"tf2onnx could not convert the graph: {type(e).__name__}: {str(e).splitlines()[0][:300]}")\
            from None


@contextmanager
def _lean_tf2onnx():
    """tf2onnx 1.17 runs its ONNX optimizer passes (12 of them, until nothing changes: 36 runs for EAST) on a deep
    copy of the graph each, and after each one writes every node's attributes back into its NodeProto
    (tf2onnx/optimizer/optimizer_base.py, GraphOptimizerBase.optimize -> graph.update_proto). With protobuf's upb
    runtime the replaced attributes stay in the message's arena until the message is freed, so every run adds a copy
    of all the weights: 8 GB at the peak for EAST's 96 MB. Inside this block the passes work in place and leave the
    write-back to the one make_model at the end (peak about 2 GB; the graph is the same, node for node, and answers
    the same to the bit). A pass that fails then fails the conversion (the caller retries the stock way)."""
    import os

    from tf2onnx.optimizer import optimizer_base

    base = optimizer_base.GraphOptimizerBase
    stock = base.optimize

    def optimize(self, graph, iteration):
        self.opt_iteration = iteration
        graph = self._optimize(graph)
        graph.delete_unused_nodes(graph.outputs)
        return graph

    previous = os.environ.get("TF2ONNX_CATCH_ERRORS")
    os.environ["TF2ONNX_CATCH_ERRORS"] = "FALSE"  # no deep copy before each pass
    base.optimize = optimize
    try:
        yield
    finally:
        base.optimize = stock
        if previous is None:
            os.environ.pop("TF2ONNX_CATCH_ERRORS", None)
        else:
            os.environ["TF2ONNX_CATCH_ERRORS"] = previous


def reference_outputs(graph_def, batch):
    tf = _quiet_tensorflow()

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        return session.run([f"{o}:0" for o in OUTPUTS], {f"{INPUT}:0": batch})
