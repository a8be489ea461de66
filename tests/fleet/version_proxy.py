"""A small HTTP proxy in front of one Triton that answers its server metadata (GET /v2) with another version, as a
replica of another Triton release would, and records each request's Host header and its method and path."""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class VersionProxy:
    def __init__(self, target: str, version: str) -> None:
        host, _, port = target.removeprefix("http://").partition(":")
        self.target, self.version = (host, int(port)), version
        self.hosts: list[str] = []
        self.requests: list[str] = []  # "GET /v2", ...
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _forward(self) -> None:
                proxy.hosts.append(self.headers.get("Host", ""))
                proxy.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(*proxy.target, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                if self.command == "GET" and self.path.rstrip("/") == "/v2" and answer.status == 200:
                    doc = json.loads(data)
                    doc["version"] = proxy.version
                    data = json.dumps(doc).encode()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
