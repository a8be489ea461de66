"""FIFOs, devices, huge and deep configs: one finding or one error, never a hang or unbounded memory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_tree
from hostile.conftest import GOOD, run, tree

PY_CONFIG = 'backend: "python"\n'


@pytest.fixture
def py_repo(tmp_path) -> Path:
    return write_tree(tmp_path / "repo", {"m/config.pbtxt": PY_CONFIG, "m/1/model.py": ""})


def special(path: Path, kind: str) -> None:
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        os.symlink("/dev/zero", path)


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_config_that_is_a_fifo_or_dev_zero_is_a_finding(py_repo, kind):
    special(py_repo / "m" / "config.pbtxt", kind)
    what = "a FIFO" if kind == "fifo" else "a character device"
    result = run("validate", str(py_repo), "-f", "json", timeout=20)
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    link = [("TRT410", "'config.pbtxt' is a symbolic link to '/dev/zero', outside the repository; put the file "
                       "itself in the repository")] if kind == "zero" else []
    assert [(f["code"], f["message"]) for f in findings] == [
        ("TRT002", f"cannot read config.pbtxt: is {what}, not a regular file"), *link]
    for args in (["config", "show", "m"], ["policy", "show", "m"], ["version", "list", "m"]):
        shown = run(*args, "-r", str(py_repo), timeout=20)
        assert shown.returncode == 3, (args, shown.stderr)
        assert shown.stderr == f"error: {py_repo}/m/config.pbtxt: is {what}, not a regular file\n"
    converted = run("config", "convert", str(py_repo / "m" / "config.pbtxt"), timeout=20)
    assert (converted.returncode, converted.stderr) == (
        3, f"error: cannot read '{py_repo}/m/config.pbtxt': is {what}, not a regular file\n")


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_model_file_that_is_a_fifo_or_dev_zero_is_a_finding(tmp_path, kind):
    from validate.cases import ORT

    repo = write_tree(tmp_path / "repo", {"m/config.pbtxt": ORT, "m/1": None})
    special(repo / "m" / "1" / "model.onnx", kind)
    result = run("validate", str(repo), "-f", "json", timeout=20)
    assert result.returncode == 1, result.stderr
    codes = [f["code"] for f in json.loads(result.stdout)["findings"]]
    assert codes == (["TRT410", "TRT501"] if kind == "zero" else ["TRT501"])
    listed = run("version", "list", "m", "-r", str(repo), "-f", "json", timeout=20)
    assert listed.returncode == 0 and json.loads(listed.stdout)["versions"][0]["sha256"] is None
    generated = run("config", "generate", str(repo / "m" / "1" / "model.onnx"), timeout=20)
    assert generated.returncode == 3
    assert "not a regular file" in generated.stderr or "not a model file" in generated.stderr


def test_a_python_model_file_that_is_a_fifo_does_not_hang_auto_complete(py_repo):
    special(py_repo / "m" / "1" / "model.py", "fifo")
    result = run("config", "show", "m", "-r", str(py_repo), "--normalized", "--run-python", timeout=30)
    assert result.returncode == 1  # a finding against the model: Triton could not read it either
    assert "is a FIFO, not a regular file" in result.stderr and "TRT108" in result.stderr


def test_a_config_over_the_size_cap_is_a_finding(py_repo):
    with open(py_repo / "m" / "config.pbtxt", "ab") as f:
        f.truncate((64 << 20) + 1)  # sparse: 64 MiB + 1 byte of zeros, written instantly
    result = run("validate", str(py_repo), "-f", "json", timeout=20)
    assert result.returncode == 1
    [finding] = json.loads(result.stdout)["findings"]
    assert finding["message"] == ("cannot read config.pbtxt: is 67,108,865 bytes, larger than the 67,108,864 read "
                                  "here")


def test_a_long_string_value_costs_memory_in_proportion(tmp_path):
    import tracemalloc

    from tritonctl.io import pbtxt

    text = 'name: "m"\nparameters { key: "k" value { string_value: "' + "a" * 5_000_000 + '" } }\n'
    tracemalloc.start()
    located = pbtxt.locate(text)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert located.find('parameters["k"].value.string_value') == (2, 31)
    assert peak < 20 * len(text)  # was ~200 bytes per character (a 50 MB value took 10 GB)


def test_ten_thousand_parameters_are_located_without_a_quadratic_scan(tmp_path):
    """20,000 parameters took about half an hour with the quadratic scan; a hang here is that regression."""
    n = 20_000
    body = 'backend: "python"\n' + "".join(f'parameters {{ key: "k{i}" value {{ string_value: "v" }} }}\n'
                                           for i in range(n))
    repo = write_tree(tmp_path / "repo", {"m/config.pbtxt": body + "max_batch_size: -1\n", "m/1/model.py": ""})
    result = run("validate", str(repo), "-f", "json", timeout=60)
    assert result.returncode == 1
    [finding] = json.loads(result.stdout)["findings"]
    assert (finding["code"], finding["line"]) == ("TRT106", n + 2)


def test_a_deeply_nested_config_is_one_finding(py_repo):
    (py_repo / "m" / "config.pbtxt").write_text("optimization " + "{ " * 200_000 + "}" * 200_000)
    result = run("validate", str(py_repo), "-f", "json", timeout=30)
    assert result.returncode == 1, result.stderr
    assert [f["code"] for f in json.loads(result.stdout)["findings"]] == ["TRT001"]


@pytest.mark.parametrize("kind", ["zero", "fifo"])
def test_version_add_takes_regular_files_and_folders_only(repo, tmp_path, kind):
    source = tmp_path / "src.onnx"
    special(source, kind)
    before = tree(repo)
    result = run("version", "add", "text_recognition", str(source), "-r", str(repo), timeout=20)
    what = "a FIFO" if kind == "fifo" else "a character device"
    assert (result.returncode, result.stderr) == (
        3, f"error: source '{source}' is {what}; a version is made from a regular file or a folder\n")
    assert tree(repo) == before


def test_version_add_of_a_folder_holding_a_fifo_is_refused(repo, tmp_path):
    src = tmp_path / "v"
    src.mkdir()
    (src / "model.onnx").write_bytes(GOOD)
    os.mkfifo(src / "pipe")
    before = tree(repo)
    result = run("version", "add", "text_recognition", str(src), "-r", str(repo), timeout=20)
    assert result.returncode == 3
    assert result.stderr.startswith(f"error: '{src}/pipe' is a FIFO, not a regular file; only files are copied")
    assert tree(repo) == before


def test_sigterm_during_an_add_cleans_its_staging_folder(repo, tmp_path):
    big = tmp_path / "big.onnx"
    big.write_bytes(GOOD + b"\0" * (8 << 20))
    marker = tmp_path / "paused"
    proc = subprocess.Popen([sys.executable, "-m", "tritonctl", "version", "add", "text_recognition", str(big),
                             "-r", str(repo)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TRITONCTL_TEST_PAUSE_AFTER_BYTES": str(1 << 20),
                                 "TRITONCTL_TEST_PAUSE_MARKER": str(marker)})
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    assert any(p.name.startswith("~tritonctl-staging-") for p in (repo / "text_recognition").iterdir())
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (130, "error: terminated\n")
    assert sorted(p.name for p in (repo / "text_recognition").iterdir()) == ["config.pbtxt"]


def test_a_fifo_as_a_python_models_file_is_an_error_not_a_pass(tmp_path):
    repo = tmp_path / "repo"
    (repo / "m" / "1").mkdir(parents=True)
    (repo / "m" / "config.pbtxt").write_text('backend: "python"\n')
    os.mkfifo(repo / "m" / "1" / "model.py")
    result = run("validate", str(repo), "-f", "json", timeout=20)
    assert result.returncode == 1, result.stderr
    [finding] = json.loads(result.stdout)["findings"]
    assert finding["code"] == "TRT405" and "is a FIFO, not a file" in finding["message"]
