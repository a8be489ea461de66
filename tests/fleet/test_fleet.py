"""Three local Tritons driven as one fleet: status lined up per version, rollouts behind a health gate that stop at
the first failure and put that replica back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from fleet.conftest import model_file, tritonctl
from json_schemas import check

pytestmark = pytest.mark.triton


def infer(url: str, value: float = 1.0, timeout: float = 10) -> float:
    body = json.dumps({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [value, value]}]}).encode()
    request = urllib.request.Request(f"{url}/v2/models/m/infer", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as r:
        return json.load(r)["outputs"][0]["data"][0]


def rows(out: str) -> list[str]:
    """The rollout table's replica rows, each with its detail from the numbered lines below the table."""
    lines = out.splitlines()[2:]
    notes = {line.split(" ", 1)[0]: line for line in lines if line.startswith("(")}
    return [f"{line} {notes.get(line.split()[-1], '')}" for line in lines if line and not line.startswith("(")]


def add_version(fleet, number: int, **kwargs) -> None:
    folder = fleet.repo / "m" / str(number)
    folder.mkdir()
    (folder / "model.py").write_text(model_file(number, **kwargs))


def test_fleet_status_counts_replicas_per_version_and_shows_an_unreachable_one(clean):
    from tritonctl.io.triton_binary import free_port

    down = f"http://127.0.0.4:{free_port()}"
    result = tritonctl("status", "-r", str(clean.repo), *clean.url_args(), "--url", down, "-f", "json", env=clean.env,
                       check=False)
    assert result.returncode == 3 and "1 of 4 servers did not answer" in result.stderr
    doc = json.loads(result.stdout)
    check(doc, "fleet-status")
    for replica in doc["replicas"]:
        if replica["status"] is not None:
            check(replica["status"], "status")
    (m,) = doc["models"]
    assert [(v["version"], len(v["ready"])) for v in m["versions"]] == [(1, 3), (2, 0)]
    assert [r["reachable"] for r in doc["replicas"]] == [True, True, True, False]
    assert "connection refused" in doc["replicas"][3]["error"]
    table = tritonctl("status", "-r", str(clean.repo), *clean.url_args(), "--url", down, env=clean.env,
                      check=False).stdout
    assert "3 of 4 replicas answered" in table and "3/3" in table and "unreachable (1)" in table
    assert f"(1) {down}: no Triton server at {down} (connection refused)" in table
    assert max(len(line) for line in table.splitlines()[1:]) <= 100  # the first names the repository


def test_a_good_rollout_drops_no_request(clean):
    failures, done, stop = [], [0], threading.Event()

    def traffic() -> None:
        i = 0
        while not stop.is_set():
            try:
                infer(clean.urls[i % 3])
                done[0] += 1
            except Exception as e:  # noqa: BLE001 - counted
                failures.append(repr(e))
            i += 1

    thread = threading.Thread(target=traffic)
    thread.start()
    try:
        time.sleep(0.5)
        result = tritonctl("policy", "apply", "m", "specific:2", "-r", str(clean.repo), *clean.url_args(),
                           "--smoke", env=clean.env, check=False)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
    assert result.returncode == 0, result.stdout + result.stderr
    assert failures == [] and done[0] > 20
    assert clean.ready() == [[2], [2], [2]]
    assert result.stdout.count(" done ") == 3
    assert [infer(u) for u in clean.urls] == [3.0, 3.0, 3.0]  # version 2 adds 2


def test_a_bad_version_stops_at_the_first_replica_which_serves_its_versions_again(clean):
    add_version(clean, 3, fail=True)
    result = tritonctl("policy", "apply", "m", "specific:3", "-r", str(clean.repo), *clean.url_args(), env=clean.env,
                       check=False)
    assert result.returncode == 1
    table = rows(result.stdout)
    assert "restored" in table[0] and "cannot start: weights missing" in table[0]
    assert "untouched" in table[1] and "untouched" in table[2]
    assert clean.ready() == [[1], [1], [1]]
    assert "rollout stopped" in result.stderr
    # put back, the replica shows the drift the untouched ones show (none): none of tritonctl's making
    doc = json.loads(tritonctl("status", "m", "-r", str(clean.repo), *clean.url_args(), "-f", "json",
                               env=clean.env).stdout)
    drift = [[(v["version"], v["drift"]) for v in r["status"]["models"][0]["versions"]] +
             [r["status"]["models"][0]["drift"]] for r in doc["replicas"]]
    assert drift[0] == drift[1] == drift[2] == [(1, []), (2, []), (3, []), []], drift
    assert doc["models"][0]["configs_differ"] == [], doc["models"][0]


