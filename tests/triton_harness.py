"""The real local Triton for tests: started once per repository per session, spoken to over plain HTTP."""

from __future__ import annotations

import json
import re
import warnings
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tritonctl.io import triton_binary


@dataclass
class LiveTriton:
    proc: object
    http_port: int
    log_path: Path
    repository: Path
    extra_args: list[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def post(self, path: str, body: dict | None = None, timeout: float = 120) -> tuple[int, dict]:
        data = json.dumps(body or {}).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                text = r.read().decode()
                return r.status, json.loads(text) if text else {}
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            return e.code, json.loads(text) if text else {}

    def load(self, model: str) -> tuple[int, str]:
        status, body = self.post(f"/v2/repository/models/{model}/load")
        return status, body.get("error", "")

    def unload(self, model: str, dependents: bool = True) -> None:
        self.post(f"/v2/repository/models/{model}/unload", {"parameters": {"unload_dependents": dependents}})

    def load_each(self, models: list[str], workers: int = 1, dependents: bool = True, restarts: int = 8
                  ) -> dict[str, LoadOutcome]:
        """Load, then unload, each model (`workers` at a time): the answer to its load, and the log lines that name
        it. Models that share others (an ensemble and its steps) go one at a time, as an unload takes the steps with
        it, unless the steps stay loaded (`dependents=False`).

        Triton 2.51 itself segfaults now and then while models load and unload (in libtritonserver, seen with
        one load at a time and more often with several), then hangs for minutes with its connections open. A
        watchdog kills it as soon as its log says so; it is started again (up to `restarts` times, each a warning)
        and what it left is loaded once more."""
        import os
        import signal
        import threading
        from concurrent.futures import ThreadPoolExecutor

        answers, lost, crashed, done = [], [], threading.Event(), threading.Event()
        offset = self.log_size()

        def watch() -> None:
            while not done.wait(0.2):
                if "Signal (" in self.log_since(offset):
                    crashed.set()
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    return

        def one(model: str) -> None:
            if crashed.is_set():
                lost.append(model)
                return
            try:
                status, error = self.load(model)
                self.unload(model, dependents)
            except OSError:
                if not crashed.is_set() and self.proc.poll() is None:
                    raise
                lost.append(model)  # Triton died under it
            else:
                answers.append((model, status, error))

        watchdog = threading.Thread(target=watch, daemon=True)
        watchdog.start()
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(one, models))
        finally:
            done.set()
            watchdog.join()
        lines = self.log_since(offset).splitlines()
        outcomes = {model: LoadOutcome(status, error, "\n".join(
            line for line in lines if re.search(rf"(?<!\w){re.escape(model)}(?!\w)", line)))
            for model, status, error in answers}
        if lost:
            tail = "\n".join(lines[-30:])
            if restarts == 0:
                raise RuntimeError(f"the local Triton died again loading {sorted(lost)}:\n{tail}")
            warnings.warn(f"the local Triton died while loading {len(lost)} models; started again. Its log ended:\n"
                          f"{tail}", stacklevel=2)
            self.restart()
            outcomes.update(self.load_each(lost, workers, dependents, restarts - 1))
        return outcomes

    def restart(self) -> None:
        triton_binary.stop(self.proc)
        fresh = start(self.repository, self.log_path.parent / f"again-{self.proc.pid}", self.extra_args)
        self.proc, self.http_port, self.log_path = fresh.proc, fresh.http_port, fresh.log_path


@dataclass
class LoadOutcome:
    status: int
    error: str  # the API's answer
    log: str  # the log lines that name the model


def start(repository: Path, workdir: Path, extra_args: list[str] | None = None) -> LiveTriton:
    backends = triton_binary.prepare_backends(workdir / "backends")
    ports = [triton_binary.free_port() for _ in range(3)]
    spec = triton_binary.ServerSpec(str(repository), backends, *ports, extra_args=list(extra_args or []))
    log = workdir / "triton.log"
    proc = triton_binary.spawn(spec, log)
    if not triton_binary.wait_ready(ports[0], proc, timeout=60):
        triton_binary.stop(proc)
        raise RuntimeError("the local Triton did not become ready:\n" + log.read_text()[-3000:])
    return LiveTriton(proc, ports[0], log, repository, list(extra_args or []))
