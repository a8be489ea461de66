"""Load on one model of a running Triton, measured: perf_analyzer (2.51, from the tritonclient wheel) when it is
found, else a built-in generator (a thread per concurrent request, each on its own keep-alive connection, sending
a request tritonclient's body is in, made once). Both follow one stability rule (io/stability.py)."""

from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tritonctl.errors import ServerRejected, ServerUnreachable, TritonctlError, UsageError
from tritonctl.io import http1
from tritonctl.io.triton_client import RESPONSE_MAX, Endpoint, TritonClient, clean_reason

from tritonctl.io.stability import MAX_WINDOWS, STABILITY_PERCENT, STABLE_WINDOWS, WARM_UP_MS, WINDOW_MS

PERF_ANALYZER_ENV = "TRITONCTL_PERF_ANALYZER"


class MeasurementFailed(TritonctlError):
    """A measurement that gave no figures: the server refused the requests, or they never settled (`unstable`)."""

    def __init__(self, message: str, *, unstable: bool = False) -> None:
        super().__init__(message)
        self.unstable = unstable


@dataclass(frozen=True)
class Measurement:
    concurrency: int
    throughput: float  # inferences per second (requests of batch 1)
    avg_ms: float  # client-side latency
    p99_ms: float

    def latency(self, kind: str) -> float:
        return self.p99_ms if kind == "p99" else self.avg_ms


@dataclass(frozen=True)
class Workload:
    """What each request carries: `inputs` (name, datatype, request shape) with random values, or `input_data`
    (perf_analyzer's JSON format: its first entry is sent)."""

    model: str
    version: str
    inputs: list[tuple[str, str, list[int]]]
    input_data: Path | None = None
    shapes: dict[str, list[int]] = field(default_factory=dict)  # --shape, given as perf_analyzer takes them
    batched: bool = False  # max_batch_size > 0: each input's shape starts with the batch dimension (1)


def find_perf_analyzer(given: str | None, installed: Path) -> Path | None:
    """perf_analyzer: `given` (--perf-analyzer), TRITONCTL_PERF_ANALYZER, the one the set-up script put at
    `installed`, else the first on PATH. None when there is none."""
    import shutil

    chosen = given or os.environ.get(PERF_ANALYZER_ENV)
    if chosen:
        path = Path(chosen)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise UsageError(f"--perf-analyzer '{chosen}' is not an executable file")
        return path
    if installed.is_file() and os.access(installed, os.X_OK):
        return installed
    found = shutil.which("perf_analyzer")
    return Path(found) if found else None


def perf_analyzer_version(binary: Path) -> str:
    """What `binary` says it is ("perf_analyzer 2.51.0"); refuses one that does not start."""
    import subprocess

    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise TritonctlError(f"cannot run perf_analyzer '{binary}': {e}") from None
    import re

    words = (done.stdout + done.stderr).strip().splitlines()
    found = re.search(r"version\s+(\d+(?:\.\d+)+)", done.stdout + done.stderr, re.I)  # "Perf Analyzer Version 2.51.0"
    version = found.group(1) if found else None
    if done.returncode != 0 and version is None:
        tail = words[-1] if words else f"exit {done.returncode}"
        raise TritonctlError(f"perf_analyzer '{binary}' does not start: {tail}",
                             hint="its libraries must resolve (scripts/setup_perf_analyzer.py links them)")
    return f"perf_analyzer {version}" if version else "perf_analyzer"


