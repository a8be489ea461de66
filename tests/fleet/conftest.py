"""Three real local Tritons sharing one repository, on 127.0.0.1, 127.0.0.2 and 127.0.0.3 with the same port: a
fleet as a load balancer sees one (started once for the module that asks, restarted when a test kills one)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ADDRESSES = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
CONFIG = """backend: "python"
max_batch_size: 0
input [ { name: "x" data_type: TYPE_FP32 dims: [ 2 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 2 ] } ]
version_policy { specific { versions: [ 1 ] } }
"""
MODEL = """import time

import numpy as np
import triton_python_backend_utils as pb_utils

ADD = {add}
START = {start}
FAIL = {fail}


class TritonPythonModel:
    def initialize(self, args):
        time.sleep(START)
        if FAIL:
            raise RuntimeError("this version cannot start: weights missing")

    def execute(self, requests):
        out = []
        for r in requests:
            x = pb_utils.get_input_tensor_by_name(r, "x").as_numpy()
            out.append(pb_utils.InferenceResponse([pb_utils.Tensor("y", (x + ADD).astype(np.float32))]))
        return out
"""


def model_file(add: int, start: float = 0.0, fail: bool = False) -> str:
    return MODEL.format(add=add, start=start, fail=fail)


def tritonctl(*args: str, env: dict, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tritonctl", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"tritonctl {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


class Fleet:
    def __init__(self, root: Path) -> None:
        from tritonctl.io.triton_binary import free_port

        self.root = root
        self.repo = root / "repo"
        self.env = {"TRITONCTL_STATE_DIR": str(root / "state")}
        self.port = free_port()
        self.urls = [f"http://{a}:{self.port}" for a in ADDRESSES]

    def url_args(self) -> list[str]:
        return [arg for url in self.urls for arg in ("--url", url)]

    def start(self, i: int) -> None:
        tritonctl("server", "start", "--name", f"r{i}", "--address", ADDRESSES[i], "--http-port", str(self.port),
                  "--repo", str(self.repo), "--load", "m", env=self.env)

    def stop(self, i: int) -> None:
        tritonctl("server", "stop", "--server", f"r{i}", env=self.env, check=False)

    def state(self, i: int):
        from tritonctl.server_state import read_state

        saved = os.environ.get("TRITONCTL_STATE_DIR")
        os.environ["TRITONCTL_STATE_DIR"] = self.env["TRITONCTL_STATE_DIR"]
        try:
            return read_state(f"r{i}")
        finally:
            if saved is None:
                os.environ.pop("TRITONCTL_STATE_DIR", None)
            else:
                os.environ["TRITONCTL_STATE_DIR"] = saved

    def reset(self) -> None:
        """Versions 1 and 2 on disk, policy specific:1, every replica up and serving version 1 only."""
        for folder in self.repo.joinpath("m").iterdir():
            if folder.is_dir() and folder.name not in ("1", "2"):
                shutil.rmtree(folder)
        (self.repo / "m" / "config.pbtxt").write_text(CONFIG)
        for i in range(3):
            if self.state(i) is None:
                self.start(i)
        tritonctl("load", "m", "--version", "1", "-r", str(self.repo), *self.url_args(), env=self.env)

    def ready(self) -> list[list[int]]:
        """The versions of m READY on each replica (none on one that does not answer)."""
        result = tritonctl("status", "m", "-r", str(self.repo), *self.url_args(), "-f", "json", env=self.env,
                           check=False)
        assert result.returncode in (0, 3), result.stderr  # 3: a replica did not answer
        out = json.loads(result.stdout)
        return [sorted(v["version"] for v in (r["status"] or {"models": [{"versions": []}]})["models"][0]["versions"]
                       if v["state"] == "READY") for r in out["replicas"]]


@pytest.fixture(scope="package")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("fleet")
    repo = root / "repo"
    (repo / "m" / "1").mkdir(parents=True)
    (repo / "m" / "2").mkdir()
    (repo / "m" / "config.pbtxt").write_text(CONFIG)
    (repo / "m" / "1" / "model.py").write_text(model_file(1))
    (repo / "m" / "2" / "model.py").write_text(model_file(2))
    f = Fleet(root)
    try:
        for i in range(3):
            f.start(i)
        yield f
    finally:
        for i in range(3):
            state = f.state(i)
            f.stop(i)
            if state is not None:
                from tritonctl.io import process

                if process.is_running(state.identity):
                    import signal

                    os.killpg(state.pid, signal.SIGKILL)


@pytest.fixture
def clean(fleet):
    fleet.reset()
    return fleet
