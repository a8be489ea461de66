"""The OCR pipeline of Triton's "Deploy models using Triton" tutorial, as plain functions: EAST finds rotated text
boxes, the None-ResNet-None-CTC recogniser reads each one.

Nothing here talks to a server: `read_text` takes the two models as functions (`detect`, `recognize`), so the same
pipeline runs through Triton (client.py), in-process on onnxruntime (the benchmark) or on test doubles.

Pre- and post-processing follow the tutorial's client and OpenCV's text detection sample (its decodeBoundingBoxes),
with the tutorial's slips fixed: crops come from the original image (not the mean-subtracted blob), every box is
read (not only the first), and an image with no text is an empty answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

MEAN_RGB = (123.68, 116.78, 103.94)  # EAST's per-channel means, subtracted outside the graph
STRIDE = 4.0  # one score cell per 4x4 input pixels
CROP_W, CROP_H = 100, 32  # the recogniser's input, width x height
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"  # class 0 is the CTC blank, class c >= 1 is ALPHABET[c - 1]
DETECTOR_INPUT = "input_images:0"
DETECTOR_OUTPUTS = ("feature_fusion/Conv_7/Sigmoid:0", "feature_fusion/concat_3:0")
RECOGNIZER_INPUT = "input.1"
RECOGNIZER_OUTPUT = "308"


class NotAnImage(ValueError):
    """The file could not be read as an image."""


@dataclass(frozen=True)
class Box:
    """A rotated text box in the original image: its four corners (bottom-left, top-left, top-right, bottom-right,
    as cv2.boxPoints gives them) and EAST's score."""

    corners: tuple[tuple[float, float], ...]
    score: float


@dataclass(frozen=True)
class Reading:
    box: Box
    text: str

    def as_dict(self) -> dict:
        return {"text": self.text, "score": round(self.box.score, 4),
                "box": [[round(x, 1), round(y, 1)] for x, y in self.box.corners]}


def read_image(path: str) -> np.ndarray:
    """The image at `path` as BGR uint8 [H, W, 3]; NotAnImage when it is missing or not an image."""
    data = np.fromfile(path, dtype=np.uint8) if _is_file(path) else None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data is not None and data.size else None
    if image is None:
        raise NotAnImage(f"'{path}' is not an image OpenCV can read" if data is not None else f"'{path}' not found")
    return image


def _is_file(path: str) -> bool:
    import os

    return os.path.isfile(path)


