"""Everything that drives a running Triton, against the real local Triton 2.51 (no mock)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.request

import numpy as np
import pytest

from server.conftest import build_repository, tritonctl

pytestmark = pytest.mark.triton


def served_config(state, model: str) -> dict:
    with urllib.request.urlopen(f"{state.url}/v2/models/{model}/config") as r:
        return json.loads(r.read())


def test_start_reports_the_server_and_its_models(local_triton):
    state = local_triton["state"]
    assert local_triton["start_stdout"] == (
        f"Triton 'default' started: {state.url} (grpc 127.0.0.1:{state.grpc_port}, metrics "
        f"127.0.0.1:{state.metrics_port}), pid {state.pid}, mode explicit, repository {local_triton['repo']}\n"
        "loaded 'text_detection'\nloaded 'text_recognition'\n")
    assert local_triton["start_stderr"] == f"log: {state.log}\n"
    again = tritonctl("server", "start", "--repo", str(local_triton["repo"]), check=False)
    assert again.returncode == 3
    assert again.stderr.startswith("error: a local Triton named 'default' is already running (pid ")


def test_tutorial_configs_load_unchanged_and_answer_with_the_tutorial_shapes(local_triton, cli):
    det = cli("infer", "text_detection", "--shape", "input_images:0=1,64,96,3")
    assert det.exit_code == 0, det.stderr
    lines = det.stdout.splitlines()
    assert lines[0].startswith("text_detection version 1: ")
    assert sorted(lines[1:]) == ["  feature_fusion/Conv_7/Sigmoid:0  FP32  [1, 16, 24, 1]",
                                 "  feature_fusion/concat_3:0  FP32  [1, 16, 24, 5]"]
    rec = cli("infer", "text_recognition")
    assert rec.stdout.splitlines()[1:] == ["  308  FP32  [1, 26, 37]"]


def test_normalized_config_equals_what_triton_serves(local_triton, cli):
    """config show --normalized -f json, field for field against the live /config (runtime aside: the
    onnxruntime stand-in is a Python-based backend, so Triton reports runtime model.py)."""
    repo = local_triton["repo"]
    for model in ("text_detection", "text_recognition"):
        ours = json.loads(cli("config", "show", model, "--repo", str(repo), "--normalized", "-f", "json").stdout)
        theirs = served_config(local_triton["state"], model)
        assert theirs.pop("runtime") == "model.py" and ours.pop("runtime") == ""
        assert ours == theirs


def test_normalized_config_of_an_auto_completed_model_equals_triton(local_triton, cli, tmp_path):
    """A model with no config at all: backend from the file name, tensors and batching from the ONNX file."""
    repo = local_triton["repo"]
    dest = repo / "bare_rec"
    (dest / "1").mkdir(parents=True)
    shutil.copy(repo / "text_recognition/1/model.onnx", dest / "1/model.onnx")
    try:
        assert cli("load", "bare_rec").exit_code == 0
        ours = json.loads(cli("config", "show", "bare_rec", "--repo", str(repo), "--normalized", "-f", "json").stdout)
        theirs = served_config(local_triton["state"], "bare_rec")
        assert theirs.pop("runtime") == "model.py" and ours.pop("runtime") == ""
        assert ours == theirs
        assert ours["max_batch_size"] == 4 and ours["dynamic_batching"]["preferred_batch_size"] == [4]
    finally:
        cli("unload", "bare_rec")
        shutil.rmtree(dest)


def test_python_auto_complete_run_by_tritonctl_equals_triton(local_triton, cli):
    repo = local_triton["repo"]
    assert cli("load", "py_auto").exit_code == 0
    try:
        shown = cli("config", "show", "py_auto", "--repo", str(repo), "--normalized", "--run-python", "-f", "json")
        assert shown.exit_code == 0, shown.stderr
        assert json.loads(shown.stdout) == served_config(local_triton["state"], "py_auto")
        without = cli("config", "show", "py_auto", "--repo", str(repo), "--normalized")
        assert "python auto_complete_config was not applied (pass --run-python to run it)" in without.stderr
    finally:
        cli("unload", "py_auto")


def test_logs_and_bad_headers(local_triton, cli):
    logs = cli("server", "logs")
    assert logs.exit_code == 0 and "Started HTTPService at 127.0.0.1:" in logs.stdout
    bad = cli("status", "-H", "no-colon")
    assert (bad.exit_code, bad.stderr) == (2, "error: header 'no-colon' is not KEY:VALUE\n")
    ok = cli("status", "-H", "Authorization: Bearer x", "-f", "json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["server_version"] == "2.51.0"


def test_load_failure_shows_tritons_reason(local_triton, cli):
    result = cli("load", "broken")
    assert result.exit_code == 3
    assert result.stderr == ("error: load failed for model 'broken': version 1 is at UNAVAILABLE state: "
                             "Internal: unexpected inference output '307', allowed outputs are: 308\n")


def test_a_config_that_does_not_parse_is_refused_before_the_load(local_triton, cli):
    result = cli("load", "unparsable")
    assert (result.exit_code, result.stderr) == (  # a verdict against the input: exit 1, as validate's
        1, f"error: {local_triton['repo']}/unparsable/config.pbtxt:2:17: Couldn't parse integer: [\n")
    unknown = cli("load", "nope")
    assert unknown.exit_code == 3
    assert unknown.stderr.startswith(f"error: no model 'nope' in repository '{local_triton['repo']}' (models: ")


def test_load_specific_versions_then_unload(local_triton, cli):
    served = cli("load", "rec_policy", "--version", "1", "--version", "2")
    assert served.exit_code == 0, served.stderr
    assert served.stdout.startswith("loaded 'rec_policy' (READY: 1, 2) in ")
    status = json.loads(cli("status", "rec_policy", "-f", "json").stdout)["models"][0]
    assert status["drift"] == []  # only the policy differs: drift is per version
    assert [(v["version"], v["state"], v["drift"]) for v in status["versions"]] == [
        (1, "READY", []), (2, "READY", ["READY, not selected"])]
    missing = cli("load", "rec_policy", "--version", "7")
    assert (missing.exit_code, missing.stderr) == (
        3, f"error: 'rec_policy' has no version 7 in '{local_triton['repo']}' (versions: 1, 2)\n")
    assert cli("unload", "rec_policy").exit_code == 0
    gone = cli("unload", "rec_policy_nope")
    assert gone.exit_code == 3 and gone.stderr.startswith("error: the server knows no model 'rec_policy_nope'")


def test_policy_apply_switches_versions_without_dropping_requests(local_triton, cli):
    from tritonctl.io.triton_client import Endpoint, TritonClient

    state = local_triton["state"]
    assert cli("load", "rec_policy").exit_code == 0
    x = np.zeros((1, 1, 32, 100), np.float32)
    answers, failures, stop = [], [], threading.Event()

    def hammer():
        with TritonClient(Endpoint(state.url)) as client:
            while not stop.is_set():
                try:
                    out, _ = client.infer("rec_policy", {"input.1": x}, {"input.1": "FP32"}, ["308"])
                    answers.append(float(out["308"].flat[0]))
                except Exception as e:  # noqa: BLE001 - counted
                    failures.append(repr(e))

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        while len(answers) < 20:
            time.sleep(0.01)
        before = len(answers)
        applied = cli("policy", "apply", "rec_policy", "specific:2")
        during = len(answers) - before
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert applied.exit_code == 0, applied.stderr
    assert (applied.stdout, applied.stderr) == ("'rec_policy' now serves versions 2\n", "")
    assert failures == []
    assert during > 0  # requests were answered while the load call ran
    first_two = answers.index(2.0)
    assert set(answers[:first_two]) == {1.0} and set(answers[first_two:]) == {2.0}
    assert "specific: { versions: [ 1 ] }" in (local_triton["repo"] / "rec_policy/config.pbtxt").read_text()
    persisted = cli("policy", "apply", "rec_policy", "latest:1", "--persist")
    assert persisted.exit_code == 0
    assert "version_policy: { latest: { num_versions: 1 } }" in (
        local_triton["repo"] / "rec_policy/config.pbtxt").read_text()
    cli("unload", "rec_policy")


def test_status_merges_disk_server_and_statistics_with_drift(local_triton, cli):
    repo = local_triton["repo"]
    cli("infer", "text_recognition")
    doc = json.loads(cli("status", "-f", "json").stdout)
    assert doc["server_version"] == "2.51.0" and doc["repository"] == str(repo)
    models = {m["name"]: m for m in doc["models"]}
    rec = models["text_recognition"]
    assert [(v["version"], v["on_disk"], v["state"]) for v in rec["versions"]] == [(1, True, "READY")]
    assert rec["versions"][0]["inference_count"] >= 1 and rec["drift"] == []
    assert (models["rec_policy"]["loaded"], models["rec_policy"]["drift"]) == (False, [])
    config = repo / "text_recognition/config.pbtxt"
    original = config.read_text()
    config.write_text(original + "parameters { key: \"x\" value { string_value: \"1\" } }\n")
    try:
        drifted = json.loads(cli("status", "text_recognition", "-f", "json").stdout)
        assert drifted["models"][0]["drift"] == ["served config differs from disk"]
    finally:
        config.write_text(original)
    table = cli("status").stdout.splitlines()
    assert table[0].startswith("Triton 2.51.0 at http://127.0.0.1:")
    assert table[1].split()[:3] == ["model", "version", "state"], table[:3]
    assert any(line.split()[:3] == ["text_recognition", "1", "READY"] for line in table), table


def test_a_version_gone_from_disk_is_marked(local_triton, cli):
    repo = local_triton["repo"]
    shutil.copytree(repo / "text_recognition", repo / "gone_rec")
    (repo / "gone_rec/config.pbtxt").write_text(
        (repo / "gone_rec/config.pbtxt").read_text().replace('"text_recognition"', '"gone_rec"'))
    assert cli("load", "gone_rec").exit_code == 0
    shutil.rmtree(repo / "gone_rec/1")
    try:
        doc = json.loads(cli("status", "gone_rec", "-f", "json").stdout)
        (model,) = doc["models"]
        assert model["versions"][0]["drift"] == ["READY, gone from disk"]
    finally:
        cli("unload", "gone_rec")
        shutil.rmtree(repo / "gone_rec")


def test_infer_with_an_input_file_and_bad_input(local_triton, cli, tmp_path):
    np.save(tmp_path / "x.npy", np.ones((2, 1, 32, 100), np.float32))
    ok = cli("infer", "text_recognition", "--input", f"input.1={tmp_path}/x.npy")
    assert ok.stdout.splitlines()[1] == "  308  FP32  [2, 26, 37]"
    bad = cli("infer", "text_recognition", "--shape", "nope=1,2")
    assert (bad.exit_code, bad.stderr) == (2, "error: 'text_recognition' has no input nope (inputs: input.1)\n")
    assert cli("infer", "text_recognition", "--shape", "input.1=x").exit_code == 2
    unknown = cli("infer", "no_such_model")
    assert unknown.exit_code == 3 and unknown.stderr.count("\n") <= 2


@pytest.mark.parametrize("command", [["status"], ["load", "m", "--reload"], ["unload", "m"], ["infer", "m"]])
def test_server_down_is_one_line_and_exit_3(cli, command):
    result = cli(*command, "--url", "http://127.0.0.1:9")
    assert (result.exit_code, result.stderr) == (
        3, "error: no Triton server at http://127.0.0.1:9 (connection refused)\n"
           "hint: start one with: tritonctl server start\n")


def test_start_refuses_a_taken_port_and_a_missing_repository(local_triton, tmp_path):
    env = {"TRITONCTL_STATE_DIR": str(tmp_path / "state")}
    taken = tritonctl("server", "start", "--repo", str(local_triton["repo"]), "--http-port",
                      str(local_triton["state"].http_port), env=env, check=False)
    assert (taken.returncode, taken.stderr) == (
        3, f"error: port {local_triton['state'].http_port} on 127.0.0.1 is already in use\n"
           "hint: choose other ports or leave them out to pick free ones\n")
    missing = tritonctl("server", "start", "--repo", str(tmp_path / "nope"), env=env, check=False)
    assert missing.returncode == 3 and "is not a folder" in missing.stderr


def test_a_polling_server_explains_instead_of_a_raw_503(tmp_path):
    env = {"TRITONCTL_STATE_DIR": str(tmp_path / "state")}
    repo = build_repository(tmp_path / "repo")
    tritonctl("server", "start", "--repo", str(repo), "--mode", "poll", env=env)
    try:
        result = tritonctl("load", "text_recognition", env=env, check=False)
        assert result.returncode == 3
        assert result.stderr == (
            "error: the server at this URL polls its repository: it loads and unloads 'text_recognition' by itself, "
            "and refuses load/unload requests\n"
            "hint: start it with --model-control-mode=explicit (tritonctl server start does)\n")
    finally:
        tritonctl("server", "stop", env=env)


def test_a_numpy_2_python_first_on_path_does_not_break_inference(tmp_path):
    """The python backend's stub runs the first python3 on PATH; tritonctl puts its own first."""
    fake = tmp_path / "fakebin"
    site = tmp_path / "numpy2site" / "numpy"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("__version__ = '2.1.0'\nraise ImportError('numpy 2 stand-in')\n")
    fake.mkdir()
    (fake / "python3").write_text(f"#!/bin/sh\nPYTHONPATH={site.parent} exec {shutil.which('python3')} \"$@\"\n")
    (fake / "python3").chmod(0o755)
    env = {"TRITONCTL_STATE_DIR": str(tmp_path / "state"), "PATH": f"{fake}:{os.environ['PATH']}"}
    repo = build_repository(tmp_path / "repo")
    tritonctl("server", "start", "--repo", str(repo), "--load", "text_recognition", env=env)
    try:
        np.save(tmp_path / "x.npy", np.zeros((1, 1, 32, 100), np.float32))
        from tritonctl.io.triton_client import Endpoint, TritonClient
        from tritonctl.server_state import read_state

        os.environ["TRITONCTL_STATE_DIR"], saved = env["TRITONCTL_STATE_DIR"], os.environ.get("TRITONCTL_STATE_DIR")
        try:
            url = read_state("default").url
        finally:
            if saved is not None:
                os.environ["TRITONCTL_STATE_DIR"] = saved
        with TritonClient(Endpoint(url)) as client:
            out, _ = client.infer("text_recognition", {"input.1": np.zeros((1, 1, 32, 100), np.float32)},
                                  {"input.1": "FP32"}, ["308"])
        assert out["308"].shape == (1, 26, 37) and float(out["308"].max()) == 1.0
    finally:
        tritonctl("server", "stop", env=env)


