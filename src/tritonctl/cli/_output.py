"""Renderers: data to stdout, one pure function per format. The only module that imports rich."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tritonctl.validate.model import Finding, Report
    from tritonctl.validate.registry import Rule


def _console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 200  # tables are not wrapped to 80 columns in pipes and files
    return Console(file=stream, highlight=False, soft_wrap=True, emoji=False, width=width)


# C0 and C1 control characters, DEL, and the bidirectional overrides: from input (a model name, a message, a
# file name) they could clear the screen, forge lines (a GitHub Actions `::error` under a newline) or reorder text
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_KEEP_NEWLINES = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/@\s:]*):[^/@\s]*@")


def _escape(m: re.Match) -> str:
    c = m.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def safe(text: str, *, keep_newlines: bool = False) -> str:
    """Text that prints anywhere: undecodable bytes of file names (surrogate escapes) become U+FFFD, control
    characters become escapes (\\x1b, \\n), and a password in a URL becomes ***."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:***@", text)
    return (_CONTROL_KEEP_NEWLINES if keep_newlines else _CONTROL).sub(_escape, text)


def out(line: str) -> None:
    """A result line on stdout, escaped like everything from input."""
    sys.stdout.write(safe(line) + "\n")


def out_text(text: str) -> None:
    """Lines of text on stdout (a diff, a config): escaped, its own newlines kept."""
    sys.stdout.write(safe(text, keep_newlines=True))


def _where(f: Finding) -> str:
    if f.line is None:
        return safe(f.path)
    return f"{safe(f.path)}:{f.line}:{f.column}"


def report_lines(report: Report) -> list[tuple[str, str]]:
    """(style, text) lines of the table format: one per finding plus Triton's message beneath."""
    lines = []
    for f in report.findings:
        style = "red" if f.severity.value == "error" else "yellow"
        lines.append((style, f"{_where(f)}: {f.severity.value} {f.code} {safe(f.message)}"))
        if f.triton_message:
            lines.append(("dim", f"    triton: {safe(f.triton_message)}"))
    return lines


def summary(report: Report) -> str:
    from tritonctl.validate.model import Severity

    errors, warnings = report.count(Severity.ERROR), report.count(Severity.WARNING)
    models = report.models_checked
    noun = "model" if models == 1 else "models"
    settings = f" (settings: {safe(report.settings_file)})" if report.settings_file else ""
    if not errors and not warnings:
        return f"{models} {noun} checked in {report.repository}: no problems{settings}"
    return (f"{models} {noun} checked in {report.repository}: {errors} error{'s' * (errors != 1)}, "
            f"{warnings} warning{'s' * (warnings != 1)}{settings}")


def render_table(report: Report) -> None:
    from rich.text import Text

    console = _console()
    for style, text in report_lines(report):
        console.print(Text(text, style=style))
    _console(stderr=True).print(Text(summary(report)))


def report_json(report: Report) -> str:
    from tritonctl.validate.model import Severity

    doc = {
        "schema": 1,
        "repository": report.repository,
        "settings": report.settings_file,
        "findings": [{k: safe(v) if isinstance(v, str) else v for k, v in f.as_dict().items()}
                     for f in report.findings],
        "summary": {
            "errors": report.count(Severity.ERROR),
            "warnings": report.count(Severity.WARNING),
            "models": report.models_checked,
            "files": report.files_checked,
        },
    }
    return json.dumps(doc, indent=2)


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def report_github(report: Report) -> str:
    lines = []
    current = None
    for f in sorted(report.findings, key=lambda f: f.path):
        if f.path != current:
            if current is not None:
                lines.append("::endgroup::")
            lines.append(f"::group::{_gh_data(safe(f.path))}")
            current = f.path
        props = [f"file={_gh_prop(safe(f.path))}"]
        if f.line is not None:
            props += [f"line={f.line}", f"col={f.column}"]
        props.append(f"title={f.code}")
        message = f.message + (f" (Triton: {f.triton_message})" if f.triton_message else "")
        lines.append(f"::{f.severity.value} {','.join(props)}::{_gh_data(safe(message))}")
    if current is not None:
        lines.append("::endgroup::")
    return "\n".join(lines)


