"""status --watch: the rates between two readings (quick lane, from report objects), the view built from its field
declaration, the refusals outside a terminal; tests/server/test_server_watch.py runs it live under a pty."""

from __future__ import annotations

import pytest

from tritonctl.status import Counters, ModelStatus, StatusReport, VersionStatus, rates


def report(**counters) -> StatusReport:
    versions = [VersionStatus(1, True, True, "READY", "", 0, counters=c) for c in counters.values()]
    return StatusReport("http://x", "2.51.0", None, [ModelStatus("m", None, True, versions[:1])])


def test_rates_are_the_differences_per_second_and_none_on_the_first_reading():
    before = report(a=Counters(inferences=10, success=10, success_ns=50_000_000, fail=1, queue=10, queue_ns=1_000_000))
    after = report(a=Counters(inferences=30, success=30, success_ns=150_000_000, fail=3, queue=30, queue_ns=5_000_000))
    (first,) = rates(None, before, 0.0)
    assert (first.inferences_per_s, first.avg_request_ms, first.failures) == (None, None, None)
    (rate,) = rates(before, after, 2.0)
    assert (rate.model, rate.version, rate.state) == ("m", 1, "READY")
    assert rate.inferences_per_s == 10.0 and rate.avg_request_ms == 5.0 and rate.avg_queue_ms == 0.2
    assert rate.failures == 2
    idle = rates(after, after, 1.0)[0]
    assert (idle.inferences_per_s, idle.avg_request_ms, idle.avg_queue_ms, idle.failures) == (0.0, None, None, 0)
    reloaded = rates(after, before, 1.0)[0]  # counters went down: a new start, not a negative rate
    assert reloaded.inferences_per_s is None


def test_the_view_has_a_column_per_declared_field_and_a_server_column_over_a_fleet():
    from rich.console import Console

    from tritonctl.cli._output.servers import WATCH_FIELDS, watch_view
    from tritonctl.fleet import WatchFrame, WatchReplica

    before = report(a=Counters(inferences=10, success=10, success_ns=50_000_000))
    after = report(a=Counters(inferences=30, success=30, success_ns=150_000_000))
    frame = WatchFrame([WatchReplica("http://a:8000", rates(before, after, 2.0)),
                        WatchReplica("http://b:8000", [], "the server did not answer")], 2.0)
    console = Console(width=100, record=True, file=open("/dev/null", "w"))
    console.print(watch_view(frame, 1.0, several=True))
    lines = console.export_text().splitlines()
    assert lines[0] == "2 servers, every 1 s (over the last 2.0 s); q or Ctrl-C leaves"
    assert lines[1].split() == ["server", "model", "version", "state", "inferences/s", "avg", "ms", "queue", "ms",
                                "failures"]
    assert lines[2].split() == ["http://a:8000", "m", "1", "READY", "10.0", "5.00", "-", "0"]
    assert lines[3] == "http://b:8000: the server did not answer"
    assert [f.header for f in WATCH_FIELDS] == ["model", "version", "state", "inferences/s", "avg ms", "queue ms",
                                                "failures"]


@pytest.mark.parametrize(("args", "message"), [
    ((), "error: --watch needs a terminal (it redraws in place and reads q)\n"
         "hint: for one reading: tritonctl status, or tritonctl status -f json\n"),
    (("-f", "json"), "error: --watch is a live table; --format json is one reading\nhint: tritonctl status -f json\n"),
])
def test_watch_outside_a_terminal_or_as_json_is_refused_with_a_hint(cli, args, message):
    result = cli("status", "--watch", "--url", "http://127.0.0.1:9", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)
