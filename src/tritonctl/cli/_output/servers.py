"""The commands that talk to servers: status (one server, a fleet), rollouts, local servers, infer."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from tritonctl.cli._output.common import _debug, out, safe, say
from tritonctl.cli._output.fields import Field, columns, document, print_table, table


STATUS_WIDTH = 100  # the status table fits 100 columns: long reasons are cut with "…"


# status, described once: the JSON is built from these, and so is the table (model columns first, a model field
# marked `after` once the version columns are out, the wrapping column last)
VERSION_FIELDS = (
    Field("version", "version", lambda v: v.version, right=True),
    Field("on_disk", None, lambda v: v.on_disk),  # the table says it in drift: READY, gone from disk
    Field("selected", None, lambda v: v.selected),
    Field("state", "state", lambda v: v.state, cell=lambda v: v.state or "-"),
    Field("reason", None, lambda v: v.reason_full if _debug() else v.reason),  # the table numbers them below it
    Field("inference_count", "inferences", lambda v: v.inference_count, right=True),
    Field("request_count", "requests", lambda v: v.request_count, right=True),
    Field("avg_request_ms", "avg ms", lambda v: None if v.avg_request_ms is None else round(v.avg_request_ms, 3),
          cell=lambda v: "-" if v.avg_request_ms is None else f"{v.avg_request_ms:.1f}", right=True),
    Field("last_inference_ms", None, lambda v: v.last_inference_ms),  # JSON only: the table fits 100 columns
    Field("drift", "drift", lambda v: list(v.drift), wrap=True),
)
MODEL_FIELDS = (
    Field("name", "model", lambda m: m.name),
    Field("policy", "policy", lambda m: m.policy, after=True),
    Field("loaded", None, lambda m: m.loaded),
    Field("drift", None, lambda m: list(m.drift)),  # the table shows it in the first row's drift
    Field("config_error", None, lambda m: m.config_error),
    Field("versions", None, lambda m: [document(VERSION_FIELDS, v) for v in m.versions]),
)
REPORT_FIELDS = (
    Field("url", None, lambda r: r.url),
    Field("server_version", None, lambda r: r.server_version),
    Field("repository", None, lambda r: r.repository),
    Field("models", None, lambda r: [document(MODEL_FIELDS, m) for m in r.models]),
)


def status_json(report) -> dict:
    """The status report as JSON: Triton's reasons on one line (as Triton wrote them under TRITONCTL_DEBUG=1)."""
    return document(REPORT_FIELDS, report)


@dataclass(frozen=True)
class _StatusRow:
    model: object
    version: object  # a VersionStatus, shown with its footnote mark and the model's drift on the first row
    first: bool


@dataclass(frozen=True)
class _NoVersion:
    """The row of a model with no version: every version cell '-', the model's notes in its drift."""

    drift: list
    version: None = None
    on_disk: None = None
    selected: None = None
    state: str = ""
    reason: str = ""
    reason_full: str = ""
    inference_count: None = None
    request_count: None = None
    avg_request_ms: None = None
    last_inference_ms: int = 0


def _status_columns() -> list[Field]:
    def of_model(f: Field) -> Field:
        return Field(f.key, f.header, lambda row: f.value(row.model) if row.first else None,
                     cell=lambda row: f.text(row.model) if row.first else "", right=f.right, wrap=f.wrap)

    def of_version(f: Field) -> Field:
        return Field(f.key, f.header, lambda row: f.value(row.version), cell=lambda row: f.text(row.version),
                     right=f.right, wrap=f.wrap)

    model, version = columns(MODEL_FIELDS), columns(VERSION_FIELDS)
    return ([of_model(f) for f in model if not f.after] + [of_version(f) for f in version if not f.wrap]
            + [of_model(f) for f in model if f.after] + [of_version(f) for f in version if f.wrap])


def _status_width() -> int:
    """The server tables' width: STATUS_WIDTH columns at most (fewer on a narrower terminal)."""
    import shutil

    return min(shutil.get_terminal_size((STATUS_WIDTH, 24)).columns, STATUS_WIDTH) if sys.stdout.isatty() \
        else STATUS_WIDTH


def _status_console():
    """A console for the server tables, _status_width() columns."""
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, emoji=False, width=_status_width())


def _cut(text: str, width: int) -> str:
    """One line of at most `width` columns (whole under TRITONCTL_DEBUG=1)."""
    return text if _debug() or len(text) <= width else text[: width - 1] + "…"