def report_sarif(report: Report, cwd: str | None = None) -> str:
    """SARIF 2.1.0, as GitHub code scanning reads it: the rules that ran with their descriptions, each finding
    with its level, message and region; paths relative to the current folder (the checkout) when inside it."""
    import os

    from tritonctl import __version__

    base = os.path.abspath(cwd or os.getcwd())
    index = {rule.code: i for i, rule in enumerate(report.rules)}

    def location(f: Finding) -> dict:
        path = f.path
        artifact: dict = {"uri": path}
        if "://" not in path:
            absolute = os.path.abspath(path)
            if absolute == base or absolute.startswith(base.rstrip(os.sep) + os.sep):
                artifact = {"uri": os.path.relpath(absolute, base).replace(os.sep, "/"), "uriBaseId": "%SRCROOT%"}
            else:
                artifact = {"uri": Path(absolute).as_uri()}
        physical: dict = {"artifactLocation": artifact}
        if f.line is not None:
            physical["region"] = {"startLine": f.line, "startColumn": f.column or 1}
        return {"physicalLocation": physical}

    def result(f: Finding) -> dict:
        text = safe(f.message) + (f" (Triton: {safe(f.triton_message)})" if f.triton_message else "")
        out = {"ruleId": f.code, "level": f.severity.value, "message": {"text": text}, "locations": [location(f)],
               "properties": {"model": f.model, "tritonFirst": f.triton_first}}
        if f.code in index:
            out["ruleIndex"] = index[f.code]
        return out

    rules = [{"id": r.code, "name": r.name, "shortDescription": {"text": r.summary},
              "fullDescription": {"text": r.doc or r.summary},
              "defaultConfiguration": {"level": r.severity.value},
              "properties": {"family": r.family, "enforcedBy": "triton-core" if r.triton_core else "backend"}}
             for r in report.rules]
    log = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "tritonctl", "version": __version__, "rules": rules}},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(base).as_uri() + "/"}},
        "results": [result(f) for f in report.findings]}]}
    if report.settings_file:
        log["runs"][0]["properties"] = {"settingsFile": report.settings_file}
    return json.dumps(log, indent=2)


def _render_json(report: Report) -> None:
    print(report_json(report))


def _render_github(report: Report) -> None:
    text = report_github(report)
    if text:
        print(text)
    print(summary(report), file=sys.stderr)


def _render_sarif(report: Report) -> None:
    print(report_sarif(report))
    print(summary(report), file=sys.stderr)


# --format of validate: the option's choices are built from this table (cli/_options.py), so a format is a name
# and one function; nothing falls back to another format
FINDINGS_FORMATS = {"table": render_table, "json": _render_json, "github": _render_github, "sarif": _render_sarif}


def settings_warnings(settings) -> None:
    """What there is to say about the settings file in force (ignored, another user's), on stderr."""
    for warning in settings.warnings:
        say(f"warning: {warning}")


def render_report(report: Report, fmt: str) -> None:
    for note in report.notes:
        say(f"{'warning' if '[per-model-ignores]' in note else 'note'}: {note}")
    FINDINGS_FORMATS[fmt](report)


