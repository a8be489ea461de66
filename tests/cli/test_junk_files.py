"""Every option that takes a file or folder, fed junk: a one-line error and exit 1, 2 or 3 (never 70, never a
traceback). In-process through the CLI runner."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import pytest

from conftest import write_tree

JUNK = {
    "empty": b"",
    "random": random.Random(7).randbytes(4096),
    "text": b"hello, this is not a model\n",
    "png": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
    "json": b"[1, 2, 3]",
}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", b"not a pickle")
    return buffer.getvalue()


JUNK["zip"] = _zip()


@pytest.fixture(params=[*JUNK, "folder"])
def junk(request, tmp_path) -> Path:
    if request.param == "folder":
        path = tmp_path / "junk" / "a_folder"
        path.mkdir(parents=True)
        (path / "inner.txt").write_text("x")
        return path
    path = tmp_path / "junk" / f"model.{request.param}"
    path.parent.mkdir(parents=True)
    path.write_bytes(JUNK[request.param])
    return path


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRITONCTL_STATE_DIR", str(tmp_path / "state"))
    return write_tree(tmp_path / "repo", {"m/config.pbtxt": 'backend: "onnxruntime"\n', "m/1": None})


def commands(junk: Path, repo: Path) -> list[list[str]]:
    named = junk.parent / "model.onnx"
    if junk.is_file():
        named.write_bytes(junk.read_bytes())
    return [
        ["validate", str(junk)],
        ["validate", "--repo", str(junk)],
        ["version", "add", "m", str(junk), "-r", str(repo)],
        ["version", "add", "m", str(named if junk.is_file() else junk), "-r", str(repo)],
        ["version", "list", "m", "-r", str(junk)],
        ["version", "rm", "m", "1", "-r", str(junk)],
        ["policy", "show", "m", "-r", str(junk)],
        ["policy", "set", "m", "all", "-r", str(junk)],
        ["config", "generate", str(junk)],
        ["config", "generate", str(named if junk.is_file() else junk)],
        ["config", "convert", str(junk)],
        ["config", "show", "m", "-r", str(junk)],
        *([["config", "init", "new", "-r", str(junk)]] if junk.is_file() else []),  # a folder may become one
        *([["server", "start", "--repo", str(junk), "--timeout", "5"]] if junk.is_file() else []),  # a folder is one
        ["status", "--repo", str(junk), "--url", "http://127.0.0.1:9"],
        ["load", "m", "--repo", str(junk), "--url", "http://127.0.0.1:9"],
        ["infer", "m", "-i", f"x={junk}", "--url", "http://127.0.0.1:9"],
    ]


def test_junk_in_every_file_option_is_a_one_line_error(cli, junk, repo):
    for args in commands(junk, repo):
        result = cli(*args)
        assert result.exit_code in (1, 2, 3), (args, result.exit_code, result.stderr)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr, (args, result.stderr)
        assert result.stderr.startswith("error: ") or result.exit_code == 1, (args, result.stderr)


@pytest.mark.slow
def test_junk_given_to_the_exports_is_a_one_line_error(cli, junk, repo):
    for args in (["export", "east", "--graph", str(junk), "-r", str(repo)],
                 ["export", "str", "--weights", str(junk), "-r", str(repo)]):
        result = cli(*args)
        assert result.exit_code in (1, 2, 3), (args, result.exit_code, result.stderr)
        assert "internal error" not in result.stderr, (args, result.stderr)
