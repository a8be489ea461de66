"""A python-backend model's `auto_complete_config`, run as Triton's python backend runs it, in worker processes.

Each worker imports Triton 2.51's own `triton_python_backend_utils` (plain Python in the nvidia-pytriton wheel) and
then, one model at a time: puts the model's folder first on `sys.path`, imports its file under a name of its own,
calls the static method on the current config, and afterwards restores `sys.path` and forgets every module the model
imported, so two models with a sibling `utils.py` never see each other's. A model that does not return within the
timeout has its worker killed (the next model gets a fresh one); one that crashes its worker is reported the same
way. An import the model needs that is not installed here is told apart: the target server may have it.

The fields Triton lets auto-complete change (max_batch_size, input, output, dynamic batching,
model_transaction_policy) are copied back into the caller's config.
"""

from __future__ import annotations

import json
import os
import queue
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

_WORKER = r"""
import importlib.util, json, os, sys
utils_dir = sys.argv[1]
sys.path.insert(0, utils_dir)
import triton_python_backend_utils as pb_utils
answer = sys.stdout
sys.stdout = sys.stderr  # what a model prints must not mix with the answers
base_path = list(sys.path)
base_modules = set(sys.modules)
answer.write("{}\n")  # ready: the model's time starts once the worker's own imports are done
answer.flush()
count = 0
for line in sys.stdin:
    request = json.loads(line)
    count += 1
    path, name = request["path"], request["name"]
    sys.path[:] = [os.path.dirname(path)] + base_path
    try:
        spec = importlib.util.spec_from_file_location(f"triton_model_{count}", path)
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
    except BaseException as e:  # the stub reports "<type>: <message>"
        out = {"error": f"{type(e).__name__}: {e}"}
    finally:
        sys.path[:] = base_path
        for added in set(sys.modules) - base_modules:
            del sys.modules[added]
    answer.write(json.dumps(out) + "\n")
    answer.flush()
"""


@dataclass
class Outcome:
    error: str | None = None  # Triton's message when the model's auto_complete_config fails
    missing: str | None = None  # a module the model imports is not installed here
    failure: str | None = None  # it hung or crashed its process (our words: Triton's stub would hang or die)


STARTUP_TIMEOUT = 120.0  # a worker's own start (Python, numpy, triton_python_backend_utils), not the model's time


class _Worker:
    def __init__(self, utils: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _WORKER, str(utils)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        self._buffer = b""
        self.started = True  # set by the pool once the worker said it is ready
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)

    def ready(self, timeout: float = STARTUP_TIMEOUT) -> bool:
        """Whether the worker finished its own imports (the line it writes first) in time."""
        return self._answer(timeout) is not None

    def ask(self, request: dict, timeout: float) -> dict | None:
        """The answer to one request; None when the worker died (then it is reaped: `proc.returncode` says how) or
        did not answer in time (then it is killed, and `timed_out` is set)."""
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
        except (BrokenPipeError, OSError):
            self._reap()
            return None
        return self._answer(timeout)

    timed_out = False

    def _answer(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not self._selector.select(left):
                self.timed_out = True
                self.kill()
                return None
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not chunk:  # the worker closed its end: it is exiting, though it may not be reaped yet
                self._reap()
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def stderr_tail(self) -> str:
        try:
            data = self.proc.stderr.read() if self.proc.poll() is not None else b""
        except (OSError, ValueError):
            data = b""
        lines = [line for line in data.decode(errors="replace").splitlines() if line.strip()]
        return lines[-1] if lines else "no output"

    def _reap(self) -> None:
        """Wait for a worker that closed its pipes to exit, so its exit status is known (killed if it lingers)."""
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


class PythonAutoComplete:
    """Up to `workers` worker processes, shared by the threads that call `run`."""

    def __init__(self, workers: int | None = None, timeout: float = 30.0) -> None:
        from tritonctl.io.triton_binary import locate

        self.utils = locate().python_backend
        self.timeout = timeout
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self.workers = workers or max(1, os.cpu_count() or 1)
        self._slots = threading.Semaphore(self.workers)
        self._all: list[_Worker] = []
        self._lock = threading.Lock()

    def run(self, model_file: Path, config: ModelConfig) -> Outcome:
        """Apply the model's auto_complete_config to `config` in place."""
        from google.protobuf import json_format

        from tritonctl.io.config_json import to_triton_json
        from tritonctl.io.files import describe, open_regular
        from tritonctl.io.proto.model_config_pb2 import ModelConfig

        try:
            open_regular(model_file).close()  # a FIFO would hang the import
        except OSError as e:
            return Outcome(failure=f"cannot read '{model_file}': {describe(e)}")
        request = {"path": str(model_file), "name": config.name, "config": to_triton_json(config)}
        with self._slots:
            worker = self._take()
            if not worker.started:
                tail = worker.stderr_tail() if worker.proc.poll() is not None else "no answer"
                self._drop(worker)
                return Outcome(failure=f"the python process that runs auto_complete_config did not start ({tail})")
            answer = worker.ask(request, self.timeout)
            if answer is None:
                died = not worker.timed_out
                status, tail = worker.proc.returncode, worker.stderr_tail() if died else ""
                self._drop(worker)
                if died:
                    return Outcome(failure=f"importing the model or running its auto_complete_config ended the "
                                           f"python process (exit status {status}; {tail})")
                return Outcome(failure=f"importing the model and running its auto_complete_config took longer than "
                                       f"{self.timeout:g} s")
            self._idle.put(worker)
        if "missing" in answer:
            return Outcome(missing=answer["missing"])
        if "error" in answer:
            return Outcome(error=answer["error"])
        if answer.get("unchanged"):
            return Outcome()
        try:
            completed = json_format.ParseDict(answer["config"], ModelConfig(), ignore_unknown_fields=True)
        except json_format.ParseError as e:
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

    def _take(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            worker = _Worker(self.utils)
            worker.started = worker.ready()
            with self._lock:
                self._all.append(worker)
            return worker

    def _drop(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.close()

    def __enter__(self) -> PythonAutoComplete:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
