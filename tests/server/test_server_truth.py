"""The running server told truthfully: drift per version, plain load, live-checked version rm, start failures, one
line per reason, casts, named servers. Against the real local Triton 2.51."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from conftest import write_tree
from json_schemas import check
from server.conftest import build_repository, state_in, stop_for_sure, tritonctl

pytestmark = pytest.mark.triton

VERSIONED = '''\
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.version = float(args["model_version"])

    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("OUT", np.full((1, 1), self.version, np.float32))])
                for _ in requests]
'''


def tri_config(policy: str, extra: str = "") -> str:
    return ('backend: "python"\nmax_batch_size: 0\n'
            'input [ { name: "IN" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
            'output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 1, 1 ] } ]\n'
            f"version_policy: {policy}\n{extra}")


@pytest.fixture
def tri(local_triton, cli):
    """A python model with versions 1, 2 and 3 (each answers its own number) in the session's repository."""
    repo = local_triton["repo"]
    write_tree(repo / "tri", {"config.pbtxt": tri_config("{ latest: { num_versions: 2 } }"),
                              **{f"{v}/model.py": VERSIONED for v in (1, 2, 3)}})
    yield repo / "tri"
    cli("unload", "tri")
    shutil.rmtree(repo / "tri")


def versions_of(cli, model: str) -> list[tuple[int, str, list[str]]]:
    doc = json.loads(cli("status", model, "-f", "json").stdout)
    (found,) = doc["models"]
    return [(v["version"], v["state"], v["drift"]) for v in found["versions"]]


def set_policy(model: Path, policy: str) -> None:
    (model / "config.pbtxt").write_text(tri_config(policy))


def test_drift_is_named_per_version_in_both_directions(local_triton, cli, tri):
    # latest:2 selects 2 and 3
    assert cli("load", "tri", "--version", "2").exit_code == 0
    assert versions_of(cli, "tri") == [(1, "", []), (2, "READY", []), (3, "", ["selected, not READY"])]
    assert cli("load", "tri", "--version", "2", "--version", "3").exit_code == 0
    assert [d for _, _, d in versions_of(cli, "tri")] == [[], [], []]  # exactly what disk selects: no drift
    assert cli("load", "tri", "--version", "1", "--version", "2", "--version", "3").exit_code == 0
    assert [d for _, _, d in versions_of(cli, "tri")] == [["READY, not selected"], [], []]
    set_policy(tri, "{ specific: { versions: [ 1, 3 ] } }")
    assert cli("load", "tri", "--version", "2", "--version", "3").exit_code == 0
    assert [(v, d) for v, _, d in versions_of(cli, "tri")] == [
        (1, ["selected, not READY"]), (2, ["READY, not selected"]), (3, [])]
    set_policy(tri, "{ all: { } }")
    assert cli("load", "tri", "--version", "3").exit_code == 0
    assert [(v, d) for v, _, d in versions_of(cli, "tri")] == [
        (1, ["selected, not READY"]), (2, ["selected, not READY"]), (3, [])]
    table = cli("status", "tri").stdout
    assert "selected, not READY" in table and all(len(line) <= 100 for line in table.splitlines())
    model = json.loads(cli("status", "tri", "-f", "json").stdout)["models"][0]
    assert model["drift"] == []  # only which versions: the config itself is what disk says
    (tri / "config.pbtxt").write_text(tri_config("{ all: { } }", 'parameters { key: "k" value { string_value: '
                                                                  '"v" } }\n'))
    assert json.loads(cli("status", "tri", "-f", "json").stdout)["models"][0]["drift"] == [
        "served config differs from disk"]


def test_status_json_matches_its_schema_in_every_state(local_triton, cli, tri):
    cli("load", "broken")
    assert cli("load", "tri", "--version", "1", "--version", "3").exit_code == 0
    (tri / "config.pbtxt").write_text(tri_config("{ latest: { num_versions: 2 } }", 'parameters { key: "k" value { '
                                                                                    'string_value: "v" } }\n'))
    doc = json.loads(cli("status", "-f", "json").stdout)
    check(doc, "status")
    states = {v["state"] for m in doc["models"] for v in m["versions"]}
    drift = {d for m in doc["models"] for v in m["versions"] for d in v["drift"]} | {
        d for m in doc["models"] for d in m["drift"]}
    assert {"READY", "UNAVAILABLE", ""} <= states
    assert drift == {"selected, not READY", "READY, not selected", "served config differs from disk"}
    assert any(m["config_error"] for m in doc["models"])


