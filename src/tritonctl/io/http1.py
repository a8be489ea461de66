"""HTTP/1.1 on a socket, as much of it as tritonctl's requests to Triton need: a request written whole, an answer
framed by its Content-Length, chunked, or read until the server closes (RFC 9112 section 6), with caps on what is
read. The standard library's http.client costs a start-up of ~20 ms (email.parser, and ssl even without TLS) that
every management command paid before its first request; this module imports ssl only for a TLS connection."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

HEAD_MAX = 64 << 10  # an answer's status line and headers


class NotHTTP(ConnectionError):
    """The server answered with bytes that are not an HTTP/1.x answer."""


class Closed(ConnectionError):
    """The server closed the connection before a whole answer; `empty` when it sent nothing of it (a keep-alive
    connection the server had closed, which a request can be sent again on a new one for)."""

    def __init__(self, message: str, empty: bool) -> None:
        super().__init__(message)
        self.empty = empty


class TooLarge(ConnectionError):
    """An answer longer than the cap; `declared` is the length its header said (None: found while reading)."""

    def __init__(self, declared: int | None) -> None:
        super().__init__("an answer larger than the cap")
        self.declared = declared


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes
    keep: bool  # the connection stays open for the next request


def request_bytes(method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> bytes:
    """A whole request: `headers` as given (the caller sends Host; values were checked to hold no line break), then
    Content-Length when there is a body."""
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def host_header(host: str, port: int, tls: bool) -> str:
    """The Host of a request to (host, port): brackets around an IPv6 address, the port unless it is the scheme's."""
    name = f"[{host}]" if ":" in host else host
    return name if port == (443 if tls else 80) else f"{name}:{port}"


class BodyEnded(OSError):
    """The file a request's body is sent from had fewer bytes than its head announced (it changed)."""


class ProxyRefused(ConnectionError):
    """A proxy answered CONNECT with something other than 2xx."""


