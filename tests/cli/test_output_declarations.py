"""Outputs are described once (cli/_output/fields.py): the JSON schemas must name exactly the declared fields, and
status renders from report objects alone, no server needed (the live lane checks real output)."""

from __future__ import annotations

import json

import pytest

from json_schemas import check, schema
from tritonctl.status import Counters, ModelStatus, StatusReport, VersionStatus


def _properties(node: dict, *path: str) -> set[str]:
    for step in path:
        node = node["properties"][step]
        if node.get("type") == "array":
            node = node["items"]
    return set(node["properties"])


def _required(node: dict, *path: str) -> set[str]:
    for step in path:
        node = node["properties"][step]
        if node.get("type") == "array":
            node = node["items"]
    return set(node.get("required", []))


def keys(fields) -> set[str]:
    return {f.key for f in fields if f.key is not None}


@pytest.mark.parametrize(("name", "path", "fields"), [
    ("status", (), "REPORT_FIELDS"),
    ("status", ("models",), "MODEL_FIELDS"),
    ("status", ("models", "versions"), "VERSION_FIELDS"),
])
def test_every_declared_field_is_in_its_schema_and_every_schema_field_is_declared(name, path, fields):
    from tritonctl.cli._output import servers

    declared = keys(getattr(servers, fields))
    assert _properties(schema(name), *path) == declared
    assert _required(schema(name), *path) == declared


def report() -> StatusReport:
    ready = VersionStatus(1, True, True, "READY", "", 1_700_000_000_000,
                          counters=Counters(inferences=12, success=12, success_ns=39_000_000))  # 3.25 ms each
    failed = VersionStatus(2, True, True, "UNAVAILABLE", "load failed: weights missing", 0,
                           drift=["selected, not READY"])
    return StatusReport("http://127.0.0.1:8000", "2.51.0", "/models", [
        ModelStatus("m", "latest:2", True, [ready, failed]),
        ModelStatus("empty", None, False, [], config_error="/models/empty/config.pbtxt:1:1: bad"),
    ])


def test_status_json_from_a_report_matches_its_schema_and_leaks_nothing_internal(capsys):
    from tritonctl.cli._output import render_status

    render_status(report(), "json")
    doc = json.loads(capsys.readouterr().out)
    check(doc, "status")
    first = doc["models"][0]["versions"][0]
    assert (first["request_count"], first["avg_request_ms"]) == (12, 3.25)
    assert "reason_full" not in json.dumps(doc)


def test_status_table_cells_sit_under_their_headers(capsys, monkeypatch):
    from tritonctl.cli._output import render_status

    render_status(report(), "table")
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("model"))
    names = header.split()
    assert names == ["model", "version", "state", "inferences", "requests", "avg", "ms", "policy", "drift"]
    row = next(line for line in lines if line.startswith("m "))
    assert row.split() == ["m", "1", "READY", "12", "12", "3.2", "latest:2"]
    end = header.index("avg ms") + len("avg ms")
    assert row[:end].endswith("3.2")  # right-aligned under its own header
    assert all(len(line) <= 100 for line in lines)
    failed = next(line for line in lines if " UNAVAILABLE (1)" in line)
    assert failed.rstrip().endswith("selected, not READY")
    assert "(1) m 2: load failed: weights missing" in lines
    empty = next(line for line in lines if line.startswith("empty"))
    assert empty.rstrip().endswith("config error (below)")
    assert lines[-1] == "empty: /models/empty/config.pbtxt:1:1: bad"


@pytest.mark.parametrize(("name", "path", "make"), [
    ("fleet-status", (), lambda m: m.servers.fleet_fields(str)),
    ("fleet-status", ("replicas",), lambda m: m.servers.replica_fields(str)),
    ("fleet-status", ("models",), lambda m: m.servers.FLEET_MODEL_FIELDS),
    ("fleet-status", ("models", "versions"), lambda m: m.servers.FLEET_VERSION_FIELDS),
    ("server-list", ("servers",), lambda m: m.servers.SERVER_FIELDS),
    ("version-list", ("versions",), lambda m: m.repository.VERSION_LIST_FIELDS),
    ("sync", (), lambda m: m.sync.SYNC_FIELDS),
    ("sync", ("summary",), lambda m: m.sync.SUMMARY_FIELDS),
    ("sync", ("changes",), lambda m: m.sync.change_fields(False)),
])
def test_the_other_outputs_are_declared_as_their_schemas_say(name, path, make):
    import tritonctl.cli._output as output

    declared = keys(make(output))
    assert _properties(schema(name), *path) == declared
    assert _required(schema(name), *path) == declared
