from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from validate.onnx_models import onnx_bytes

GOOD = onnx_bytes([("input.1", [-1, 1, 32, 100])], [("308", [-1, 26, 37])])
WRONG_OUTPUT = onnx_bytes([("input.1", [-1, 1, 32, 100])], [("307", [-1, 26, 37])])


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (hidden ones included) with its bytes: the whole state of a repository."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} | {
        str(p.relative_to(root)) + "/": b"" for p in sorted(root.rglob("*")) if p.is_dir()}


@pytest.fixture
def repo(example_repo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "str.onnx").write_bytes(GOOD)
    (tmp_path / "wrong.onnx").write_bytes(WRONG_OUTPUT)
    return example_repo


def test_add_stages_validates_and_publishes_under_the_expected_name(cli, repo):
    (repo / "text_recognition" / "notes.txt").write_text("x")
    os.utime(repo / "text_recognition" / "notes.txt", (2_000_000_000, 2_000_000_000))  # a file from the future
    result = cli("version", "add", "text_recognition", "str.onnx", "--repo", str(repo))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (f"added version 1 of 'text_recognition': {repo}/text_recognition/1 (model.onnx; 103 B)\n")
    published = repo / "text_recognition" / "1" / "model.onnx"
    assert published.read_bytes() == GOOD
    assert published.stat().st_mtime > 2_000_000_000  # newer than anything in the model folder
    assert [p.name for p in (repo / "text_recognition").iterdir() if p.name.startswith((".", "~"))] == []
    second = cli("version", "add", "text_recognition", "str.onnx", "-r", str(repo))
    assert "added version 2 of 'text_recognition'" in second.stdout


def test_invalid_version_is_refused_and_the_repository_left_as_it_was(cli, repo):
    before = tree(repo)
    result = cli("version", "add", "text_recognition", "wrong.onnx", "--repo", str(repo))
    assert result.exit_code == 1
    assert "error TRT511 version 1: '308' is not an output of the model (307)" in result.stderr
    assert result.stderr.endswith("error: version 1 of 'text_recognition' would not load; not added (1 error)\n"
                                  "hint: fix them, or add anyway with --no-validate\n")
    assert tree(repo) == before
    assert cli("version", "add", "text_recognition", "wrong.onnx", "-r", str(repo), "--no-validate").exit_code == 0


def test_existing_version_needs_force_and_is_swapped_whole(cli, repo):
    assert cli("version", "add", "text_recognition", "str.onnx", "-r", str(repo)).exit_code == 0
    refused = cli("version", "add", "text_recognition", "str.onnx", "-r", str(repo), "--version", "1")
    assert (refused.exit_code, refused.stderr) == (3, "error: version 1 of 'text_recognition' exists\n"
                                                      "hint: replace it with --force\n")
    (Path("other.onnx")).write_bytes(GOOD + b"")
    forced = cli("version", "add", "text_recognition", "wrong.onnx", "-r", str(repo), "-v", "1", "--force",
                 "--no-validate")
    assert forced.stdout.startswith("replaced version 1 of 'text_recognition'")
    assert (repo / "text_recognition/1/model.onnx").read_bytes() == WRONG_OUTPUT
    assert sorted(p.name for p in (repo / "text_recognition").iterdir()) == ["1", "config.pbtxt"]


