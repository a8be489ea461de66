"""tritonctl sync beside `aws s3 sync` and rclone (size+mtime, and --checksum), side by side in one run against the
same S3 endpoint (moto on loopback).

    python benchmarks/sync.py [--aws PATH] [--rclone PATH] [--runs 5] [--models 20] [--big-mb 110]
                              [--small-files 2000] [--keep DIR]

Two generated repositories: N onnxruntime models whose weights live in external data (model.onnx + weights.bin per
version, two versions each) and one model with a file over 100 MB, about 200 MB in all; and one of many small
files (python models with their configs). Each tool syncs each to its own prefix: the initial upload (to a fresh
prefix each run); again with nothing changed; after touching every file's mtime; after changing one byte of one
file with its mtime put back. Each step runs --runs times per tool, the tools interleaved, and its median is shown;
requests and request-body bytes are counted at the wire by a proxy in front of moto (tests/s3_proxy.py), not taken
from any tool's log (the last run's counts). rclone is installed with `apt-get install rclone` and configured here
through RCLONE_CONFIG_* variables, and runs with --fast-list, rclone's advice for S3: without it rclone lists each
folder apart, and moto answers each listing by walking the whole bucket (every run's prefix), so rclone's no-op over
the 2,000-file repository took 134 s (2026-12-07) where aws took 2.2 s, and the run over 40 minutes.

Targets, each a ratio in this run: tritonctl no slower than the fastest anchor on the initial upload, the no-op and
after the touch; after the one-byte change, no slower than rclone --checksum (the one anchor that sends it: aws and
rclone's default decide by size and mtime and miss it); after the touch, 0 bytes and 0 writing requests; after the
one-byte change, that file only. Each step's floor is printed beside it (`floors`): what no tool can beat here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bytecode import compile_sources

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_DEFAULT_REGION": "us-east-1"}


def onnx_with_external_data(folder: Path, weights: int) -> None:
    """model.onnx (an Add of an input and an initializer) whose initializer lives in weights.bin."""
    from onnx import TensorProto, helper

    count = weights // 4
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "weights.bin", "wb") as f:
        f.write(os.urandom(count * 4))
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[count])
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "weights.bin"), ("offset", "0"), ("length", str(count * 4))):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [count])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [count])
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    (folder / "model.onnx").write_bytes(model.SerializeToString())


def config(name: str, count: int) -> str:
    return (f'name: "{name}"\nbackend: "onnxruntime"\nmax_batch_size: 0\n'
            f'input [ {{ name: "x" data_type: TYPE_FP32 dims: [ {count} ] }} ]\n'
            f'output [ {{ name: "y" data_type: TYPE_FP32 dims: [ {count} ] }} ]\n'
            "version_policy: { all: { } }\n")


def generate(root: Path, models: int, big_mb: int) -> int:
    per_version = max(1 << 20, ((200 - big_mb) << 20) // max(1, models) // 2) // 4 * 4
    for i in range(models):
        name = f"model_{i:02d}"
        for version in (1, 2):
            onnx_with_external_data(root / name / str(version), per_version)
        (root / name / "config.pbtxt").write_text(config(name, per_version // 4))
    onnx_with_external_data(root / "big" / "1", big_mb << 20)
    (root / "big" / "config.pbtxt").write_text(config("big", (big_mb << 20) // 4))
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def small_repository(root: Path, files: int) -> int:
    """`files` small files: python models (model.py and config.pbtxt, two files each)."""
    for i in range(files // 2):
        name = f"py_{i:04d}"
        (root / name / "1").mkdir(parents=True, exist_ok=True)
        (root / name / "1" / "model.py").write_text(f"# model {i}\n" + "x = 1\n" * 20)
        (root / name / "config.pbtxt").write_text(f'name: "{name}"\nbackend: "python"\n')
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def rclone_env(proxy_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # rclone refuses AWS_CA_BUNDLE here
    env.update({"RCLONE_CONFIG_BENCH_TYPE": "s3", "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
                "RCLONE_CONFIG_BENCH_ENDPOINT": proxy_url, "RCLONE_CONFIG_BENCH_REGION": "us-east-1",
                "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": CREDENTIALS["AWS_SECRET_ACCESS_KEY"]})
    return env


def commands(args, repo: Path, proxy_url: str, prefix: str) -> dict[str, tuple[list[str], dict | None]]:
    """Each tool's command line syncing `repo` to s3://bench/<tool>-<prefix> (None: the common environment)."""
    tools: dict[str, tuple[list[str], dict | None]] = {
        "tritonctl": ([sys.executable, "-m", "tritonctl", "sync", str(repo), f"s3://bench/tritonctl-{prefix}",
                       "--endpoint-url", proxy_url, "--no-validate"], None)}
    if args.aws:
        tools["aws"] = ([args.aws, "s3", "sync", str(repo), f"s3://bench/aws-{prefix}", "--endpoint-url", proxy_url,
                         "--only-show-errors"], None)
    if args.rclone:
        env = rclone_env(proxy_url)
        fast = [args.rclone, "sync", "--fast-list"]  # one recursive listing, not one per folder (see the docstring)
        tools["rclone"] = ([*fast, str(repo), f"bench:bench/rclone-{prefix}"], env)
        tools["rclone --checksum"] = ([*fast, "--checksum", str(repo), f"bench:bench/rclonec-{prefix}"], env)
    return tools


