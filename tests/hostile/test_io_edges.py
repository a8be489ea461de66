"""Version numbers, file modes, what reaches the terminal, credentials in URLs, leftovers of killed writes."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from conftest import write_tree
from hostile.conftest import GOOD, run, tree

MAX = 2**63 - 1


# ---- version numbers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [str(2**63), "99999999999999999999999"])
def test_version_numbers_past_int64_are_usage_errors(cli, repo, number):
    (repo.parent / "str.onnx").write_bytes(GOOD)
    before = tree(repo)
    result = cli("version", "add", "text_recognition", str(repo.parent / "str.onnx"), "-r", str(repo), "-v", number)
    assert (result.exit_code, result.stderr) == (
        2, f"error: version {number} is larger than Triton's largest version number ({MAX})\n")
    assert cli("version", "rm", "text_recognition", number, "-r", str(repo)).exit_code == 2
    assert cli("load", "text_recognition", "-r", str(repo), "--version", number, "--url", "127.0.0.1:1").exit_code == 2
    assert tree(repo) == before


def test_after_the_largest_version_a_plain_add_says_what_to_do(cli, repo):
    (repo.parent / "str.onnx").write_bytes(GOOD)
    assert cli("version", "add", "text_recognition", str(repo.parent / "str.onnx"), "-r", str(repo),
               "-v", str(MAX)).exit_code == 0
    result = cli("version", "add", "text_recognition", str(repo.parent / "str.onnx"), "-r", str(repo))
    assert (result.exit_code, result.stderr) == (
        3, f"error: 'text_recognition' has version {MAX}, Triton's largest version number; there is no next one\n"
           "hint: give the number with --version\n")


# ---- file modes ---------------------------------------------------------------------------------------------


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_file_tritonctl_creates_is_readable_by_others_under_umask_022(cli, tmp_path):
    from validate.onnx_models import onnx_bytes

    repo = tmp_path / "repo"
    repo.mkdir()
    with umask(0o022):
        assert cli("config", "init", "--backend", "python", "py", "-r", str(repo)).exit_code == 0
        (repo / "gen" / "1").mkdir(parents=True)
        (repo / "gen" / "1" / "model.onnx").write_bytes(onnx_bytes([("x", [-1, 4])], [("y", [-1, 4])]))
        assert cli("config", "generate", str(repo / "gen"), "--write").exit_code == 0
        source = tmp_path / "src.onnx"
        source.write_bytes(GOOD)
        source.chmod(0o600)  # a private source still makes a version Triton (another user) can read
        assert cli("version", "add", "gen", str(source), "-r", str(repo), "--no-validate").exit_code == 0
        assert cli("policy", "set", "py", "all", "-r", str(repo)).exit_code == 0
    for path in (repo / "py" / "config.pbtxt", repo / "py" / "1" / "model.py", repo / "gen" / "config.pbtxt",
                 repo / "gen" / "2" / "model.onnx"):
        assert mode(path) == 0o644, path
    for folder in (repo / "py", repo / "py" / "1", repo / "gen" / "2"):
        assert mode(folder) == 0o755, folder


def test_replacing_a_file_keeps_its_mode(cli, repo):
    config = repo / "text_recognition" / "config.pbtxt"
    (repo / "text_recognition" / "1").mkdir()
    config.chmod(0o640)
    with umask(0o077):
        assert cli("policy", "set", "text_recognition", "latest:1", "-r", str(repo)).exit_code == 0
    assert mode(config) == 0o640


# ---- what reaches the terminal ------------------------------------------------------------------------------


def test_control_characters_from_input_are_escaped_in_every_human_format(cli, tmp_path):
    name = "evil\x1b[2J\n::error file=forged.py::forged\r"
    repo = write_tree(tmp_path / "repo", {
        "m/config.pbtxt": f'name: "{json.dumps(name)[1:-1]}"\nbackend: "python"\nmax_batch_size: -1\n',
        "m/1/model.py": "",
        "evil\x1b[2J\n::warning::x/1/model.py": "",
    })
    for fmt in ("table", "github"):
        result = cli("validate", str(repo), "-f", fmt)
        text = result.stdout + result.stderr
        assert "\x1b" not in text and "\r" not in text
        assert "\\x1b[2J" in text
        lines = result.stdout.splitlines()
        assert not any(line.startswith(("::error file=forged", "::warning::x")) for line in lines), lines
        if fmt == "github":
            assert all(line.startswith("::") for line in lines), lines
    shown = cli("policy", "show", "evil\x1b[2J\n::warning::x", "-r", str(repo))
    assert shown.exit_code == 0
    assert shown.stdout.startswith("evil\\x1b[2J\\n::warning::x: latest:1 (Triton's default)\n")
    missing = cli("policy", "show", "nope\x1b[2J", "-r", str(repo))
    assert missing.exit_code == 3 and missing.stderr.startswith("error: no model 'nope\\x1b[2J' in repository")


def test_a_password_in_a_url_is_never_printed(cli, monkeypatch):
    result = cli("status", "--url", "http://admin:S3cret@127.0.0.1:1")
    assert result.exit_code == 3
    assert "S3cret" not in result.stdout + result.stderr
    assert result.stderr.startswith("error: no Triton server at http://127.0.0.1:1 (connection refused)")
    monkeypatch.setenv("TRITONCTL_URL", "https://admin:S3cret@127.0.0.1:1/")
    result = cli("unload", "m")
    assert "S3cret" not in result.stdout + result.stderr and result.exit_code == 3


@contextmanager
def http_answering(body: bytes, seen: list):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.mark.parametrize("body", [b"<html>not triton</html>", b"[1, 2]", b'{"models": 3}', b"\xff\xfe"])
def test_a_server_that_answers_but_is_not_triton_is_one_line(cli, body):
    seen: list = []
    with http_answering(body, seen) as address:
        result = cli("status", "--url", f"http://user:pw@{address}")
    assert result.exit_code == 3, result.stderr
    assert result.stderr.startswith(f"error: the server at http://{address} answered ")
    assert result.stderr.endswith("is it a Triton server?\nhint: check --url\n")
    assert seen and seen[0]["Authorization"] == "Basic dXNlcjpwdw=="  # user:pw, sent as a header


# ---- leftovers of killed writes -----------------------------------------------------------------------------


def test_a_killed_policy_set_leaves_a_file_the_next_write_removes_and_validate_reports(repo):
    model = repo / "text_recognition"
    (model / "1").mkdir()
    (model / "1" / "model.onnx").write_bytes(GOOD)
    proc = subprocess.Popen([sys.executable, "-m", "tritonctl", "policy", "set", "text_recognition", "all", "-r",
                             str(repo)], env={**os.environ, "TRITONCTL_TEST_PAUSE_IN_WRITE": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not [p for p in model.iterdir() if p.name.endswith(".tmp")]:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    [leftover] = [p for p in model.iterdir() if p.name.endswith(".tmp")]
    live = run("validate", str(repo), "-m", "text_recognition", "-f", "json")
    assert "TRT409" not in live.stdout  # in use: not a leftover yet
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert leftover.exists()
    report = run("validate", str(repo), "-m", "text_recognition", "-f", "json")
    assert [(f["code"], f["path"]) for f in json.loads(report.stdout)["findings"]] == [
        ("TRT409", str(leftover))]
    again = run("policy", "set", "text_recognition", "latest:1", "-r", str(repo))
    assert again.returncode == 0, again.stderr
    assert not leftover.exists()
    assert sorted(p.name for p in model.iterdir()) == ["1", "config.pbtxt"]