def _footnote(notes: list[str], cell: str, line: str, limit: int = 24) -> str:
    """`cell` in a table when it is short; else `(n)`, and `line` joins the lines printed below the table."""
    if len(cell) <= limit:
        return cell
    notes.append(line)
    return f"({len(notes)})"


def render_status(report, fmt: str) -> None:
    import dataclasses

    if fmt == "json":
        print(json.dumps(status_json(report), indent=2))
        return
    width = _status_width()
    out(f"Triton {report.server_version} at {report.url}; repository {report.repository or '(not read)'}")
    rows, reasons, errors = [], [], []  # below the table, one line each: Triton's reasons (numbered), config errors
    for m in report.models:
        for i, v in enumerate(m.versions or [None]):
            drift = [*(m.drift if i == 0 else [])]
            if i == 0 and m.config_error is not None:
                drift.append("config error (below)")
            elif i == 0 and not m.loaded and not m.drift and not (v.drift if v else []):
                drift.append("not loaded")
            if v is None:
                rows.append(_StatusRow(m, _NoVersion(drift), True))
                continue
            state = v.state or "-"
            if v.state != "READY" and v.reason:
                reasons.append(f"{m.name} {v.version}: {v.reason_full if _debug() else v.reason}")
                state += f" ({len(reasons)})"
            rows.append(_StatusRow(m, dataclasses.replace(v, state=state, drift=[*drift, *v.drift]), i == 0))
        if m.config_error is not None:
            errors.append(f"{m.name}: {m.config_error}")
    print_table(_status_columns(), rows, width, _status_console)
    for n, reason in enumerate(reasons, 1):  # cut to the table's width; the whole text: TRITONCTL_DEBUG=1
        out(_cut(safe(f"({n}) {reason}"), width))
    for line in errors:  # a config error whole: its position and what to change
        out(line)


FLEET_VERSION_FIELDS = (
    Field("version", "version", lambda v: v.version, right=True),
    Field("ready", None, lambda v: list(v.ready)),  # the table counts them: READY n/m
    Field("not_ready", None, lambda v: dict(v.not_ready)),
    Field("drift", None, lambda v: {url: list(found) for url, found in v.drift.items()}),
)
FLEET_MODEL_FIELDS = (
    Field("name", "model", lambda m: m.name),
    Field("policy", "policy", lambda m: m.policy),
    Field("configs_differ", None, lambda m: list(m.configs_differ)),
    Field("drift", None, lambda m: {url: list(found) for url, found in m.drift.items()}),
    Field("versions", None, lambda m: [document(FLEET_VERSION_FIELDS, v) for v in m.versions]),
)


def replica_fields(label) -> tuple[Field, ...]:
    """One replica of a fleet: its own status document is the single-server one (REPORT_FIELDS)."""
    return (
        Field("url", "replica", lambda r: r.url),
        Field("reachable", None, lambda r: r.reachable),
        Field("error", None, lambda r: r.error),
        Field("triton_version", "triton", lambda r: r.triton_version),
        Field("status", None, lambda r: status_json(r.report.relabeled(label)) if r.report is not None else None),
    )


def fleet_fields(label) -> tuple[Field, ...]:
    return (
        Field("repository", None, lambda f: label(f.repository) if f.repository else None),
        Field("replicas", None, lambda f: [document(replica_fields(label), r) for r in f.replicas]),
        Field("models", None, lambda f: [document(FLEET_MODEL_FIELDS, m) for m in f.models]),
        Field("notes", None, lambda f: list(f.notes)),
    )


def fleet_status_json(report, label=None) -> dict:
    """The fleet status as JSON: per replica its own status document (as `status -f json` gives it), and per model
    and version who serves it."""
    return document(fleet_fields(label or (lambda text: text)), report)


@dataclass(frozen=True)
class _FleetRow:
    """One row of the fleet table: a model's version (None: the model has none), on how many replicas it is READY,
    and what disagrees."""

    model: object
    version: object
    first: bool
    reachable: int
    notes: list


