"""Two tiny ONNX models with the tutorial models' tensor names and shapes whose outputs are known, so the OCR client
must give known answers: a detector whose score map is high exactly over the dark rectangles of the image it is
given, with a geometry that describes those rectangles; and a recogniser whose logits spell one word for a dark
crop and nothing for a light one."""

from __future__ import annotations

import numpy as np

from validate.onnx_models import _save

WIDTH, HEIGHT = 640, 480
# dark rectangles (x0, y0, x1, y1) in a white 640x480 image, edges on multiples of 4 (whole score cells)
RECTANGLES = [(40, 40, 240, 104), (320, 200, 600, 264), (100, 360, 300, 440)]
WORD = "triton"


def image_with_rectangles() -> np.ndarray:
    """The white BGR image with the black rectangles."""
    image = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    for x0, y0, x1, y1 in RECTANGLES:
        image[y0:y1, x0:x1] = 0
    return image


def geometry_map(rectangles=RECTANGLES) -> np.ndarray:
    """EAST's geometry [1, h, w, 5] for axis-aligned rectangles: each cell inside one gets its distances to the
    rectangle's top, right, bottom and left edges (angle 0); other cells 0."""
    h, w = HEIGHT // 4, WIDTH // 4
    geometry = np.zeros((1, h, w, 5), np.float32)
    for x0, y0, x1, y1 in rectangles:
        for cy in range(y0 // 4, y1 // 4):
            for cx in range(x0 // 4, x1 // 4):
                ox, oy = cx * 4, cy * 4
                geometry[0, cy, cx, :4] = (oy - y0, x1 - ox, y1 - oy, ox - x0)
    return geometry


def detector() -> bytes:
    """input_images:0 [N, H, W, 3] (mean-subtracted RGB) -> score [N, H/4, W/4, 1], geometry [N, H/4, W/4, 5].

    score = sigmoid(-0.1 * mean over 4x4 pixels and channels): about 1 over black (about -115 after the means
    are subtracted), about 0 over white (about +138); the geometry is the rectangles' (the model serves 640x480)."""
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("input_images:0", TensorProto.FLOAT, ["N", "H", "W", 3])
    score = helper.make_tensor_value_info("feature_fusion/Conv_7/Sigmoid:0", TensorProto.FLOAT, ["N", "h", "w", 1])
    geo = helper.make_tensor_value_info("feature_fusion/concat_3:0", TensorProto.FLOAT, ["N", "h", "w", 5])
    inits = [numpy_helper.from_array(np.array([-0.1], np.float32), "k"),
             numpy_helper.from_array(np.array([0.0], np.float32), "zero"),
             numpy_helper.from_array(geometry_map(), "geometry")]
    nodes = [
        helper.make_node("ReduceMean", ["input_images:0"], ["grey"], axes=[3], keepdims=1),  # [N, H, W, 1]
        helper.make_node("Transpose", ["grey"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("AveragePool", ["nchw"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Transpose", ["pooled"], ["cells"], perm=[0, 2, 3, 1]),  # [N, h, w, 1]
        helper.make_node("Mul", ["cells", "k"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["feature_fusion/Conv_7/Sigmoid:0"]),
        helper.make_node("Mul", ["cells", "zero"], ["nothing"]),  # [N, h, w, 1] of zeros: the batch dimension
        helper.make_node("Add", ["nothing", "geometry"], ["feature_fusion/concat_3:0"]),
    ]
    return _save(nodes, [x], [score, geo], inits, opset=13)


def word_logits(word: str = WORD, steps: int = 26) -> np.ndarray:
    """Logits [steps, 37] whose greedy CTC reading is `word` (each letter followed by a blank)."""
    from pipeline import ALPHABET

    logits = np.zeros((steps, len(ALPHABET) + 1), np.float32)
    logits[:, 0] = 1.0  # blank everywhere ...
    for i, ch in enumerate(word):
        logits[2 * i, 0] = 0.0
        logits[2 * i, ALPHABET.index(ch) + 1] = 2.0  # ... but the letters
    return logits


def recognizer() -> bytes:
    """input.1 [N, 1, 32, 100] -> 308 [N, 26, 37]: WORD's logits times relu(-mean of the crop), so a dark crop
    (mean about -1) reads WORD and a light one (mean about +1) reads nothing (all zeros: the blank wins)."""
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 1, 32, 100])
    y = helper.make_tensor_value_info("308", TensorProto.FLOAT, ["N", 26, 37])
    inits = [numpy_helper.from_array(word_logits()[None], "word"),
             numpy_helper.from_array(np.array([-1.0], np.float32), "minus")]
    nodes = [
        helper.make_node("ReduceMean", ["input.1"], ["mean"], axes=[1, 2, 3], keepdims=1),  # [N, 1, 1, 1]
        helper.make_node("Mul", ["mean", "minus"], ["negated"]),
        helper.make_node("Relu", ["negated"], ["dark"]),
        helper.make_node("Flatten", ["dark"], ["dark2"], axis=1),  # [N, 1]
        helper.make_node("Unsqueeze", ["dark2", "axes2"], ["dark3"]),  # [N, 1, 1]
        helper.make_node("Mul", ["dark3", "word"], ["308"]),
    ]
    inits.append(numpy_helper.from_array(np.array([2], np.int64), "axes2"))
    return _save(nodes, [x], [y], inits, opset=13)


def repository(root, recognizer_batch: int = 2) -> None:
    """A model repository with the two models, configs as the examples' (the recogniser's max_batch_size small,
    so the client must split its crops)."""
    det = root / "text_detection"
    rec = root / "text_recognition"
    (det / "1").mkdir(parents=True)
    (rec / "1").mkdir(parents=True)
    (det / "1" / "model.onnx").write_bytes(detector())
    (rec / "1" / "model.onnx").write_bytes(recognizer())
    (det / "config.pbtxt").write_text(
        'backend: "onnxruntime"\nmax_batch_size: 4\n'
        'input [ { name: "input_images:0" data_type: TYPE_FP32 dims: [ -1, -1, 3 ] } ]\n'
        'output [ { name: "feature_fusion/Conv_7/Sigmoid:0" data_type: TYPE_FP32 dims: [ -1, -1, 1 ] },\n'
        '         { name: "feature_fusion/concat_3:0" data_type: TYPE_FP32 dims: [ -1, -1, 5 ] } ]\n')
    (rec / "config.pbtxt").write_text(
        f'backend: "onnxruntime"\nmax_batch_size: {recognizer_batch}\n'
        'input [ { name: "input.1" data_type: TYPE_FP32 dims: [ 1, 32, 100 ] } ]\n'
        'output [ { name: "308" data_type: TYPE_FP32 dims: [ 26, 37 ] } ]\n')
