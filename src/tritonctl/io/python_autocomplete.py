"""A python-backend model's `auto_complete_config`, run as Triton's python backend runs it, one fresh process per
model.

This runs the models' own code. It is not a sandbox; within that, it is contained:
- Each worker is a warm process (a "zygote": Python, numpy and Triton 2.51's own `triton_python_backend_utils`,
  the plain-Python module of the nvidia-pytriton wheel, imported once) that forks a fresh child per model, so one
  model can never touch the next one's modules, files or memory.
- Where unprivileged user namespaces exist (`unshare --user --pid --fork --mount-proc --kill-child`, util-linux),
  each worker is the first process of its own PID namespace: model code cannot see or signal tritonctl, and when
  the worker ends, the kernel ends every process the models started. Where they do not, the worker is a child
  subreaper in a session of its own (orphans come back to it and are killed); `isolation` says which.
- The environment is an allowlist (PATH, the locale, the Python variables; HOME and TMPDIR a temporary folder):
  never AWS_* or other credentials. The working folder is a fresh temporary folder per model.
- A memory limit (RLIMIT_DATA) per model child, and a timeout counted from the fork: a model that hangs, exits,
  dies, or runs out of memory is a finding about that model; what it leaves running is killed before the next.

The fields Triton lets auto-complete change (max_batch_size, input, output, dynamic batching,
model_transaction_policy) are copied back into the caller's config.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

_ZYGOTE = r"""
import ctypes, json, os, resource, select, signal, sys, time
sys.dont_write_bytecode = True  # never a __pycache__ in a version folder (a polling Triton would reload it)
utils_dir = sys.argv[1]
sys.path.insert(0, utils_dir)
import triton_python_backend_utils as pb_utils
requests, answers = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb", buffering=0)
devnull = os.open(os.devnull, os.O_RDWR)
os.dup2(devnull, 0)  # a model reading stdin reads nothing
os.dup2(2, 1)  # what the zygote itself prints must not mix with the answers
IN_NAMESPACE = os.getpid() == 1
if not IN_NAMESPACE:
    with_subreaper = False
    try:  # orphans of a model come back to this process, which kills them
        with_subreaper = ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass
base_path = list(sys.path)
ANSWER_MAX = 64 << 20
TAIL = 4096


