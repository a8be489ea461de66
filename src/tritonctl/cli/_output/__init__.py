"""Renderers: data to stdout, diagnostics to stderr; the only modules that import rich. One module per command
family (findings, repository, servers, sync) over what they share (common); the names are here for the commands."""

from tritonctl.cli._output.common import (  # noqa: F401
    _console,
    _debug,
    _size,
    error,
    out,
    out_text,
    render_carried,
    safe,
    say,
    settings_warnings,
    status_line,
    working,
)

# the renderers of each command family are imported when a command first asks for one (PEP 562): a command
# imports the family it renders with, not all four (a server command's start is measured in milliseconds)
_FAMILY = {
    "FINDINGS_FORMATS": "findings",
    "render_report": "findings",
    "render_report_findings": "findings",
    "render_rule": "findings",
    "render_rules": "findings",
    "render_settings": "findings",
    "report_github": "findings",
    "report_json": "findings",
    "report_lines": "findings",
    "report_sarif": "findings",
    "summary": "findings",
    "render_add": "repository",
    "render_export": "repository",
    "render_generated": "repository",
    "render_onnx_added": "repository",
    "render_policy": "repository",
    "render_policy_change": "repository",
    "render_shown": "repository",
    "render_versions": "repository",
    "STATUS_WIDTH": "servers",
    "fleet_status_json": "servers",
    "live_status": "servers",
    "render_fleet_status": "servers",
    "render_infer": "servers",
    "render_rollout": "servers",
    "render_servers": "servers",
    "render_status": "servers",
    "status_json": "servers",
    "render_sync": "sync",
    "sync_json": "sync",
    "sync_progress": "sync",
}


def __getattr__(name: str):
    """A renderer (its family imported), or a family module itself."""
    import importlib

    if name in _FAMILY.values():
        return importlib.import_module(f"{__name__}.{name}")
    family = _FAMILY.get(name)
    if family is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{family}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_FAMILY])