def test_a_replica_put_back_under_a_latest_policy_shows_no_drift_of_tritonctls_making(clean):
    config = clean.repo / "m" / "config.pbtxt"
    config.write_text(config.read_text().replace("specific { versions: [ 1 ] }", "latest { num_versions: 1 }"))
    tritonctl("load", "m", "-r", str(clean.repo), *clean.url_args(), env=clean.env)  # each serves 2, as the disk says
    add_version(clean, 3, fail=True)
    result = tritonctl("load", "m", "-r", str(clean.repo), *clean.url_args(), env=clean.env, check=False)
    assert result.returncode == 1 and "restored" in rows(result.stdout)[0]
    assert clean.ready() == [[2], [2], [2]]
    doc = json.loads(tritonctl("status", "m", "-r", str(clean.repo), *clean.url_args(), "-f", "json",
                               env=clean.env).stdout)
    (m,) = doc["models"]
    assert m["configs_differ"] == [], m  # the restored replica serves the config the others serve
    drift = [[(v["version"], v["drift"]) for v in r["status"]["models"][0]["versions"]] +
             [r["status"]["models"][0]["drift"]] for r in doc["replicas"]]
    assert drift[0] == drift[1] == drift[2], drift


def test_load_reload_unloads_first_even_with_the_repository_known(clean):
    url = clean.urls[0]
    result = tritonctl("load", "m", "--reload", "-r", str(clean.repo), "--url", url, env=clean.env)
    assert "'m' was unloaded, then loaded: requests to it failed meanwhile" in result.stderr
    assert "successfully unloaded 'm' version 1" in (Path(clean.state(0).log).read_text())


def test_a_version_that_never_becomes_ready_is_a_timeout_and_is_put_back(clean):
    add_version(clean, 3, start=6)
    result = tritonctl("load", "m", "--version", "3", "-r", str(clean.repo), *clean.url_args(), "--timeout", "2",
                       env=clean.env, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    first = rows(result.stdout)[0]
    assert "restored" in first and "was not READY within 2 s" in first
    assert clean.ready() == [[1], [1], [1]]


def test_a_replica_killed_mid_rollout_stops_it_and_nothing_else_changes(clean):
    add_version(clean, 3, start=3)
    proc = subprocess.Popen([sys.executable, "-m", "tritonctl", "load", "m", "--version", "3", "-r", str(clean.repo),
                             *clean.url_args()], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **clean.env})
    time.sleep(1.0)  # replica 0 is loading version 3; replica 1 goes away
    state = clean.state(1)
    os.killpg(state.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    try:
        assert proc.returncode == 1, out + err
        table = rows(out)
        assert " done " in table[0]
        assert " failed " in table[1] and "no Triton server" in table[1]
        assert "untouched" in table[2]
        ready = clean.ready()
        assert ready[0] == [3] and ready[2] == [1]
    finally:
        clean.stop(1)  # its state is stale; reset() starts it again


def test_ctrl_c_puts_the_replica_in_flight_back_and_says_what_changed(clean):
    add_version(clean, 3, start=4)
    proc = subprocess.Popen([sys.executable, "-m", "tritonctl", "load", "m", "--version", "3", "-r", str(clean.repo),
                             *clean.url_args()], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **clean.env})
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    table = rows(out)
    assert "restored" in table[0] and "interrupted" in table[0]
    assert "untouched" in table[1] and "untouched" in table[2]
    assert "interrupted: no replica changed" in err
    assert clean.ready() == [[1], [1], [1]]


def test_dry_run_changes_nothing_and_unload_rolls_too(clean):
    plan = tritonctl("unload", "m", *clean.url_args(), "--dry-run", env=clean.env)
    assert plan.stdout.count("planned") == 3 and clean.ready() == [[1], [1], [1]]
    tritonctl("unload", "m", *clean.url_args(), env=clean.env)
    assert clean.ready() == [[], [], []]


def test_version_rm_refuses_a_version_any_replica_serves_and_infer_each(clean):
    tritonctl("load", "m", "--version", "2", "-r", str(clean.repo), "--url", clean.urls[2], env=clean.env)
    refused = tritonctl("version", "rm", "m", "2", "-r", str(clean.repo), *clean.url_args(), env=clean.env,
                        check=False)
    assert refused.returncode == 3 and clean.urls[2] in refused.stderr
    each = tritonctl("infer", "m", *clean.url_args(), "--each", env=clean.env)
    results = [line for line in each.stdout.splitlines() if " version " in line]
    assert [line.split(": ", 1)[0] for line in results] == clean.urls  # stdout alone tells the replicas apart
    from tritonctl.io.triton_binary import free_port

    down = f"http://127.0.0.4:{free_port()}"
    past = tritonctl("infer", "m", "--url", down, *clean.url_args(), "--each", env=clean.env, check=False)
    assert past.returncode == 3, past.stderr
    assert f"error: {down}" in past.stderr and "1 of 4 replicas failed" in past.stderr
    assert past.stdout.count("m version") == 3  # the replicas after the one that failed still answered


