"""The local Triton 2.51 from the nvidia-pytriton wheel: find it, lay out its backend folder, start it.

The wheel carries `tritonserver` and the python backend. The python backend's stub links libcudart by a path
relative to where the wheel put it, so the server runs with `nvidia_pytriton.libs` on LD_LIBRARY_PATH; and
the stub uses the first `python3` on PATH, so PATH starts with this interpreter's folder (numpy<2 there).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tritonctl.errors import MissingDependency, TritonctlError

STANDIN_BACKENDS = Path(__file__).resolve().parent.parent / "backends"


@dataclass(frozen=True)
class TritonInstall:
    binary: Path
    python_backend: Path  # folder with libtriton_python.so and triton_python_backend_utils.py
    stub: Path
    libs: Path


def locate() -> TritonInstall:
    from tritonctl.io.extras import require

    require("server", "the local Triton (server start, validate --run-python)", ("pytriton", "numpy"))
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency("the local Triton needs the nvidia-pytriton wheel",
                                hint="pip install 'tritonctl[server]'")
    root = Path(list(spec.submodule_search_locations)[0]) / "tritonserver"
    install = TritonInstall(
        binary=root / "bin" / "tritonserver",
        python_backend=root / "backends" / "python",
        stub=root / "python_backend_stubs" / f"{sys.version_info.major}.{sys.version_info.minor}"
        / "triton_python_backend_stub",
        libs=root.parent.parent / "nvidia_pytriton.libs",
    )
    for path in (install.binary, install.python_backend, install.stub):
        if not path.exists():
            raise MissingDependency(f"the nvidia-pytriton wheel has no '{path}'",
                                    hint="reinstall it: pip install --force-reinstall nvidia-pytriton==0.7.0")
    return install


def prepare_backends(dest: Path, install: TritonInstall | None = None) -> Path:
    """A backend folder: python/ from the wheel (stub copied in), and tritonctl's Python-based backends.
    Each file is copied beside its place and renamed into it, so a server reading the folder never sees half a
    file; a folder that cannot be made is one error."""
    install = install or locate()
    python_dir = dest / "python"
    try:
        python_dir.mkdir(parents=True, exist_ok=True)
        for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
            target = python_dir / name  # copies: Triton refuses a backend library that resolves outside its folder
            if not target.exists():
                _copy_into_place(install.python_backend / name, target)
        stub = python_dir / "triton_python_backend_stub"
        if not stub.exists():
            _copy_into_place(install.stub, stub, mode=0o755)
        install.binary.chmod(0o755)
        if STANDIN_BACKENDS.is_dir():
            for backend in STANDIN_BACKENDS.iterdir():
                if (backend / "model.py").is_file():
                    target = dest / backend.name
                    target.mkdir(exist_ok=True)
                    _copy_into_place(backend / "model.py", target / "model.py")
    except OSError as e:
        raise TritonctlError(f"cannot prepare the backend folder '{dest}': {e.strerror or e}"
                             + (f" ({e.filename})" if e.filename else "")) from None
    return dest


def _copy_into_place(src: Path, target: Path, mode: int | None = None) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copy2(src, tmp)
    if mode is not None:
        tmp.chmod(mode)
    os.replace(tmp, target)


LOOPBACK = "127.0.0.1"


def free_port(address: str = LOOPBACK) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def port_in_use(port: int, address: str = LOOPBACK) -> bool:
    """Whether Triton could not bind `address:port`. Probed as Triton binds (SO_REUSEADDR), so a port whose last
    connection sits in TIME_WAIT after a stop counts as free, as it is for Triton."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return True
    return False


@dataclass
class ServerSpec:
    repository: str
    backend_dir: Path
    http_port: int
    grpc_port: int
    metrics_port: int
    mode: str = "explicit"  # explicit | poll | none
    load: list[str] = field(default_factory=list)
    extra_args: list[str] = field(default_factory=list)
    address: str = LOOPBACK  # Triton listens on every interface unless told

    def command(self, install: TritonInstall) -> list[str]:
        cmd = [
            str(install.binary),
            f"--model-repository={self.repository}",
            f"--backend-directory={self.backend_dir}",
            f"--model-control-mode={self.mode}",
            f"--http-address={self.address}", f"--grpc-address={self.address}", f"--metrics-address={self.address}",
            f"--http-port={self.http_port}", f"--grpc-port={self.grpc_port}", f"--metrics-port={self.metrics_port}",
        ]
        if self.mode == "poll":
            cmd.append("--repository-poll-secs=2")
        cmd.append("--exit-timeout-secs=5")  # a local server: do not wait 30 s for idle connections
        cmd.append("--exit-on-error=false")  # a model that fails to load does not stop the server
        cmd.append("--strict-readiness=false")  # ready once serving, whatever the state of single models
        cmd += [f"--load-model={m}" for m in self.load]
        return cmd + list(self.extra_args)


def environment(install: TritonInstall, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(install.libs), env.get("LD_LIBRARY_PATH")) if p)
    return env


def spawn(spec: ServerSpec, log_path: Path, install: TritonInstall | None = None,
          env: dict[str, str] | None = None) -> subprocess.Popen:
    install = install or locate()
    for port in (spec.http_port, spec.grpc_port, spec.metrics_port):
        if port_in_use(port, spec.address):
            raise TritonctlError(f"port {port} on {spec.address} is already in use",
                                 hint="choose other ports or leave them out to pick free ones")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(spec.command(install), stdout=log, stderr=subprocess.STDOUT,
                                env=environment(install, env), start_new_session=True)
    finally:
        log.close()


def wait_ready(http_port: int, proc: subprocess.Popen | None, timeout: float, address: str = LOOPBACK) -> bool:
    """True once /v2/health/ready answers 200; False when the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    url = f"http://{address}:{http_port}/v2/health/ready"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    return False


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
