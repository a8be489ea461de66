"""A running Triton: the local one (start, stop, logs) and any one (load, unload, live policy, status, infer).

The local server's state (pid, ports, repository, log) lives in `$TRITONCTL_STATE_DIR`, else
`$XDG_STATE_HOME/tritonctl`, else `~/.local/state/tritonctl`; later commands talk to that server and use its
repository unless told otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tritonctl.errors import TritonctlError, UsageError
from tritonctl.io import files, process, tritonserver
from tritonctl.io.process import ProcessIdentity
from tritonctl.io.triton import DEFAULT_URL, Endpoint, ServerRejected, TritonClient, split_credentials

POLL_FAILURE = "failed to poll from model repository"
EXPLICIT_ONLY = "explicit model load / unload is not allowed if polling is enabled"
DEFAULT_DIM = 32  # what a -1 dimension becomes in `infer` unless --shape says otherwise


def state_dir() -> Path:
    if os.environ.get("TRITONCTL_STATE_DIR"):
        return Path(os.environ["TRITONCTL_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "tritonctl"


STATE_FILE = "server.json"
STATE_MAX_BYTES = 1 << 20


@dataclass
class ServerState:
    pid: int
    http_port: int
    grpc_port: int
    metrics_port: int
    repository: str
    log: str
    mode: str
    started: float
    start_ticks: int = -1  # the process's identity (see io/process.py); -1 in state files that lack it
    boot_id: str = ""
    exe: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def identity(self) -> ProcessIdentity:
        return ProcessIdentity(self.pid, self.start_ticks, self.boot_id, self.exe)


def _read_state_file() -> ServerState | None:
    path = state_dir() / STATE_FILE
    try:
        state = ServerState(**json.loads(files.read_regular(path, STATE_MAX_BYTES)))
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(state.pid, int) or not isinstance(state.start_ticks, int):
        return None
    return state


def _forget(state: ServerState) -> None:
    """Remove the state file if it still names `state` (a stale one: its process is gone or another)."""
    path = state_dir() / STATE_FILE
    if _read_state_file() == state:
        with contextlib.suppress(OSError):
            path.unlink()


def read_state() -> ServerState | None:
    """The local server's state, when the process it names is still that server; a stale file is removed."""
    state = _read_state_file()
    if state is None:
        return None
    if not process.is_running(state.identity) or state.start_ticks < 0:
        _forget(state)
        return None
    return state


def resolve_endpoint(url: str | None, timeout: float = 60.0, ssl: bool = False,
                     headers: list[str] | None = None) -> Endpoint:
    parsed: dict[str, str] = {}
    for header in headers or []:
        key, sep, value = header.partition(":")
        if not sep or not key.strip():
            raise UsageError(f"header '{header}' is not KEY:VALUE")
        parsed[key.strip()] = value.strip()
    if not url:
        state = read_state()
        url = state.url if state else DEFAULT_URL
    if "://" not in url:
        url = "http://" + url
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url must be an http:// or https:// address, not '{url.partition('://')[0]}://...'")
    url, authorization = split_credentials(url)
    if authorization is not None and not any(k.lower() == "authorization" for k in parsed):
        parsed["Authorization"] = authorization
    return Endpoint(url=url, timeout=timeout, ssl=ssl, headers=parsed)


def resolve_repo(repo: Path | None) -> Path | None:
    if repo is not None:
        return repo
    state = read_state()
    if state is not None and not state.repository.startswith("s3://"):
        return Path(state.repository)
    return None


# ---- the local server ---------------------------------------------------------------------------------------


@dataclass
class Started:
    state: ServerState
    loaded: list[str]
    failed: dict[str, str]


def _state_home() -> Path:
    """The state folder, created if needed; one line (exit 3) when it cannot be."""
    home = state_dir()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TritonctlError(f"cannot use the state folder '{home}': {files.describe(e)}",
                             hint="set TRITONCTL_STATE_DIR to a folder tritonctl may write") from None
    if not home.is_dir():
        raise TritonctlError(f"cannot use the state folder '{home}': it is not a folder",
                             hint="set TRITONCTL_STATE_DIR to a folder tritonctl may write")
    return home


