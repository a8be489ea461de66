"""The repository's commands: version add and list, policy, config generate and show, export."""

from __future__ import annotations

import json
from tritonctl.cli._output.common import _size, out, out_text, safe, say
from tritonctl.cli._output.fields import Field, document, print_table


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


def _when(seconds: float | None) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S") if seconds else "-"


VERSION_LIST_FIELDS = (
    Field("version", "version", lambda v: v.version, right=True),
    Field("folder", None, lambda v: v.folder),
    Field("model_file", "file", lambda v: v.model_file, cell=lambda v: v.model_file or "(missing)"),
    Field("size", "size", lambda v: v.size, cell=lambda v: _size(v.size), right=True),
    Field("sha256", "sha256", lambda v: v.sha256, cell=lambda v: (v.sha256 or "-")[:12]),
    Field("modified", "modified", lambda v: v.modified, cell=lambda v: _when(v.modified)),
    Field("served", "served", lambda v: v.served),
    Field("export", "exported from", lambda v: v.export, cell=lambda v: (v.export or {}).get("source", "-")),
)


def render_versions(model: str, versions, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({"model": model, "versions": [document(VERSION_LIST_FIELDS, v) for v in versions]},
                         indent=2))
        return
    if not versions:
        say(f"model '{model}' has no version folder")
        return
    print_table(VERSION_LIST_FIELDS, versions)


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


def render_export(result) -> None:
    for p in result.parity:
        verdict = "ok" if p.ok else "FAILED"
        say(f"parity {p.output}: max abs {p.max_abs:.3g}, max rel {p.max_rel:.3g} ({', '.join(p.cases)}) {verdict}")
    say(f"exported {result.kind} in {result.seconds:.1f} s (opset {result.record['opset']}, IR "
        f"{result.record['ir_version']})")
