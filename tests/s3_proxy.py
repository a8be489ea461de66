"""A small HTTP proxy in front of an S3 endpoint (moto): it counts what clients send, and injects faults.

Counts are taken at the wire, not from the client's log: requests by method, and the bytes of request bodies.
Faults: answer the next N requests matching a test with 503 SlowDown; drop the connection after part of a request
body was read (a connection lost mid-upload); stop listening (the endpoint gone).
"""

from __future__ import annotations

import http.client
import socket
import socketserver
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler


@dataclass
class Fault:
    kind: str  # "503" or "drop"
    when: Callable[[str, str], bool]  # (method, path) -> bool
    times: int = 1


@dataclass
class Stats:
    requests: Counter = field(default_factory=Counter)  # method -> count
    body_bytes: int = 0
    writes: int = 0  # PUT, POST, DELETE requests

    def reset(self) -> None:
        self.requests.clear()
        self.body_bytes = 0
        self.writes = 0


class S3Proxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.stats = Stats()
        self.faults: list[Fault] = []
        self.injected = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _fault(self) -> str | None:
                with proxy._lock:
                    for fault in proxy.faults:
                        if fault.times > 0 and fault.when(self.command, self.path):
                            fault.times -= 1
                            proxy.injected[fault.kind] += 1
                            return fault.kind
                return None

            def _relay(self):
                length = int(self.headers.get("Content-Length") or 0)
                fault = self._fault()
                if fault == "drop":
                    self.rfile.read(min(length, max(1, length // 2)))
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    proxy.stats.requests[self.command] += 1
                    proxy.stats.body_bytes += len(body)
                    if self.command in ("PUT", "POST", "DELETE"):
                        proxy.stats.writes += 1
                if fault == "503":
                    payload = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
                               b"<Message>Please reduce your request rate.</Message></Error>")
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection(*proxy.target, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server((host, 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def fail(self, kind: str, when: Callable[[str, str], bool] = lambda m, p: True, times: int = 1) -> None:
        with self._lock:
            self.faults.append(Fault(kind, when, times))

    def stop(self) -> None:
        """Stop listening: the endpoint is gone."""
        self._server.shutdown()
        self._server.server_close()
