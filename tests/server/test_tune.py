"""tritonctl tune against the real local Triton: it finds the known optimum of a model built to have one (by 2x),
puts the server back after a finished search, a failed candidate and SIGINT, --write changes only the tuned
fields, and a server taking traffic is not tuned unasked. perf_analyzer 2.51 measures (set up from the downloaded
tritonclient wheel by the project's script), except where a test says the built-in generator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from json_schemas import check
from server.conftest import TUNE_CONFIG, tritonctl

pytestmark = pytest.mark.triton
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def perf_analyzer(local_triton):
    """perf_analyzer put in place by scripts/setup_perf_analyzer.py (the wheel the test set-up downloaded)."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "setup_perf_analyzer.py")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    from tritonctl.server_state import perf_analyzer_path

    return perf_analyzer_path()


def _url(local_triton) -> str:
    return f"http://127.0.0.1:{local_triton['state'].http_port}"


def _served(local_triton, model: str) -> tuple[dict, list[int]]:
    from tritonctl.io.triton_client import Endpoint, TritonClient
    from tritonctl.loading import ready_versions

    with TritonClient(Endpoint(_url(local_triton))) as client:
        ready = ready_versions(client, model)
        return (client.config(model) if ready else {}), ready


def _loaded(local_triton, model: str) -> tuple[dict, list[int]]:
    tritonctl("load", model, "--url", _url(local_triton), "--repo", str(local_triton["repo"]))
    config, ready = _served(local_triton, model)
    assert ready == [1] and config["instance_group"][0]["count"] == 1 and "dynamic_batching" not in config
    return config, ready


def _tuned_fields(config: dict) -> dict:
    kept = dict(config)
    kept.pop("version_policy", None)
    return kept


def test_tune_finds_the_known_optimum_writes_it_and_puts_the_server_back(local_triton, perf_analyzer):
    repo = local_triton["repo"]
    before, ready = _loaded(local_triton, "tune_sleepy")
    config_path = repo / "tune_sleepy" / "config.pbtxt"
    try:
        done = tritonctl("tune", "tune_sleepy", "--url", _url(local_triton), "--repo", str(repo), "--p99", "2000", "-c", "16",
                         "--instances", "1,2", "--queue-delay", "0", "--perf-analyzer", str(perf_analyzer),
                         "--write", "-f", "json", check=False)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        check(report, "tune")
        assert report["generator"] == "perf_analyzer 2.51.0"
        rows = report["candidates"]
        assert [(r["instances"], r["dynamic_batching"]) for r in rows] == [(1, True), (2, True), (1, False),
                                                                            (2, False)]
        assert [r["verdict"] for r in rows] == ["within", "within", "within", "skipped"], rows
        # two instances without batching serve at most twice what one did (20/s): below 160/s, not measured
        assert rows[3]["reason"].startswith("cannot win: at most 2/1 of ")
        assert report["winner"]["instance_count"] == 2 and report["winner"]["dynamic_batching"] is True
        best = rows[report["winner"]["index"]]["throughput"]
        others = [r["throughput"] for i, r in enumerate(rows) if i != report["winner"]["index"] and r["throughput"]]
        assert best > 1.4 * max(others), rows  # by design 2x (160/s against 80/s)
        assert [r["reloaded"] for r in rows[:3]] == [True, False, True]  # an instance added without a reload
        # --write: only the tuned fields changed, the comments and the layout kept
        text = config_path.read_text()
        assert text.startswith("# tune's test model: comments and layout are kept by --write\n")
        assert "input [ { name: \"x\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n" in text
        assert "count: 2" in text and "dynamic_batching {" in text and "# tuned" in text
        assert report["written"]["diff"].count("\n-") == 1, report["written"]["diff"]
        # the server serves what it served before: the same versions, the same config
        after, ready_after = _served(local_triton, "tune_sleepy")
        assert ready_after == ready == report["restored_versions"]
        assert _tuned_fields(after) == _tuned_fields(before)
    finally:
        config_path.write_text(TUNE_CONFIG)
        tritonctl("unload", "tune_sleepy", "--url", _url(local_triton), check=False)