@pytest.mark.parametrize(
    ("args", "code", "stderr"),
    [
        (["text_recognition", "str.onnx", "--version", "01"], 2,
         "error: version '01' is not a number Triton reads (0, 1, 2, ... without leading zeros)\n"),
        (["text_recognition", "str.onnx", "--version", "x"], 2,
         "error: version 'x' is not a number Triton reads (0, 1, 2, ... without leading zeros)\n"),
        (["nope", "str.onnx"], 3, None),
        (["text_recognition", "missing.onnx"], 3, "error: source 'missing.onnx' does not exist\n"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(cli, repo, args, code, stderr):
    before = tree(repo)
    result = cli("version", "add", *args, "--repo", str(repo))
    assert result.exit_code == code
    if stderr:
        assert result.stderr == stderr
    else:
        assert result.stderr.startswith("error: no model 'nope' in repository")
    assert tree(repo) == before


def test_external_data_comes_along_or_the_add_is_refused(cli, repo, tmp_path):
    model = onnx_bytes([("input.1", [-1, 1, 32, 100])], [("308", [-1, 26, 37])], weights=True, external="w.bin")
    src = tmp_path / "src"
    src.mkdir()
    (src / "net.onnx").write_bytes(model)
    before = tree(repo)
    refused = cli("version", "add", "text_recognition", str(src / "net.onnx"), "-r", str(repo), "--no-validate")
    assert refused.exit_code == 3
    assert refused.stderr.startswith(f"error: '{src}/net.onnx' references external data that is not beside it: w.bin")
    assert tree(repo) == before
    (src / "w.bin").write_bytes(b"\0" * 4)
    added = cli("version", "add", "text_recognition", str(src / "net.onnx"), "-r", str(repo), "--no-validate")
    assert "(model.onnx, w.bin; " in added.stdout
    assert sorted(p.name for p in (repo / "text_recognition/1").iterdir()) == ["model.onnx", "w.bin"]


def test_a_full_disk_mid_copy_leaves_the_repository_as_it_was(cli, repo, monkeypatch):
    from tritonctl.io import files

    def full(src, dst):
        Path(dst).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "copy_file", full)
    before = tree(repo)
    result = cli("version", "add", "text_recognition", "str.onnx", "-r", str(repo))
    assert (result.exit_code, result.stderr) == (
        3, "error: copying 'str.onnx' failed: No space left on device; the repository is unchanged\n")
    assert tree(repo) == before


def test_a_read_only_repository_is_a_one_line_error(cli, repo, monkeypatch):
    real = Path.mkdir

    def read_only(self, *a, **k):
        if "~tritonctl-staging-" in self.name:
            raise OSError(30, "Read-only file system")
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", read_only)
    before = tree(repo)
    result = cli("version", "add", "text_recognition", "str.onnx", "-r", str(repo))
    assert (result.exit_code, result.stderr) == (
        3, f"error: cannot write in '{repo}/text_recognition': Read-only file system\n")
    assert tree(repo) == before


def run_add(repo: Path, source: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tritonctl", "version", "add", "text_recognition", source,
                             "--repo", str(repo)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def test_parallel_adds_get_distinct_versions(repo):
    procs = [run_add(repo, "str.onnx") for _ in range(3)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    numbers = sorted(int(out.split("added version ")[1].split()[0]) for out, _ in outs)
    assert numbers == [1, 2, 3]
    for n in numbers:
        assert (repo / f"text_recognition/{n}/model.onnx").read_bytes() == GOOD


def test_an_add_killed_mid_copy_leaves_no_numbered_folder(repo, tmp_path, cli):
    big = tmp_path / "big.onnx"
    big.write_bytes(GOOD + b"\0" * (8 << 20))  # trailing bytes: still a model file to copy
    marker = tmp_path / "paused"
    proc = run_add(repo, str(big), {"TRITONCTL_TEST_PAUSE_AFTER_BYTES": str(1 << 20),
                                    "TRITONCTL_TEST_PAUSE_MARKER": str(marker)})
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    staging = [p for p in (repo / "text_recognition").iterdir() if p.name.startswith("~tritonctl-staging-")]
    assert len(staging) == 1 and (staging[0] / "model.onnx").stat().st_size == 1 << 20  # really mid-copy
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert sorted(p.name for p in (repo / "text_recognition").iterdir() if not p.name.startswith((".", "~"))) == [
        "config.pbtxt"]
    report = json.loads(cli("validate", str(repo), "-f", "json", "-m", "text_recognition").stdout)
    assert [f["code"] for f in report["findings"]] == ["TRT408", "TRT404"]
    again = cli("version", "add", "text_recognition", "str.onnx", "-r", str(repo))
    assert again.exit_code == 0
    assert again.stderr == f"cleared '{staging[0].name}' left by an interrupted run\n"
    assert sorted(p.name for p in (repo / "text_recognition").iterdir()) == ["1", "config.pbtxt"]


def test_list_shows_files_hashes_and_what_the_policy_serves(cli, repo):
    for _ in range(2):
        cli("version", "add", "text_recognition", "str.onnx", "-r", str(repo))
    doc = json.loads(cli("version", "list", "text_recognition", "-r", str(repo), "--format", "json").stdout)
    import hashlib

    sha = hashlib.sha256(GOOD).hexdigest()
    assert [(v["version"], v["model_file"], v["size"], v["sha256"], v["served"]) for v in doc["versions"]] == [
        (1, "model.onnx", len(GOOD), sha, False), (2, "model.onnx", len(GOOD), sha, True)]
    table = cli("version", "list", "text_recognition", "-r", str(repo)).stdout.splitlines()
    assert table[0].split() == ["version", "file", "size", "sha256", "modified", "served", "exported", "from"]
    assert table[1].split()[:4] == ["1", "model.onnx", "103", "B"] and sha[:12] in table[1]


def test_rm_refuses_a_served_or_the_last_version_without_force(cli, repo):
    for _ in range(2):
        cli("version", "add", "text_recognition", "str.onnx", "-r", str(repo))
    served = cli("version", "rm", "text_recognition", "2", "-r", str(repo))
    assert (served.exit_code, served.stderr) == (
        3, "error: version 2 of 'text_recognition' is served by its version policy\n"
           "hint: change the policy first (tritonctl policy set), or remove it with --force\n")
    removed = cli("version", "rm", "text_recognition", "1", "-r", str(repo))
    assert (removed.stdout, removed.stderr) == ("removed version 1 of 'text_recognition'\n", "")
    last = cli("version", "rm", "text_recognition", "2", "-r", str(repo))
    assert last.stderr.startswith("error: version 2 is the last version of 'text_recognition'")
    assert cli("version", "rm", "text_recognition", "2", "-r", str(repo), "--force").exit_code == 0
    assert sorted(p.name for p in (repo / "text_recognition").iterdir()) == ["config.pbtxt"]
    missing = cli("version", "rm", "text_recognition", "7", "-r", str(repo))
    assert missing.stderr == "error: model 'text_recognition' has no version 7 (versions: none)\n"