def model_child(request, workdir, answer_fd, err_fd):
    os.setsid()
    for fd in (requests.fileno(), answers.fileno(), devnull):  # a model cannot read the next request or forge a reply
        os.close(fd)
    os.dup2(err_fd, 1)
    os.dup2(err_fd, 2)
    os.close(err_fd)
    limit = request["memory"]
    if limit:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    os.chdir(workdir)
    path, name = request["path"], request["name"]
    sys.path[:] = [os.path.dirname(path)] + base_path
    try:
        import importlib.util
        spec = importlib.util.spec_from_file_location("triton_model", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cls = module.TritonPythonModel
        if not hasattr(cls, "auto_complete_config"):
            out = {"unchanged": True}
        else:
            result = cls.auto_complete_config(pb_utils.ModelConfig(json.dumps(request["config"])))
            if not isinstance(result, pb_utils.ModelConfig):
                out = {"error": "auto_complete_config function in model '" + name
                       + "' must return a valid pb.ModelConfig object."}
            else:
                out = {"config": result.as_dict()}
    except ModuleNotFoundError as e:
        out = {"missing": f"{type(e).__name__}: {e}"}
    except MemoryError:
        out = {"memory": True}
    except BaseException as e:  # the stub reports "<type>: <message>"
        out = {"error": f"{type(e).__name__}: {e}"}
    data = (json.dumps(out) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(answer_fd, view):]
    os._exit(0)


def children():
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return []


def kill_leftovers(child):
    # every process a model started: the whole namespace (this is its first process), else the model's session
    # and, as subreaper, whatever was orphaned back to this process, until nothing is left
    if IN_NAMESPACE:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:
        try:
            os.killpg(child, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for _ in range(1000):
        left = children()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        if not left:
            return
        select.select([], [], [], 0.001)


count = 0


def run(request):
    # the reply to one request, then (once the reply is sent) the cleanup: a generator of one item
    global count
    count += 1
    workdir = os.path.join(os.getcwd(), f"model-{count}")  # the zygote's own folder: a fresh one per model
    os.mkdir(workdir)
    answer_r, answer_w = os.pipe()
    err_r, err_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(answer_r)
            os.close(err_r)
            model_child(request, workdir, answer_w, err_w)
        finally:
            os._exit(70)
    os.close(answer_w)
    os.close(err_w)
    try:
        pidfd = os.pidfd_open(child)
    except (AttributeError, OSError):
        pidfd = None
    try:
        yield watch(child, pidfd, answer_r, err_r, time.monotonic() + request["timeout"])
    finally:  # the reply is out: whatever the model left running goes now, before the next request is read
        kill_leftovers(child)
        for fd in [answer_r, err_r] + ([pidfd] if pidfd is not None else []):
            os.close(fd)
        import shutil
        shutil.rmtree(workdir, ignore_errors=True)


def watch(child, pidfd, answer_r, err_r, deadline):
    # the child's answer and its last lines of output, until it answers, exits or runs out of time
    answer, tail, status = b"", b"", None
    open_fds = [answer_r, err_r]
    while status is None and b"\n" not in answer:
        left = deadline - time.monotonic()
        if left <= 0:
            return {"timeout": True}
        ready = select.select(open_fds + ([pidfd] if pidfd is not None else []), [], [],
                              min(left, 0.05 if pidfd is None else left))[0]
        for fd in ready:
            if fd == pidfd:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.remove(fd)
            elif fd == answer_r:
                answer = (answer + chunk)[:ANSWER_MAX + 1]
            else:
                tail = (tail + chunk)[-TAIL:]
        if b"\n" not in answer:
            done, raw = os.waitpid(child, os.WNOHANG)
            if done:
                status = raw
    for fd in open_fds:  # what is already in the pipes
        os.set_blocking(fd, False)
        try:
            while chunk := os.read(fd, 1 << 16):
                if fd == answer_r:
                    answer = (answer + chunk)[:ANSWER_MAX + 1]
                else:
                    tail = (tail + chunk)[-TAIL:]
        except BlockingIOError:
            pass
    if b"\n" in answer and len(answer) <= ANSWER_MAX:
        return {"answer": json.loads(answer.split(b"\n", 1)[0])}
    if status is not None and os.WIFSIGNALED(status):
        how = f"killed by signal {os.WTERMSIG(status)}"
        if os.WTERMSIG(status) == signal.SIGKILL:
            how += " (out of memory?)"
    else:
        how = f"exit status {os.WEXITSTATUS(status) if status is not None else 0}"
    lines = [line for line in tail.decode(errors="replace").splitlines() if line.strip()]
    return {"died": how, "tail": lines[-1] if lines else "no output"}


import gc
gc.freeze()  # what the zygote holds stays out of the children's collections: no copy-on-write of its whole heap
answers.write((json.dumps({"pid": os.getpid(), "namespace": IN_NAMESPACE}) + "\n").encode())
for line in requests:
    steps = run(json.loads(line))
    answers.write((json.dumps(next(steps)) + "\n").encode())
    steps.close()
"""


@dataclass
class Outcome:
    error: str | None = None  # Triton's message when the model's auto_complete_config fails
    missing: str | None = None  # a module the model imports is not installed here
    failure: str | None = None  # it hung, crashed or ran out of memory (our words: Triton's stub would hang or die)


STARTUP_TIMEOUT = 120.0  # a worker's own start (Python, numpy, triton_python_backend_utils), not the model's time
DEFAULT_MEMORY = 4 << 30  # RLIMIT_DATA per model; importing torch and TensorFlow together takes 0.36 GiB
_ENV_KEEP = ("PATH", "LANG", "LANGUAGE", "TZ")
_ENV_KEEP_PREFIXES = ("LC_", "PYTHON")
_UNSHARE = ("unshare", "--user", "--pid", "--fork", "--mount-proc", "--kill-child")


def worker_environment(home: Path) -> dict[str, str]:
    """The allowlisted environment model code runs with: no credentials, HOME and TMPDIR a folder of its own."""
    env = {k: v for k, v in os.environ.items() if k in _ENV_KEEP or k.startswith(_ENV_KEEP_PREFIXES)}
    env.update(HOME=str(home), TMPDIR=str(home), PYTHONDONTWRITEBYTECODE="1")
    return env


class _Zygote:
    """One warm worker process (in a PID namespace of its own where the system allows it)."""

    def __init__(self, utils: Path, home: Path, folder: Path, isolated: bool) -> None:
        command = [sys.executable, "-c", _ZYGOTE, str(utils)]
        if isolated:
            command = [*_UNSHARE, *command]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     bufsize=0, env=worker_environment(home), cwd=folder, start_new_session=True)
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)
        self.hello: dict | None = None

    def start(self, timeout: float = STARTUP_TIMEOUT) -> dict | None:
        """The worker's first line ({"pid", "namespace"}) once its own imports are done; None if it never came."""
        self.hello = self._line(timeout)
        if self.hello is None:
            self.kill()
        return self.hello

    def ask(self, request: dict, timeout: float) -> dict | None:
        """The reply to one request; None when the worker itself died or stopped answering."""
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
        except (BrokenPipeError, OSError):
            self.kill()
            return None
        reply = self._line(timeout)
        if reply is None:
            self.kill()
        return reply

    def _line(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not self._selector.select(left):
                return None
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError:
            return None

    def stderr_tail(self) -> str:
        data = b""
        if self.proc.poll() is not None:
            with contextlib.suppress(OSError, ValueError):
                data = self.proc.stderr.read(1 << 20) or b""
        lines = [line for line in data.decode(errors="replace").splitlines() if line.strip()]
        return lines[-1] if lines else "no output"

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, 9)
            with contextlib.suppress(OSError):
                self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                stream.close()


_NAMESPACES: bool | None = None  # whether `unshare` gives workers a PID namespace here (known once one started)


class PythonAutoComplete:
    """Up to `workers` warm worker processes, shared by the threads that call `run`; each model runs in a fresh
    process forked from one of them. `isolation` says how far model code is kept from tritonctl."""

    def __init__(self, workers: int | None = None, timeout: float = 30.0, memory: int | None = DEFAULT_MEMORY
                 ) -> None:
        from tritonctl.io.triton_binary import locate

        self.utils = locate().python_backend
        self.timeout = timeout
        self.memory = memory
        self._idle: queue.Queue[_Zygote] = queue.Queue()
        self.workers = workers or max(1, os.cpu_count() or 1)
        self._slots = threading.Semaphore(self.workers)
        self._all: list[_Zygote] = []
        self._lock = threading.Lock()
        self._home = Path(tempfile.mkdtemp(prefix="tritonctl-run-python-"))
        self._count = 0  # workers started, each with a folder of its own under _home
        self.isolation: str | None = None  # None until a worker started; then a sentence for the output

    def run(self, model_file: Path, config: ModelConfig) -> Outcome:
        """Apply the model's auto_complete_config to `config` in place."""
        from google.protobuf import json_format

        from tritonctl.io.config_json import to_triton_json
        from tritonctl.io.files import describe, open_regular
        from tritonctl.io.proto.model_config_pb2 import ModelConfig

        try:
            open_regular(model_file).close()  # a FIFO would hang the import; a device is no model file
        except OSError as e:
            return Outcome(failure=f"cannot read '{model_file}': {describe(e)}")
        with self._slots:
            worker = self._take()
            if worker is None:
                return Outcome(failure="the python process that runs auto_complete_config did not start "
                                       f"({self._start_failure})")
            request = {"path": str(model_file), "name": config.name, "config": to_triton_json(config),
                       "timeout": self.timeout, "memory": self.memory or 0}
            reply = worker.ask(request, self.timeout + 30.0)
            if reply is None:
                tail = worker.stderr_tail()
                self._drop(worker)
                return Outcome(failure="importing the model or running its auto_complete_config ended the worker "
                                       f"process that runs it ({tail})")
            self._idle.put(worker)
        if reply.get("timeout"):
            return Outcome(failure=f"importing the model and running its auto_complete_config took longer than "
                                   f"{self.timeout:g} s")
        if "died" in reply:
            return Outcome(failure=f"importing the model or running its auto_complete_config ended the python "
                                   f"process ({reply['died']}; {reply.get('tail', 'no output')})")
        answer = reply.get("answer") or {}
        if answer.get("memory"):
            return Outcome(failure="importing the model or running its auto_complete_config needed more than the "
                                   f"{_size(self.memory)} memory limit (--python-memory)")
        if "missing" in answer:
            return Outcome(missing=answer["missing"])
        if "error" in answer:
            return Outcome(error=answer["error"])
        if answer.get("unchanged"):
            return Outcome()
        try:
            completed = json_format.ParseDict(answer["config"], ModelConfig(), ignore_unknown_fields=True)
        except (json_format.ParseError, KeyError, TypeError) as e:
            return Outcome(error=f"auto_complete_config of '{model_file}' returned an invalid config: {e}")
        config.max_batch_size = completed.max_batch_size
        for name in ("input", "output"):
            config.ClearField(name)
            getattr(config, name).extend(getattr(completed, name))
        if config.WhichOneof("scheduling_choice") is None and completed.HasField("dynamic_batching"):
            config.dynamic_batching.CopyFrom(completed.dynamic_batching)
        if completed.HasField("model_transaction_policy"):
            config.model_transaction_policy.CopyFrom(completed.model_transaction_policy)
        return Outcome()

    _start_failure = "no answer"

    def _take(self) -> _Zygote | None:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        global _NAMESPACES
        if _NAMESPACES is not False and shutil.which("unshare"):
            worker = self._start(True)
            if worker is not None:
                _NAMESPACES = True
                return worker
            _NAMESPACES = False
        return self._start(False)

    def _start(self, isolated: bool) -> _Zygote | None:
        with self._lock:
            self._count += 1
            folder = self._home / f"worker-{self._count}"
        folder.mkdir()
        worker = _Zygote(self.utils, self._home, folder, isolated)
        hello = worker.start()
        if hello is None:
            if not isolated:
                self._start_failure = worker.stderr_tail()
            return None
        if self.isolation is None:
            self.isolation = ("each model in a fresh process, in a PID namespace of its own" if hello.get("namespace")
                              else "no PID namespace here (unprivileged user namespaces are unavailable): model code "
                                   "runs as a child of tritonctl and can see and signal it")
        with self._lock:
            self._all.append(worker)
        return worker

    def _drop(self, worker: _Zygote) -> None:
        worker.kill()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.close()
        shutil.rmtree(self._home, ignore_errors=True)

    def __enter__(self) -> PythonAutoComplete:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _size(n: int | None) -> str:
    if not n:
        return "no"
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):g} {unit}"
    return f"{n} bytes"