def perf_analyzer(binary: Path, endpoint: Endpoint, work: Workload, concurrency: int, window_ms: int = WINDOW_MS
                  ) -> Measurement:
    """One measurement by perf_analyzer at `concurrency` with the stability rule."""
    import csv
    import subprocess
    import tempfile

    args = [str(binary), "-m", work.model, "-u", endpoint.host_port, "-i", "http", "--concurrency-range",
            str(concurrency), "--measurement-interval", str(window_ms), "--stability-percentage",
            str(STABILITY_PERCENT), "--max-trials", str(MAX_WINDOWS), "--verbose-csv"]
    if work.version:
        args += ["-x", work.version]
    if endpoint.uses_ssl:
        args += ["--ssl-https-verify-peer", "1", "--ssl-https-verify-host", "2"]
        if endpoint.ca_cert:
            args += ["--ssl-https-ca-certificates-file", endpoint.ca_cert]
    for key, value in endpoint.headers.items():
        args += ["-H", f"{key}:{value}"]
    for name, dims in work.shapes.items():
        args += ["--shape", f"{name}:{','.join(map(str, dims))}"]
    if work.input_data is not None:
        args += ["--input-data", str(work.input_data)]
    with tempfile.TemporaryDirectory(prefix="tritonctl-perf-") as tmp:
        out = Path(tmp) / "figures.csv"
        try:
            done = subprocess.run([*args, "-f", str(out)], capture_output=True, text=True, cwd=tmp,
                                  timeout=60 + MAX_WINDOWS * window_ms / 1000 * 4)
        except subprocess.TimeoutExpired:
            raise MeasurementFailed("perf_analyzer did not finish in time") from None
        lines = [line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        if "Failed to obtain stable measurement" in done.stdout + done.stderr:
            raise MeasurementFailed(f"unstable: no {STABLE_WINDOWS} windows in a row within {STABILITY_PERCENT} % "
                                    f"in {MAX_WINDOWS} windows", unstable=True)
        if done.returncode != 0 or not out.is_file():
            # a worker's own error ("Thread [0] had error: <the server's answer>") says more than the summary
            workers = [line.partition("had error:")[2].strip() for line in lines if "had error:" in line]
            reason = workers[0] if workers else next(
                (line for line in lines if line.lower().startswith(("error", "failed"))),
                lines[-1] if lines else f"exit {done.returncode}")
            raise MeasurementFailed(f"perf_analyzer: {clean_reason(reason)}")
        with out.open(newline="") as f:
            row = next(csv.DictReader(f), None)
    if row is None:
        raise MeasurementFailed("perf_analyzer wrote no figures")
    parts = ["Client Send", "Network+Server Send/Recv", "Server Queue", "Server Compute Input",
             "Server Compute Infer", "Server Compute Output", "Client Recv"]
    # the average latency is the sum of its parts, as perf_analyzer's own report adds them
    avg_us = sum(float(row.get(p) or 0) for p in parts)
    return Measurement(concurrency, float(row["Inferences/Second"]), avg_us / 1000, float(row["p99 latency"]) / 1000)


def request_body(work: Workload) -> tuple[bytes, int]:
    """The body every request of the built-in generator sends (tritonclient's binary tensor format) and the size
    of its JSON header."""
    import numpy as np
    import tritonclient.http as http

    arrays: dict[str, np.ndarray] = {}
    if work.input_data is not None:
        arrays = input_arrays(work)
    rng = np.random.default_rng(0)
    inputs = []
    for name, datatype, shape in work.inputs:
        array = arrays.get(name)
        if array is None:
            array = random_values(rng, datatype, shape)
        item = http.InferInput(name, list(array.shape), datatype)
        item.set_data_from_numpy(array, binary_data=True)
        inputs.append(item)
    body, json_size = http.InferenceServerClient.generate_request_body(inputs)
    return body, json_size if json_size is not None else len(body)


NUMPY_TYPES = {"BOOL": "bool", "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64",
               "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64", "FP16": "float16",
               "FP32": "float32", "FP64": "float64", "BYTES": "object"}


def random_values(rng, datatype: str, shape: list[int]):
    """Values of a Triton `datatype` in `shape` for a request whose answer does not matter: the smoke inference's
    and the load's."""
    import numpy as np

    if datatype == "BYTES":
        return np.full(shape, b"tritonctl", dtype=object)
    if datatype == "BOOL":
        return rng.integers(0, 2, size=shape, dtype=np.uint8).astype(bool)
    if datatype.startswith(("INT", "UINT")):
        return rng.integers(0, 10, size=shape, dtype=NUMPY_TYPES[datatype])
    if datatype == "FP64":
        return rng.standard_normal(size=shape)
    return rng.standard_normal(size=shape, dtype=np.float32).astype(NUMPY_TYPES.get(datatype, "float32"))


def input_arrays(work: Workload) -> dict:
    """The first entry of a perf_analyzer input-data file as arrays (triton-inference-server/perf_analyzer
    docs/input_data.md): each input its values for one batch item, flat in row-major order; or {"b64": ...}, the
    item's bytes (little-endian; BYTES elements each behind a 4-byte length); or {"content": either of those,
    "shape": [...]}, the item's shape. A batching model's request gets the batch dimension (1) in front."""
    import json

    from tritonctl.io import files

    try:
        text = files.read_regular(work.input_data, 64 << 20)
    except OSError as e:
        raise TritonctlError(f"cannot read --input-data '{work.input_data}': {files.describe(e)}") from None
    try:
        doc = json.loads(text)
        entry = doc["data"][0]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise UsageError(f"--input-data '{work.input_data}' is not perf_analyzer's input-data JSON "
                         f"({{\"data\": [{{NAME: values}}]}}): {e}") from None
    types = {name: (datatype, shape[1:] if work.batched else shape) for name, datatype, shape in work.inputs}
    arrays = {}
    for name, value in (entry.items() if isinstance(entry, dict) else ()):
        if name not in types:
            raise UsageError(f"--input-data names '{name}', which '{work.model}' does not take")
        datatype, shape = types[name]
        if isinstance(value, dict) and "b64" not in value:
            shape = value.get("shape", shape)
            value = value.get("content")
        try:
            shape = [int(d) for d in shape]
            array = _values(value, datatype).reshape(shape)
        except (ValueError, TypeError) as e:
            raise UsageError(f"--input-data: input '{name}' does not fit {datatype} of shape {shape}: {e}") from None
        arrays[name] = array.reshape([1, *shape]) if work.batched else array
    return arrays


def _values(value, datatype: str):
    """One input's values from the input-data file, flat: a list, or {"b64": ...} (raises ValueError, TypeError)."""
    import base64
    import binascii
    import struct

    import numpy as np

    if isinstance(value, dict):
        try:
            raw = base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, KeyError, TypeError) as e:
            raise ValueError(f"its b64 does not decode ({e})") from None
        if datatype != "BYTES":
            return np.frombuffer(raw, dtype=np.dtype(NUMPY_TYPES.get(datatype, "float32")).newbyteorder("<"))
        from tritonclient.utils import deserialize_bytes_tensor

        try:
            return deserialize_bytes_tensor(raw)
        except struct.error:
            raise ValueError("its b64 BYTES end inside an element (each is a 4-byte length, then the bytes)") from None
    if not isinstance(value, list):
        raise TypeError("its values are neither a list nor {\"b64\": ...}")
    if datatype == "BYTES":
        return np.array([v.encode() if isinstance(v, str) else v for v in value], dtype=object)
    return np.asarray(value, dtype=NUMPY_TYPES.get(datatype, "float32"))


