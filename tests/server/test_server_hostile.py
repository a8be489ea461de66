"""Hostile input and faults that need the real Triton: racing starts, a state that cannot be written, requests
too large for the model or the machine, credentials in a URL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_tree
from server.conftest import build_repository, tritonctl

pytestmark = pytest.mark.triton


def tritons_serving(repo: Path) -> list[int]:
    """Pids of tritonserver processes whose repository is `repo`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"tritonserver") and f"--model-repository={repo}".encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def test_two_starts_at_the_same_moment_leave_one_tracked_server(tmp_path):
    repo = write_tree(tmp_path / "repo", {"m/config.pbtxt": 'backend: "python"\n', "m/1/model.py": ""})
    env = {**os.environ, "TRITONCTL_STATE_DIR": str(tmp_path / "state")}
    procs = [subprocess.Popen([sys.executable, "-m", "tritonctl", "server", "start", "--repo", str(repo)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(3)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    try:
        codes = sorted(code for code, _out, _err in results)
        assert codes == [0, 3, 3], results
        for code, _out, err in results:
            if code == 3:
                assert err.startswith(("error: another tritonctl server start of 'default' is running right now",
                                       "error: a local Triton named 'default' is already running")), err
        assert len(tritons_serving(repo)) == 1
    finally:
        tritonctl("server", "stop", env={"TRITONCTL_STATE_DIR": str(tmp_path / "state")}, check=False)
    deadline = time.monotonic() + 30
    while tritons_serving(repo) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert tritons_serving(repo) == []


def test_a_state_that_cannot_be_written_stops_the_server_just_started(tmp_path):
    repo = write_tree(tmp_path / "repo", {"m/config.pbtxt": 'backend: "python"\n', "m/1/model.py": ""})
    state = tmp_path / "state"
    (state / "servers" / "default" / "server.json").mkdir(parents=True)  # a folder where the state file goes
    result = tritonctl("server", "start", "--repo", str(repo), env={"TRITONCTL_STATE_DIR": str(state)}, check=False)
    assert result.returncode == 3
    assert result.stderr.startswith(f"error: cannot record the server in '{state}/servers/default/server.json': ")
    assert len(result.stderr.splitlines()) == 1
    assert tritons_serving(repo) == []


def test_requests_that_do_not_fit_the_model_or_memory_are_usage_errors(local_triton, cli, tmp_path):
    cases = {
        ("text_recognition", "input.1=1,536870912"):
            "error: --shape input.1=1,536870912 does not fit input 'input.1': its shape is [1..256, 1, 32, 100]\n",
        ("text_recognition", "input.1=1000000,1000000,1000000"):
            "error: --shape input.1=1000000,1000000,1000000 does not fit input 'input.1': its shape is "
            "[1..256, 1, 32, 100]\n",
        ("text_recognition", "input.1=99999999999999999999999,1,32,100"):
            "error: --shape input.1=99999999999999999999999,1,32,100 does not fit input 'input.1': its shape is "
            "[1..256, 1, 32, 100]\n",
        ("text_detection", "input_images:0=1,20000,20000,3"):
            "error: the request would carry 4,800,000,000 bytes; tritonctl infer sends at most 1,073,741,824\n"
            "hint: give smaller dimensions with --shape NAME=d1,d2,...\n",
    }
    for (model, shape), stderr in cases.items():
        result = cli("infer", model, "--shape", shape)
        assert (result.exit_code, result.stderr) == (2, stderr)
    os.mkfifo(tmp_path / "x.npy")
    fifo = cli("infer", "text_recognition", "-i", f"input.1={tmp_path}/x.npy")
    assert (fifo.exit_code, fifo.stderr) == (
        3, f"error: cannot read '{tmp_path}/x.npy' as a .npy array: is a FIFO, not a regular file\n")


def test_credentials_in_the_url_reach_the_server_as_a_header_and_nowhere_else(tmp_path):
    import triton_harness

    repo = build_repository(tmp_path / "repo")
    server = triton_harness.start(repo, tmp_path, [
        "--http-restricted-api=model-repository,metadata:authorization=Basic YWRtaW46UzNjcmV0"])  # admin:S3cret
    try:
        port = server.http_port
        env = {"TRITONCTL_STATE_DIR": str(tmp_path / "state")}
        allowed = tritonctl("status", "--url", f"http://admin:S3cret@127.0.0.1:{port}", "-r", str(repo), env=env,
                            check=False)
        assert allowed.returncode == 0, allowed.stderr
        assert "S3cret" not in allowed.stdout + allowed.stderr
        assert f"at http://127.0.0.1:{port};" in allowed.stdout
        refused = tritonctl("status", "--url", f"http://admin:wrong@127.0.0.1:{port}", env=env, check=False)
        assert refused.returncode == 3 and "wrong" not in refused.stderr
    finally:
        triton_harness.triton_binary.stop(server.proc)
