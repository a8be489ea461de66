"""tune without a server: the search space, the models it refuses, --write's edit (only the tuned fields, comments
and layout kept, validated first), the outputs rendered from report objects (table, JSON against its schema), and
usage errors. The live lane (tests/server/test_tune.py) runs the search on the real Triton."""

from __future__ import annotations

import json

import pytest

from json_schemas import check, schema
from tritonctl.io.load import Measurement
from tritonctl.tune import Budget, Candidate, Space, Trial, TuneReport, default_space, refusal, write_settings

CONFIG = """\
# keep me
backend: "python"
max_batch_size: 4   # and me
input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
"""
SERVED = {"name": "m", "max_batch_size": 4, "instance_group": [{"name": "m", "kind": "KIND_CPU", "count": 1}]}


def _repo(tmp_path, text: str = CONFIG):
    (tmp_path / "m" / "1").mkdir(parents=True)
    (tmp_path / "m" / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    (tmp_path / "m" / "config.pbtxt").write_text(text)
    return tmp_path


def test_write_changes_only_the_tuned_fields_and_keeps_comments(tmp_path):
    repo = _repo(tmp_path)
    written = write_settings(repo, "m", Candidate(2, True, (4,), 500), SERVED)
    text = (repo / "m" / "config.pbtxt").read_text()
    assert text == CONFIG.replace("instance_group [ { count: 1 kind: KIND_CPU } ]",
                                  "instance_group { count: 2 kind: KIND_CPU }") + \
        "dynamic_batching { preferred_batch_size: 4 max_queue_delay_microseconds: 500 }\n"
    changed = [line for line in written.diff.splitlines()[2:] if line[:1] in "+-"]
    assert changed == ["-instance_group [ { count: 1 kind: KIND_CPU } ]", "+instance_group { count: 2 kind: KIND_CPU }",
                       "+dynamic_batching { preferred_batch_size: 4 max_queue_delay_microseconds: 500 }"]
    # batching off again: the field goes, with its line; the instance count follows
    write_settings(repo, "m", Candidate(1, False), SERVED)
    assert (repo / "m" / "config.pbtxt").read_text() == CONFIG.replace(
        "instance_group [ { count: 1 kind: KIND_CPU } ]", "instance_group { count: 1 kind: KIND_CPU }")


def test_write_keeps_other_dynamic_batching_fields_and_adds_no_instance_group_it_does_not_need(tmp_path):
    text = CONFIG.replace("instance_group [ { count: 1 kind: KIND_CPU } ]\n", "") + \
        "dynamic_batching { preserve_ordering: true }\n"
    repo = _repo(tmp_path, text)
    written = write_settings(repo, "m", Candidate(1, True, (), 100), SERVED)
    new = (repo / "m" / "config.pbtxt").read_text()
    assert "instance_group" not in new  # the served count already
    assert "dynamic_batching { max_queue_delay_microseconds: 100 preserve_ordering: true }" in new
    assert written.diff
    again = write_settings(repo, "m", Candidate(1, True, (), 100), SERVED)
    assert again.diff == ""


def test_write_refuses_a_config_validate_rejects_and_writes_nothing(tmp_path):
    from tritonctl.errors import ValidationRefused

    repo = _repo(tmp_path)
    with pytest.raises(ValidationRefused) as refused:
        write_settings(repo, "m", Candidate(1, True, (8,), 0), SERVED)  # preferred above max_batch_size
    assert any(f.code.startswith("TRT3") for f in refused.value.findings)
    assert (repo / "m" / "config.pbtxt").read_text() == CONFIG


@pytest.mark.parametrize(("config", "words"), [
    ({"platform": "ensemble"}, "ensemble"),
    ({"sequence_batching": {}}, "sequence batcher"),
    ({"model_transaction_policy": {"decoupled": True}}, "decoupled"),
])
def test_models_tune_cannot_measure_are_refused_with_a_reason(config, words):
    assert words in refusal(config)
    assert refusal({"backend": "python", "max_batch_size": 4}) is None


def test_the_search_space_and_its_order():
    space = default_space({"max_batch_size": 8}, None, None, None, None)
    groups = space.groups()
    assert [[c.label for c in g] for g in groups] == [
        ["1 instance, dynamic batching (delay 0 us)", "2 instances, dynamic batching (delay 0 us)"],
        ["1 instance, dynamic batching (delay 500 us)", "2 instances, dynamic batching (delay 500 us)"],
        ["1 instance, no batching", "2 instances, no batching"]]
    assert default_space({"max_batch_size": 0}, None, None, None, None).batching == (False,)
    from tritonctl.errors import UsageError

    with pytest.raises(UsageError, match="max_batch_size"):
        default_space({"max_batch_size": 0}, None, None, None, (True,))
    with pytest.raises(UsageError, match="preferred batch size"):
        default_space({"max_batch_size": 4}, None, None, ((8,),), None)
    assert Space((1,), (True,), ((2, 4),), (0,)).groups()[0][0].label == \
        "1 instance, dynamic batching (preferred 2,4, delay 0 us)"


def _report() -> TuneReport:
    trials = [Trial(Candidate(1, False), [Measurement(8, 20.0, 400.0, 410.0)], "over"),
              Trial(Candidate(1, True), [Measurement(8, 80.0, 100.0, 120.0)], "within"),
              Trial(Candidate(2, True), [], "failed", "the load was refused: no"),
              Trial(Candidate(4, True), [], "skipped", "fewer instances were as fast")]
    return TuneReport("http://127.0.0.1:8000", "m", 1, "built-in", Budget("p99", 200.0), [8], trials, 1, 3.0, [1],
                      SERVED)


def test_the_report_renders_as_a_table_and_as_json_from_one_declaration(capsys):
    from tritonctl.cli._output.tune import render_tune, trial_fields, tune_json

    report = _report()
    document = tune_json(report)
    check(document, "tune")
    assert [c["winner"] for c in document["candidates"]] == [False, True, False, False]
    assert document["winner"] == {"index": 1, "instance_count": 1, "dynamic_batching": True,
                                  "preferred_batch_size": [], "max_queue_delay_microseconds": 0}
    item = schema("tune")["properties"]["candidates"]["items"]
    assert set(item["properties"]) == {f.key for f in trial_fields(report)} == set(item["required"])
    render_tune(report, "table")
    out, err = capsys.readouterr()
    header, *rows = out.splitlines()
    assert header.split() == ["inst", "batch", "preferred", "delay", "us", "conc", "infer/s", "avg", "ms",
                              "p99", "ms", "verdict"]
    assert max(len(line) for line in out.splitlines()) <= 80
    assert rows[1].startswith("*") and "80.0" in rows[1] and "within" in rows[1]
    assert "  3. 2 instances, dynamic batching (delay 0 us): failed: the load was refused: no" in err
    assert "winner: 1 instance, dynamic batching (delay 0 us): 80.0 infer/s" in err
    render_tune(report, "json")
    assert json.loads(capsys.readouterr().out) == document


@pytest.mark.parametrize(("args", "words"), [
    (["--p99", "5", "--latency", "5"], "one latency budget"),
    (["--instances", "0"], "--instances '0'"),
    (["--instances", "two"], "--instances 'two'"),
    (["--batching", "maybe"], "--batching 'maybe'"),
    (["--queue-delay", "-1"], "--queue-delay '-1'"),
    (["--url", "http://127.0.0.1:9", "--url", "http://127.0.0.2:9"], "one server at a time"),
])
def test_usage_errors_exit_2_before_any_request(cli, args, words):
    if "--url" not in args:
        args = [*args, "--url", "http://127.0.0.1:9"]  # nothing listens there: no request is sent
    result = cli("tune", "m", *args)
    assert result.exit_code == 2, result.output
    assert words in result.stderr


def test_one_replica_of_a_fleet_needs_yes(cli, tmp_path):
    """A server the project's fleet lists (or --fleet) is not tuned unasked: exit 3 before any request; with
    --yes it goes on (here to a port nothing listens on: the one line of a server that is down)."""
    (tmp_path / "tritonctl.toml").write_text('[fleets.prod]\nurls = ["http://localhost:9", "http://127.0.0.2:9"]\n')
    refused = cli("tune", "m", "--url", "http://127.0.0.1:9", "--repo", str(tmp_path))
    assert refused.exit_code == 3
    assert "is a replica of fleet 'prod'" in refused.stderr and "--yes" in refused.stderr
    by_name = cli("tune", "m", "--fleet", "prod", "--repo", str(tmp_path))
    assert by_name.exit_code == 2 and "one server at a time" in by_name.stderr
    went_on = cli("tune", "m", "--url", "http://127.0.0.1:9", "--repo", str(tmp_path), "--yes")
    assert went_on.exit_code == 3 and "connection refused" in went_on.stderr


def test_the_built_in_generator_sends_the_clients_headers_once_each():
    from tritonctl.io.load import Workload, _request_bytes
    from tritonctl.io.triton_client import Endpoint

    endpoint = Endpoint("http://127.0.0.1:8000", headers={"host": "triton.example:443", "Authorization": "Bearer t"})
    request = _request_bytes(endpoint, Workload("a b", "2", [("x", "FP32", [1, 4])]), (b'{"inputs":[]}', 13))
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v2/models/a%20b/versions/2/infer HTTP/1.1" and body == b'{"inputs":[]}'
    assert sorted(lines[1:]) == ["Authorization: Bearer t", "Content-Length: 13", "Content-Type: application/octet-stream",
                                 "Inference-Header-Content-Length: 13", "host: triton.example:443"]


def test_input_data_in_perf_analyzers_format(tmp_path):
    import base64
    import struct

    import numpy as np

    from tritonctl.errors import TritonctlError, UsageError
    from tritonctl.io.load import Workload, input_arrays

    def arrays(entry, inputs=(("x", "FP32", [1, 2, 2]), ("s", "BYTES", [1, 2])), batched=True):
        (tmp_path / "data.json").write_text(json.dumps({"data": [entry]}))
        return input_arrays(Workload("m", "1", list(inputs), tmp_path / "data.json", batched=batched))

    text = base64.b64encode(b"".join(struct.pack("<I", len(w)) + w for w in (b"ab", b""))).decode()
    got = arrays({"x": [1, 2, 3, 4], "s": {"b64": text}})
    assert got["x"].tolist() == [[[1.0, 2.0], [3.0, 4.0]]] and got["x"].dtype == np.float32
    assert got["s"].tolist() == [[b"ab", b""]]
    floats = base64.b64encode(np.arange(4, dtype="<f4").tobytes()).decode()
    got = arrays({"x": {"content": {"b64": floats}, "shape": [2, 2]}, "s": ["a", "b"]})
    assert got["x"].tolist() == [[[0.0, 1.0], [2.0, 3.0]]] and got["s"].tolist() == [[b"a", b"b"]]
    assert arrays({"x": [1, 2, 3, 4]}, [("x", "INT64", [2, 2])], batched=False)["x"].shape == (2, 2)
    for entry, why in [({"x": [1, 2, 3]}, "does not fit FP32 of shape \\[2, 2\\]"),
                       ({"x": {"b64": "not base64!"}}, "its b64 does not decode"),
                       ({"s": {"b64": base64.b64encode(struct.pack("<I", 9) + b"ab").decode()}}, "end inside"),
                       ({"x": "1234"}, "neither a list nor"),
                       ({"y": [1]}, "names 'y', which 'm' does not take")]:
        with pytest.raises(UsageError, match=why):
            arrays(entry)
    missing = Workload("m", "1", [("x", "FP32", [4])], tmp_path / "none.json")
    with pytest.raises(TritonctlError, match="cannot read --input-data .*No such file") as raised:
        input_arrays(missing)
    assert not isinstance(raised.value, UsageError)  # a missing path: exit 3, not a usage error


def test_write_refuses_an_unparsable_config_before_the_search(cli, tmp_path):
    """--write meets a broken config.pbtxt before any request (nothing listens on the --url): exit 1 with its
    position, not after a search that cannot be written."""
    _repo(tmp_path, "backend: \"python\"\nmax_batch_size: four\n")
    result = cli("tune", "m", "--url", "http://127.0.0.1:9", "--repo", str(tmp_path), "--write")
    assert result.exit_code == 1, result.output
    assert "config.pbtxt:2:" in result.stderr and "connection refused" not in result.stderr
    missing = cli("tune", "nope", "--url", "http://127.0.0.1:9", "--repo", str(tmp_path), "--write")
    assert missing.exit_code != 0 and "connection refused" not in missing.stderr, missing.stderr
    unwritten = cli("tune", "m", "--url", "http://127.0.0.1:9", "--repo", str(tmp_path))  # no --write: no read
    assert unwritten.exit_code == 3 and "connection refused" in unwritten.stderr
