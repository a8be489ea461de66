"""The local Triton reading what tritonctl sync writes: from S3 (EXPLICIT and POLL) and from a local folder (POLL)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest

from conftest import write_tree
from s3.conftest import model_tree, python_model, run
from server.conftest import state_in, stop_for_sure

pytestmark = [pytest.mark.s3, pytest.mark.triton]


class Hammer:
    """Requests sent to a model throughout a test, from another thread; each answer and each failure kept."""

    def __init__(self, url: str, model: str, version: str = "", inputs: tuple = ("IN", (1,)), output: str = "OUT"
                 ) -> None:
        self.url, self.model, self.version = url, model, version
        self.inputs, self.output = inputs, output
        self.answers: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import numpy as np

        from tritonctl.io.triton_client import Endpoint, TritonClient

        with TritonClient(Endpoint(self.url)) as client:
            while not self._stop.is_set():
                try:
                    name, shape = self.inputs
                    out, _ = client.infer(self.model, {name: np.zeros(shape, np.float32)}, {name: "FP32"},
                                          [self.output], self.version)
                    self.answers.append(float(out[self.output].flat[0]))
                except Exception as e:  # noqa: BLE001 - counted
                    self.failures.append(repr(e))
                time.sleep(0.01)

    def __enter__(self) -> Hammer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.answers and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.answers, self.failures[-3:]
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)


def start(repo: str, tmp_path: Path, *extra: str):
    env = {"TRITONCTL_STATE_DIR": str(tmp_path / "state")}
    result = run("server", "start", "--repo", repo, *extra, env=env)
    assert result.returncode == 0, result.stderr
    return state_in(tmp_path / "state", "default"), env


def wait_for(predicate, timeout: float = 30, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def log_since(state, offset: int) -> str:
    with open(state.log, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def ready(url: str, model: str, version: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/v2/models/{model}/versions/{version}/ready", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_triton_serves_the_synced_repository_from_s3_and_a_new_version_after_a_second_sync(bucket, tmp_path):
    src = model_tree(tmp_path / "src", "m", {1: {"model.py": python_model()}}, "{ latest: { num_versions: 1 } }")
    assert run("sync", str(src), bucket.url()).returncode == 0
    state, env = start(bucket.url(), tmp_path, "--load", "m")
    try:
        assert state.repository == bucket.url() and state.s3_endpoint == bucket.endpoint
        with Hammer(state.url, "m") as hammer:
            write_tree(src, {"m/2/model.py": python_model()})
            synced = run("sync", str(src), bucket.url(), env=env)
            assert synced.returncode == 0, synced.stderr
            loaded = run("load", "m", env=env)  # EXPLICIT: the repository is the server's, read from S3
            assert loaded.returncode == 0, loaded.stderr
            assert loaded.stdout.startswith("loaded 'm' (READY: 2) in ")
            time.sleep(0.3)
        assert hammer.failures == []
        assert hammer.answers[0] == 1.0 and hammer.answers[-1] == 2.0
        doc = json.loads(run("status", "-f", "json", env=env).stdout)
        assert doc["repository"] == bucket.url()
        assert [(v["version"], v["state"], v["drift"]) for v in doc["models"][0]["versions"]] == [
            (1, "UNAVAILABLE", []), (2, "READY", [])]
    finally:
        stop_for_sure(state, env)


def test_a_polling_triton_never_loads_a_version_sync_is_still_writing(bucket, tmp_path):
    """The hazard, shown with an uploader that writes the model file first (as `aws s3 sync` may: small files finish
    first): a polling Triton loads the version before its weights are there, and the load fails. tritonctl sync writes
    the model file last: no failure. Triton reads a version's files when it loads it, after the poll that saw it, so a
    poll landing in the milliseconds between the weights and the model file still loads the version whole; it then
    sees the model file newer than its poll and loads it once more (seen under load: two loads, both complete)."""
    def version(n: int, weights: bytes) -> dict:
        return {"model.py": python_model(hashlib.sha256(weights).hexdigest()), "weights.bin": weights}

    first = os.urandom(1 << 20)
    src = model_tree(tmp_path / "src", "m", {1: version(1, first)}, "{ latest: { num_versions: 1 } }")
    assert run("sync", str(src), bucket.url()).returncode == 0
    state, env = start(bucket.url(), tmp_path, "--mode", "poll")
    try:
        assert wait_for(lambda: ready(state.url, "m", 1))
        naive = os.urandom(24 << 20)
        offset = os.path.getsize(state.log)
        bucket.put("models/m/2/model.py", python_model(hashlib.sha256(naive).hexdigest()).encode())
        time.sleep(4)  # two polls: the model file is there, its weights are not
        bucket.put("models/m/2/weights.bin", naive)
        assert wait_for(lambda: ready(state.url, "m", 2))
        assert "failed to load 'm' version 2" in log_since(state, offset)  # the hazard
        offset = os.path.getsize(state.log)
        write_tree(src, {"m/2": None})
        write_tree(src, {f"m/2/{k}": v for k, v in version(2, naive).items()})
        write_tree(src, {f"m/3/{k}": v for k, v in version(3, os.urandom(24 << 20)).items()})
        synced = run("sync", str(src), bucket.url(), env=env)
        assert synced.returncode == 0, synced.stderr
        assert wait_for(lambda: ready(state.url, "m", 3))
        time.sleep(5)  # two more polls
        log = log_since(state, offset)
        assert "failed to load" not in log, log
        assert log.count("loading: m:3") in (1, 2), log + synced.stdout
        assert log.count("successfully loaded 'm'") == log.count("loading: m:3"), log
    finally:
        stop_for_sure(state, env)


def test_a_polling_triton_over_a_local_destination_sees_no_staging(bucket, tmp_path):
    """ONNX models (the stand-in backend): a python model's own __pycache__, which the python backend writes into its
    version folder at load, makes a polling Triton reload that version once, sync or not."""
    from conftest import EXAMPLES
    from validate.onnx_models import str_like

    config = (EXAMPLES / "text_recognition/config.pbtxt").read_text().replace('"text_recognition"', '"m"')
    src = write_tree(tmp_path / "src", {"m/config.pbtxt": config + "version_policy: { all: { } }\n",
                                        "m/1/model.onnx": str_like(1.0)})
    dst = tmp_path / "dst"
    assert run("sync", str(src), str(dst)).returncode == 0
    state, env = start(str(dst), tmp_path, "--mode", "poll")
    try:
        assert wait_for(lambda: ready(state.url, "m", 1))
        offset = os.path.getsize(state.log)
        with Hammer(state.url, "m", "1", ("input.1", (1, 1, 32, 100)), "308") as hammer:
            write_tree(src, {"m/2/model.onnx": str_like(2.0), "m/2/notes.bin": os.urandom(64 << 20)})
            synced = run("sync", str(src), str(dst), env=env)
            assert synced.returncode == 0, synced.stderr
            assert wait_for(lambda: ready(state.url, "m", 2))
            time.sleep(5)  # two more polls
        log = log_since(state, offset)
        assert hammer.failures == [] and set(hammer.answers) == {1.0}
        assert "unloaded" not in log and "failed to load" not in log, log
        assert "tritonctl" not in log  # no staging folder was ever seen
    finally:
        stop_for_sure(state, env)


def test_a_model_deleted_whole_is_unloaded_without_a_failed_load(bucket, tmp_path):
    src = model_tree(tmp_path / "src", "a", {1: {"model.py": python_model()}})
    model_tree(src, "b", {1: {"model.py": python_model(), "weights.bin": os.urandom(1 << 20)},
                          2: {"model.py": python_model()}})
    assert run("sync", str(src), bucket.url()).returncode == 0
    state, env = start(bucket.url(), tmp_path, "--mode", "poll")
    try:
        assert wait_for(lambda: ready(state.url, "b", 2))
        offset = os.path.getsize(state.log)
        import shutil

        shutil.rmtree(src / "b")
        synced = run("sync", str(src), bucket.url(), "--delete", env=env)
        assert synced.returncode == 0, synced.stderr
        assert wait_for(lambda: "successfully unloaded 'b'" in log_since(state, offset))
        time.sleep(4)
        log = log_since(state, offset)
        assert "failed to load" not in log and "loading: b" not in log, log
        assert ready(state.url, "a", 1)
    finally:
        stop_for_sure(state, env)


def test_a_polling_triton_sees_nothing_of_a_version_whose_sync_was_killed_and_loads_it_once_finished(bucket,
                                                                                                     tmp_path):
    """kill -9 of a sync once the bytes of a version's staged file are up: they are an upload not yet completed, not
    an object; a polling Triton never sees the version half there, and loads it once the next run completes it."""
    from s3.test_sync import sync_killed_after

    weights = os.urandom(1 << 20)
    src = model_tree(tmp_path / "src", "m", {1: {"model.py": python_model()}}, "{ latest: { num_versions: 1 } }")
    assert run("sync", str(src), bucket.url()).returncode == 0
    state, env = start(bucket.url(), tmp_path, "--mode", "poll")
    try:
        assert wait_for(lambda: ready(state.url, "m", 1))
        offset = os.path.getsize(state.log)
        write_tree(src, {"m/2/model.py": python_model(hashlib.sha256(weights).hexdigest()), "m/2/weights.bin": weights,
                         "m/2/vocab.txt": "a b c"})  # weights.bin goes first in a PUT, vocab.txt is staged
        sync_killed_after(1, str(src), bucket.url(), tmp_path, env)
        time.sleep(4)  # two polls
        assert "loading: m:2" not in log_since(state, offset)
        assert ready(state.url, "m", 1)
        again = run("sync", str(src), bucket.url(), env=env)
        assert again.returncode == 0, again.stderr
        assert wait_for(lambda: ready(state.url, "m", 2))
        log = log_since(state, offset)
        assert "failed to load" not in log and log.count("loading: m:2") == 1, log
    finally:
        stop_for_sure(state, env)
