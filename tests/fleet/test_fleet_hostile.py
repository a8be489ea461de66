"""Replicas that answer like no Triton does: bytes that are not HTTP, a gigabyte of JSON, silence. Each is a row of
the fleet's table with its reason, never exit 70, never the whole table lost, never gigabytes of memory."""

from __future__ import annotations

import json

import socket
import subprocess
import sys
import threading

import pytest

from fleet.conftest import tritonctl

pytestmark = pytest.mark.triton


class FakeReplica:
    """A TCP server on loopback that answers every connection with `answer(conn)`."""

    def __init__(self, answer) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._answer = answer
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn) -> None:
        try:
            conn.recv(65536)
            self._answer(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.thread.join()
        self.sock.close()


def not_http(conn) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\nthis is not HTTP at all\r\n\r\n")


def gigabyte_of_json(conn) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[")
    chunk = b'{"name": "m", "version": "1", "state": "READY"},' * 20000
    sent = 0
    while sent < (1 << 30):
        conn.sendall(chunk)
        sent += len(chunk)


def gigabyte_declared(conn) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n{")


@pytest.fixture
def odd_replicas():
    replicas = [FakeReplica(not_http), FakeReplica(gigabyte_of_json), FakeReplica(gigabyte_declared)]
    yield replicas
    for replica in replicas:
        replica.close()


def test_replicas_that_answer_garbage_are_rows_with_their_reason(clean, odd_replicas):
    args = ["status", "-r", str(clean.repo), *clean.url_args()]
    for replica in odd_replicas:
        args += ["--url", replica.url]
    # the command in a child of its own, so its peak memory is its own (ru_maxrss of the grandchild)
    probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(r.returncode); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
             "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr)")
    env = {**clean.env}
    result = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "tritonctl", *args, "-f", "json"],
                            capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, **env})
    code, peak_kib, *body = result.stdout.split("\n", 2)
    assert int(code) == 3, result.stderr
    assert int(peak_kib) < 400 << 10, f"peak RSS {int(peak_kib) >> 10} MiB"  # never the gigabyte read into memory
    doc = json.loads(body[0])
    assert [r["reachable"] for r in doc["replicas"]] == [True, True, True, False, False, False]
    errors = [r["error"] for r in doc["replicas"][3:]]
    assert "something that is not HTTP" in errors[0]
    assert "more than the 67,108,864 bytes read here" in errors[1]
    assert "bytes, more than the 67,108,864 read here" in errors[2]
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    table = tritonctl(*args, env=clean.env, check=False)
    assert table.returncode == 3 and table.stdout.count("127.0.0.1:") >= 3  # the table is there, rows included