def render_settings(settings) -> None:
    """`validate --show-config`: each setting, its value, and where it comes from (a flag, file:line, default)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold")
    for column in ("setting", "value", "from"):
        table.add_column(column)
    for row in settings.shown():
        table.add_row(*(Text(safe(cell)) for cell in row))
    _console().print(table)


def render_rules(rules: list[Rule]) -> None:
    width = max(len(r.name) for r in rules)
    for r in sorted(rules, key=lambda r: r.code):
        print(f"{r.code}  {r.name:<{width}}  {r.severity.value:<7}  {r.summary}")


def render_rule(rule: Rule) -> None:
    console = _console()
    console.print(f"{rule.code} {rule.name} ({rule.severity.value}, {rule.family})", markup=False)
    console.print(rule.summary, markup=False)
    console.print()
    console.print(rule.doc, markup=False)


def say(message: str) -> None:
    """A diagnostic line on stderr."""
    print(safe(message), file=sys.stderr)


def error(message: str, hint: str | None = None) -> None:
    """An error line (and its hint) on stderr."""
    say(f"error: {message}")
    if hint:
        say(f"hint: {hint}")


def render_report_findings(findings: list[Finding]) -> None:
    from tritonctl.validate.model import Report

    for style, text in report_lines(Report("", list(findings))):
        print(text, file=sys.stderr)


def _size(n: int | float | None) -> str:
    from tritonctl.units import format_size

    return format_size(n)


def render_add(result) -> None:
    verb = "replaced" if result.replaced else "added"
    out(f"{verb} version {result.version} of '{result.model}': {result.path} "
        f"({', '.join(result.files)}; {_size(result.bytes)})")
    for name in result.stale_cleared:
        say(f"cleared '{name}' left by an interrupted run")


def render_onnx_added(added) -> None:
    """A version added with its config planned from the model file: the version, then the config's change."""
    render_add(added.result)
    if added.diff:
        print(added.diff, end="")
        say(f"updated {added.config} (inputs, outputs and max_batch_size from the model)")
    elif added.created_config:
        say(f"wrote {added.config}")


def render_versions(model: str, versions, fmt: str) -> None:
    import datetime

    if fmt == "json":
        print(json.dumps({"model": model, "versions": [
            {"version": v.version, "folder": v.folder, "model_file": v.model_file, "size": v.size,
             "sha256": v.sha256, "modified": v.modified, "served": v.served, "export": v.export}
            for v in versions]}, indent=2))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold")
    for col in ("version", "file", "size", "sha256", "modified", "served", "exported from"):
        table.add_column(col)
    for v in versions:
        when = datetime.datetime.fromtimestamp(v.modified).strftime("%Y-%m-%d %H:%M:%S") if v.modified else "-"
        source = (v.export or {}).get("source", "-") if v.export else "-"
        table.add_row(*(Text(safe(str(cell))) for cell in (
            v.version, v.model_file or "(missing)", _size(v.size), (v.sha256 or "-")[:12], when,
            "yes" if v.served else "no", source)))
    if not versions:
        say(f"model '{model}' has no version folder")
        return
    _console().print(table)


def render_policy(view) -> None:
    where = f" ({view.config_path}:{view.position[0]}:{view.position[1]})" if view.position else ""
    out(f"{view.model}: {view.policy}{where}")
    out(f"versions present: {', '.join(map(str, view.versions)) or 'none'}")
    out(f"served: {', '.join(map(str, view.served)) or 'none'}")


def render_policy_change(change, dry_run: bool) -> None:
    if change.diff:
        out_text(change.diff)
    verb = "would set" if dry_run else "set"
    say(f"{verb} the version policy of '{change.model}': {change.old} -> {change.new} (serves "
        f"{', '.join(map(str, change.served))})")
    if change.written_to is not None:
        say(f"{change.config_path} is a symbolic link: {'would write' if dry_run else 'wrote'} its target "
            f"{change.written_to}")
    if change.missing:
        listed = ", ".join(map(str, change.missing))
        say(f"warning: the policy names version{'s' * (len(change.missing) != 1)} {listed}, which '{change.model}' "
            "does not have (TRT406): Triton serves the ones it finds")


def render_generated(generated) -> None:
    result = generated.result
    if result is None:
        out_text(generated.text)
        return
    if result.diff:
        out_text(result.diff)
    if result.written:
        say(f"{'wrote' if result.created else 'updated'} {safe(str(result.path))}")
    elif result.diff:
        say(f"not written: {safe(str(result.path))} (add --write)")
    else:
        say(f"{safe(str(result.path))} is up to date")


