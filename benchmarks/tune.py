"""`tritonctl tune` beside Model Analyzer on the same server, model, search space and concurrency, in one run.

    python benchmarks/tune.py [--budget MS] [--concurrency N] [--runs N] [--repeats N]

The model sleeps 5 ms per call plus 0.2 ms per item (python backend, max_batch_size 16), on a local Triton
started for the run. The search space of both: instance count 1 and 2, dynamic batching with max queue delay 0 and
500 us (Model Analyzer's manual search, `run_config_search_disable`, plus the default config it always measures;
tritonctl also measures 2 instances without batching), at one concurrency, under a p99 budget.
Model Analyzer 1.58 runs in its own venv (`.cache/model-analyzer-venv`, made on first use with pip) in remote
mode (`triton_launch_mode: remote`, `dcgm_disable`, `cpu_only`), with the same perf_analyzer 2.51
(scripts/setup_perf_analyzer.py). Printed: each tool's wall time, the median of --runs interleaved runs (target:
tritonctl at most a third of Model Analyzer's), where tritonctl's went, each winner, then both winners measured
again with perf_analyzer in the same run (interleaved, the median of --repeats; target: tritonctl's winner at least
as fast within the budget), and the built-in generator beside perf_analyzer on tritonctl's winner (target: within
10 %).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bytecode import compile_sources

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]
MA_VENV = ROOT / ".cache" / "model-analyzer-venv"
MA_VERSION = "1.58.0"
CONFIG = """\
backend: "python"
max_batch_size: 16
input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
"""
MODEL = """\
import time

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        items = sum(pb_utils.get_input_tensor_by_name(r, "x").as_numpy().shape[0] for r in requests)
        time.sleep(0.005 + 0.0002 * items)
        return [pb_utils.InferenceResponse([pb_utils.Tensor(
            "y", pb_utils.get_input_tensor_by_name(r, "x").as_numpy())]) for r in requests]
"""


def model_analyzer() -> Path:
    binary = MA_VENV / "bin" / "model-analyzer"
    if not binary.exists():
        print(f"installing triton-model-analyzer=={MA_VERSION} into {MA_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(MA_VENV)], check=True)
        subprocess.run([str(MA_VENV / "bin" / "pip"), "install", "-q", f"triton-model-analyzer=={MA_VERSION}"],
                       check=True)
    return binary


def tritonctl(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "tritonctl", *args], capture_output=True, text=True, env=env)
    if check and done.returncode != 0:
        raise SystemExit(f"tritonctl {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done


def write_ma_config(work: Path, repo: Path, state, perf: Path, budget: float, concurrency: int) -> Path:
    config = {
        "model_repository": str(repo),
        "triton_launch_mode": "remote",
        "triton_http_endpoint": f"127.0.0.1:{state.http_port}",
        "triton_grpc_endpoint": f"127.0.0.1:{state.grpc_port}",
        "triton_metrics_url": f"http://127.0.0.1:{state.metrics_port}/metrics",
        "client_protocol": "http",
        "perf_analyzer_path": str(perf),
        "dcgm_disable": True,
        "run_config_search_disable": True,
        "output_model_repository_path": str(work / "ma-variants"),
        "override_output_model_repository": True,
        "export_path": str(work / "ma-export"),
        "checkpoint_directory": str(work / "ma-checkpoints"),
        "constraints": {"perf_latency_p99": {"max": budget}},
        "objectives": ["perf_throughput"],
        "profile_models": {"sleepy": {
            "cpu_only": True,
            "parameters": {"concurrency": [concurrency], "batch_sizes": [1]},
            "model_config_parameters": {
                "instance_group": [{"kind": "KIND_CPU", "count": [1, 2]}],
                "dynamic_batching": {"max_queue_delay_microseconds": [0, 500]},
            },
        }},
    }
    path = work / "ma-config.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


def ma_winner(work: Path, budget: float) -> tuple[dict | None, list[dict]]:
    """Model Analyzer's rows (results/metrics-model-inference.csv) and the config of its best within the budget."""
    rows = []
    for found in (work / "ma-export").rglob("metrics-model-inference.csv"):
        with found.open(newline="") as f:
            rows += list(csv.DictReader(f))
    if not rows:
        return None, []

    def number(row, *keys):
        for key in keys:
            for name, value in row.items():
                if name and name.strip().lower().startswith(key) and value not in (None, ""):
                    return float(value)
        return None

    for row in rows:
        row["_throughput"] = number(row, "throughput")
        row["_p99"] = number(row, "p99 latency")
    within = [r for r in rows if r["_p99"] is not None and r["_p99"] <= budget]
    best = max(within or rows, key=lambda r: r["_throughput"] or 0)
    variant = best.get("Model Config Path") or best.get("Model Config Path ")
    return {"variant": variant, "row": best}, rows