FLEET_TABLE = (
    Field(None, "model", lambda row: row.model.name if row.first else ""),
    Field(None, "version", lambda row: str(row.version.version) if row.version else "-", right=True),
    Field(None, "ready", lambda row: f"{len(row.version.ready)}/{row.reachable}" if row.version else "-"),
    Field(None, "policy", lambda row: (row.model.policy or "-") if row.first else ""),
    Field(None, "disagreeing", lambda row: "; ".join(row.notes), wrap=True),
)
REPLICA_TABLE = (
    Field(None, "replica", lambda r: r.replica.url),
    Field(None, "triton", lambda r: r.replica.triton_version or "-"),
    Field(None, "models loaded", lambda r: str(_loaded(r.replica.report)) if r.replica.reachable else "-"),
    Field(None, "note", lambda r: r.note),
)


@dataclass(frozen=True)
class _ReplicaRow:
    replica: object
    note: str  # unreachable (n): its reason is line n below the table


def _loaded(report) -> int:
    """How many models a replica serves READY in at least one version."""
    return sum(1 for m in report.models if any(v.state == "READY" for v in m.versions)) if report else 0


def _fleet_rows(report) -> list[_FleetRow]:
    reachable = len(report.reachable)
    rows = []
    for m in report.models:
        for i, v in enumerate(m.versions or [None]):
            notes = []
            if i == 0 and m.configs_differ:
                notes.append(f"served config differs on {', '.join(m.configs_differ)}")
            if i == 0:
                notes += _by_label(m.drift, reachable)
            if v is not None:
                if v.ready and v.not_ready:
                    notes.append("not READY on " + ", ".join(f"{u} ({state})" for u, state in v.not_ready.items()))
                notes += _by_label(v.drift, reachable)
            rows.append(_FleetRow(m, v, i == 0, reachable, notes))
    return rows


def render_fleet_status(report, fmt: str, label=None) -> None:
    """Per model and version: READY on how many of the reachable replicas, and who disagrees; then the replicas."""
    if fmt == "json":
        print(json.dumps(fleet_status_json(report, label), indent=2))
        return
    width = _status_width()
    repository = label(report.repository) if label and report.repository else report.repository
    out(f"{len(report.reachable)} of {len(report.replicas)} replicas answered; repository "
        f"{repository or '(not read)'}")
    print_table(FLEET_TABLE, _fleet_rows(report), width, _status_console)
    errors: list[str] = []  # below the table, one line each, whole: why a replica did not answer
    replicas = []
    for r in report.replicas:
        if not r.reachable:
            errors.append(f"{r.url}: {r.error}")
        replicas.append(_ReplicaRow(r, "" if r.reachable else f"unreachable ({len(errors)})"))
    print_table(REPLICA_TABLE, replicas, width, _status_console)
    for n, line in enumerate(errors, 1):
        out(f"({n}) {line}")
    for note in report.notes:
        say(f"note: {note}")


def _by_label(drift: dict[str, list[str]], replicas: int) -> list[str]:
    """Drift grouped by what it is: 'selected, not READY (all replicas)', or the replicas it is on."""
    labels: dict[str, list[str]] = {}
    for url, found in drift.items():
        for label in found:
            labels.setdefault(label, []).append(url)
    return [f"{label} ({'all replicas' if len(urls) == replicas else ', '.join(urls)})" for label, urls in
            labels.items()]


def render_rollout(rollout) -> None:
    """One row per replica: what it served before, after, and how its step ended."""
    from rich.table import Table
    from rich.text import Text

    what = "plan" if rollout.dry_run else "rollout"
    console = _status_console()
    console.print(Text(safe(f"{what}: {rollout.action} over {len(rollout.steps)} replica"
                            f"{'s' if len(rollout.steps) != 1 else ''}")), soft_wrap=True)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("replica", "before", "after", "outcome", "seconds", "detail"):
        table.add_column(column, no_wrap=True, justify="right" if column == "seconds" else "left")
    details: list[str] = []  # below the table, one line each, whole: what went wrong on a replica
    for step in rollout.steps:
        after = "-" if step.after is None else ", ".join(map(str, step.after)) or "none"
        table.add_row(*(Text(safe(cell)) for cell in (
            step.replica, ", ".join(map(str, step.before)) or "none", after, step.outcome,
            f"{step.seconds:.1f}" if step.seconds else "-",
            _footnote(details, step.message, f"{step.replica}: {step.message}"))))
    console.print(table)
    for n, detail in enumerate(details, 1):
        out(safe(f"({n}) {detail}"))
    if rollout.failure is not None:
        say(f"rollout stopped: {rollout.failure.replica} failed; the replicas not reached were not touched")