def detection_input(image: np.ndarray, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """EAST's input for a BGR image: resized to `size` (width, height; multiples of 32), RGB, the means subtracted,
    NHWC float32 [1, H, W, 3] (cv2.dnn.blobFromImage as the tutorial calls it, then transposed)."""
    width, height = size
    if width % 32 or height % 32 or width <= 0 or height <= 0:
        raise ValueError(f"the detector's input size must be multiples of 32, not {width}x{height}")
    blob = cv2.dnn.blobFromImage(image, 1.0, (width, height), MEAN_RGB, swapRB=True, crop=False)
    return np.ascontiguousarray(blob.transpose(0, 2, 3, 1))


def decode(scores: np.ndarray, geometry: np.ndarray, threshold: float = 0.5
           ) -> tuple[list[tuple[tuple[float, float], tuple[float, float], float]], list[float]]:
    """Rotated boxes (center, (width, height), angle in degrees) and their scores from EAST's outputs for one image
    (NHWC [1, h, w, 1] and [1, h, w, 5]: distances to the top, right, bottom and left edges, and the angle), every
    cell at or above `threshold` giving one box, in the input's pixels. OpenCV's decodeBoundingBoxes, vectorised."""
    if scores.ndim != 4 or geometry.ndim != 4 or scores.shape[-1] != 1 or geometry.shape[-1] != 5 \
            or scores.shape[:3] != geometry.shape[:3] or scores.shape[0] != 1:
        raise ValueError(f"unexpected detector outputs: scores {list(scores.shape)}, geometry {list(geometry.shape)}")
    ys, xs = np.nonzero(scores[0, :, :, 0] >= threshold)
    cells = geometry[0, ys, xs]  # [n, 5]
    top, right, bottom, left, angle = (cells[:, i].astype(np.float64) for i in range(5))
    cos, sin = np.cos(angle), np.sin(angle)
    h, w = top + bottom, right + left
    offset_x = xs * STRIDE + cos * right + sin * bottom
    offset_y = ys * STRIDE - sin * right + cos * bottom
    p1 = (-sin * h + offset_x, -cos * h + offset_y)
    p3 = (-cos * w + offset_x, sin * w + offset_y)
    cx, cy = (p1[0] + p3[0]) / 2, (p1[1] + p3[1]) / 2
    degrees = -angle * 180.0 / math.pi
    boxes = [((float(cx[i]), float(cy[i])), (float(w[i]), float(h[i])), float(degrees[i])) for i in range(len(ys))]
    return boxes, [float(s) for s in scores[0, ys, xs, 0]]


def suppress(boxes: list, confidences: list[float], *, score: float = 0.5, nms: float = 0.4,
             max_boxes: int = 64) -> list[int]:
    """Indices of the boxes kept by rotated non-maximum suppression (cv2.dnn.NMSBoxesRotated), best first, at most
    `max_boxes`. Equal scores are broken by position (top to bottom, then left to right), so the answer does not
    depend on the order cells come in."""
    if not boxes:
        return []
    order = sorted(range(len(boxes)), key=lambda i: (-confidences[i], boxes[i][0][1], boxes[i][0][0]))
    kept = cv2.dnn.NMSBoxesRotated([boxes[i] for i in order], [confidences[i] for i in order], score, nms)
    return [order[int(i)] for i in np.asarray(kept).reshape(-1)][:max_boxes]


def corners(box, scale: tuple[float, float]) -> np.ndarray:
    """The box's four corners (cv2.boxPoints order) in the original image: x times scale[0], y times scale[1]."""
    points = cv2.boxPoints(box).astype(np.float32)
    points[:, 0] *= scale[0]
    points[:, 1] *= scale[1]
    return points


def crop(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The box cut out of the original image and warped to the recogniser's 100x32, in grey (uint8)."""
    target = np.array([[0, CROP_H - 1], [0, 0], [CROP_W - 1, 0], [CROP_W - 1, CROP_H - 1]], dtype=np.float32)
    warped = cv2.warpPerspective(image, cv2.getPerspectiveTransform(points, target), (CROP_W, CROP_H))
    return cv2.cvtColor(warped, cv2.COLOR_BGR2GRAY)


def recognition_input(crops: list[np.ndarray]) -> np.ndarray:
    """Grey 100x32 crops as the recogniser's input: float32 [K, 1, 32, 100], pixel / 127.5 - 1."""
    if not crops:
        return np.zeros((0, 1, CROP_H, CROP_W), np.float32)
    stacked = np.stack(crops).astype(np.float32)[:, None, :, :]
    return (stacked / 255.0 - 0.5) * 2.0


def ctc_decode(logits: np.ndarray) -> list[str]:
    """Greedy CTC decoding of the recogniser's logits [K, T, 37]: the best class per step, repeats merged, blanks
    dropped ('a-a' reads 'aa', 'aa-' reads 'a')."""
    if logits.ndim != 3 or logits.shape[-1] != len(ALPHABET) + 1:
        raise ValueError(f"unexpected recogniser output shape {list(logits.shape)}")
    best = logits.argmax(axis=-1)
    texts = []
    for row in best:
        chars, previous = [], 0
        for c in row.tolist():
            if c != 0 and c != previous:
                chars.append(ALPHABET[c - 1])
            previous = c
        texts.append("".join(chars))
    return texts


def read_text(image: np.ndarray, detect: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
              recognize: Callable[[np.ndarray], np.ndarray], *, size: tuple[int, int] = (640, 480),
              score: float = 0.5, nms: float = 0.4, max_boxes: int = 64, batch: int = 64) -> list[Reading]:
    """Every text box in `image` (BGR) and what it reads, best first. `detect` maps EAST's input to its two
    outputs; `recognize` maps [k, 1, 32, 100] crops (k <= `batch`) to [k, 26, 37] logits."""
    height, width = image.shape[:2]
    scores, geometry = detect(detection_input(image, size))
    boxes, confidences = decode(scores, geometry, score)
    kept = suppress(boxes, confidences, score=score, nms=nms, max_boxes=max_boxes)
    scale = (width / size[0], height / size[1])
    points = [corners(boxes[i], scale) for i in kept]
    crops = [crop(image, p) for p in points]
    texts: list[str] = []
    for start in range(0, len(crops), max(1, batch)):
        texts += ctc_decode(recognize(recognition_input(crops[start:start + max(1, batch)])))
    return [Reading(Box(tuple((float(x), float(y)) for x, y in p), confidences[i]), text)
            for i, p, text in zip(kept, points, texts, strict=True)]


def annotate(image: np.ndarray, readings: list[Reading]) -> np.ndarray:
    """A copy of `image` with each box drawn and its text written above it."""
    out = image.copy()
    for reading in readings:
        points = np.array(reading.box.corners, dtype=np.int32)
        cv2.polylines(out, [points], isClosed=True, color=(0, 0, 255), thickness=2)
        x, y = points[:, 0].min(), points[:, 1].min()
        cv2.putText(out, reading.text or "?", (int(x), max(12, int(y) - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 255), 1, cv2.LINE_AA)
    return out


def draw_text_image(lines: list[str], size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A white BGR image with `lines` of black text, drawn with Pillow (the demo's input)."""
    from PIL import Image, ImageDraw, ImageFont

    picture = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(picture)
    try:
        font = ImageFont.load_default(size=48)
    except TypeError:  # Pillow before 10.1 has one bitmap size
        font = ImageFont.load_default()
    for i, line in enumerate(lines):
        draw.text((40, 60 + i * 110), line, fill="black", font=font)
    return cv2.cvtColor(np.asarray(picture), cv2.COLOR_RGB2BGR)
