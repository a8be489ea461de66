"""tritonctl tune's outputs: a row per candidate (declared once, table and JSON), the progress line per
candidate, the plot."""

from __future__ import annotations

import json

from tritonctl.cli._output.common import _console, out_text, say
from tritonctl.cli._output.fields import Field, document, print_table


def _chosen(trial, budget):
    """The measurement a candidate is judged by: its best within the budget, else its fastest."""
    return trial.best(budget) or trial.top


def trial_fields(report) -> tuple[Field, ...]:
    budget = report.budget

    def figure(name: str):
        def read(trial):
            m = _chosen(trial, budget)
            return None if m is None else round(getattr(m, name), 3)
        return read

    def cell(name: str, digits: int):
        def text(trial):
            value = figure(name)(trial)
            return "-" if value is None else f"{value:.{digits}f}"
        return text

    return (
        Field("winner", "", lambda t: report.best is t, cell=lambda t: "*" if report.best is t else ""),
        Field("instances", "inst", lambda t: t.candidate.instances, right=True),
        Field("dynamic_batching", "batch", lambda t: t.candidate.batching),
        Field("preferred_batch_size", "preferred", lambda t: list(t.candidate.preferred),
              cell=lambda t: ",".join(map(str, t.candidate.preferred)) or "-"),
        Field("max_queue_delay_us", "delay us", lambda t: t.candidate.queue_delay_us if t.candidate.batching
              else None, right=True),
        Field("concurrency", "conc", lambda t: getattr(_chosen(t, budget), "concurrency", None), right=True),
        Field("throughput", "infer/s", figure("throughput"), cell=cell("throughput", 1), right=True),
        Field("avg_ms", "avg ms", figure("avg_ms"), cell=cell("avg_ms", 2), right=True),
        Field("p99_ms", "p99 ms", figure("p99_ms"), cell=cell("p99_ms", 2), right=True),
        Field("verdict", "verdict", lambda t: t.verdict),
        Field("measurements", None, lambda t: [
            {"concurrency": m.concurrency, "throughput": round(m.throughput, 3), "avg_ms": round(m.avg_ms, 3),
             "p99_ms": round(m.p99_ms, 3)} for m in t.measurements]),
        Field("reloaded", None, lambda t: t.reloaded),
        Field("seconds", None, lambda t: round(t.seconds, 3)),
        Field("reason", None, lambda t: t.reason or None),  # on a line of its own under the table
    )


REPORT_FIELDS = (
    Field("server", None, lambda r: r.server),
    Field("model", None, lambda r: r.model),
    Field("version", None, lambda r: r.version),
    Field("generator", None, lambda r: r.generator),
    Field("budget", None, lambda r: {"latency": r.budget.kind, "ms": r.budget.ms}
          if r.budget.ms != float("inf") else None),
    Field("concurrency", None, lambda r: r.concurrencies),
    Field("stability", None, lambda r: r.rule),
    Field("seconds", None, lambda r: round(r.seconds, 3)),
    Field("restored_versions", None, lambda r: r.restored),
)


def tune_json(report) -> dict:
    doc = document(REPORT_FIELDS, report)
    fields = trial_fields(report)
    doc["candidates"] = [document(fields, t) for t in report.trials]
    best = report.best
    doc["winner"] = None if best is None else {**best.candidate.settings(), "index": report.winner}
    written = report.written
    doc["written"] = None if written is None else {"config_path": str(written.written_to or written.config_path),
                                                   "diff": written.diff}
    return doc


def render_tune(report, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(tune_json(report), indent=2))
        return
    print_table(trial_fields(report), report.trials)
    for i, trial in enumerate(report.trials, 1):  # the table fits 80 columns; reasons follow it
        if trial.reason:
            say(f"  {i}. {trial.candidate.label}: {trial.verdict}: {trial.reason}")
    best = report.best
    if best is None:
        say(f"no candidate met the budget ({report.budget.label})")
    else:
        chosen = best.best(report.budget)
        say(f"winner: {best.candidate.label}: {chosen.throughput:.1f} infer/s at concurrency {chosen.concurrency}, "
            f"p99 {chosen.p99_ms:.1f} ms, average {chosen.avg_ms:.1f} ms ({report.budget.label})")
    written = report.written
    if written is not None and written.diff:
        out_text(written.diff)
        say(f"wrote {written.written_to or written.config_path}")
    elif written is not None:
        say(f"{written.config_path} already holds these settings")
    restored = ", ".join(map(str, report.restored)) or "none"
    say(f"{len(report.trials)} candidates in {report.seconds:.1f} s with {report.generator}; the server serves what "
        f"it served before (READY: {restored})")


def tune_progress():
    """A progress callback for tune: one line per candidate on stderr, on a terminal only."""
    import sys

    if not sys.stderr.isatty():
        return None
    console = _console(stderr=True)

    def progress(trial, index: int, total: int) -> None:
        if trial.verdict == "pending":
            return
        m = trial.top
        figures = f"{m.throughput:.1f} infer/s, p99 {m.p99_ms:.1f} ms" if m is not None else trial.reason
        console.print(f"[{index}/{total}] {trial.candidate.label}: {trial.verdict} ({figures}, "
                      f"{trial.seconds:.1f} s)", markup=False, highlight=False)

    return progress


def plot_tune(report, path) -> None:
    """Throughput against p99 latency, a point per candidate measured, the budget a line, the winner circled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for trial in report.trials:
        for m in trial.measurements:
            ax.scatter(m.p99_ms if report.budget.kind == "p99" else m.avg_ms, m.throughput, s=36,
                       color="tab:green" if trial.verdict == "within" else "tab:gray")
            ax.annotate(f"{trial.candidate.instances}i{' b' if trial.candidate.batching else ''}"
                        f"{' d' + str(trial.candidate.queue_delay_us) if trial.candidate.batching else ''}"
                        f"{' c' + str(m.concurrency) if len(report.concurrencies) > 1 else ''}",
                        (m.p99_ms if report.budget.kind == "p99" else m.avg_ms, m.throughput),
                        textcoords="offset points", xytext=(5, 4), fontsize=8)
    if report.budget.ms != float("inf"):
        ax.axvline(report.budget.ms, color="tab:red", linestyle="--", label=report.budget.label)
    best = report.best
    if best is not None:
        m = best.best(report.budget)
        ax.scatter(m.p99_ms if report.budget.kind == "p99" else m.avg_ms, m.throughput, s=160, facecolors="none",
                   edgecolors="tab:blue", linewidths=2, label=f"winner: {best.candidate.label}")
    ax.set_xlabel(f"{'p99' if report.budget.kind == 'p99' else 'average'} latency (ms)")
    ax.set_ylabel("throughput (inferences/s)")
    ax.set_title(f"tritonctl tune {report.model} (version {report.version}) with {report.generator}")
    ax.grid(True, alpha=0.3)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
