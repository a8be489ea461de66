"""Three local Tritons reading one repository in S3 (moto), driven as a fleet: what Kubernetes replicas of Triton
share. A new version arrives by `sync`, then rolls over the replicas."""

from __future__ import annotations

import json

import pytest

from conftest import write_tree
from fleet.conftest import ADDRESSES, CONFIG, model_file
from s3.conftest import run

pytestmark = [pytest.mark.s3, pytest.mark.triton]


def test_a_fleet_on_one_s3_repository_status_and_a_rollout_after_sync(bucket, tmp_path):
    from tritonctl.io.triton_binary import free_port
    from tritonctl.server_state import read_state
    from server.conftest import stop_for_sure

    src = write_tree(tmp_path / "src", {"m/config.pbtxt": CONFIG, "m/1/model.py": model_file(1)})
    assert run("sync", str(src), bucket.url()).returncode == 0
    port = free_port()
    urls = [arg for a in ADDRESSES for arg in ("--url", f"http://{a}:{port}")]
    started = []
    try:
        for i, address in enumerate(ADDRESSES):
            result = run("server", "start", "--name", f"s{i}", "--address", address, "--http-port", str(port),
                         "--repo", bucket.url(), "--load", "m")
            assert result.returncode == 0, result.stderr
            started.append(read_state(f"s{i}"))
        status = json.loads(run("status", "-r", bucket.url(), *urls, "-f", "json").stdout)
        assert status["repository"] == bucket.url()
        assert [(v["version"], len(v["ready"])) for v in status["models"][0]["versions"]] == [(1, 3)]

        write_tree(src, {"m/2/model.py": model_file(2),
                         "m/config.pbtxt": CONFIG.replace("versions: [ 1 ]", "versions: [ 2 ]")})
        assert run("sync", str(src), bucket.url()).returncode == 0
        rolled = run("load", "m", "-r", bucket.url(), *urls)
        assert rolled.returncode == 0, rolled.stderr
        assert rolled.stdout.count(" done ") == 3, rolled.stdout
        status = json.loads(run("status", "-r", bucket.url(), *urls, "-f", "json").stdout)
        versions = {v["version"]: len(v["ready"]) for v in status["models"][0]["versions"]}
        assert versions == {1: 0, 2: 3}
    finally:
        for state in started:
            stop_for_sure(state)