def _uptime(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


SERVER_FIELDS = (
    Field("name", "name", lambda s: s.name),
    Field("pid", "pid", lambda s: s.pid, right=True),
    Field("url", "url", lambda s: s.url),
    Field("repository", "repository", lambda s: s.repository),
    Field("mode", "mode", lambda s: s.mode),
    Field("uptime_s", "uptime", lambda s: s.uptime_s, cell=lambda s: _uptime(s.uptime_s)),
)


def render_servers(servers, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({"servers": [document(SERVER_FIELDS, s) for s in servers]}, indent=2))
        return
    if not servers:
        say("no local Triton is running (start one: tritonctl server start)")
        return
    print_table(SERVER_FIELDS, servers)


def render_infer(result, replica: str | None = None) -> None:
    """One inference's outcome on stdout; over a fleet each result starts with its replica, so stdout alone tells
    them apart."""
    served = "the server's choice" if result.version is None else result.version
    out(f"{replica + ': ' if replica else ''}{result.model} version {served}: {result.seconds * 1000:.1f} ms")
    for name in result.cast:
        say(f"note: the values of '{name}' were cast to the input's data type")
    for name, shape, dtype in result.outputs:
        out(f"  {name}  {dtype}  [{', '.join(map(str, shape))}]")


# the live view (status --watch), described once: a row per server, model and version
def _per_s(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ms(value) -> str:
    return "-" if value is None else f"{value:.2f}"


WATCH_FIELDS = (
    Field("model", "model", lambda r: r.model),
    Field("version", "version", lambda r: r.version, right=True),
    Field("state", "state", lambda r: r.state or "-"),
    Field("inferences_per_s", "inferences/s", lambda r: r.inferences_per_s, cell=lambda r: _per_s(r.inferences_per_s),
          right=True),
    Field("avg_request_ms", "avg ms", lambda r: r.avg_request_ms, cell=lambda r: _ms(r.avg_request_ms), right=True),
    Field("avg_queue_ms", "queue ms", lambda r: r.avg_queue_ms, cell=lambda r: _ms(r.avg_queue_ms), right=True),
    Field("failures", "failures", lambda r: r.failures, right=True),
)


@dataclass(frozen=True)
class _WatchRow:
    server: str
    rate: object  # a status.Rate


def watch_view(frame, interval: float, several: bool):
    """One reading of the live view: a header line and a table (with a server column over a fleet); servers that did
    not answer are lines below it."""
    from rich.console import Group
    from rich.text import Text

    shown = [Field(f.key, f.header, (lambda f: lambda row: f.value(row.rate))(f),
                   cell=(lambda f: lambda row: f.text(row.rate))(f), right=f.right) for f in WATCH_FIELDS]
    if several:
        shown.insert(0, Field("server", "server", lambda row: row.server))
    rows = [_WatchRow(r.url, rate) for r in frame.replicas for rate in r.rates]
    since = "first reading" if not frame.seconds else f"over the last {frame.seconds:.1f} s"
    parts = [Text(safe(f"{len(frame.replicas)} server{'s' * (len(frame.replicas) != 1)}, every {interval:g} s "
                       f"({since}); q or Ctrl-C leaves")), table(shown, rows)]
    parts += [Text(safe(f"{r.url}: {r.error}")) for r in frame.replicas if r.error]
    return Group(*parts)


class _Keys:
    """The terminal's keys, read one at a time without echo while the live view runs."""

    def __enter__(self):
        import termios
        import tty

        self._fd = sys.stdin.fileno()
        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd)
        return self

    def __exit__(self, *exc) -> None:
        import termios

        termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)

    def quit_within(self, seconds: float) -> bool:
        """Wait up to `seconds` for a key; True when it is q (or Q)."""
        import os
        import select
        import time

        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _w, _x = select.select([self._fd], [], [], left)
            if ready and os.read(self._fd, 1) in (b"q", b"Q"):
                return True
        return False


def live_status(frames, interval: float, several: bool) -> None:
    """Show each frame in place until q or Ctrl-C (both a normal end)."""
    from rich.live import Live

    console = _status_console()
    try:
        with _Keys() as keys, Live(console=console, auto_refresh=False, transient=False) as live:
            for frame in frames:
                live.update(watch_view(frame, interval, several), refresh=True)
                if keys.quit_within(interval):
                    return
    except KeyboardInterrupt:
        return
