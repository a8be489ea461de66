"""S3 where features meet: messages that name the address, config generate reading from S3, long work shown."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from conftest import on_a_terminal, read_terminal
from s3.conftest import model_tree, python_model, run
from s3_proxy import S3Proxy

pytestmark = pytest.mark.s3


def test_validate_of_an_empty_prefix_names_the_address_and_a_hint_that_fits(bucket):
    result = run("validate", bucket.url("nosuchprefix"))
    assert result.returncode == 3
    assert result.stderr.startswith(f"error: no model repository at '{bucket.url('nosuchprefix')}' (nothing is stored "
                                    "under it)")
    assert "s3-cache" not in result.stderr and "tritonctl validate PATH" not in result.stderr


def test_config_generate_reads_an_s3_model_without_write(bucket, tmp_path):
    from validate.onnx_models import onnx_bytes

    bucket.put("models/o/1/model.onnx", onnx_bytes([("x", [-1, 4])], [("y", [-1, 4])]))
    for address in (bucket.url("models/o"), bucket.url("models/o/1/model.onnx")):
        result = run("config", "generate", address)
        assert result.returncode == 0, result.stderr
        assert 'name: "o"' in result.stdout and 'name: "x"' in result.stdout
    written = run("config", "generate", bucket.url("models/o"), "--write")
    assert written.returncode == 2 and "S3 repositories are read-only here" in written.stderr


def _on_a_terminal(args: list[str], env: dict, timeout: float = 120) -> tuple[int, str]:
    """Run tritonctl with stderr (and stdout) on a pseudo-terminal; what it drew there, and its exit status."""
    pid, fd = on_a_terminal(args, env)
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (chunk := read_terminal(fd, 0.5)) is not None:
        seen += chunk
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_a_slow_s3_copy_shows_what_it_is_doing_on_a_terminal(bucket, tmp_path):
    src = model_tree(tmp_path / "src", "m", {1: {"model.py": python_model()}})
    assert run("sync", str(src), bucket.url()).returncode == 0
    host, port = bucket.endpoint.removeprefix("http://").split(":")
    proxy = S3Proxy(host, int(port))
    proxy.delay = 0.3  # a dozen requests: several seconds
    try:
        code, screen = _on_a_terminal(["validate", bucket.url(), "--endpoint-url", proxy.url],
                                      {"TERM": "xterm", "COLUMNS": "120"})
    finally:
        proxy.stop()
    assert code == 0, screen
    assert f"reading {bucket.url()} (a local copy, by content)" in screen
    piped = subprocess.run([sys.executable, "-m", "tritonctl", "validate", bucket.url()], capture_output=True,
                           text=True, timeout=60)
    assert "reading" not in piped.stderr  # a script's stderr stays clean