def test_loading_and_unloading_are_states_not_drift(local_triton, cli, tri):
    slow = VERSIONED.replace("    def initialize(self, args):\n", "    def initialize(self, args):\n"
                             "        import time\n        time.sleep(4)\n")
    (tri / "3" / "model.py").write_text(slow)
    assert cli("load", "tri", "--version", "2").exit_code == 0
    loader = subprocess.Popen([sys.executable, "-m", "tritonctl", "load", "tri"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)  # not a thread: the CLI runner captures stdout process-wide
    try:
        deadline = time.monotonic() + 20
        seen = []
        while time.monotonic() < deadline:
            seen = versions_of(cli, "tri")
            if any(state == "LOADING" for _, state, _ in seen):
                break
            time.sleep(0.1)
        (three,) = [v for v in seen if v[0] == 3]
        assert three == (3, "LOADING", [])
    finally:
        loader.communicate(timeout=60)
    assert [(v, s, d) for v, s, d in versions_of(cli, "tri") if v > 1] == [(2, "READY", []), (3, "READY", [])]


def test_a_plain_load_serves_what_the_disk_selects_after_an_override(local_triton, cli, tri):
    assert cli("load", "tri", "--version", "2").exit_code == 0
    plain = cli("load", "tri")
    assert plain.exit_code == 0, plain.stderr
    assert plain.stdout.startswith("loaded 'tri' (READY: 2, 3) in ")
    served = json.loads(urllib.request.urlopen(f"{local_triton['state'].url}/v2/models/tri/config").read())
    assert served["version_policy"] == {"latest": {"num_versions": 2}}
    three = cli("infer", "tri", "-v", "3")
    assert three.exit_code == 0 and three.stdout.startswith("tri version 3: ")
    import tempfile

    url = local_triton["state"].url
    elsewhere = {"TRITONCTL_STATE_DIR": tempfile.mkdtemp()}  # a server tritonctl did not start: its repository unknown
    refused = cli("load", "tri", "--url", url, env=elsewhere)
    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: a load needs the repository (--repo) to send 'tri''s config")
    assert "--reload to unload 'tri' and load it again (requests to it fail meanwhile)" in refused.stderr
    reloaded = cli("load", "tri", "--url", url, "--reload", env=elsewhere)
    assert reloaded.exit_code == 0
    assert reloaded.stderr == "'tri' was unloaded, then loaded: requests to it failed meanwhile\n"


def test_version_rm_refuses_a_version_the_server_has_ready(local_triton, cli, tri):
    repo = local_triton["repo"]
    assert cli("load", "tri").exit_code == 0  # 2 and 3 READY
    set_policy(tri, "{ latest: { num_versions: 1 } }")  # the disk no longer selects 2; the server still serves it
    refused = cli("version", "rm", "tri", "2", "-r", str(repo))
    assert refused.exit_code == 3
    assert refused.stderr.startswith(f"error: version 2 of 'tri' is READY on {local_triton['state'].url}: ")
    assert (tri / "2").is_dir()
    elsewhere = cli("version", "rm", "tri", "1", "-r", str(repo), "--url", "http://127.0.0.1:9")
    assert elsewhere.exit_code == 0
    assert elsewhere.stderr.startswith("note: not checked against http://127.0.0.1:9 (no Triton server at "
                                       "http://127.0.0.1:9 (connection refused)); it may still serve version 1")
    forced = cli("version", "rm", "tri", "2", "-r", str(repo), "--force")
    assert forced.exit_code == 0
    assert forced.stdout == f"removed version 2 of 'tri' (it was READY on {local_triton['state'].url})\n"


def test_reasons_are_one_line_everywhere_and_the_table_fits_100_columns(local_triton, cli, monkeypatch):
    assert cli("load", "broken").exit_code == 3
    index = json.loads(urllib.request.urlopen(urllib.request.Request(
        f"{local_triton['state'].url}/v2/repository/index", data=b"{}", method="POST")).read())
    raw = next(m["reason"] for m in index if m["name"] == "broken")
    assert "\nAt:\n" in raw  # what Triton reports: the stand-in backend's traceback
    doc = json.loads(cli("status", "broken", "-f", "json").stdout)
    reason = doc["models"][0]["versions"][0]["reason"]
    assert reason == "Internal: unexpected inference output '307', allowed outputs are: 308"
    table = cli("status").stdout.splitlines()
    assert max(len(line) for line in table if not line.startswith("unparsable: ")) <= 100  # a config error is whole
    assert any(line.startswith("(") and "broken 1: Internal: unexpected inference output" in line for line in table)
    monkeypatch.setenv("TRITONCTL_DEBUG", "1")
    full = json.loads(cli("status", "broken", "-f", "json").stdout)["models"][0]["versions"][0]["reason"]
    assert "At:" in full


def test_hints_for_a_model_not_loaded_and_a_config_that_does_not_parse(local_triton, cli):
    unloaded = cli("infer", "rec_policy")
    assert unloaded.exit_code == 3
    assert unloaded.stderr.endswith("hint: load it first: tritonctl load rec_policy\n")
    doc = json.loads(cli("status", "unparsable", "-f", "json").stdout)["models"][0]
    assert doc["config_error"] == f"{local_triton['repo']}/unparsable/config.pbtxt:2:17: Couldn't parse integer: ["
    table = cli("status", "unparsable").stdout
    assert f"unparsable: {local_triton['repo']}/unparsable/config.pbtxt:2:17: Couldn't parse integer" in table


def test_infer_casts_exact_values_and_refuses_lossy_ones(local_triton, cli, tmp_path):
    np.save(tmp_path / "exact.npy", np.ones((1, 1, 32, 100), np.float64))
    exact = cli("infer", "text_recognition", "-i", f"input.1={tmp_path}/exact.npy")
    assert exact.exit_code == 0, exact.stderr
    assert exact.stderr == "note: the values of 'input.1' were cast to the input's data type\n"
    np.save(tmp_path / "lossy.npy", np.full((1, 1, 32, 100), 0.1, np.float64))
    lossy = cli("infer", "text_recognition", "-i", f"input.1={tmp_path}/lossy.npy")
    assert (lossy.exit_code, lossy.stderr) == (
        2, f"error: '{tmp_path}/lossy.npy' holds float64 values; input 'input.1' takes FP32 (float32), and the "
           "values change when cast\nhint: save the array as float32, or pass --cast\n")
    assert cli("infer", "text_recognition", "-i", f"input.1={tmp_path}/lossy.npy", "--cast").exit_code == 0
    np.save(tmp_path / "shape.npy", np.ones((1, 3, 32, 100), np.float32))
    shaped = cli("infer", "text_recognition", "-i", f"input.1={tmp_path}/shape.npy")
    assert shaped.exit_code == 2 and "does not fit input 'input.1': its shape is [1..256, 1, 32, 100]" in shaped.stderr


def _hit(url: str, times: int = 5) -> None:
    for _ in range(times):
        urllib.request.urlopen(f"{url}/v2/health/ready").read()


def test_two_named_servers_on_two_repositories_at_once(tmp_path):
    env = {"TRITONCTL_STATE_DIR": str(tmp_path / "state")}
    one = build_repository(tmp_path / "one")
    two = write_tree(tmp_path / "two", {"m/config.pbtxt": tri_config("{ latest: { num_versions: 1 } }"),
                                        "m/1/model.py": VERSIONED, "bare/config.pbtxt": 'backend: "python"\n'})
    started = tritonctl("server", "start", "--repo", str(one), "--name", "one", env=env)
    assert started.stdout.startswith("Triton 'one' started: http://127.0.0.1:")
    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
        port = s.getsockname()[1]
    failing = tritonctl("server", "start", "--repo", str(two), "--name", "two", "--address", "127.0.0.2",
                        "--http-port", str(port), "--load", "m", "--load", "nope", "--load", "bare", env=env,
                        check=False)
    try:
        assert failing.returncode == 1, failing.stderr  # started, but a model did not load
        assert failing.stdout.startswith(f"Triton 'two' started: http://127.0.0.2:{port} ")
        assert "'nope' did not load: not in the repository\n" in failing.stderr
        assert ("'bare' did not load: load failed for model 'bare': at least one version must be available under the "
                "version policy of model 'bare'\n") in failing.stderr  # Triton's words, as `tritonctl load` says
        assert "error: 2 of 3 models did not load; the server runs\n" in failing.stderr
        listed_doc = json.loads(tritonctl("server", "list", "-f", "json", env=env).stdout)
        check(listed_doc, "server-list")
        listed = listed_doc["servers"]
        assert [(s["name"], s["url"], s["repository"]) for s in listed] == [
            ("one", listed[0]["url"], str(one)), ("two", f"http://127.0.0.2:{port}", str(two))]
        ambiguous = tritonctl("status", env=env, check=False)
        assert ambiguous.returncode == 2
        assert ambiguous.stderr.startswith("error: 2 local servers are running: one (http://127.0.0.1:")
        picked = json.loads(tritonctl("status", "--server", "two", "-f", "json", env=env).stdout)
        assert (picked["url"], picked["repository"], [m["name"] for m in picked["models"]]) == (
            f"http://127.0.0.2:{port}", str(two), ["bare", "m"])
        by_env = json.loads(tritonctl("status", "-f", "json", env={**env, "TRITONCTL_SERVER": "one"}).stdout)
        assert by_env["repository"] == str(one)
        # a restart on the same port right after a stop: the port is free for Triton, so it is for tritonctl
        _hit(f"http://127.0.0.2:{port}")
        assert tritonctl("server", "stop", "--server", "two", env=env).stdout.startswith("stopped Triton 'two'")
        stopped = tritonctl("server", "logs", "--server", "two", env=env, check=False)
        assert (stopped.returncode, stopped.stderr) == (
            3, "error: the local Triton 'two' is stopped\nhint: its last log: tritonctl server logs --last "
               "--server two\n")
        last = tritonctl("server", "logs", "--server", "two", "--last", env=env)
        assert f"Started HTTPService at 127.0.0.2:{port}" in last.stdout
        again = tritonctl("server", "start", "--repo", str(two), "--name", "two", "--address", "127.0.0.2",
                          "--http-port", str(port), env=env, check=False)
        assert again.returncode == 0, again.stderr
    finally:
        for name in ("one", "two"):
            state = state_in(tmp_path / "state", name)
            if state is not None:
                stop_for_sure(state, env)
