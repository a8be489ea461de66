"""Read the text in an image through the two models Triton serves: text_detection (EAST) finds the boxes,
text_recognition (None-ResNet-None-CTC) reads them.

    python examples/ocr/client.py IMAGE [--url http://127.0.0.1:8000] [--format json] [--out annotated.png]

Prints one line per box (its text, score and corners), best first; `--format json` prints one JSON document.
The recogniser gets the crops in batches no larger than the max_batch_size of the config Triton serves.
Exit 0 with an answer (no text found is an answer), 2 for bad options, 3 when the image cannot be read or the
server cannot do the job.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pipeline  # noqa: E402


class ServerError(RuntimeError):
    """Triton could not be reached, or refused a request."""


class TritonModels:
    """The two served models as the functions pipeline.read_text takes, over tritonclient's HTTP client."""

    def __init__(self, url: str, detector: str = "text_detection", recognizer: str = "text_recognition",
                 timeout: float = 60.0) -> None:
        import tritonclient.http as httpclient
        from tritonclient.utils import InferenceServerException

        self._http = httpclient
        self._error = InferenceServerException
        self.detector, self.recognizer = detector, recognizer
        address = url.split("://", 1)[-1].rstrip("/")
        try:
            self.client = httpclient.InferenceServerClient(address, ssl=url.startswith("https://"),
                                                           connection_timeout=timeout, network_timeout=timeout)
            for model in (detector, recognizer):
                if not self.client.is_model_ready(model):
                    raise ServerError(f"model '{model}' is not ready on {url} (load it: tritonctl load {model})")
            config = self.client.get_model_config(recognizer)
        except self._error as e:
            raise ServerError(f"Triton at {url}: {e.message()}") from None
        except (ConnectionError, OSError) as e:
            raise ServerError(f"no Triton server at {url} ({_reason(e)})") from None
        self.batching = int(config.get("max_batch_size", 0))
        self.crop_dims = [int(d) for d in config["input"][0]["dims"]]

    @property
    def batch(self) -> int:
        """How many crops one recognition request carries."""
        return self.batching if self.batching > 0 else 1

    def _infer(self, model: str, name: str, data: np.ndarray, outputs: tuple[str, ...]) -> list[np.ndarray]:
        tensor = self._http.InferInput(name, list(data.shape), "FP32")
        tensor.set_data_from_numpy(data, binary_data=True)
        wanted = [self._http.InferRequestedOutput(o, binary_data=True) for o in outputs]
        try:
            result = self.client.infer(model, [tensor], outputs=wanted)
        except self._error as e:
            raise ServerError(f"{model}: {e.message()}") from None
        except (ConnectionError, OSError) as e:
            raise ServerError(f"{model}: the server went away ({_reason(e)})") from None
        return [result.as_numpy(o) for o in outputs]

    def detect(self, blob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores, geometry = self._infer(self.detector, pipeline.DETECTOR_INPUT, blob, pipeline.DETECTOR_OUTPUTS)
        return scores, geometry

    def recognize(self, crops: np.ndarray) -> np.ndarray:
        if self.batching > 0:
            (logits,) = self._infer(self.recognizer, pipeline.RECOGNIZER_INPUT, crops, (pipeline.RECOGNIZER_OUTPUT,))
            return logits
        # a model served without batching takes one crop at a time, shaped as its config says ([1, 1, 32, 100])
        out = [self._infer(self.recognizer, pipeline.RECOGNIZER_INPUT, c.reshape(self.crop_dims),
                           (pipeline.RECOGNIZER_OUTPUT,))[0].reshape(1, -1, len(pipeline.ALPHABET) + 1) for c in crops]
        return np.concatenate(out) if out else np.zeros((0, 26, len(pipeline.ALPHABET) + 1), np.float32)


def _reason(error: OSError) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "timed out"
    return error.strerror or str(error) or error.__class__.__name__


def size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not WIDTHxHEIGHT") from None
    if width <= 0 or height <= 0 or width % 32 or height % 32:
        raise argparse.ArgumentTypeError(f"{text}: width and height must be positive multiples of 32")
    return width, height


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not 1 or more")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ocr", description="Read the text in an image through Triton's "
                                "text_detection and text_recognition.")
    p.add_argument("image", help="an image file (PNG, JPEG, ...)")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="Triton's HTTP address (default: %(default)s)")
    p.add_argument("--detector", default="text_detection", help="detection model (default: %(default)s)")
    p.add_argument("--recognizer", default="text_recognition", help="recognition model (default: %(default)s)")
    p.add_argument("--size", type=size, default=(640, 480), metavar="WxH",
                   help="the detector's input size, multiples of 32 (default: 640x480)")
    p.add_argument("--score", type=fraction, default=0.5, help="lowest box score kept (default: %(default)s)")
    p.add_argument("--nms", type=fraction, default=0.4, help="overlap (IoU) above which the weaker of two boxes "
                                                             "is dropped (default: %(default)s)")
    p.add_argument("--max-boxes", type=positive, default=64, help="at most this many boxes (default: %(default)s)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output (default: %(default)s)")
    p.add_argument("--out", type=Path, help="write the image with the boxes and their text drawn on it")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        image = pipeline.read_image(args.image)
        models = TritonModels(args.url, args.detector, args.recognizer)
        readings = pipeline.read_text(image, models.detect, models.recognize, size=args.size, score=args.score,
                                      nms=args.nms, max_boxes=args.max_boxes, batch=models.batch)
    except (pipeline.NotAnImage, ServerError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    if args.format == "json":
        print(json.dumps({"image": args.image, "boxes": [r.as_dict() for r in readings]}, indent=2))
    else:
        for r in readings:
            corners = " ".join(f"{x:.0f},{y:.0f}" for x, y in r.box.corners)
            print(f"{r.text or '(nothing read)'}\tscore {r.box.score:.2f}\tbox {corners}")
    print(f"{len(readings)} box{'es' if len(readings) != 1 else ''} found"
          + (f" (at most {args.max_boxes})" if len(readings) == args.max_boxes else ""), file=sys.stderr)
    if args.out is not None:
        import cv2

        try:
            written = cv2.imwrite(str(args.out), pipeline.annotate(image, readings))
        except cv2.error:
            written = False
        if not written:
            print(f"error: cannot write '{args.out}' (an image file: .png, .jpg, ...)", file=sys.stderr)
            return 3
        print(f"annotated image: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
