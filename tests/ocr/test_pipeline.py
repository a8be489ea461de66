"""The OCR pipeline's steps with known answers: decoding EAST's maps, rotated NMS, crops, CTC; and the whole
pipeline in-process on the known-answer models."""

from __future__ import annotations

import math

import numpy as np
import pytest

import pipeline
from ocr.known_models import RECTANGLES, WORD, detector, recognizer, image_with_rectangles, word_logits


def maps(cells: dict, h: int = 8, w: int = 8):
    """Score and geometry maps [1, h, w, 1|5] with the given cells {(y, x): (score, top, right, bottom, left, angle)}."""
    scores = np.zeros((1, h, w, 1), np.float32)
    geometry = np.zeros((1, h, w, 5), np.float32)
    for (y, x), (score, *geo) in cells.items():
        scores[0, y, x, 0] = score
        geometry[0, y, x] = geo
    return scores, geometry


def test_decode_an_upright_box_from_one_cell():
    scores, geometry = maps({(2, 3): (0.9, 4, 20, 6, 8, 0.0)})  # cell at (12, 8): top 4, right 20, bottom 6, left 8
    (box,), (score,) = pipeline.decode(scores, geometry)
    (cx, cy), (w, h), angle = box
    assert (w, h, angle) == (28.0, 10.0, -0.0) and score == pytest.approx(0.9)
    assert (cx, cy) == pytest.approx((12 - 8 + 14, 8 - 4 + 5))  # the rectangle x 4..32, y 4..14


def test_decode_a_rotated_box_as_opencv_does():
    angle = math.radians(20)
    scores, geometry = maps({(1, 1): (0.8, 5, 10, 5, 10, angle)})
    (box,), _ = pipeline.decode(scores, geometry)
    (cx, cy), (w, h), degrees = box
    cos, sin = math.cos(angle), math.sin(angle)
    offset = (4 + cos * 10 + sin * 5, 4 - sin * 10 + cos * 5)  # OpenCV's decodeBoundingBoxes, by hand
    p1 = (-sin * 10 + offset[0], -cos * 10 + offset[1])
    p3 = (-cos * 20 + offset[0], sin * 20 + offset[1])
    assert (cx, cy) == pytest.approx(((p1[0] + p3[0]) / 2, (p1[1] + p3[1]) / 2))
    assert (w, h, degrees) == pytest.approx((20, 10, -20))


def test_cells_below_the_threshold_give_no_box_and_bad_shapes_are_refused():
    scores, geometry = maps({(0, 0): (0.49, 1, 1, 1, 1, 0), (4, 4): (0.5, 1, 1, 1, 1, 0)})
    boxes, confidences = pipeline.decode(scores, geometry, 0.5)
    assert len(boxes) == 1 and confidences == [0.5]
    with pytest.raises(ValueError, match="unexpected detector outputs"):
        pipeline.decode(scores[..., :1], geometry[..., :4])


def test_nms_keeps_the_best_of_overlapping_boxes_and_breaks_ties_by_position():
    a = ((50.0, 50.0), (40.0, 20.0), 0.0)
    b = ((52.0, 50.0), (40.0, 20.0), 0.0)  # overlaps a
    c = ((200.0, 100.0), (40.0, 20.0), 0.0)
    assert pipeline.suppress([a, b, c], [0.7, 0.9, 0.8]) == [1, 2]
    tied = [b, a, c]  # equal scores: the upper-left one of an overlapping pair wins, whatever the order
    assert [tied[i] for i in pipeline.suppress(tied, [0.9, 0.9, 0.9])] == [a, c]
    backwards = list(reversed(tied))
    assert [backwards[i] for i in pipeline.suppress(backwards, [0.9] * 3)] == [a, c]
    assert pipeline.suppress([a, c], [0.9, 0.8], max_boxes=1) == [0]
    assert pipeline.suppress([], []) == []


