"""A forward HTTP proxy on loopback, as HTTP(S)_PROXY names one: CONNECT tunnels (for https://) and requests in
absolute form (for http://), optionally asking for Basic credentials. It counts both and keeps each
Proxy-Authorization it was sent."""

from __future__ import annotations

import base64
import socket
import socketserver
import threading
from collections import Counter
from urllib.parse import urlsplit

from tls_proxy import relay


class ForwardProxy:
    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.counts = Counter()  # "CONNECT" / "forwarded"
        self.authorizations: list[str] = []
        expected = None if credentials is None else \
            "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline().decode("latin-1").rstrip("\r\n")
                headers = []
                while (h := self.rfile.readline().decode("latin-1").rstrip("\r\n")):
                    headers.append(h)
                method, target, _version = line.split(" ", 2)
                auth = next((h.split(":", 1)[1].strip() for h in headers
                             if h.lower().startswith("proxy-authorization:")), None)
                if auth:
                    proxy.authorizations.append(auth)
                if expected is not None and auth != expected:
                    self.wfile.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n"
                                     b"Connection: close\r\n\r\n")
                    return
                if method == "CONNECT":
                    proxy.counts["CONNECT"] += 1
                    host, port = target.rsplit(":", 1)
                    upstream = socket.create_connection((host, int(port)))
                    self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    self.wfile.flush()
                    relay(self.connection, upstream)
                    return
                proxy.counts["forwarded"] += 1
                parts = urlsplit(target)
                upstream = socket.create_connection((parts.hostname, parts.port or 80))
                kept = [h for h in headers if not h.lower().startswith(("proxy-authorization:", "connection:"))]
                length = next((int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")),
                              0)
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                head = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close", "", ""])
                upstream.sendall(head.encode("latin-1") + (self.rfile.read(length) if length else b""))
                while data := upstream.recv(1 << 16):
                    self.wfile.write(data)
                upstream.close()

        class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, credentials: tuple[str, str] | None = None) -> str:
        user = f"{credentials[0]}:{credentials[1]}@" if credentials else ""
        return f"http://{user}127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