def test_a_server_killed_mid_load_is_one_line_and_exit_3(tmp_path):
    import signal
    import subprocess
    import sys

    from server.conftest import write_tree

    env = {"TRITONCTL_STATE_DIR": str(tmp_path / "state")}
    write_tree(tmp_path / "repo", {
        "slow/config.pbtxt": 'backend: "python"\n',
        "slow/1/model.py": "import time\n\nclass TritonPythonModel:\n    def initialize(self, args):\n"
                           "        time.sleep(30)\n\n    def execute(self, requests):\n        return []\n",
    })
    tritonctl("server", "start", "--repo", str(tmp_path / "repo"), env=env)
    state = json.loads((tmp_path / "state/servers/default/server.json").read_text())
    load = subprocess.Popen([sys.executable, "-m", "tritonctl", "load", "slow"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
    log = tmp_path / "state/servers/default/server.log"
    deadline = time.monotonic() + 30
    while "loading: slow:1" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(state["pid"], signal.SIGKILL)  # the server and its backend stubs
    _out, err = load.communicate(timeout=60)
    assert load.returncode == 3, err
    assert err.startswith("error: lost the connection to http://127.0.0.1:") or err.startswith("error: no ")
    assert len(err.strip().splitlines()) <= 2 and "Traceback" not in err
    listed = tritonctl("server", "list", env=env)
    assert f"warning: Triton 'default' (pid {state['pid']}) is no longer running; its log ends: " in listed.stderr
    assert "127.0.0.1" not in listed.stdout
    assert "no longer running" not in tritonctl("server", "list", env=env).stderr  # said once
    assert tritonctl("server", "stop", env=env, check=False).returncode == 3  # nothing left running


def test_start_with_validate_refuses_a_repository_with_errors(tmp_path):
    env = {"TRITONCTL_STATE_DIR": str(tmp_path / "state")}
    repo = build_repository(tmp_path / "repo")
    refused = tritonctl("server", "start", "--repo", str(repo), "--validate", env=env, check=False)
    assert refused.returncode == 1
    assert "error TRT001 config does not parse" in refused.stdout
    assert refused.stderr.endswith("not started: validate found errors (start without --validate to let Triton "
                                   "refuse them itself)\n")
    assert not (tmp_path / "state" / "servers" / "default" / "server.json").exists()


def test_a_foreground_server_stopped_with_ctrl_c_exits_0_as_the_readme_says(tmp_path):
    import signal
    import subprocess
    import sys

    from server.conftest import write_tree

    env = {**os.environ, "TRITONCTL_STATE_DIR": str(tmp_path / "state")}
    write_tree(tmp_path / "repo", {"m/config.pbtxt": 'backend: "python"\n'})
    proc = subprocess.Popen([sys.executable, "-m", "tritonctl", "server", "start", "--repo", str(tmp_path / "repo"),
                             "--foreground"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    state = tmp_path / "state/servers/default/server.json"
    deadline = time.monotonic() + 60
    while not state.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    url = "http://127.0.0.1:{}".format(json.loads(state.read_text())["http_port"])
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/v2/health/live", timeout=1).read()
            break
        except OSError:
            time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert not state.exists()