@contextlib.contextmanager
def _start_lock(home: Path) -> Iterator[None]:
    """Held while one `server start` checks, starts and records its server: a second one at the same moment
    is refused instead of starting a Triton nobody tracks."""
    import fcntl

    try:
        fd = os.open(home / "server.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, files.new_file_mode())
    except OSError as e:
        raise TritonctlError(f"cannot use the state folder '{home}': {files.describe(e)}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise TritonctlError("another tritonctl server start is running right now",
                                 hint="wait for it, then see: tritonctl status") from None
        yield
    finally:
        os.close(fd)


def _write_state(home: Path, state: ServerState) -> None:
    try:
        files.atomic_write(home / STATE_FILE, json.dumps(asdict(state), indent=2).encode())
    except (OSError, TritonctlError) as e:
        reason = files.describe(e) if isinstance(e, OSError) else e.message
        raise TritonctlError(f"cannot record the server in '{home / STATE_FILE}': {reason}") from None


def start_server(repo: str, *, mode: str = "explicit", http_port: int | None = None, grpc_port: int | None = None,
                 metrics_port: int | None = None, load: list[str] | None = None, timeout: float = 120.0,
                 foreground: bool = False) -> Started:
    if not repo.startswith("s3://") and not Path(repo).is_dir():
        raise TritonctlError(f"'{repo}' is not a folder; a model repository is a folder of model folders")
    if mode not in ("explicit", "poll", "none"):
        raise UsageError(f"--mode must be explicit, poll or none, not '{mode}'")
    home = _state_home()
    with _start_lock(home):
        running = read_state()
        if running is not None:
            raise TritonctlError(f"a local Triton is already running (pid {running.pid}, {running.url}, repository "
                                 f"{running.repository})", hint="stop it first: tritonctl server stop")
        install = tritonserver.locate()
        backends = tritonserver.prepare_backends(home / "backends", install)
        ports = [p or tritonserver.free_port() for p in (http_port, grpc_port, metrics_port)]
        repository = repo if repo.startswith("s3://") else str(Path(repo).resolve())
        spec = tritonserver.ServerSpec(repository, backends, *ports, mode=mode, load=list(load or []))
        log = home / "server.log"
        try:
            log.write_bytes(b"")
        except OSError as e:
            raise TritonctlError(f"cannot write the server log '{log}': {files.describe(e)}") from None
        if foreground:  # Triton replaces this process (same pid), so later commands find it through the state file
            me = process.identify(os.getpid(), exe=os.path.realpath(install.binary))
            assert me is not None
            _write_state(home, ServerState(os.getpid(), *ports, repository, str(log), mode, time.time(),
                                           me.start_ticks, me.boot_id, me.exe))
            os.execve(str(install.binary), spec.command(install), tritonserver.environment(install))
        proc = tritonserver.spawn(spec, log, install)
        try:
            me = process.identify(proc.pid)
            if me is None or not tritonserver.wait_ready(ports[0], proc, timeout):
                raise TritonctlError(f"Triton did not start: {_log_tail(log)}", hint=f"the whole log: {log}")
            state = ServerState(proc.pid, *ports, repository, str(log), mode, time.time(), me.start_ticks,
                                me.boot_id, me.exe)
            _write_state(home, state)
        except BaseException:
            tritonserver.stop(proc)  # never leave a Triton running that no state file names
            raise
    loaded, failed = [], {}
    if load:
        with TritonClient(Endpoint(state.url)) as client:
            states = {(m["name"]): m for m in client.index()}
        for name in load:
            info = states.get(name, {})
            if info.get("state") == "READY":
                loaded.append(name)
            else:
                failed[name] = info.get("reason") or "not loaded"
    return Started(state, loaded, failed)


def _log_tail(log: Path, max_bytes: int = 64 << 10) -> str:
    try:
        with files.open_regular(log) as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - max_bytes))
            lines = [line for line in f.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    errors = [line for line in lines if line.startswith("E") or line.startswith("error:")]
    return (errors or lines or ["no log"])[-1][:500]


def stop_server(timeout: float = 30.0) -> ServerState:
    recorded = _read_state_file()
    state = read_state()
    if state is None:
        if recorded is not None:
            raise TritonctlError(f"no local Triton is running: the recorded one (pid {recorded.pid}) is gone, and "
                                 "that pid is not its process any more; nothing was signalled, the record is removed")
        raise TritonctlError("no local Triton is running", hint="start one with: tritonctl server start")
    process.send(state.identity, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process.is_running(state.identity) and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send(state.identity, signal.SIGKILL)  # only if it is still that process
    _forget(state)
    return state


def log_file() -> Path:
    path = state_dir() / "server.log"
    if not path.exists():
        raise TritonctlError("no local Triton log yet", hint="start a server: tritonctl server start")
    return path


# ---- models on a running server ---------------------------------------------------------------------------


def _explain(error: ServerRejected, model: str) -> ServerRejected:
    if EXPLICIT_ONLY in error.reason:
        return ServerRejected(f"the server at this URL polls its repository: it loads and unloads '{model}' by "
                              "itself, and refuses load/unload requests", status=error.status,
                              hint="start it with --model-control-mode=explicit (tritonctl server start does)")
    return error


def served_override(repo: Path, model: str, policy=None) -> str:
    """The repository's config of `model` as Triton's /config JSON (optionally with another version policy),
    as the string a load override needs."""
    from google.protobuf import json_format

    from tritonctl.normalize import served_config
    from tritonctl.repository import open_repository

    config, _notes = served_config(open_repository(repo).model(model))
    if policy is not None:
        config.version_policy.CopyFrom(policy)
    config.ClearField("instance_group")  # let the server place instances on its own devices
    return json.dumps(json_format.MessageToDict(config, preserving_proto_field_name=True))


@dataclass
class LoadResult:
    model: str
    versions: list[str]
    seconds: float


def _ready_versions(client: TritonClient, model: str) -> list[str]:
    return sorted((m.get("version", "") for m in client.index() if m.get("name") == model and
                   m.get("state") == "READY"), key=lambda v: int(v) if v.isdigit() else -1)


def load_model(endpoint: Endpoint, model: str, *, versions: list[int] | None = None, repo: Path | None = None,
               wait: bool = True, timeout: float = 120.0, policy=None) -> LoadResult:
    from tritonctl.io.proto.model_config_pb2 import ModelVersionPolicy

    from tritonctl.repository import MAX_VERSION

    override = None
    bad = [v for v in versions or [] if not 0 <= v <= MAX_VERSION]
    if bad:
        raise UsageError(f"--version {bad[0]} is not a version number (0 to {MAX_VERSION})")
    if versions or policy is not None:
        if policy is None:
            policy = ModelVersionPolicy()
            policy.specific.versions.extend(sorted(set(versions or [])))
        if repo is None:
            raise UsageError("a load with a version policy needs the repository (--repo): the override is built "
                             "from the model's config there")
        _check_versions_exist(repo, model, policy)
        override = served_override(repo, model, policy)
    start = time.monotonic()
    with TritonClient(endpoint) as client:
        try:
            client.load(model, override)
        except ServerRejected as e:
            raise _explain(e, model) from None
        ready = _ready_versions(client, model)
        wanted = [str(v) for v in policy.specific.versions] if policy is not None and policy.HasField(
            "specific") else None
        deadline = time.monotonic() + timeout
        while wait and wanted and not set(wanted) <= set(ready) and time.monotonic() < deadline:
            time.sleep(0.2)
            ready = _ready_versions(client, model)
        if wait and wanted and not set(wanted) <= set(ready):
            raise TritonctlError(f"'{model}' versions {', '.join(wanted)} were not ready within {timeout:.0f} s")
    return LoadResult(model, ready, time.monotonic() - start)


def _check_versions_exist(repo: Path, model: str, policy) -> None:
    from tritonctl.repository import open_repository, selected_versions

    found = open_repository(repo).model(model)
    present = [v.number for v in found.versions]
    if policy.HasField("specific"):
        missing = [v for v in policy.specific.versions if v not in present]
        if missing:
            raise TritonctlError(f"'{model}' has no version {', '.join(map(str, missing))} in '{repo}' "
                                 f"(versions: {', '.join(map(str, present)) or 'none'})")
    if not selected_versions(policy, present):
        raise TritonctlError(f"the policy selects none of the versions of '{model}' "
                             f"({', '.join(map(str, present)) or 'none'})")


def unload_model(endpoint: Endpoint, model: str, *, dependents: bool = False) -> None:
    with TritonClient(endpoint) as client:
        known = {m.get("name") for m in client.index()}
        if model not in known:
            raise TritonctlError(f"the server knows no model '{model}' (models: {', '.join(sorted(known)) or 'none'})")
        try:
            client.unload(model, dependents)
        except ServerRejected as e:
            raise _explain(e, model) from None


# ---- status --------------------------------------------------------------------------------------------------


@dataclass
class VersionStatus:
    version: str
    on_disk: bool
    state: str  # READY, UNAVAILABLE, LOADING, UNLOADING, or "" when the server does not know it
    reason: str
    inference_count: int
    last_inference_ms: int
    drift: list[str] = field(default_factory=list)


@dataclass
class ModelStatus:
    name: str
    policy: str
    versions: list[VersionStatus]
    drift: list[str]


@dataclass
class StatusReport:
    url: str
    server_version: str
    repository: str | None
    models: list[ModelStatus]


def _comparable(config: dict) -> dict:
    out = {k: v for k, v in config.items() if k not in ("runtime",)}
    return out


def status(endpoint: Endpoint, repo: Path | None, model: str | None = None) -> StatusReport:
    with TritonClient(endpoint) as client:
        meta = client.metadata()
        index = client.index()
        stats = {}
        try:
            for s in client.statistics().get("model_stats", []):
                stats[(s["name"], s.get("version", ""))] = s
        except ServerRejected:
            pass
        disk = _disk_models(repo)
        names = sorted({m["name"] for m in index} | set(disk))
        if model is not None:
            if model not in names:
                raise TritonctlError(f"no model '{model}' on the server or in the repository")
            names = [model]
        models = []
        for name in names:
            entries = [m for m in index if m["name"] == name]
            on_disk = disk.get(name)
            versions: dict[str, VersionStatus] = {}
            for v in (on_disk["versions"] if on_disk else []):
                versions[str(v)] = VersionStatus(str(v), True, "", "", 0, 0)
            for m in entries:
                v = m.get("version", "")
                if not v:
                    continue
                vs = versions.setdefault(v, VersionStatus(v, False, "", "", 0, 0))
                vs.state, vs.reason = m.get("state", ""), m.get("reason", "")
            for vs in versions.values():
                s = stats.get((name, vs.version))
                if s:
                    vs.inference_count = int(s.get("inference_count", 0))
                    vs.last_inference_ms = int(s.get("last_inference", 0))
                if vs.state == "READY" and not vs.on_disk:
                    vs.drift.append("loaded, gone from disk")
            drift = []
            loaded = any(vs.state == "READY" for vs in versions.values())
            if on_disk and not loaded:
                drift.append("on disk, not loaded")
            if not on_disk and repo is not None and entries:
                drift.append("loaded, gone from disk" if loaded else "not in the repository")
            if on_disk and loaded and on_disk["config"] is not None:
                try:
                    served = client.config(name)
                except ServerRejected:
                    served = None
                if served is not None:
                    ours, theirs = _comparable(on_disk["config"]), _comparable(served)
                    if ours.pop("version_policy", None) != theirs.pop("version_policy", None):
                        drift.append("served policy differs from disk")
                    if ours != theirs:
                        drift.append("config changed since load")
            policy = on_disk["policy"] if on_disk else "-"
            models.append(ModelStatus(name, policy, sorted(versions.values(), key=lambda v: int(v.version)
                                                           if v.version.isdigit() else -1), drift))
    return StatusReport(endpoint.url, meta.get("version", "?"), str(repo) if repo else None, models)


def _disk_models(repo: Path | None) -> dict[str, dict]:
    from tritonctl.io.config_json import to_triton_json
    from tritonctl.normalize import served_config
    from tritonctl.repository import describe_policy, open_repository

    if repo is None:
        return {}
    out = {}
    for model in open_repository(repo).models:
        if model.read_error or model.name.startswith("."):
            continue
        try:
            config, _ = served_config(model)
            normalized = to_triton_json(config)
            policy = describe_policy(config.version_policy)
        except TritonctlError:
            normalized, policy = None, "?"
        out[model.name] = {"versions": [v.number for v in model.versions], "config": normalized, "policy": policy}
    return out


# ---- inference -----------------------------------------------------------------------------------------------


@dataclass
class InferResult:
    model: str
    version: str
    outputs: list[tuple[str, list[int], str]]  # name, shape, datatype
    seconds: float


_NUMPY = {"BOOL": "bool", "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64",
          "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64", "FP16": "float16", "FP32": "float32",
          "FP64": "float64", "BYTES": "object"}


_ITEM_BYTES = {"BOOL": 1, "UINT8": 1, "UINT16": 2, "UINT32": 4, "UINT64": 8, "INT8": 1, "INT16": 2, "INT32": 4,
               "INT64": 8, "FP16": 2, "FP32": 4, "FP64": 8, "BF16": 2, "BYTES": 4 + len(b"tritonctl")}
# Triton 2.51's HTTP server keeps a request's size in an int32 ("inference header size should be in range (0, ...)"
# past 2 GiB); tritonctl's smoke requests stay at half that, checked before anything is allocated.
INFER_MAX_BYTES = 1 << 30


def parse_shapes(items: list[str]) -> dict[str, list[int]]:
    shapes = {}
    for item in items:
        name, sep, dims = item.rpartition("=")
        try:
            shapes[name] = [int(d) for d in dims.split(",") if d.strip()]
        except ValueError:
            sep = ""
        if not sep or not name or not shapes.get(name) or any(d < 0 for d in shapes[name]):
            raise UsageError(f"--shape '{item}' is not NAME=d1,d2,... with non-negative integers")
    return shapes


def _allowed(dims: list[int], max_batch: int) -> str:
    parts = [f"1..{max_batch}" if max_batch > 0 and i == 0 else ("any" if d == -1 else str(d))
             for i, d in enumerate(dims)]
    return "[" + ", ".join(parts) + "]"


def request_shape(name: str, dims: list[int], max_batch: int, given: list[int] | None) -> list[int]:
    """The shape `infer` sends for input `name` whose served shape is `dims` (with the batch dimension first when
    `max_batch` > 0): `given`, checked to fit (fixed dimensions equal, the batch within max_batch_size), or the
    served shape with batch 1 and DEFAULT_DIM for each variable dimension."""
    if given is None:
        shape = [DEFAULT_DIM if d == -1 else d for d in dims]
        if max_batch > 0 and shape:
            shape[0] = 1
        return shape
    fits = len(given) == len(dims) and all(d == -1 or g == d for g, d in zip(given, dims))
    if fits and max_batch > 0 and given and not 1 <= given[0] <= max_batch:
        fits = False
    if not fits:
        raise UsageError(f"--shape {name}={','.join(map(str, given))} does not fit input '{name}': its shape is "
                         f"{_allowed(dims, max_batch)}")
    return list(given)


def request_bytes(shapes: dict[str, list[int]], datatypes: dict[str, str]) -> int:
    import math

    return sum(math.prod(shape) * _ITEM_BYTES.get(datatypes[name], 8) for name, shape in shapes.items())


def infer(endpoint: Endpoint, model: str, *, version: str = "", inputs: dict[str, Path] | None = None,
          shapes: dict[str, list[int]] | None = None, seed: int = 0,
          progress: Callable[[str], None] | None = None) -> InferResult:
    import numpy as np

    rng = np.random.default_rng(seed)
    with TritonClient(endpoint) as client:
        meta = client.model_metadata(model, version)
        max_batch = int(client.config(model).get("max_batch_size", 0))
        arrays, datatypes, wanted = {}, {}, {}
        unknown = set(inputs or {}) | set(shapes or {})
        for spec in meta.get("inputs", []):
            name, dtype = spec["name"], spec["datatype"]
            unknown.discard(name)
            datatypes[name] = dtype
            if inputs and name in inputs:
                try:
                    with files.open_regular(inputs[name]) as f:
                        arrays[name] = np.load(f, allow_pickle=False)
                except (OSError, ValueError, EOFError) as e:
                    raise TritonctlError(f"cannot read '{inputs[name]}' as a .npy array: "
                                         f"{files.describe(e) if isinstance(e, OSError) else e}") from None
                continue
            wanted[name] = request_shape(name, [int(d) for d in spec["shape"]], max_batch,
                                         (shapes or {}).get(name))
        if unknown:
            names = ", ".join(i["name"] for i in meta.get("inputs", []))
            raise UsageError(f"'{model}' has no input {', '.join(sorted(unknown))} (inputs: {names})")
        size = request_bytes(wanted, datatypes) + sum(a.nbytes for a in arrays.values())
        if size > INFER_MAX_BYTES:
            raise UsageError(f"the request would carry {size:,} bytes; tritonctl infer sends at most "
                             f"{INFER_MAX_BYTES:,}", hint="give smaller dimensions with --shape NAME=d1,d2,...")
        for name, shape in wanted.items():
            dtype = datatypes[name]
            if dtype == "BYTES":
                arrays[name] = np.full(shape, b"tritonctl", dtype=object)
            elif dtype == "BOOL":
                arrays[name] = rng.integers(0, 2, size=shape, dtype=np.uint8).astype(bool)
            elif dtype.startswith(("INT", "UINT")):
                arrays[name] = rng.integers(0, 10, size=shape, dtype=_NUMPY[dtype])
            elif dtype == "FP64":
                arrays[name] = rng.standard_normal(size=shape)
            else:
                arrays[name] = rng.standard_normal(size=shape, dtype=np.float32).astype(_NUMPY.get(dtype, "float32"))
        outputs = [o["name"] for o in meta.get("outputs", [])]
        start = time.perf_counter()
        results, response = client.infer(model, arrays, datatypes, outputs, version)
        elapsed = time.perf_counter() - start
    out = [(name, list(results[name].shape) if results[name] is not None else [],
            next((o["datatype"] for o in meta["outputs"] if o["name"] == name), "?")) for name in outputs]
    return InferResult(model, str(response.get("model_version", version)), out, elapsed)
