"""A small HTTP proxy in front of an S3 endpoint (moto): it counts what clients send, and injects faults.

Counts are taken at the wire, not from the client's log: requests by method, and the bytes of request bodies.
Faults: answer the next N requests matching a test with 503 SlowDown; drop the connection after part of a request
body was read (a connection lost mid-upload); refuse an access key (403 InvalidAccessKeyId, as S3 does for unknown
credentials: moto accepts any); stop listening (the endpoint gone); ignore conditional writes (as endpoints without
If-Match / If-None-Match support do).
"""

from __future__ import annotations

import http.client
import socket
import socketserver
import threading
import time
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
    log: list = field(default_factory=list)  # (method, path) in the order they arrived

    def reset(self) -> None:
        self.requests.clear()
        self.body_bytes = 0
        self.writes = 0
        self.log.clear()


class S3Proxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.stats = Stats()
        self.faults: list[Fault] = []
        self.injected = Counter()
        self.refused_keys: set[str] = set()
        self.down = False
        self.ignore_conditions = False  # an endpoint without conditional writes: If-Match / If-None-Match dropped
        self.delay = 0.0  # seconds each request waits: a slow endpoint
        self.region: str | None = None  # the bucket's region: a request signed for another one gets S3's 301
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY: an answer goes out as its head, then its body; with Nagle on, the body waited for the
            # client's delayed ACK of the head (40 ms on Linux once a kept-alive connection leaves quick-ACK mode),
            # so every later request of a sequence paid ~45 ms the endpoint never took (tritonctl's one-byte sync:
            # 0.88 s through the proxy, 0.43 s straight to moto; the same with this).
            disable_nagle_algorithm = True

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
                fault = "drop" if proxy.down else self._fault()
                if fault == "down":  # from now on every connection is dropped: the endpoint is gone
                    proxy.down = True
                    fault = "drop"
                if fault == "drop":
                    self.rfile.read(min(length, max(1, length // 2)))
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                body = self.rfile.read(length) if length else b""
                if proxy.delay:
                    time.sleep(proxy.delay)  # a slow endpoint
                with proxy._lock:
                    proxy.stats.requests[self.command] += 1
                    proxy.stats.body_bytes += len(body)
                    proxy.stats.log.append((self.command, self.path))
                    if self.command in ("PUT", "POST", "DELETE"):
                        proxy.stats.writes += 1
                authorization = self.headers.get("Authorization", "")
                if any(f"Credential={key}/" in authorization for key in proxy.refused_keys):
                    fault = "403"
                scope = authorization.split("Credential=", 1)[-1].split("/")
                if proxy.region and len(scope) > 2 and scope[2] != proxy.region:
                    payload = ("<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access "
                               "must be addressed using the specified endpoint.</Message></Error>").encode()
                    self.send_response(301)
                    self.send_header("x-amz-bucket-region", proxy.region)
                    self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    return
                if fault in ("503", "403"):
                    code, status, text = (("SlowDown", 503, "Please reduce your request rate.") if fault == "503" else
                                          ("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not "
                                                                      "exist in our records."))
                    payload = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                               f"<Message>{text}</Message></Error>").encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection(*proxy.target, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"
                           and not (proxy.ignore_conditions and k.lower() in ("if-match", "if-none-match"))}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                # a HEAD answer has no body but says the object's size (rclone checks an upload by it)
                length = response.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length if length is not None else str(len(data)))
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

    def up(self) -> None:
        """The endpoint is back (after a "down" fault)."""
        self.down = False

    def refuse(self, access_key: str) -> None:
        """Answer requests signed with `access_key` with 403 InvalidAccessKeyId."""
        with self._lock:
            self.refused_keys.add(access_key)

    def stop(self) -> None:
        """Stop listening: the endpoint is gone."""
        self._server.shutdown()
        self._server.server_close()