def served_config_of(variant_dir: Path) -> dict:
    from google.protobuf import json_format, text_format

    from tritonctl.io.proto.model_config_pb2 import ModelConfig

    config = text_format.Parse((variant_dir / "config.pbtxt").read_text(), ModelConfig())
    config.name = "sleepy"
    return json_format.MessageToDict(config, preserving_proto_field_name=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=20.0, help="p99 budget in ms (default 20)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="re-measurements of both winners (default 3)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each tool, interleaved; medians (default 3)")
    args = parser.parse_args()
    compile_sources()

    work = Path(tempfile.mkdtemp(prefix="tritonctl-tune-bench-"))
    env = {**os.environ, "TRITONCTL_STATE_DIR": str(work / "state")}
    os.environ["TRITONCTL_STATE_DIR"] = env["TRITONCTL_STATE_DIR"]
    repo = work / "repo"
    (repo / "sleepy" / "1").mkdir(parents=True)
    (repo / "sleepy" / "config.pbtxt").write_text(CONFIG)
    (repo / "sleepy" / "1" / "model.py").write_text(MODEL)
    ma = model_analyzer()
    subprocess.run([sys.executable, str(ROOT / "scripts" / "setup_perf_analyzer.py")], check=True, env=env,
                   capture_output=True)
    from tritonctl.server_state import perf_analyzer_path, read_state

    perf = perf_analyzer_path()
    tritonctl("server", "start", "--name", "tunebench", "--repo", str(repo), "--load", "sleepy", env=env)
    state = read_state("tunebench")
    url = f"http://127.0.0.1:{state.http_port}"
    try:
        config = write_ma_config(work, repo, state, perf, args.budget, args.concurrency)
        ours_times, ma_times = [], []
        for _ in range(args.runs):  # interleaved: each tool's wall time is the median of its runs
            # Model Analyzer leaves its last variant loaded: each tritonctl run starts from the repository's config,
            # as the first did
            tritonctl("load", "sleepy", "--url", url, "--repo", str(repo), env=env)
            start = time.perf_counter()
            done = tritonctl("tune", "sleepy", "--url", url, "--p99", str(args.budget), "-c", str(args.concurrency),
                             "--instances", "1,2", "--queue-delay", "0,500", "-f", "json", env=env)
            ours_times.append(time.perf_counter() - start)
            ours = json.loads(done.stdout)
            for left in ("ma-variants", "ma-export", "ma-checkpoints"):  # no checkpoint carried into the next run
                shutil.rmtree(work / left, ignore_errors=True)
            start = time.perf_counter()
            ma_run = subprocess.run([str(ma), "profile", "-f", str(config)], capture_output=True, text=True,
                                    cwd=work, env={**env, "PATH": f"{MA_VENV / 'bin'}:{env['PATH']}"})
            ma_times.append(time.perf_counter() - start)
            if ma_run.returncode != 0:
                raise SystemExit(f"model-analyzer exited {ma_run.returncode}: {ma_run.stderr[-3000:]}"
                                 f"{ma_run.stdout[-3000:]}")
        ours_s, ma_s = statistics.median(ours_times), statistics.median(ma_times)
        theirs, rows = ma_winner(work, args.budget)
        measured_ma = len(rows)
        print(f"search space: instances 1,2 x dynamic batching (delay 0, 500 us), concurrency {args.concurrency}, "
              f"p99 <= {args.budget:g} ms")
        print(f"runs (s)           : tritonctl {', '.join(f'{t:.1f}' for t in ours_times)}; model-analyzer "
              f"{', '.join(f'{t:.1f}' for t in ma_times)}")
        print(f"tritonctl tune     : {ours_s:6.1f} s  {len(ours['candidates'])} candidates "
              f"({sum(1 for c in ours['candidates'] if c['measurements'])} measured) with {ours['generator']}")
        print(f"model-analyzer     : {ma_s:6.1f} s  {measured_ma} measurements   "
              f"ratio {ours_s / ma_s:.2f} (target <= 0.33: {'met' if ours_s <= ma_s / 3 else 'NOT met'})")
        spent = [(c["seconds"], c["reloaded"]) for c in ours["candidates"] if c["seconds"] > 0]
        reloads = [t for t, reloaded in spent if reloaded]
        print(f"  where (last run) : {len(reloads)} candidates with a reload {sum(reloads):.1f} s, "
              f"{len(spent) - len(reloads)} without {sum(t for t, r in spent if not r):.1f} s, the rest "
              f"{ours_times[-1] - sum(t for t, _ in spent):.1f} s (start, reads, traffic check, restore)")
        winner = ours["winner"]
        print(f"tritonctl winner   : {winner}")
        settings = "-"
        if theirs and theirs["variant"]:
            variant = served_config_of(work / "ma-variants" / theirs["variant"])
            settings = (f"{variant.get('instance_group', [{}])[0].get('count', 1)} instance(s), dynamic batching "
                        f"{variant['dynamic_batching']}" if "dynamic_batching" in variant else
                        f"{variant.get('instance_group', [{}])[0].get('count', 1)} instance(s), no batching")
        print(f"model-analyzer best: {theirs['variant'] if theirs else None} = {settings}  "
              f"({theirs['row']['_throughput'] if theirs else '-'} infer/s, p99 {theirs['row']['_p99'] if theirs else '-'}"
              " ms by its own measurement)")

        # both winners again, with perf_analyzer in this run, interleaved
        from tritonctl.io import load as measure
        from tritonctl.io.triton_client import Endpoint, TritonClient
        from tritonctl.loading import restore, snapshot
        from tritonctl.tune import Candidate, candidate_config

        endpoint = Endpoint(url)
        before = snapshot(endpoint, "sleepy")
        ours_config = candidate_config(before.config, Candidate(winner["instance_count"], winner["dynamic_batching"],
                                                                tuple(winner.get("preferred_batch_size", ())),
                                                                winner.get("max_queue_delay_microseconds", 0)), 1)
        configs = {"tritonctl": ours_config}
        if theirs and theirs["variant"]:
            configs["model-analyzer"] = {**served_config_of(work / "ma-variants" / theirs["variant"]),
                                         "version_policy": {"specific": {"versions": ["1"]}}}
        work_item = measure.Workload("sleepy", "1", [("x", "FP32", [1, 4])])
        body = measure.request_body(work_item)
        figures: dict[str, list] = {name: [] for name in configs}
        built: list = []
        try:
            for _ in range(args.repeats):
                for name, served in configs.items():
                    with TritonClient(endpoint) as client:
                        client.load("sleepy", json.dumps(served))
                    figures[name].append(measure.perf_analyzer(perf, endpoint, work_item, args.concurrency, 1000))
                    if name == "tritonctl":
                        built.append(measure.built_in(endpoint, work_item, args.concurrency, body, 1000))
        finally:
            restore(endpoint, before, 60)
        medians = {name: (statistics.median(m.throughput for m in ms), statistics.median(m.p99_ms for m in ms))
                   for name, ms in figures.items()}
        for name, (rate, p99) in medians.items():
            print(f"re-measured {name:15s}: {rate:7.1f} infer/s, p99 {p99:5.1f} ms (perf_analyzer, 1 s windows, "
                  f"median of {args.repeats})")
        if "model-analyzer" in medians:
            ratio = medians["tritonctl"][0] / medians["model-analyzer"][0]
            ok = ratio >= 0.95 and medians["tritonctl"][1] <= args.budget
            print(f"winner throughput ratio tritonctl/model-analyzer: {ratio:.2f} (target >= 1 within the noise of "
                  f"5 %, p99 within the budget: {'met' if ok else 'NOT met'})")
        b_rate = statistics.median(m.throughput for m in built)
        b_p99 = statistics.median(m.p99_ms for m in built)
        p_rate, p_p99 = medians["tritonctl"]
        print(f"built-in generator on tritonctl's winner: {b_rate:7.1f} infer/s, p99 {b_p99:5.1f} ms; "
              f"perf_analyzer {p_rate:.1f}, {p_p99:.1f}: throughput ratio {b_rate / p_rate:.2f}, p99 ratio "
              f"{b_p99 / p_p99:.2f} (target within 10 %: "
              f"{'met' if abs(b_rate / p_rate - 1) <= 0.1 and abs(b_p99 / p_p99 - 1) <= 0.1 else 'NOT met'})")
    finally:
        tritonctl("server", "stop", "--server", "tunebench", env=env, check=False)


if __name__ == "__main__":
    main()