def built_in(endpoint: Endpoint, work: Workload, concurrency: int, body: tuple[bytes, int],
             window_ms: int = WINDOW_MS) -> Measurement:
    """One measurement by the built-in generator at `concurrency` (`_closed_loop`); the windows follow the
    stability rule."""
    windows: list[tuple[float, float, list[float]]] = []  # (start, end, latencies)
    with _closed_loop(endpoint, work, concurrency, body) as (done, failures):
        begin = time.perf_counter()
        while len(windows) < MAX_WINDOWS and not failures:
            start = begin + len(windows) * window_ms / 1000
            end = start + window_ms / 1000
            time.sleep(max(0.0, end - time.perf_counter()))
            windows.append((start, end, [s for at, s in list(done) if start <= at < end]))
            if len(windows) >= STABLE_WINDOWS and _stable(windows[-STABLE_WINDOWS:]):
                break
    if failures:
        failure = failures[0]
        if isinstance(failure, TritonctlError):
            raise MeasurementFailed(failure.message) from None
        if isinstance(failure, ConnectionRefusedError):
            raise ServerUnreachable(f"no Triton server at {endpoint.url} (connection refused)") from None
        raise MeasurementFailed(f"the requests failed ({type(failure).__name__}: {failure})") from None
    last = windows[-STABLE_WINDOWS:]
    if len(windows) < STABLE_WINDOWS or not _stable(last):
        raise MeasurementFailed(f"unstable: no {STABLE_WINDOWS} windows in a row within {STABILITY_PERCENT} % in "
                                f"{MAX_WINDOWS} windows", unstable=True)
    pooled = sorted(s for _, _, window in last for s in window)
    seconds = sum(end - start for start, end, _ in last)
    return Measurement(concurrency, len(pooled) / seconds, 1000 * sum(pooled) / len(pooled),
                       1000 * _percentile(pooled, 99))