def measure(args, name: str, repo: Path, proxy, env: dict, changed: Path) -> dict:
    """Every step, --runs times per tool, interleaved: step -> tool -> (median seconds, requests, writes, bytes)."""
    import statistics

    def touch() -> None:
        now = time.time()
        for p in repo.rglob("*"):
            os.utime(p, (now, now))

    def one_byte() -> None:
        st = changed.stat()
        with open(changed, "r+b") as f:
            f.seek(min(1000, st.st_size - 1))
            b = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([b[0] ^ 0xFF]))
        os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns))

    def run(label: str, cmd: list[str], tool_env: dict | None) -> tuple[float, int, int, int]:
        proxy.stats.reset()
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=tool_env or env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed on '{label}' ({name}): {proc.stderr[-2000:]}")
        return seconds, sum(proxy.stats.requests.values()), proxy.stats.writes, proxy.stats.body_bytes

    steps = [("initial upload", None), ("no-op", None), ("after touching every mtime", touch),
             ("after one byte (mtime restored)", one_byte)]
    out: dict[str, dict[str, tuple[float, int, int, int]]] = {}
    for label, change in steps:
        times: dict[str, list[float]] = {}
        last: dict[str, tuple[float, int, int, int]] = {}
        for n in range(args.runs):
            if change is not None:
                time.sleep(1.1)  # a new second, so that S3's LastModified and the mtimes differ
                change()
            prefix = f"{name}-{n}" if label == "initial upload" else f"{name}-0"
            for tool, (cmd, tool_env) in commands(args, repo, proxy.url, prefix).items():
                last[tool] = run(label, cmd, tool_env)
                times.setdefault(tool, []).append(last[tool][0])
        out[label] = {tool: (statistics.median(ts), *last[tool][1:]) for tool, ts in times.items()}
        for tool, (seconds, requests, writes, sent) in out[label].items():  # as each step ends: a long run shows
            print(f"{label:34} {tool:18} {seconds:9.2f} {requests:9d} {writes:7d} {sent / 1e6:9.2f}", flush=True)
    return out


HEADER = f"{'run':34} {'tool':18} {'median s':>9} {'requests':>9} {'writes':>7} {'MB sent':>9}"


def report(name: str, results: dict, changed_size: int, floors: dict[str, tuple[float, str]]) -> None:
    for label, by_tool in results.items():
        ours = by_tool["tritonctl"][0]
        if label.startswith("after one byte"):
            anchors = {t: v for t, v in by_tool.items() if t == "rclone --checksum"}
        else:
            anchors = {t: v for t, v in by_tool.items() if t != "tritonctl"}
        if anchors:
            tool, (theirs, *_rest) = min(anchors.items(), key=lambda kv: kv[1][0])
            verdict = "met" if ours <= theirs else "NOT met"
            print(f"target {name}, {label}: tritonctl {ours:.2f} s vs {tool} {theirs:.2f} s (ratio {ours / theirs:.2f}):"
                  f" {verdict}")
        seconds, what = floors[label]
        print(f"  floor {seconds:.2f} s ({what}): tritonctl at {ours / seconds:.2f}x it")
    _s, _r, writes, sent = results["after touching every mtime"]["tritonctl"]
    print(f"target {name}, after the touch: 0 bytes and 0 writing requests: {sent} bytes, {writes} writes: "
          f"{'met' if sent == 0 and writes == 0 else 'NOT met'}")
    _s, _r, writes, sent = results["after one byte (mtime restored)"]["tritonctl"]
    print(f"target {name}, after one byte: that file only ({changed_size / 1e6:.2f} MB): {sent / 1e6:.2f} MB sent in "
          f"{writes} writes (the file, the manifest, the lease taken and given back)")


