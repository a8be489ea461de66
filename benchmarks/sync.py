"""tritonctl sync beside `aws s3 sync`, side by side in one run against the same S3 endpoint (moto on loopback).

    python benchmarks/sync.py [--aws PATH] [--models 20] [--big-mb 110] [--keep DIR]

A generated repository: N onnxruntime models whose weights live in external data (model.onnx + weights.bin per
version, two versions each) and one model with a file over 100 MB; about 200 MB in all. Each tool syncs it to its
own prefix four times: the initial upload; again with nothing changed; after touching every file's mtime; after
changing one byte of one file with its mtime put back. Requests and request-body bytes are counted at the wire by a
proxy in front of moto (tests/s3_proxy.py), not taken from either tool's log.

Targets: tritonctl no slower than aws on the initial upload and the no-op; after the touch, 0 bytes and 0 writing
requests; after the one-byte change, that file only.
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


def main() -> None:
    from s3.conftest import free_port, start_moto
    from s3_proxy import S3Proxy

    parser = argparse.ArgumentParser()
    parser.add_argument("--aws", default=shutil.which("aws"), help="the aws CLI (default: the one on PATH)")
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--big-mb", type=int, default=110)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="tritonctl-sync-bench-"))
    repo = work / "repo"
    if not repo.exists():
        total = generate(repo, args.models, args.big_mb)
    else:
        total = sum(p.stat().st_size for p in repo.rglob("*") if p.is_file())
    files = sum(1 for p in repo.rglob("*") if p.is_file())
    moto, endpoint = start_moto(free_port())
    host, port = endpoint.removeprefix("http://").split(":")
    proxy = S3Proxy(host, int(port))
    env = {**os.environ, **CREDENTIALS, "TRITONCTL_STATE_DIR": str(work / "state"), "AWS_ENDPOINT_URL": proxy.url}
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                 aws_secret_access_key="bench-secret").create_bucket(Bucket="bench")
    tools = {"tritonctl": [sys.executable, "-m", "tritonctl", "sync", str(repo), "s3://bench/tritonctl",
                           "--endpoint-url", proxy.url, "--no-validate"]}
    if args.aws:
        tools["aws"] = [args.aws, "s3", "sync", str(repo), "s3://bench/aws", "--endpoint-url", proxy.url,
                        "--only-show-errors"]
    else:
        print("aws: not found (pass --aws PATH); only tritonctl is measured")
    weights = repo / "model_00" / "2" / "weights.bin"
    print(f"repository: {files} files, {total / 1e6:.0f} MB ({args.models} models x 2 versions with external data, "
          f"one {args.big_mb} MB file); endpoint moto behind a counting proxy")

    def touch() -> None:
        now = time.time()
        for p in repo.rglob("*"):
            os.utime(p, (now, now))

    def one_byte() -> None:
        st = weights.stat()
        with open(weights, "r+b") as f:
            f.seek(1000)
            b = f.read(1)
            f.seek(1000)
            f.write(bytes([b[0] ^ 0xFF]))
        os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))

    steps = [("initial upload", None), ("no-op", None), ("after touching every mtime", touch),
             ("after one byte (mtime restored)", one_byte)]
    results: dict[str, dict[str, tuple[float, int, int, int]]] = {}
    for label, change in steps:
        if change is not None:
            time.sleep(1.1)  # a new second, so that S3's LastModified and the mtimes differ
            change()
        for tool, cmd in tools.items():
            proxy.stats.reset()
            start = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"{tool} failed on '{label}': {proc.stderr[-2000:]}")
            results.setdefault(label, {})[tool] = (seconds, sum(proxy.stats.requests.values()), proxy.stats.writes,
                                                   proxy.stats.body_bytes)
    print(f"{'run':34} {'tool':10} {'seconds':>8} {'requests':>9} {'writes':>7} {'MB sent':>9}")
    for label, by_tool in results.items():
        for tool, (seconds, requests, writes, sent) in by_tool.items():
            print(f"{label:34} {tool:10} {seconds:8.2f} {requests:9d} {writes:7d} {sent / 1e6:9.1f}")
    if "aws" in tools:
        for label in ("initial upload", "no-op"):
            ours, theirs = results[label]["tritonctl"][0], results[label]["aws"][0]
            verdict = "met" if ours <= theirs * 1.05 else "NOT met"
            print(f"target {label}: tritonctl {ours:.2f} s vs aws {theirs:.2f} s ({theirs / ours:.2f}x): {verdict}")
    _s, _r, writes, sent = results["after touching every mtime"]["tritonctl"]
    print(f"target after the touch: 0 bytes and 0 writing requests: {sent} bytes, {writes} writes: "
          f"{'met' if sent == 0 and writes == 0 else 'NOT met'}")
    _s, _r, writes, sent = results["after one byte (mtime restored)"]["tritonctl"]
    size = weights.stat().st_size
    print(f"target after one byte: that file only ({size / 1e6:.1f} MB): {sent / 1e6:.1f} MB sent in {writes} writes "
          f"(the file and the manifest)")
    proxy.stop()
    moto.terminate()
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