def warm_up(endpoint: Endpoint, work: Workload, concurrency: int, body: tuple[bytes, int],
            ms: int = WARM_UP_MS) -> None:
    """`ms` of the measurement's load, not counted: a model's first requests after a load are slower (a python
    model's p99 over the first three 300 ms windows after a reload: 28-30 ms in 4 of 4 runs; after 100 ms of load
    first, 17-20 ms, as later measurements read). Its failures are left to the measurement that follows."""
    with _closed_loop(endpoint, work, concurrency, body):
        time.sleep(ms / 1000)


@contextmanager
def _closed_loop(endpoint: Endpoint, work: Workload, concurrency: int, body: tuple[bytes, int]):
    """`concurrency` threads each send the request, wait for the answer and send it again until the block ends;
    yields (done: (finished at, seconds) of every answered request, failures). Each thread writes the request
    prepared once (tritonclient's body behind its HTTP header) on its own keep-alive connection and reads the
    answer with io/http1.py (status, headers, framing): parsing answers with http.client cost 13 % of the
    throughput perf_analyzer measured near 1,000 requests/s on 2 cores, this reads the same as perf_analyzer there."""
    import threading

    request = _request_bytes(endpoint, work, body)
    done: list[tuple[float, float]] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def sender() -> None:
        connection = None
        try:
            while not stop.is_set():
                if connection is None:  # the first, or the server closed the last one
                    connection = TritonClient(endpoint).connection()
                start = time.perf_counter()
                answer = connection.exchange(request, max_body=RESPONSE_MAX)
                end = time.perf_counter()
                if answer.status != 200:
                    failures.append(ServerRejected(clean_reason(_error_text(answer.body)), status=str(answer.status)))
                    return
                done.append((end, end - start))
                if not answer.keep:
                    connection = None
        except Exception as e:  # noqa: BLE001 - any failure ends the measurement, in its own words
            if not stop.is_set():
                failures.append(e)
        finally:
            if connection is not None:
                connection.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    try:
        yield done, failures
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=max(5.0, endpoint.timeout))


def _request_bytes(endpoint: Endpoint, work: Workload, body: tuple[bytes, int]) -> bytes:
    """The whole HTTP/1.1 request of every inference: Triton's infer path, the client's headers (-H, Authorization,
    Host), tritonclient's binary body."""
    from urllib.parse import quote

    payload, json_size = body
    path = f"/v2/models/{quote(work.model, safe='')}"
    if work.version:
        path += f"/versions/{quote(work.version, safe='')}"
    headers = {**TritonClient(endpoint).request_headers(), "Inference-Header-Content-Length": str(json_size),
               "Content-Type": "application/octet-stream"}
    return http1.request_bytes("POST", f"{path}/infer", headers, payload)


def _percentile(values: list[float], p: int) -> float:
    """perf_analyzer's percentile: the value at index ceil(p/100 * n) - 1 of the sorted latencies."""
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)]


def _stable(windows) -> bool:
    if any(not w for _, _, w in windows):
        return False
    rates = [len(w) / (end - start) for start, end, w in windows]
    averages = [sum(w) / len(w) for _, _, w in windows]
    return _within(rates) and _within(averages)


def _within(series: list[float]) -> bool:
    mean = sum(series) / len(series)
    return mean > 0 and all(abs(x - mean) <= mean * STABILITY_PERCENT / 100 for x in series)


def _error_text(answer: bytes) -> str:
    import json

    try:
        doc = json.loads(answer)
        return str(doc.get("error", answer[:200])) if isinstance(doc, dict) else str(answer[:200])
    except (ValueError, UnicodeDecodeError):
        return answer[:200].decode(errors="replace")