def floors(repo: Path, proxy_url: str, prefix: str, changed: Path) -> dict[str, tuple[float, str]]:
    """What no tool can beat here, measured now on this repository through the same proxy: Python's start with
    tritonctl's CLI, one listing of the synced prefix (its pages one after the other; unsigned: moto does not check),
    sha256 over the repository on one core, and its files PUT one at a time (moto answers one request at a time: it
    holds Python's GIL). Each step's floor adds up what that step cannot avoid."""
    import hashlib
    import http.client
    import statistics
    from urllib.parse import quote

    def timed(fn, runs: int = 3) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    start = timed(lambda: subprocess.run([sys.executable, "-m", "tritonctl", "--version"], capture_output=True))
    host, port = proxy_url.removeprefix("http://").split(":")

    def listing() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        token = ""
        while True:
            conn.request("GET", f"/bench?list-type=2&prefix={quote(prefix + '/', safe='')}" +
                         (f"&continuation-token={quote(token, safe='')}" if token else ""))
            body = conn.getresponse().read()
            if b"<IsTruncated>true</IsTruncated>" not in body:
                break
            token = body.split(b"<NextContinuationToken>")[1].split(b"<")[0].decode()
        conn.close()

    def put(files: list[Path]) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=300)
        for p in files:
            data = p.read_bytes()
            conn.request("PUT", f"/bench/floor/{quote(str(p.relative_to(repo)))}", body=data,
                         headers={"Content-Length": str(len(data))})
            conn.getresponse().read()
        conn.close()

    listed = timed(listing)
    paths = [p for p in repo.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in paths)
    hashing = timed(lambda: [hashlib.file_digest(p.open("rb"), "sha256") for p in paths], 1)
    upload = timed(lambda: put(paths), 1)
    one = timed(lambda: put([changed]))
    print(f"floor ({prefix}): tritonctl's start {start:.2f} s; a listing of the prefix {listed:.2f} s; sha256 of "
          f"{total / 1e6:.0f} MB {hashing:.2f} s ({total / 1e6 / hashing:.0f} MB/s); every file PUT one at a time "
          f"{upload:.2f} s ({total / 1e6 / upload:.0f} MB/s)")
    return {"initial upload": (start + upload, "start + every file PUT one at a time"),
            "no-op": (start + listed, "start + one listing"),
            "after touching every mtime": (start + max(listed, hashing / 2),
                                           "start + the listing or sha256 on 2 cores, the longer"),
            "after one byte (mtime restored)": (start + listed + one, "start + one listing + that file's PUT")}


def main() -> None:
    from s3.conftest import free_port, start_moto
    from s3_proxy import S3Proxy

    parser = argparse.ArgumentParser()
    parser.add_argument("--aws", default=shutil.which("aws"), help="the aws CLI (default: the one on PATH)")
    parser.add_argument("--rclone", default=shutil.which("rclone"), help="rclone (default: the one on PATH)")
    parser.add_argument("--runs", type=int, default=5, help="runs per tool and step (the median is shown)")
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--big-mb", type=int, default=110)
    parser.add_argument("--small-files", type=int, default=2000, help="files of the second repository (0: skip it)")
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    compile_sources()
    work = args.keep or Path(tempfile.mkdtemp(prefix="tritonctl-sync-bench-"))
    repo, small = work / "repo", work / "small"
    total = generate(repo, args.models, args.big_mb) if not repo.exists() else \
        sum(p.stat().st_size for p in repo.rglob("*") if p.is_file())
    small_total = small_repository(small, args.small_files) if args.small_files else 0
    moto, endpoint = start_moto(free_port())
    host, port = endpoint.removeprefix("http://").split(":")
    proxy = S3Proxy(host, int(port))
    env = {**os.environ, **CREDENTIALS, "TRITONCTL_STATE_DIR": str(work / "state"), "AWS_ENDPOINT_URL": proxy.url}
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                 aws_secret_access_key="bench-secret").create_bucket(Bucket="bench")
    for tool, path in (("aws", args.aws), ("rclone", args.rclone)):
        print(f"{tool}: {path}" if path else f"{tool}: not found (pass --{tool} PATH); not measured")
    files = sum(1 for p in repo.rglob("*") if p.is_file())
    print(f"repository 1: {files} files, {total / 1e6:.0f} MB ({args.models} models x 2 versions with external "
          f"data, one {args.big_mb} MB file); endpoint moto behind a counting proxy; {args.runs} runs per tool and step")
    weights = repo / "model_00" / "2" / "weights.bin"
    print(HEADER)
    results = measure(args, "big", repo, proxy, env, weights)
    report("repository 1", results, weights.stat().st_size, floors(repo, proxy.url, "tritonctl-big-0", weights))
    if args.small_files:
        print(f"repository 2: {args.small_files} files, {small_total / 1e6:.1f} MB (python models and configs)")
        changed = small / "py_0000" / "1" / "model.py"
        print(HEADER)
        results = measure(args, "small", small, proxy, env, changed)
        report("repository 2", results, changed.stat().st_size, floors(small, proxy.url, "tritonctl-small-0",
                                                                       changed))
    proxy.stop()
    moto.terminate()
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
