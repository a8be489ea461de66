"""The local Triton 2.51 (from the nvidia-pytriton wheel): start one under a name, stop it, find its log.

Where the state lives and how a stale one is told apart: server_state.py.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tritonctl.errors import TritonctlError, UsageError
from tritonctl.io import files, process, triton_binary
from tritonctl.io.triton_client import Endpoint, TritonClient, clean_reason
from tritonctl.server_state import (
    DEFAULT_NAME,
    LOG_FILE,
    STATE_FILE,
    ServerState,
    check_name,
    forget,
    read_state,
    recorded,
    server_dir,
    state_dir,
)

MODES = ("explicit", "poll", "none")


@dataclass
class Started:
    state: ServerState
    loaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # model -> Triton's reason, on one line
    exit_code: int | None = None  # --foreground: Triton's exit status once it ended (its state then removed)


def _make_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TritonctlError(f"cannot use the state folder '{path}': {files.describe(e)}",
                             hint="set TRITONCTL_STATE_DIR to a folder tritonctl may write") from None
    if not path.is_dir():
        raise TritonctlError(f"cannot use the state folder '{path}': it is not a folder",
                             hint="set TRITONCTL_STATE_DIR to a folder tritonctl may write")
    return path


@contextlib.contextmanager
def _start_lock(name: str) -> Iterator[None]:
    """Held while one `server start` of `name` checks, starts and records its server: a second one at the same
    moment is refused instead of starting a Triton nobody tracks."""
    import fcntl

    path = server_dir(name).with_suffix(".lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, files.new_file_mode())
    except OSError as e:
        raise TritonctlError(f"cannot use the state folder '{path.parent}': {files.describe(e)}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise TritonctlError(f"another tritonctl server start of '{name}' is running right now",
                                 hint="wait for it, then see: tritonctl server list") from None
        yield
    finally:
        os.close(fd)


def _write_state(state: ServerState) -> None:
    path = server_dir(state.name) / STATE_FILE
    try:
        files.atomic_write(path, json.dumps(asdict(state), indent=2).encode())
    except (OSError, TritonctlError) as e:
        reason = files.describe(e) if isinstance(e, OSError) else e.message
        raise TritonctlError(f"cannot record the server in '{path}': {reason}") from None


def check_address(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise UsageError(f"--address '{address}' is not an IP address") from None
    if not ip.is_loopback or ip.version != 4:
        raise UsageError(f"--address {address}: a local server listens on a loopback address (127.0.0.1 to "
                         "127.255.255.254) only; its model-control API would be open to the network otherwise")
    return address


def start_server(repo: str, *, name: str = DEFAULT_NAME, address: str = triton_binary.LOOPBACK,
                 mode: str = "explicit", http_port: int | None = None, grpc_port: int | None = None,
                 metrics_port: int | None = None, load: list[str] | None = None, timeout: float = 120.0,
                 foreground: bool = False, endpoint_url: str | None = None) -> Started:
    check_name(name)
    check_address(address)
    if mode not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)}, not '{mode}'")
    source = _repository(repo, endpoint_url)
    home = _make_dir(state_dir())
    folder = _make_dir(server_dir(name))
    with _start_lock(name):
        present = read_state(name)
        if present is not None:
            raise TritonctlError(f"a local Triton named '{name}' is already running (pid {present.pid}, {present.url}, "
                                 f"repository {present.repository})",
                                 hint=f"stop it (tritonctl server stop --server {name}), or start another with "
                                      "--name")
        install = triton_binary.locate()
        backends = triton_binary.prepare_backends(home / "backends", install)
        ports = [p or triton_binary.free_port(address) for p in (http_port, grpc_port, metrics_port)]
        spec = triton_binary.ServerSpec(source.triton, backends, *ports, mode=mode, load=list(load or []),
                                        address=address)
        repository = source.label
        log = folder / LOG_FILE
        try:
            log.write_bytes(b"")
        except OSError as e:
            raise TritonctlError(f"cannot write the server log '{log}': {files.describe(e)}") from None
        if foreground:  # Triton in this terminal, recorded like any other; Ctrl-C is its normal stop
            return _foreground(name, spec, install, ports, address, repository, log, mode, source)
        proc = triton_binary.spawn(spec, log, install, env={**os.environ, **source.environment})
        try:
            me = process.identify(proc.pid)
            if me is None or not triton_binary.wait_ready(ports[0], proc, timeout, address):
                raise TritonctlError(f"Triton did not start: {log_tail(log)}", hint=f"the whole log: {log}")
            state = ServerState(name, proc.pid, address, *ports, repository, str(log), mode, time.time(),
                                me.start_ticks, me.boot_id, me.exe, source.endpoint)
            _write_state(state)
        except BaseException:
            triton_binary.stop(proc)  # never leave a Triton running that no state file names
            raise
    started = Started(state)
    if load:
        with TritonClient(Endpoint(state.url)) as client:
            index = client.index()
            for model in load:
                entries = [m for m in index if m.get("name") == model]
                if any(m.get("state") == "READY" for m in entries):
                    started.loaded.append(model)
                    continue
                reasons = [m.get("reason") for m in entries if m.get("reason")]
                started.failed[model] = clean_reason(reasons[0]) if reasons else _why_not_loaded(client, model,
                                                                                                   repository)
                if started.failed[model] is None:
                    del started.failed[model]
                    started.loaded.append(model)
    return started


def _foreground(name, spec, install, ports, address, repository, log, mode, source) -> Started:
    """Run Triton as a child on this terminal until it ends (Ctrl-C reaches it with the terminal's process group;
    SIGTERM is passed on), then remove its state: a server stopped this way is not one that died."""
    import signal
    import subprocess

    proc = subprocess.Popen(spec.command(install), env=triton_binary.environment(install, {**os.environ,
                                                                                         **source.environment}))
    me = process.identify(proc.pid)
    state = ServerState(name, proc.pid, address, *ports, repository, str(log), mode, time.time(),
                        me.start_ticks if me else 0, me.boot_id if me else "", me.exe if me else "", source.endpoint)
    try:
        _write_state(state)
        while True:
            try:
                proc.wait()
                break
            except KeyboardInterrupt:  # Ctrl-C (Triton has it too) or SIGTERM (passed on): wait for its own stop
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                break
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        forget(state)
    return Started(state, exit_code=proc.returncode)


def _why_not_loaded(client: TritonClient, model: str, repository: str) -> str | None:
    """Triton's own reason for a model it did not load at start and gives no reason for in its index (a model with no
    version folder, one whose config it could not poll): asked once more with a load request. None when that load
    succeeds. A model with no folder at all is said in those words (Triton's are "failed to poll")."""
    from tritonctl.errors import ServerRejected

    if not repository.startswith("s3://") and not (Path(repository) / model).is_dir():
        return "not in the repository"
    try:
        client.load(model)
    except ServerRejected as e:
        return e.reason
    return None


@dataclass(frozen=True)
class _Source:
    label: str  # the repository as recorded and shown: a folder, or s3://bucket/prefix
    triton: str  # as Triton is given it
    endpoint: str = ""
    environment: dict = field(default_factory=dict)  # credentials for Triton's S3 client, in its environment only


def _repository(repo: str, endpoint_url: str | None) -> _Source:
    """The repository to serve; an S3 one is checked first (Triton waits about 50 s for an endpoint that is down,
    then exits with a message about credentials)."""
    from tritonctl.io import s3

    if not s3.is_s3(repo):
        if not Path(repo).is_dir():
            raise TritonctlError(f"'{repo}' is not a folder; a model repository is a folder of model folders")
        folder = str(Path(repo).resolve())
        return _Source(folder, folder)
    url = s3.parse_url(repo)
    client = s3.S3(endpoint_url, jobs=1, attempts=2)
    client.check_bucket(url)
    return _Source(str(url), s3.triton_url(client.endpoint, url), client.endpoint, client.environment())


def log_tail(log: Path, max_bytes: int = 64 << 10) -> str:
    """The last error line of a log (else its last line), read from its last `max_bytes` only."""
    try:
        with files.open_regular(log) as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - max_bytes))
            lines = [line for line in f.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    errors = [line for line in lines if line.startswith("E") or line.startswith("error:")]
    return (errors or lines or ["no log"])[-1][:500]


def stop_server(name: str = DEFAULT_NAME, timeout: float = 30.0) -> ServerState:
    was = recorded(name)
    state = read_state(name)
    if state is None:
        if was is not None:
            raise TritonctlError(f"no local Triton named '{name}' is running: the recorded one (pid {was.pid}) is "
                                 "gone, and that pid is not its process any more; nothing was signalled, the record "
                                 "is removed")
        raise TritonctlError(f"no local Triton named '{name}' is running",
                             hint="see the running ones: tritonctl server list")
    process.send(state.identity, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process.is_running(state.identity) and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send(state.identity, signal.SIGKILL)  # only if it is still that process
    forget(state)
    return state


def log_path(name: str = DEFAULT_NAME, *, last: bool = False) -> tuple[Path, bool]:
    """The log of local server `name` and whether that server runs. A stopped server's log is refused unless
    `last` (it may be hours old)."""
    path = server_dir(name) / LOG_FILE
    if read_state(name) is not None:
        return path, True
    if path.exists() and last:
        return path, False
    if path.exists():
        raise TritonctlError(f"the local Triton '{name}' is stopped", hint=f"its last log: tritonctl server logs "
                             f"--last{'' if name == DEFAULT_NAME else f' --server {name}'}")
    raise TritonctlError(f"no local Triton named '{name}' has run here", hint="start one: tritonctl server start")


@dataclass
class Listed:
    name: str
    pid: int
    url: str
    repository: str
    mode: str
    uptime_s: float


@dataclass
class Died:
    name: str
    pid: int
    log_tail: str  # its log's last error line (else last line): why it died, usually


def list_servers() -> tuple[list[Listed], list[Died]]:
    """The local servers running, and those whose state says they run but whose process is gone (killed, crashed:
    a stop by tritonctl removes the state), each said once and then forgotten."""
    from tritonctl.server_state import forget, known_names, read_state, recorded

    now = time.time()
    listed, died = [], []
    for name in known_names():
        state = read_state(name, clean=False)
        if state is not None:
            listed.append(Listed(state.name, state.pid, state.url, state.repository, state.mode,
                                 max(0.0, now - state.started)))
            continue
        gone = recorded(name)
        if gone is not None:
            died.append(Died(gone.name, gone.pid, log_tail(Path(gone.log))))
            forget(gone)
    return listed, died
