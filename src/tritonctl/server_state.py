"""What tritonctl knows of the local Triton servers it started, each under a name.

State lives in `$TRITONCTL_STATE_DIR` (default `$XDG_STATE_HOME/tritonctl`, else `~/.local/state/tritonctl`):

    backends/                    the backend folder every local server uses (python backend, stand-ins)
    servers/<name>/server.json   pid and process identity, address and ports, repository, mode, start time
    servers/<name>/server.log    Triton's log, kept after the server stops (`server logs --last`)
    servers/<name>.lock          held while a `server start` of that name checks, starts and records

A state whose process is gone, or is another process now, is stale: it is removed, and nothing is signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tritonctl.errors import UsageError
from tritonctl.io import files, process
from tritonctl.io.process import ProcessIdentity

STATE_DIR_ENV = "TRITONCTL_STATE_DIR"
DEFAULT_NAME = "default"
STATE_FILE = "server.json"
LOG_FILE = "server.log"
STATE_MAX_BYTES = 1 << 20
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def state_dir() -> Path:
    if os.environ.get(STATE_DIR_ENV):
        return Path(os.environ[STATE_DIR_ENV])
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "tritonctl"


def perf_analyzer_path() -> Path:
    """Where scripts/setup_perf_analyzer.py puts perf_analyzer: a wrapper that puts its libraries on
    LD_LIBRARY_PATH (tune finds it here)."""
    return state_dir() / "perf_analyzer" / "perf_analyzer"


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(f"'{name}' is not a server name (letters, digits, '_', '.', '-'; at most 63; not hidden)")
    return name


def server_dir(name: str) -> Path:
    return state_dir() / "servers" / check_name(name)


@dataclass
class ServerState:
    name: str
    pid: int
    address: str
    http_port: int
    grpc_port: int
    metrics_port: int
    repository: str
    log: str
    mode: str
    started: float
    start_ticks: int  # the process's identity: see io/process.py
    boot_id: str
    exe: str
    s3_endpoint: str = ""  # the endpoint of an s3:// repository, as it was reached at start

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.http_port}"

    @property
    def identity(self) -> ProcessIdentity:
        return ProcessIdentity(self.pid, self.start_ticks, self.boot_id, self.exe)


def _read_file(name: str) -> ServerState | None:
    try:
        doc = json.loads(files.read_regular(server_dir(name) / STATE_FILE, STATE_MAX_BYTES))
        state = ServerState(**doc)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(state.pid, int) or not isinstance(state.start_ticks, int) or state.name != name:
        return None
    return state


def forget(state: ServerState) -> None:
    """Remove the state file if it still names `state`."""
    if _read_file(state.name) == state:
        with contextlib.suppress(OSError):
            (server_dir(state.name) / STATE_FILE).unlink()


def read_state(name: str, *, clean: bool = True) -> ServerState | None:
    """The state of local server `name`, when the process it names is still that server; a stale one is removed
    (unless not `clean`: a caller that reports it removes it)."""
    state = _read_file(name)
    if state is None:
        return None
    if not process.is_running(state.identity):
        if clean:
            forget(state)
        return None
    return state


def recorded(name: str) -> ServerState | None:
    """The state file of `name` as written, whether or not its process still runs."""
    return _read_file(name)


def known_names() -> list[str]:
    try:
        entries = sorted(os.scandir(state_dir() / "servers"), key=lambda e: e.name)
    except OSError:
        return []
    return [e.name for e in entries if e.is_dir(follow_symlinks=False) and _NAME.fullmatch(e.name)]


def running(*, clean: bool = True) -> list[ServerState]:
    """Every local server still running, by name; stale states are removed on the way (unless not `clean`)."""
    return [state for name in known_names() if (state := read_state(name, clean=clean)) is not None]