def test_a_named_fleet_from_the_project_configuration(clean, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    urls = ", ".join(f'"{u}"' for u in clean.urls)
    (project / "tritonctl.toml").write_text(f"[fleets.prod]\nurls = [{urls}]\n")
    result = subprocess.run([sys.executable, "-m", "tritonctl", "status", "--fleet", "prod", "-f", "json"],
                            capture_output=True, text=True, cwd=project,
                            env={**os.environ, **clean.env}, timeout=120)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert len(doc["replicas"]) == 3 and doc["repository"] == str(clean.repo)  # the local servers' repository
    unknown = subprocess.run([sys.executable, "-m", "tritonctl", "status", "--fleet", "staging"], capture_output=True,
                             text=True, cwd=project, env={**os.environ, **clean.env}, timeout=120)
    assert unknown.returncode == 2 and "no fleet 'staging'" in unknown.stderr and "fleets: prod" in unknown.stderr
    elsewhere = tritonctl("infer", "m", "--fleet", "prod", "--repo", str(project / "models"), "--each",
                          env=clean.env)  # run from anywhere: the fleet is found from --repo's folder
    assert elsewhere.stdout.count(" version ") == 3


def test_one_dns_name_for_every_replica_all_addresses(clean, tmp_path):
    """A headless Service's name, given the three addresses by a hosts file bind-mounted in a private mount namespace
    (the machine's own /etc/hosts is never touched)."""
    import shutil

    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n" + "".join(f"{a} triton-headless\n" for a in ("127.0.0.1", "127.0.0.2",
                                                                                            "127.0.0.3")))
    command = (f"mount --bind {hosts} /etc/hosts && {sys.executable} -m tritonctl status -r {clean.repo} "
               f"--url http://triton-headless:{clean.port} --all-addresses -f json")
    result = subprocess.run(["unshare", "-m", "sh", "-c", command], capture_output=True, text=True,
                            env={**os.environ, **clean.env}, timeout=120)
    if result.returncode != 0 and "unshare" in result.stderr:
        pytest.skip(f"no mount namespace here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    replicas = json.loads(result.stdout)["replicas"]
    assert [r["url"] for r in replicas] == [f"{u} (triton-headless)" for u in clean.urls]
    assert all(r["reachable"] for r in replicas)


def test_a_replica_on_another_triton_version_or_repository_is_named(clean, tmp_path):
    from fleet.version_proxy import VersionProxy

    proxy = VersionProxy(clean.urls[2], "2.99.0")
    try:
        result = tritonctl("status", "-r", str(clean.repo), "--url", clean.urls[0], "--url", clean.urls[1], "--url",
                           proxy.url, "-f", "json", env=clean.env)
        notes = json.loads(result.stdout)["notes"]
        assert notes == [f"{proxy.url} runs Triton 2.99.0; the others 2.51.0"]
        assert set(proxy.hosts) == {proxy.url.removeprefix("http://")}
        # each answer asked for once: the served config read for the drift is the one compared across replicas
        assert sorted(proxy.requests) == ["GET /v2", "GET /v2/models/m/config", "GET /v2/models/stats",
                                          "POST /v2/repository/index"], proxy.requests
    finally:
        proxy.close()
    # a replica whose repository holds another model: its index differs
    other = tmp_path / "other"
    (other / "extra" / "1").mkdir(parents=True)
    (other / "extra" / "config.pbtxt").write_text('backend: "python"\n')
    (other / "extra" / "1" / "model.py").write_text(model_file(0))
    tritonctl("server", "start", "--name", "odd", "--address", "127.0.0.5", "--repo", str(other), env=clean.env)
    try:
        servers = json.loads(tritonctl("server", "list", "-f", "json", env=clean.env).stdout)["servers"]
        odd = next(s["url"] for s in servers if s["name"] == "odd")
        result = tritonctl("status", "-r", str(clean.repo), *clean.url_args(), "--url", odd, "-f", "json",
                           env=clean.env)
        notes = json.loads(result.stdout)["notes"]
        assert notes == [f"{odd} reads another repository (has extra; lacks m)"]
    finally:
        tritonctl("server", "stop", "--server", "odd", env=clean.env, check=False)
