"""The OCR client through the real local Triton, on the known-answer models: it must return the rectangles drawn
in the image and the recogniser's word, sending the crops in batches no larger than the served max_batch_size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import triton_harness
from ocr.known_models import RECTANGLES, WORD, image_with_rectangles, repository

pytestmark = pytest.mark.triton
CLIENT = Path(__file__).resolve().parents[2] / "examples" / "ocr" / "client.py"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("ocr")
    repository(root / "repo", recognizer_batch=2)
    server = triton_harness.start((root / "repo").absolute(), root / "server")
    try:
        for model in ("text_detection", "text_recognition"):
            status, error = server.load(model)
            assert status == 200, error
        yield server, root
    finally:
        triton_harness.triton_binary.stop(server.proc)


def client(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CLIENT), *args], capture_output=True, text=True, timeout=120)


def recognizer_counts(server) -> tuple[int, int]:
    import urllib.request

    with urllib.request.urlopen(f"{server.url}/v2/models/text_recognition/stats", timeout=10) as r:
        stats = json.load(r)["model_stats"][0]
    return stats["inference_count"], stats["execution_count"]


def test_the_client_reads_the_drawn_boxes_and_the_word(served):
    import cv2

    server, root = served
    image = root / "rectangles.png"
    cv2.imwrite(str(image), image_with_rectangles())
    before = recognizer_counts(server)
    result = client(str(image), "--url", server.url, "--format", "json", "--out", str(root / "annotated.png"))
    assert result.returncode == 0, result.stderr
    boxes = json.loads(result.stdout)["boxes"]
    found = sorted(tuple(round(f(p[i] for p in b["box"])) for f, i in ((min, 0), (min, 1), (max, 0), (max, 1)))
                   for b in boxes)
    assert found == sorted(RECTANGLES)
    assert [b["text"] for b in boxes] == [WORD] * 3
    after = recognizer_counts(server)
    assert (after[0] - before[0], after[1] - before[1]) == (3, 2)  # 3 crops in requests of at most 2
    assert cv2.imread(str(root / "annotated.png")).shape == (480, 640, 3)
    assert "3 boxes found" in result.stderr


def test_text_output_and_an_image_without_text(served):
    import cv2
    import numpy as np

    server, root = served
    blank = root / "blank.png"
    cv2.imwrite(str(blank), np.full((480, 640, 3), 255, np.uint8))
    result = client(str(blank), "--url", server.url)
    assert (result.returncode, result.stdout) == (0, "") and "0 boxes found" in result.stderr
    image = root / "rectangles.png"
    cv2.imwrite(str(image), image_with_rectangles())
    lines = client(str(image), "--url", server.url, "--max-boxes", "2").stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{WORD}\tscore 1.00\tbox ") for line in lines)


def test_bad_input_is_one_line_and_exit_3_or_2(served, tmp_path):
    server, _root = served
    (tmp_path / "notes.png").write_text("not a picture")
    for args, code, message in [
        ([str(tmp_path / "notes.png"), "--url", server.url], 3, "is not an image"),
        ([str(tmp_path / "missing.png"), "--url", server.url], 3, "not found"),
        ([str(tmp_path / "notes.png"), "--size", "100x30"], 2, "multiples of 32"),
    ]:
        result = client(*args)
        assert result.returncode == code and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_a_server_that_is_down_or_lacks_the_model_is_one_line(served, tmp_path):
    import cv2

    server, root = served
    image = root / "rectangles.png"
    cv2.imwrite(str(image), image_with_rectangles())
    down = client(str(image), "--url", f"http://127.0.0.1:{triton_harness.triton_binary.free_port()}")
    assert down.returncode == 3 and down.stderr.startswith("error: no Triton server at"), down.stderr
    missing = client(str(image), "--url", server.url, "--detector", "nope")
    assert missing.returncode == 3 and "nope" in missing.stderr and "Traceback" not in missing.stderr
