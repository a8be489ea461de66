"""tritonctl sync's progress bar and its result (table and JSON)."""

from __future__ import annotations

import contextlib
import json
import sys
from tritonctl.cli._output.common import _console, _size, out, say
from tritonctl.cli._output.fields import Field, document, print_table


def sync_progress(fmt: str):
    """(progress, planned) callbacks for a sync: a rich progress bar (bytes, files, rate) on a terminal, nothing
    when stderr is piped or the output is JSON."""

    @contextlib.contextmanager
    def manage():
        if fmt == "json" or not sys.stderr.isatty():
            yield (lambda _n: None), (lambda _plan: None)
            return
        from rich.progress import BarColumn, DownloadColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
        from rich.text import Text

        class BinarySpeed(ProgressColumn):  # rich's TransferSpeedColumn counts in decimal units
            def render(self, task):
                speed = task.finished_speed or task.speed
                return Text("?" if speed is None else f"{_size(speed)}/s", style="progress.data.speed")

        bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True),
                       BinarySpeed(), TimeRemainingColumn(), console=_console(stderr=True), transient=True)
        task = bar.add_task("syncing", total=None)

        def planned(plan) -> None:
            files = plan.count("upload")
            bar.update(task, total=plan.bytes("upload"), description=f"syncing {files} file{'s' * (files != 1)}")

        with bar:
            yield (lambda n: bar.advance(task, n)), planned

    return manage()


_DONE = {"upload": "sent", "copy": "copied", "mkdir": "created", "delete": "deleted"}
_PLANNED = {"upload": "send", "copy": "copy", "mkdir": "create", "delete": "delete"}


def change_fields(dry_run: bool) -> tuple[Field, ...]:
    verbs = _PLANNED if dry_run else _DONE
    return (
        Field("action", "action", lambda c: c.action, cell=lambda c: verbs[c.action]),
        Field("path", "path", lambda c: c.rel),
        Field("size", "size", lambda c: c.size, cell=lambda c: _size(c.size), right=True),
        Field("reason", "why", lambda c: c.reason),
    )


SUMMARY_FIELDS = (
    Field("uploaded", None, lambda p: p.count("upload")),
    Field("copied", None, lambda p: p.count("copy")),
    Field("created", None, lambda p: p.count("mkdir")),
    Field("deleted", None, lambda p: p.count("delete")),
    Field("unchanged", None, lambda p: p.unchanged),
    Field("bytes_sent", None, lambda p: p.bytes("upload")),
    Field("bytes_unchanged", None, lambda p: p.unchanged_bytes),
)
SYNC_FIELDS = (
    Field("source", None, lambda r: r.plan.source),
    Field("destination", None, lambda r: r.plan.destination),
    Field("dry_run", None, lambda r: r.dry_run),
    Field("seconds", None, lambda r: round(r.seconds, 3)),
    Field("summary", None, lambda r: document(SUMMARY_FIELDS, r.plan)),
    Field("changes", None, lambda r: [document(change_fields(r.dry_run), c) for c in r.plan.changes]),
    Field("warnings", None, lambda r: list(r.plan.warnings)),
)


def sync_json(result) -> dict:
    return document(SYNC_FIELDS, result)


def render_sync(result, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(sync_json(result), indent=2))
        return
    plan = result.plan
    if plan.changes:
        print_table(change_fields(result.dry_run), plan.changes)
    doc = sync_json(result)["summary"]
    head = "would sync" if result.dry_run else "synced"
    out(f"{head} {plan.source} -> {plan.destination}: {doc['uploaded']} sent ({_size(doc['bytes_sent'])}), "
        f"{doc['copied']} copied in place, {doc['deleted']} deleted, {doc['unchanged']} unchanged "
        f"({_size(doc['bytes_unchanged'])}) in {result.seconds:.1f} s")
    for warning in plan.warnings:
        say(f"warning: {warning}")
