"""validate's output (table, JSON, GitHub annotations, SARIF), its settings, and the rules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tritonctl.validate.model import Finding, Report
    from tritonctl.validate.registry import Rule

from tritonctl.cli._output.common import _console, safe, say


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
    """The findings on stdout, the summary on stderr: written as rich writes them off a terminal, without importing
    rich (cli/_plain.lines_text), else by rich with their styles."""
    from tritonctl.cli._plain import lines_text, plain_stream

    lines = report_lines(report)
    for stream, styled in ((sys.stdout, lines), (sys.stderr, [("", summary(report))])):
        text = lines_text([line for _style, line in styled]) if plain_stream(stream) else None
        if text is not None:
            stream.write(text)
            stream.flush()  # as rich does: the findings are out before the summary
            continue
        from rich.text import Text

        console = _console(stderr=stream is sys.stderr)
        for style, line in styled:
            console.print(Text(line, style=style))


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
    from tritonctl.cli._plain import rule_lines

    for line in rule_lines(rules):
        print(line)


def render_rule(rule: Rule) -> None:
    console = _console()
    console.print(f"{rule.code} {rule.name} ({rule.severity.value}, {rule.family})", markup=False)
    console.print(rule.summary, markup=False)
    console.print()
    console.print(rule.doc, markup=False)


def render_report_findings(findings: list[Finding]) -> None:
    from tritonctl.validate.model import Report

    for style, text in report_lines(Report("", list(findings))):
        print(text, file=sys.stderr)
