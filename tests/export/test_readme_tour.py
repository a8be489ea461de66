"""The README's quick tour, every line, top to bottom, in a temporary copy of the project, each line's exit code
checked (0 unless its comment says `exit N`).

What cannot run here is substituted, each substitution stated below: the checkpoints that cannot be downloaded are
the random-weight exports made once for this package; `str.onnx` and `photo.jpg` are made by the test; the S3
endpoint is moto on loopback (with a bucket named `models`); the local server's URL stands for the one the tour
shows, a local server for the headless Service, and the fleet `prod` is that server, named in a `tritonctl.toml` the
test writes. A line that is neither run as written, substituted nor exempt fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.triton, pytest.mark.s3]

EXEMPT: dict[str, str] = {}  # lines of the tour that cannot run here, with why (none today: the GPU part is not
#                              in the tour's block)


def tour_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Quick tour", 1)[1].split("```console\n", 1)[1].split("```\n", 1)[0]
    return [line[2:] for line in block.splitlines() if line.startswith("$ ")]


def expected_code(line: str) -> int:
    comment = line.split("#", 1)[1] if "#" in line else ""
    found = re.search(r"\bexit (\d+)", comment)
    return int(found.group(1)) if found else 0


def test_every_line_of_the_quick_tour_runs(exported, moto_endpoint, tmp_path):
    import boto3
    import cv2

    sys.path.insert(0, str(ROOT / "examples" / "ocr"))
    from pipeline import draw_text_image

    models, _east, _rec = exported
    work = tmp_path / "checkout"
    shutil.copytree(ROOT / "examples", work / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    cv2.imwrite(str(work / "photo.jpg"), draw_text_image(["TRITON", "SERVES"]))
    shutil.copy(models / "text_recognition/1/model.onnx", work / "str.onnx")
    env = {**os.environ, "TRITONCTL_STATE_DIR": str(tmp_path / "state"), "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    env.pop("TRITONCTL_REPO", None)
    env.pop("TRITONCTL_URL", None)
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket="models")

    def server_url(name: str) -> str:
        state = json.loads((tmp_path / "state/servers" / name / "server.json").read_text())
        return f"http://{state['address']}:{state['http_port']}"

    substitutions = [  # (what the tour says, what runs here); each used at least once
        ("export east --graph frozen_east_text_detection.pb",
         f"version add text_detection {models}/text_detection/1"),
        ("export str --weights None-ResNet-None-CTC.pth", f"version add text_recognition {models}/text_recognition/1"),
        ("http://minio:9000", moto_endpoint),
        ("--url http://127.0.0.1:8000", lambda: f"--url {server_url('default')}"),
        ("--url http://triton-headless.ml.svc:8000 --all-addresses", lambda: f"--url {server_url('s3')}"),
    ]
    used = set()
    stopped_all = False
    try:
        for line in tour_lines():
            command = line.split("  #", 1)[0].split(" # ", 1)[0].strip()
            if line in EXEMPT:
                continue
            if command == ". .venv/bin/activate":  # the venv this test runs in, first on PATH
                env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
                env["VIRTUAL_ENV"] = str(Path(sys.executable).parent.parent)
                continue
            for said, here in substitutions:
                if said in command:
                    command = command.replace(said, here() if callable(here) else here)
                    used.add(said)
            if command.startswith("export ") and "=" in command:
                key, _, value = command[len("export "):].partition("=")
                env[key] = value
                continue
            if "--fleet prod" in command and not (work / "tritonctl.toml").exists():
                (work / "tritonctl.toml").write_text(f'[fleets.prod]\nurls = ["{server_url("s3")}"]\n')
            result = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True,
                                    timeout=600)
            assert result.returncode == expected_code(line), f"$ {line}\n-> {command}\n{result.stdout}\n{result.stderr}"
            stopped_all = stopped_all or command.endswith("tritonctl server stop")
        assert used == {said for said, _ in substitutions}, "a substitution the tour no longer needs"
        assert stopped_all
        assert (work / "annotated.png").is_file() and (work / "tritonctl.sarif").is_file()
    finally:
        for name in ("default", "staging", "s3"):
            subprocess.run([sys.executable, "-m", "tritonctl", "server", "stop", "--server", name], env=env,
                           capture_output=True, timeout=120)