def render_shown(shown, fmt: str) -> None:
    from tritonctl.generate import render, to_triton_json

    if fmt == "json":
        print(json.dumps(to_triton_json(shown.config), indent=2))
    else:
        out_text(render(shown.config))
    for note in shown.notes:
        say(f"note: {note}")


def render_load_failure(repository, model: str) -> None:
    """Triton said only "failed to poll from model repository": show what validate finds in that model."""
    from tritonctl.validate.engine import validate_repository

    try:
        report = validate_repository(repository, models=[model])
    except Exception:  # noqa: BLE001 - the load error itself is reported by the caller
        return
    errors = [f for f in report.findings if f.severity.value == "error"]
    if errors:
        say(f"Triton's log has the reason; validate finds in '{model}':")
        render_report_findings(errors)


STATUS_WIDTH = 100  # the status table fits 100 columns: long reasons are cut with "…"


def _debug() -> bool:
    import os

    return os.environ.get("TRITONCTL_DEBUG") == "1"


def status_json(report) -> dict:
    """The status report as JSON: Triton's reasons on one line (as Triton wrote them under TRITONCTL_DEBUG=1)."""
    from dataclasses import asdict

    doc = asdict(report)
    for model in doc["models"]:
        for version in model["versions"]:
            full = version.pop("reason_full")
            if _debug():
                version["reason"] = full
    return doc


def _status_console():
    """A console for the server tables, STATUS_WIDTH columns at most (fewer on a narrower terminal); its width."""
    import shutil

    from rich.console import Console

    width = min(shutil.get_terminal_size((STATUS_WIDTH, 24)).columns, STATUS_WIDTH) if sys.stdout.isatty() \
        else STATUS_WIDTH
    return Console(file=sys.stdout, highlight=False, emoji=False, width=width), width


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
    import datetime

    if fmt == "json":
        print(json.dumps(status_json(report), indent=2))
        return
    from rich.table import Table
    from rich.text import Text

    console, width = _status_console()
    console.print(Text(safe(f"Triton {report.server_version} at {report.url}; repository "
                            f"{report.repository or '(not read)'}")), soft_wrap=True)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("model", "version", "disk", "state", "inferences", "last", "policy"):
        table.add_column(column, no_wrap=True, justify="right" if column in ("version", "inferences") else "left")
    table.add_column("drift")
    reasons, errors = [], []  # below the table, one line each: Triton's reasons (numbered), config errors
    for m in report.models:
        rows = m.versions or [None]
        for i, v in enumerate(rows):
            last = "-"
            if v is not None and v.last_inference_ms:
                last = datetime.datetime.fromtimestamp(v.last_inference_ms / 1000).strftime("%H:%M:%S")
            drift = [*(m.drift if i == 0 else []), *(v.drift if v else [])]
            if i == 0 and m.config_error is not None:
                drift.append("config error (below)")
            elif i == 0 and not m.loaded and not drift:
                drift.append("not loaded")
            state = (v.state or "-") if v is not None else "-"
            if v is not None and v.state != "READY" and v.reason:
                reasons.append(f"{m.name} {v.version}: {v.reason_full if _debug() else v.reason}")
                state += f" ({len(reasons)})"
            table.add_row(*(Text(safe(cell)) for cell in (
                m.name if i == 0 else "", str(v.version) if v else "-", ("yes" if v.on_disk else "no") if v else "-",
                state, str(v.inference_count) if v else "-", last, (m.policy or "-") if i == 0 else "",
                ", ".join(drift))))
        if m.config_error is not None:
            errors.append(f"{m.name}: {m.config_error}")
    console.print(table)
    for n, reason in enumerate(reasons, 1):  # cut to the table's width; the whole text: TRITONCTL_DEBUG=1
        out(_cut(safe(f"({n}) {reason}"), width))
    for line in errors:  # a config error whole: its position and what to change
        out(line)


