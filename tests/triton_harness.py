"""The real local Triton for tests: started once per repository per session, spoken to over plain HTTP."""

from __future__ import annotations

import json
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

    def unload(self, model: str) -> None:
        self.post(f"/v2/repository/models/{model}/unload", {"parameters": {"unload_dependents": True}})


def start(repository: Path, workdir: Path, extra_args: list[str] | None = None) -> LiveTriton:
    backends = triton_binary.prepare_backends(workdir / "backends")
    ports = [triton_binary.free_port() for _ in range(3)]
    spec = triton_binary.ServerSpec(str(repository), backends, *ports, extra_args=list(extra_args or []))
    log = workdir / "triton.log"
    proc = triton_binary.spawn(spec, log)
    if not triton_binary.wait_ready(ports[0], proc, timeout=60):
        triton_binary.stop(proc)
        raise RuntimeError("the local Triton did not become ready:\n" + log.read_text()[-3000:])
    return LiveTriton(proc, ports[0], log, repository)