class Connection:
    """One connection to `address`, opened on the first request: `tls` is an ssl.SSLContext (None: plain TCP) whose
    certificate check is against `tls_name`, whatever address is reached. With `tunnel` (host, port, headers),
    `address` is an HTTP proxy asked to CONNECT there first (RFC 9110 section 9.3.6); TLS then runs through it."""

    def __init__(self, address: tuple[str, int], *, connect_timeout: float, timeout: float, tls=None,
                 tls_name: str | None = None, tunnel: tuple[str, int, dict[str, str]] | None = None) -> None:
        self.address = address
        self._connect_timeout, self._timeout = connect_timeout, timeout
        self._tls, self._tls_name, self._tunnel = tls, tls_name, tunnel
        self.sock: socket.socket | None = None
        self._pending = bytearray()

    def connect(self) -> None:
        host, port = self.address  # an ASCII name as bytes: getaddrinfo then skips the idna codec (and its imports)
        sock = socket.create_connection((host.encode() if host.isascii() else host, port),
                                        timeout=self._connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tunnel is not None:
                self._open_tunnel(sock)
            if self._tls is not None:
                name = self._tls_name or (self._tunnel[0] if self._tunnel else self.address[0])
                sock = self._tls.wrap_socket(sock, server_hostname=name)
            sock.settimeout(self._timeout)
        except BaseException:
            sock.close()
            self.sock = None
            raise
        self.sock, self._pending = sock, bytearray()

    def _open_tunnel(self, sock: socket.socket) -> None:
        host, port, headers = self._tunnel
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # CONNECT's authority-form
        sock.settimeout(self._timeout)
        sock.sendall(request_bytes("CONNECT", target, {"Host": target, **headers}))
        self.sock, self._pending = sock, bytearray()
        status, _version, _headers = self._head(time.monotonic() + self._timeout)
        if not 200 <= status < 300 or self._pending:
            raise ProxyRefused(f"the proxy {self.address[0]}:{self.address[1]} answered CONNECT with {status}")

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def exchange(self, request: bytes, *, max_body: int, deadline: float | None = None,
                 file: tuple[object, int, int] | None = None, head: bool = False) -> Answer:
        """Send `request` (connecting first when needed), then `file` (an open file, offset, count: the body its
        head announced, sent by the kernel where it can), and read its answer (`head`: a HEAD request's, which has
        no body whatever its Content-Length says)."""
        if self.sock is None:
            self.connect()
        try:
            self.sock.sendall(request)
            if file is not None:
                f, offset, count = file
                if count and self.sock.sendfile(f, offset, count) != count:
                    self.close()  # the head promised more bytes than the file now has
                    raise BodyEnded("the file being sent ended early")
        except (BrokenPipeError, ConnectionResetError):
            # a server may answer before the whole body (a refusal) and close: that answer, when it came, is the one
            if self.sock is None:
                raise
            try:
                return self.read_answer(max_body=max_body, deadline=deadline, head=head)
            except (OSError, NotHTTP):
                raise ConnectionResetError("the connection closed while the request was sent") from None
        return self.read_answer(max_body=max_body, deadline=deadline, head=head)

    def read_answer(self, *, max_body: int, deadline: float | None = None, head: bool = False) -> Answer:
        """The next answer on the connection (informational 1xx answers skipped; no body after `head`, the answer
        to a HEAD request). Raises NotHTTP, Closed or TooLarge (the connection is closed then), TimeoutError past
        `deadline` (time.monotonic)."""
        try:
            while True:
                status, version, headers = self._head(deadline)
                if not 100 <= status < 200:
                    break
            body, until_close = (b"", False) if head or status in (204, 304) else \
                self._body(headers, max_body, deadline)
        except (NotHTTP, Closed, TooLarge, TimeoutError):
            self.close()
            raise
        connection = headers.get("connection", "").lower()
        keep = not until_close and (connection == "keep-alive" if version == "HTTP/1.0" else connection != "close")
        if not keep:
            self.close()
        return Answer(status, headers, body, keep)

    # reading
    def _receive(self, deadline: float | None, answered: bool = True) -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError("the answer did not end in time")
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise Closed("the server closed the connection", empty=not answered)
        self._pending += chunk

    def _head(self, deadline: float | None) -> tuple[int, str, dict[str, str]]:
        pending = self._pending
        while (end := pending.find(b"\r\n\r\n")) < 0:
            if len(pending) > HEAD_MAX:
                raise NotHTTP("an answer's headers never ended")
            if pending and not pending.startswith(b"HTTP/"[:len(pending)]):
                raise NotHTTP(f"not an HTTP answer: {bytes(pending[:40])!r}")
            self._receive(deadline, answered=bool(pending))
        lines = bytes(pending[:end]).decode("latin-1").split("\r\n")
        del pending[:end + 4]
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if version not in ("HTTP/1.1", "HTTP/1.0") or not code.isdigit() or rest[3:4] not in ("", " "):
            raise NotHTTP(f"not an HTTP answer: {lines[0][:40]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            key, sep, value = line.partition(":")
            if not sep:
                raise NotHTTP(f"a header that is not KEY: VALUE: {line[:40]!r}")
            headers[key.strip().lower()] = value.strip()
        return int(code), version, headers

    def _body(self, headers: dict[str, str], cap: int, deadline: float | None) -> tuple[bytes, bool]:
        """The body and whether it ran until the server closed the connection."""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._chunked(cap, deadline), False
        length = headers.get("content-length")
        if length is not None:
            if not (length.isascii() and length.isdigit()):
                raise NotHTTP(f"a Content-Length that is not a number: {length[:40]!r}")
            if int(length) > cap:
                raise TooLarge(int(length))
            return self._take(int(length), deadline), False
        while True:  # no length: the body ends when the server closes the connection
            if len(self._pending) > cap:
                raise TooLarge(None)
            try:
                self._receive(deadline)
            except Closed:
                body = bytes(self._pending)
                self._pending.clear()
                return body, True

    def _take(self, n: int, deadline: float | None) -> bytes:
        while len(self._pending) < n:
            self._receive(deadline)
        body = bytes(self._pending[:n])
        del self._pending[:n]
        return body

    def _line(self, deadline: float | None) -> bytes:
        while (end := self._pending.find(b"\r\n")) < 0:
            if len(self._pending) > HEAD_MAX:
                raise NotHTTP("a chunk's size line never ended")
            self._receive(deadline)
        line = bytes(self._pending[:end])
        del self._pending[:end + 2]
        return line

    def _chunked(self, cap: int, deadline: float | None) -> bytes:
        parts, total = [], 0
        while True:
            size = self._line(deadline).split(b";", 1)[0].strip()
            if not size or size.strip(b"0123456789abcdefABCDEF"):
                raise NotHTTP(f"a chunk size that is not hexadecimal: {size[:20]!r}")
            n = int(size, 16)
            if n == 0:
                while self._line(deadline):  # trailers, up to the empty line
                    pass
                return b"".join(parts)
            total += n
            if total > cap:
                raise TooLarge(None)
            parts.append(self._take(n, deadline))
            if self._take(2, deadline) != b"\r\n":
                raise NotHTTP("a chunk not followed by CRLF")
