from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "model_repository"


@pytest.fixture
def cli():
    """Run tritonctl in-process: `cli("validate", str(path))` -> Result (exit_code, stdout, stderr)."""
    from tritonctl.cli.app import app

    runner = CliRunner()

    def invoke(*args: str, env: dict | None = None):
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return invoke


def on_a_terminal(args: list[str], env: dict) -> tuple[int, int]:
    """tritonctl ARGS started on a pseudo-terminal (stdin, stdout and stderr): its pid and the terminal's fd."""
    import os
    import pty

    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(env)
        os.execv(sys.executable, [sys.executable, "-m", "tritonctl", *args])
    return pid, fd


def read_terminal(fd: int, wait: float) -> bytes | None:
    """What the program drew on its terminal within `wait` seconds (b"" for nothing yet); None once it closed it."""
    import os
    import select

    ready, _, _ = select.select([fd], [], [], wait)
    if not ready:
        return b""
    try:
        return os.read(fd, 65536) or None
    except OSError:
        return None


class Link(str):
    """A symbolic link to this target, in a file map given to write_tree."""


def write_tree(root: Path, files: dict) -> Path:
    """Create files (str, bytes, or a callable returning bytes), folders (None) and symbolic links (Link) under
    root."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Link):
            path.symlink_to(str(content))
            continue
        if callable(content):  # built on demand (ONNX files)
            content = content()
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


@pytest.fixture
def make_repo(tmp_path):
    def make(files: dict[str, str | bytes | None], name: str = "repo") -> Path:
        return write_tree(tmp_path / name, files)

    return make


@pytest.fixture
def example_repo(tmp_path) -> Path:
    """A working copy of examples/model_repository."""
    dest = tmp_path / "model_repository"
    shutil.copytree(EXAMPLES, dest)
    return dest


# ---- S3 on loopback: moto's server, started once per test run (when a test first asks for it) ----


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(port: int | None = None) -> tuple[subprocess.Popen, str]:
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/", timeout=1).read()
            return proc, url
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("moto_server exited") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto_server did not start")


@pytest.fixture(scope="session")
def moto_endpoint():
    proc, url = start_moto()
    yield url
    proc.terminate()
    proc.wait(10)