def test_ctc_merges_repeats_and_drops_blanks():
    def logits(classes):
        out = np.zeros((1, len(classes), 37), np.float32)
        for t, c in enumerate(classes):
            out[0, t, c] = 1.0
        return out

    a = pipeline.ALPHABET.index("a") + 1
    assert pipeline.ctc_decode(logits([a, 0, a])) == ["aa"]
    assert pipeline.ctc_decode(logits([a, a, 0])) == ["a"]
    assert pipeline.ctc_decode(logits([0, 0, 0])) == [""]
    assert pipeline.ctc_decode(word_logits()[None]) == [WORD]
    with pytest.raises(ValueError):
        pipeline.ctc_decode(np.zeros((1, 26, 36), np.float32))


def test_detection_input_is_rgb_minus_the_means_in_nhwc():
    image = np.zeros((48, 64, 3), np.uint8)
    image[:, :] = (255, 0, 0)  # pure blue, in OpenCV's BGR
    blob = pipeline.detection_input(image, (64, 32))
    assert blob.shape == (1, 32, 64, 3) and blob.dtype == np.float32
    assert blob[0, 0, 0] == pytest.approx((0 - 123.68, 0 - 116.78, 255 - 103.94))
    with pytest.raises(ValueError, match="multiples of 32"):
        pipeline.detection_input(image, (100, 32))


def test_recognition_input_is_grey_between_minus_one_and_one():
    crops = [np.zeros((32, 100), np.uint8), np.full((32, 100), 255, np.uint8)]
    x = pipeline.recognition_input(crops)
    assert x.shape == (2, 1, 32, 100) and x.min() == -1.0 and x.max() == 1.0
    assert pipeline.recognition_input([]).shape == (0, 1, 32, 100)


def _onnx_models():
    import onnxruntime as ort

    det, rec = ort.InferenceSession(detector()), ort.InferenceSession(recognizer())
    calls = []

    def detect(blob):
        return tuple(det.run(None, {"input_images:0": blob}))

    def recognize(crops):
        calls.append(len(crops))
        return rec.run(None, {"input.1": crops})[0]

    return detect, recognize, calls


def test_the_known_models_give_the_rectangles_and_the_word_in_batches_of_at_most_two():
    detect, recognize, calls = _onnx_models()
    readings = pipeline.read_text(image_with_rectangles(), detect, recognize, batch=2)
    found = sorted(tuple(round(v) for v in (min(x for x, _ in r.box.corners), min(y for _, y in r.box.corners),
                                            max(x for x, _ in r.box.corners), max(y for _, y in r.box.corners)))
                   for r in readings)
    assert found == sorted(RECTANGLES)
    assert [r.text for r in readings] == [WORD] * 3 and calls == [2, 1]


def test_boxes_are_in_the_original_images_pixels_and_crops_come_from_it():
    import cv2

    detect, recognize, _ = _onnx_models()
    big = cv2.resize(image_with_rectangles(), (1280, 960), interpolation=cv2.INTER_NEAREST)
    readings = pipeline.read_text(big, detect, recognize)
    x0, y0, x1, y1 = RECTANGLES[0]
    first = [r for r in readings if min(x for x, _ in r.box.corners) < 100][0]
    assert min(x for x, _ in first.box.corners) == pytest.approx(2 * x0)
    assert max(y for _, y in first.box.corners) == pytest.approx(2 * y1)
    assert {r.text for r in readings} == {WORD}


def test_an_image_without_text_is_an_empty_answer():
    detect, recognize, calls = _onnx_models()
    assert pipeline.read_text(np.full((480, 640, 3), 255, np.uint8), detect, recognize) == [] and calls == []


def test_a_file_that_is_not_an_image_is_named(tmp_path):
    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(pipeline.NotAnImage, match="is not an image"):
        pipeline.read_image(str(tmp_path / "notes.png"))
    with pytest.raises(pipeline.NotAnImage, match="not found"):
        pipeline.read_image(str(tmp_path / "missing.png"))


def test_annotate_and_the_demo_image():
    image = pipeline.draw_text_image(["tritonctl"])
    assert image.shape == (480, 640, 3) and image.min() == 0 and image.max() == 255
    detect, recognize, _ = _onnx_models()
    out = pipeline.annotate(image_with_rectangles(), pipeline.read_text(image_with_rectangles(), detect, recognize))
    assert (out != image_with_rectangles()).any() and out.shape == image_with_rectangles().shape
