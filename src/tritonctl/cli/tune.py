"""tritonctl tune MODEL: the serving settings of a model, found on a running server under a latency budget."""

from __future__ import annotations

from typing import Annotated, Optional


from tritonctl.cli._params import Option
from tritonctl.cli._options import DataFormat, DataFormatOpt, ModelArg, ServerRepoOpt, project_start, talks_to_servers
from tritonctl.io.stability import STABILITY_RULE


def _numbers(text: str, what: str, low: int, high: int) -> tuple[int, ...]:
    from tritonctl.errors import UsageError

    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or any(not low <= v <= high for v in values):
        raise UsageError(f"{what} '{text}' is not a comma-separated list of integers from {low} to {high}")
    return tuple(dict.fromkeys(values))


def _batching(text: str) -> tuple[bool, ...]:
    from tritonctl.errors import UsageError

    words = [w.strip().lower() for w in text.split(",") if w.strip()]
    if not words or any(w not in ("on", "off") for w in words):
        raise UsageError(f"--batching '{text}' is not off, on or off,on")
    return tuple(dict.fromkeys(w == "on" for w in words))


def _preferred(items: list[str] | None) -> tuple[tuple[int, ...], ...] | None:
    if not items:
        return None
    return tuple(dict.fromkeys(() if item.strip().lower() == "none" else
                               _numbers(item, "--preferred", 1, 1 << 30) for item in items))


def _shapes(items: list[str] | None) -> dict[str, list[int]]:
    from tritonctl.inference import parse_shapes

    # NAME:DIMS (perf_analyzer's form) or NAME=DIMS (tritonctl infer's)
    return parse_shapes([item if "=" in item else "=".join(item.rsplit(":", 1)) for item in items or []])


