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
from tritonctl.cli._output.findings import (  # noqa: F401
    FINDINGS_FORMATS,
    render_report,
    render_report_findings,
    render_rule,
    render_rules,
    render_settings,
    report_github,
    report_json,
    report_lines,
    report_sarif,
    summary,
)
from tritonctl.cli._output.repository import (  # noqa: F401
    render_add,
    render_export,
    render_generated,
    render_onnx_added,
    render_policy,
    render_policy_change,
    render_shown,
    render_versions,
)
from tritonctl.cli._output.servers import (  # noqa: F401
    STATUS_WIDTH,
    fleet_status_json,
    live_status,
    render_fleet_status,
    render_infer,
    render_rollout,
    render_servers,
    render_status,
    status_json,
)
from tritonctl.cli._output.sync import render_sync, sync_json, sync_progress  # noqa: F401