def fleet_status_json(report, label=None) -> dict:
    """The fleet status as JSON: per replica its own status document (as `status -f json` gives it), and per model
    and version who serves it."""
    label = label or (lambda text: text)
    return {
        "repository": label(report.repository) if report.repository else None,
        "replicas": [{"url": r.url, "reachable": r.reachable, "error": r.error, "triton_version": r.triton_version,
                      "status": status_json(r.report.relabeled(label)) if r.report is not None else None}
                     for r in report.replicas],
        "models": [{"name": m.name, "policy": m.policy, "configs_differ": m.configs_differ, "drift": m.drift,
                    "versions": [{"version": v.version, "ready": v.ready, "not_ready": v.not_ready, "drift": v.drift}
                                 for v in m.versions]} for m in report.models],
        "notes": report.notes,
    }


def render_fleet_status(report, fmt: str, label=None) -> None:
    """Per model and version: READY on how many of the reachable replicas, and who disagrees; then the replicas."""
    if fmt == "json":
        print(json.dumps(fleet_status_json(report, label), indent=2))
        return
    from rich.table import Table
    from rich.text import Text

    reachable = report.reachable
    console, _width = _status_console()
    repository = label(report.repository) if label and report.repository else report.repository
    console.print(Text(safe(f"{len(reachable)} of {len(report.replicas)} replicas answered; repository "
                            f"{repository or '(not read)'}")), soft_wrap=True)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("model", "version", "ready", "policy", "disagreeing"):
        table.add_column(column, no_wrap=column != "disagreeing", justify="right" if column == "version" else "left")
    for m in report.models:
        for i, v in enumerate(m.versions or [None]):
            notes = []
            if i == 0 and m.configs_differ:
                notes.append(f"served config differs on {', '.join(m.configs_differ)}")
            if i == 0:
                notes += _by_label(m.drift, len(reachable))
            if v is not None:
                if v.ready and v.not_ready:
                    notes.append("not READY on " + ", ".join(f"{u} ({state})" for u, state in v.not_ready.items()))
                notes += _by_label(v.drift, len(reachable))
            ready = f"{len(v.ready)}/{len(reachable)}" if v is not None else "-"
            table.add_row(*(Text(safe(cell)) for cell in (m.name if i == 0 else "", str(v.version) if v else "-",
                                                          ready, (m.policy or "-") if i == 0 else "",
                                                          "; ".join(notes))))
    console.print(table)
    servers = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("replica", "triton", "models loaded", "note"):
        servers.add_column(column, no_wrap=True)
    errors: list[str] = []  # below the table, one line each, whole: why a replica did not answer
    for r in report.replicas:
        loaded = sum(1 for m in r.report.models if any(v.state == "READY" for v in m.versions)) if r.report else 0
        if not r.reachable:
            errors.append(f"{r.url}: {r.error}")
        note = "" if r.reachable else f"unreachable ({len(errors)})"
        servers.add_row(*(Text(safe(cell)) for cell in (r.url, r.triton_version or "-", str(loaded) if r.reachable
                                                        else "-", note)))
    console.print(servers)
    for n, line in enumerate(errors, 1):
        out(safe(f"({n}) {line}"))
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
    console, _width = _status_console()
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


def render_servers(servers, fmt: str) -> None:
    from dataclasses import asdict

    if fmt == "json":
        print(json.dumps({"servers": [asdict(s) for s in servers]}, indent=2))
        return
    if not servers:
        say("no local Triton is running (start one: tritonctl server start)")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("name", "pid", "url", "repository", "mode", "uptime"):
        table.add_column(col)
    for s in servers:
        minutes, seconds = divmod(int(s.uptime_s), 60)
        hours, minutes = divmod(minutes, 60)
        uptime = f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"
        table.add_row(*(Text(safe(str(c))) for c in (s.name, s.pid, s.url, s.repository, s.mode, uptime)))
    _console().print(table)