@talks_to_servers(timeout=120.0)
def tune(
    model: ModelArg,
    p99: Annotated[Optional[float], Option("--p99", min=0.001, metavar="MS",
                                           help="Latency budget: the 99th percentile, in milliseconds.")] = None,
    latency: Annotated[Optional[float], Option("--latency", min=0.001, metavar="MS",
                                               help="Latency budget: the average, in milliseconds.")] = None,
    concurrency: Annotated[str, Option("--concurrency", "-c", metavar="LIST",
                                       help="Requests in flight, or a comma-separated list (each candidate "
                                            "is judged by its best within the budget).")] = "8",
    instances: Annotated[str, Option("--instances", metavar="LIST",
                                     help="Instance counts to try (per GPU for KIND_GPU groups).")] = "1,2",
    batching: Annotated[Optional[str], Option("--batching", metavar="LIST",
                                              help="Dynamic batching to try: off, on or off,on (default: "
                                                   "off,on where max_batch_size > 0, else off).")] = None,
    preferred: Annotated[Optional[list[str]], Option(
        "--preferred", metavar="SIZES", help="Preferred batch sizes to try with batching, comma-separated; again "
        "for another set; 'none' for none (default: none).")] = None,
    queue_delay: Annotated[str, Option("--queue-delay", metavar="LIST",
                                       help="Max queue delays to try with batching, in microseconds.")]
    = "0,500",
    version: Annotated[Optional[int], Option("--version", "-v", metavar="VERSION",
                                             help="The version measured (default: the latest READY).")] = None,
    shape: Annotated[Optional[list[str]], Option("--shape", "-s", metavar="NAME:DIMS",
                                                 help="An input's shape (with the batch dimension, 1).")] = None,
    input_data: Annotated[Optional[str], Option("--input-data", metavar="FILE",
                                                help="Request values in perf_analyzer's JSON format.")] = None,
    perf_analyzer: Annotated[Optional[str], Option(
        "--perf-analyzer", metavar="PATH", help="perf_analyzer to measure with [env: TRITONCTL_PERF_ANALYZER] "
        "(default: the one scripts/setup_perf_analyzer.py installed, else on PATH, else the built-in "
        "generator).")] = None,
    built_in: Annotated[bool, Option("--built-in", help="Measure with the built-in generator even where "
                                                        "perf_analyzer is found.")] = False,
    write: Annotated[bool, Option("--write", help="Put the winner's settings into MODEL's config.pbtxt "
                                                  "(only those fields; validated first) and print the "
                                                  "diff.")] = False,
    plot: Annotated[Optional[str], Option("--plot", metavar="PNG",
                                          help="Draw throughput against latency into this PNG file, a point "
                                               "per candidate (needs matplotlib: tritonctl[plot]).")] = None,
    yes: Annotated[bool, Option("--yes", "-y", help="Tune even a server that takes other traffic.")] = False,
    fmt: DataFormatOpt = DataFormat.table,
    repo: ServerRepoOpt = None,
    targets=None,
) -> None:
    """Find the instance count, dynamic batching, preferred batch sizes and queue delay that give MODEL the most
    throughput within a latency budget, on a running server in EXPLICIT mode.

    Each candidate is loaded through the load API with a config override (nothing is written while it
    searches) and measured with random inputs shaped from the served config; a branch stops when more instances
    or a longer delay gain less than 5 %. Afterwards the server serves exactly what it served before, also after a
    failed candidate or Ctrl-C.
    """
    from pathlib import Path

    from tritonctl.cli._output import say
    from tritonctl.cli._output.tune import plot_tune, render_tune, tune_progress
    from tritonctl.errors import ExitCode, TritonctlError, UsageError, Verdict
    from tritonctl.server_state import perf_analyzer_path
    from tritonctl.targets import fleets_holding
    from tritonctl.tune import (Budget, Generator, TrafficWatch, check_writable, choose_generator, tune as run_tune,
                                write_settings)

    if p99 is not None and latency is not None:
        raise UsageError("give one latency budget: --p99 or --latency")
    budget = Budget("avg", latency) if latency is not None else Budget("p99", p99 if p99 is not None
                                                                       else float("inf"))
    if len(targets) > 1:
        raise UsageError("tune measures one server at a time; pass one --url (or --server)",
                         hint="tune one replica, then roll its settings out with --write and tritonctl load")
    endpoint = targets.first.endpoint
    fleets = ["--fleet"] if targets.several else fleets_holding(endpoint.url, project_start(repo))
    if fleets and not yes:
        named = "a fleet" if targets.several else f"fleet {', '.join(repr(f) for f in fleets)}"
        raise TritonctlError(f"the server at {endpoint.label} is a replica of {named}: tuning changes what it "
                             f"serves while the other replicas do not", hint="pass --yes to tune it anyway")
    if plot is not None:
        from tritonctl.io.extras import require

        require("plot", "--plot", ("matplotlib",))
    local = None
    if write:
        from tritonctl.cli.live import local_repository

        local = local_repository(repo, targets, None)
        if local is None:
            raise UsageError("--write needs the repository (--repo) the model's config.pbtxt is in")
        check_writable(local.path, model)  # before the search, not after it
    space = dict(instances=_numbers(instances, "--instances", 1, 64),
                 delays=_numbers(queue_delay, "--queue-delay", 0, 10_000_000),
                 preferred=_preferred(preferred), batching=_batching(batching) if batching else None)
    concurrencies = list(_numbers(concurrency, "--concurrency", 1, 1024))
    traffic = TrafficWatch(endpoint)

    def unless_busy() -> None:
        busy = traffic.busy()
        if busy and not yes:
            raise TritonctlError(f"the server at {endpoint.label} is taking traffic ({', '.join(busy)}): tuning "
                                 f"loads other configs of '{model}' and adds load", hint="pass --yes to tune it anyway")
        if busy:
            say(f"warning: the server is taking traffic ({', '.join(busy)}); the figures include its effect")

    generator = Generator() if built_in else choose_generator(perf_analyzer, perf_analyzer_path())
    if generator.binary is None and not built_in:
        say("note: no perf_analyzer found: measuring with the built-in generator (scripts/setup_perf_analyzer.py "
            "installs perf_analyzer 2.51)")
    report = run_tune(endpoint, model, budget=budget, concurrencies=concurrencies, space_options=space,
                      generator=generator, version=version, shapes=_shapes(shape),
                      input_data=Path(input_data) if input_data else None, progress=tune_progress(),
                      timeout=targets.first.endpoint.timeout, before_loading=unless_busy)
    if write and report.best is not None:
        report.written = write_settings(local.path, model, report.best.candidate, report.served)
    render_tune(report, fmt.value)
    if plot is not None:
        plot_tune(report, plot)
        say(f"plot: {plot}")
    if report.best is None:
        raise Verdict(ExitCode.FINDINGS)


def _with_rule(doc: str) -> str:
    import inspect

    return f"{inspect.cleandoc(doc)}\n\nStability rule: {STABILITY_RULE}."


tune.__doc__ = _with_rule(tune.__doc__)
