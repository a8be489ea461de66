"""Stale and forged state files: no signal ever reaches a process that is not the recorded Triton."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from hostile.conftest import run


@pytest.fixture
def state(tmp_path) -> Path:
    return tmp_path / "state"


def forge(state: Path, pid: int, **identity) -> Path:
    folder = state / "servers" / "default"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "server.json"
    doc = {"name": "default", "pid": pid, "address": "127.0.0.1", "http_port": 1, "grpc_port": 2, "metrics_port": 3,
           "repository": "/r", "log": str(folder / "server.log"), "mode": "explicit", "started": 0.0,
           "start_ticks": -1, "boot_id": "", "exe": "", **identity}
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def stranger():
    proc = subprocess.Popen(["sleep", "300"])
    yield proc
    proc.kill()
    proc.wait()


def test_stop_never_signals_a_process_that_is_not_the_recorded_server(state, stranger):
    from tritonctl.io import process

    me = process.identify(stranger.pid)
    for identity in ({},  # a state file from before identities were recorded
                     {"start_ticks": me.start_ticks + 1, "boot_id": me.boot_id, "exe": me.exe},  # the pid reused
                     {"start_ticks": me.start_ticks, "boot_id": "another-boot", "exe": me.exe},  # after a reboot
                     {"start_ticks": me.start_ticks, "boot_id": me.boot_id, "exe": "/opt/tritonserver"}):
        path = forge(state, stranger.pid, **identity)
        result = run("server", "stop", env={"TRITONCTL_STATE_DIR": str(state)})
        assert result.returncode == 3, result.stderr
        assert result.stderr.startswith(f"error: no local Triton named 'default' is running: the recorded one "
                                        f"(pid {stranger.pid}) is gone")
        assert stranger.poll() is None  # still alive: never signalled
        assert not path.exists()


@pytest.mark.parametrize("pid", [0, 1, -1, -2])
def test_pids_that_reach_groups_or_init_are_never_signalled(state, pid):
    path = forge(state, pid, start_ticks=0, boot_id="", exe="")
    result = run("server", "stop", env={"TRITONCTL_STATE_DIR": str(state)})
    assert result.returncode == 3
    assert "nothing was signalled" in result.stderr
    assert not path.exists()


def test_a_stale_state_is_not_taken_for_a_running_server(state, stranger):
    path = forge(state, stranger.pid)
    result = run("status", env={"TRITONCTL_STATE_DIR": str(state)})
    assert result.returncode == 3
    assert "http://localhost:8000" in result.stderr  # not the forged server's URL
    assert not path.exists() and stranger.poll() is None


def test_a_state_file_that_is_not_a_state_is_ignored(state):
    for content in (b"", b"[]", b'{"pid": "1"}', b"\xff" * 10, json.dumps({"pid": 2**70}).encode()):
        (state / "servers" / "default").mkdir(parents=True, exist_ok=True)
        (state / "servers" / "default" / "server.json").write_bytes(content)
        result = run("server", "stop", env={"TRITONCTL_STATE_DIR": str(state)})
        assert (result.returncode, result.stderr.splitlines()[0]) == (
            3, "error: no local Triton named 'default' is running")


def test_start_is_refused_while_another_start_holds_the_lock(state, tmp_path):
    (state / "servers").mkdir(parents=True)
    fd = os.open(state / "servers" / "default.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        started = time.monotonic()
        result = run("server", "start", "--repo", str(tmp_path), env={"TRITONCTL_STATE_DIR": str(state)})
    finally:
        os.close(fd)
    assert (result.returncode, result.stderr) == (
        3, "error: another tritonctl server start of 'default' is running right now\nhint: wait for it, then see: "
           "tritonctl server list\n")
    assert time.monotonic() - started < 20
    assert not (state / "servers" / "default" / "server.json").exists()
    assert not (state / "servers" / "default" / "server.log").exists()


def test_a_state_folder_that_is_a_file_is_one_line(tmp_path):
    blocker = tmp_path / "state"
    blocker.write_text("not a folder")
    result = run("server", "start", "--repo", str(tmp_path), env={"TRITONCTL_STATE_DIR": str(blocker)})
    assert result.returncode == 3
    assert result.stderr.startswith(f"error: cannot use the state folder '{blocker}': ")


def test_a_backends_folder_that_is_a_file_is_one_line(state, tmp_path):
    state.mkdir()
    (state / "backends").write_text("not a folder")
    result = run("server", "start", "--repo", str(tmp_path), env={"TRITONCTL_STATE_DIR": str(state)})
    assert result.returncode == 3
    assert result.stderr.startswith(f"error: cannot prepare the backend folder '{state}/backends': ")