def render_infer(result, replica: str | None = None) -> None:
    """One inference's outcome on stdout; over a fleet each result starts with its replica, so stdout alone tells
    them apart."""
    served = "the server's choice" if result.version is None else result.version
    out(f"{replica + ': ' if replica else ''}{result.model} version {served}: {result.seconds * 1000:.1f} ms")
    for name in result.cast:
        say(f"note: the values of '{name}' were cast to the input's data type")
    for name, shape, dtype in result.outputs:
        out(f"  {name}  {dtype}  [{', '.join(map(str, shape))}]")


class _Status:
    """A spinner line on stderr for long steps (a plain line per step when stderr is not a terminal)."""

    def __init__(self) -> None:
        self.status = None

    def __enter__(self):
        if sys.stderr.isatty():
            self.status = _console(stderr=True).status("")
            self.status.__enter__()
        return self.update

    def update(self, message: str) -> None:
        if self.status is not None:
            self.status.update(message)
        else:
            say(message)

    def __exit__(self, *exc) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)


def status_line() -> _Status:
    return _Status()


@contextlib.contextmanager
def working(message: str):
    """A spinner with `message` on stderr while a step runs, on a terminal only (a script's stderr stays clean)."""
    if not sys.stderr.isatty():
        yield
        return
    with _console(stderr=True).status(safe(message)):
        yield


def render_export(result) -> None:
    for p in result.parity:
        verdict = "ok" if p.ok else "FAILED"
        say(f"parity {p.output}: max abs {p.max_abs:.3g}, max rel {p.max_rel:.3g} ({', '.join(p.cases)}) {verdict}")
    say(f"exported {result.kind} in {result.seconds:.1f} s (opset {result.record['opset']}, IR "
        f"{result.record['ir_version']})")


def sync_progress(fmt: str):
    """(progress, planned) callbacks for a sync: a rich progress bar (bytes, files, rate) on a terminal, nothing
    when stderr is piped or the output is JSON."""
    import contextlib

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


def sync_json(result) -> dict:
    plan = result.plan
    return {
        "source": plan.source,
        "destination": plan.destination,
        "dry_run": result.dry_run,
        "seconds": round(result.seconds, 3),
        "summary": {
            "uploaded": plan.count("upload"), "copied": plan.count("copy"), "created": plan.count("mkdir"),
            "deleted": plan.count("delete"), "unchanged": plan.unchanged,
            "bytes_sent": plan.bytes("upload"), "bytes_unchanged": plan.unchanged_bytes,
        },
        "changes": [{"action": c.action, "path": c.rel, "size": c.size, "reason": c.reason} for c in plan.changes],
        "warnings": list(plan.warnings),
    }


def render_sync(result, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(sync_json(result), indent=2))
        return
    from rich.table import Table
    from rich.text import Text

    plan = result.plan
    verb = {"upload": "send", "copy": "copy", "mkdir": "create", "delete": "delete"} if result.dry_run else \
        {"upload": "sent", "copy": "copied", "mkdir": "created", "delete": "deleted"}
    if plan.changes:
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("action", "path", "size", "why"):
            table.add_column(column, justify="right" if column == "size" else "left")
        for c in plan.changes:
            table.add_row(*(Text(safe(cell)) for cell in (verb[c.action], c.rel, _size(c.size), c.reason)))
        _console().print(table)
    doc = sync_json(result)["summary"]
    head = "would sync" if result.dry_run else "synced"
    out(f"{head} {plan.source} -> {plan.destination}: {doc['uploaded']} sent ({_size(doc['bytes_sent'])}), "
        f"{doc['copied']} copied in place, {doc['deleted']} deleted, {doc['unchanged']} unchanged "
        f"({_size(doc['bytes_unchanged'])}) in {result.seconds:.1f} s")
    for warning in plan.warnings:
        say(f"warning: {warning}")