def test_a_candidate_that_fails_to_load_is_a_row_and_the_server_is_put_back(local_triton):
    before, ready = _loaded(local_triton, "tune_fails")
    try:
        done = tritonctl("tune", "tune_fails", "--url", _url(local_triton), "--instances", "1",
                         "--queue-delay", "0", "--built-in", "-f", "json", check=False)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        check(report, "tune")
        assert report["generator"] == "built-in"
        failed = [r for r in report["candidates"] if r["dynamic_batching"]]
        assert failed and failed[0]["verdict"] == "failed"
        assert "refuses dynamic batching" in failed[0]["reason"]
        assert report["winner"]["dynamic_batching"] is False
        after, ready_after = _served(local_triton, "tune_fails")
        assert ready_after == ready and _tuned_fields(after) == _tuned_fields(before)
    finally:
        tritonctl("unload", "tune_fails", "--url", _url(local_triton), check=False)


def test_sigint_in_the_middle_of_a_search_puts_the_server_back(local_triton):
    before, ready = _loaded(local_triton, "tune_sleepy")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tritonctl", "tune", "tune_sleepy", "--url",
                                 _url(local_triton), "--instances", "1,2", "--queue-delay", "0", "--built-in"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # interrupted while a candidate (2 instances) is served
            config, _ = _served(local_triton, "tune_sleepy")
            if config and config["instance_group"][0]["count"] == 2:
                break
            time.sleep(0.05)
        else:
            proc.kill()
            pytest.fail("tune never loaded a candidate")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        after, ready_after = _served(local_triton, "tune_sleepy")
        assert ready_after == ready and _tuned_fields(after) == _tuned_fields(before)
    finally:
        tritonctl("unload", "tune_sleepy", "--url", _url(local_triton), check=False)


def test_a_server_taking_traffic_needs_yes(local_triton):
    """Another client's requests during the check: refused (exit 3) with the hint; the server untouched."""
    from tritonctl.io.triton_client import Endpoint, TritonClient

    _loaded(local_triton, "tune_sleepy")
    stop = threading.Event()

    def traffic() -> None:
        import numpy as np

        with TritonClient(Endpoint(_url(local_triton))) as client:
            while not stop.is_set():
                client.infer("tune_sleepy", {"x": np.ones((1, 4), np.float32)}, {"x": "FP32"}, ["y"])

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    try:
        time.sleep(0.3)
        done = tritonctl("tune", "tune_sleepy", "--url", _url(local_triton), "--built-in", check=False)
        assert done.returncode == 3, done.stderr
        assert "is taking traffic (tune_sleepy)" in done.stderr and "--yes" in done.stderr
        config, _ = _served(local_triton, "tune_sleepy")
        assert "dynamic_batching" not in config
    finally:
        stop.set()
        sender.join(10)
        tritonctl("unload", "tune_sleepy", "--url", _url(local_triton), check=False)


def test_models_tune_cannot_measure_are_refused_with_the_reason(local_triton):
    done = tritonctl("tune", "no_such_model", "--url", _url(local_triton), "--built-in", check=False)
    assert done.returncode == 3 and "knows no model 'no_such_model'" in done.stderr
    assert "Traceback" not in done.stderr
    env = {**os.environ}
    done = tritonctl("tune", "text_recognition", "--url", _url(local_triton), "--p99", "5", "--latency", "5",
                     env=env, check=False)
    assert done.returncode == 2 and "one latency budget" in done.stderr


def test_input_data_reaches_the_model_with_either_generator(local_triton, perf_analyzer, tmp_path):
    import base64

    import numpy as np

    _loaded(local_triton, "tune_sleepy")
    minus_seven = tmp_path / "minus7.json"  # the model refuses a request whose x is -7 everywhere
    minus_seven.write_text(json.dumps({"data": [{"x": {"b64": base64.b64encode(
        np.full(4, -7, dtype="<f4").tobytes()).decode()}}]}))
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"data": [{"x": [1.0, 2.0, 3.0, 4.0]}]}))
    try:
        for data, generator, verdict in [(minus_seven, [], "failed"), (minus_seven, ["--built-in"], "failed"),
                                         (plain, ["--built-in"], "within")]:
            done = tritonctl("tune", "tune_sleepy", "--url", _url(local_triton), "--instances", "1", "--batching",
                             "on", "--queue-delay", "0", "-c", "2", "--input-data", str(data), *generator,
                             "-f", "json", check=False)
            report = json.loads(done.stdout)
            (row,) = report["candidates"]
            assert (row["verdict"], report["generator"] != "built-in") == (verdict, not generator), row
            if verdict == "failed":
                assert done.returncode == 1 and "the input data reached the model" in row["reason"]
        assert _served(local_triton, "tune_sleepy")[0]["instance_group"][0]["count"] == 1
    finally:
        tritonctl("unload", "tune_sleepy", "--url", _url(local_triton), check=False)
