"""io/http1.py, the HTTP/1.1 of management requests and of the built-in load generator: answers framed by
Content-Length, chunks or the end of the connection, informational answers skipped, what is not HTTP refused, and
what is read capped."""

from __future__ import annotations

import pytest

from tritonctl.io import http1


class Sock:
    """A socket whose reads give `chunks` one by one, then the end of the connection; what is sent is kept."""

    def __init__(self, *chunks: bytes) -> None:
        self.left, self.sent, self.closed = list(chunks), b"", False

    def recv(self, _n):
        return self.left.pop(0) if self.left else b""

    def sendall(self, data):
        self.sent += data

    def close(self):
        self.closed = True


def connection(*chunks: bytes) -> http1.Connection:
    c = http1.Connection(("127.0.0.1", 1), connect_timeout=1, timeout=1)
    c.sock = Sock(*chunks)
    return c


def read(c: http1.Connection, cap: int = 1 << 20) -> tuple[int, bytes, bool]:
    answer = c.read_answer(max_body=cap)
    return answer.status, answer.body, answer.keep


def test_answers_framed_by_length_in_pieces_and_back_to_back():
    c = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", b"\r\nhel", b"loHTTP/1.1 400 Bad Request\r\n"
                   b"content-length: 13\r\nConnection: close\r\n\r\n{\"error\":\"x\"}")
    sock = c.sock
    assert read(c) == (200, b"hello", True)
    assert read(c) == (400, b'{"error":"x"}', False) and sock.closed and c.sock is None


def test_chunked_answers_informational_answers_and_http_1_0():
    c = connection(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"4;x=y\r\nwiki\r\n5\r\npedia\r\n0\r\nTrailer: t\r\n\r\n")
    assert read(c) == (200, b"wikipedia", True)
    assert read(connection(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"))[2] is False
    assert read(connection(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"))[2] is True
    # no length: the body ends with the connection, which is then closed
    assert read(connection(b"HTTP/1.0 200 OK\r\n\r\n[1,", b"2]")) == (200, b"[1,2]", False)


def test_a_head_answer_and_a_204_have_no_body_whatever_their_length_says():
    c = connection(b"HTTP/1.1 200 OK\r\nContent-Length: 400000\r\nETag: \"x\"\r\n\r\n",
                   b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    answer = c.read_answer(max_body=1 << 20, head=True)
    assert (answer.status, answer.body, answer.headers["etag"], answer.keep) == (200, b"", '"x"', True)
    assert read(c) == (204, b"", True)
    assert read(c) == (200, b"ok", True)  # the next answer starts where the head ended


@pytest.mark.parametrize("chunks, error, why", [
    ((b"SSH-2.0-OpenSSH_9.2\r\nnot HTTP\r\n\r\n",), http1.NotHTTP, "not an HTTP answer"),
    ((b"HTTP/1.1 OK\r\n\r\n",), http1.NotHTTP, "not an HTTP answer"),
    ((b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",), http1.NotHTTP, "not KEY: VALUE"),
    ((b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n",), http1.NotHTTP, "not a number"),
    ((b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",), http1.NotHTTP, "not a number"),
    ((b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",), http1.NotHTTP, "not hexadecimal"),
    ((b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",), http1.NotHTTP, "CRLF"),
    ((b"HTTP/1.1 200 OK\r\nX: " + b"y" * (70 << 10),), http1.NotHTTP, "headers never ended"),
    ((b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhalf",), http1.Closed, "closed"),
    ((), http1.Closed, "closed"),
])
def test_what_is_not_a_whole_http_answer_is_refused_and_the_connection_closed(chunks, error, why):
    c = connection(*chunks)
    sock = c.sock
    with pytest.raises(error, match=why):
        c.read_answer(max_body=1 << 20)
    assert sock.closed and c.sock is None


def test_a_server_closing_before_any_byte_is_told_apart_from_one_closing_midway():
    with pytest.raises(http1.Closed) as nothing:
        connection().read_answer(max_body=10)
    with pytest.raises(http1.Closed) as midway:
        connection(b"HTTP/1.1 200").read_answer(max_body=10)
    assert nothing.value.empty and not midway.value.empty


@pytest.mark.parametrize("chunks, declared", [
    ((b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n",), 11),
    ((b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n",), None),
    ((b"HTTP/1.1 200 OK\r\n\r\n", b"x" * 6, b"x" * 6), None),
])
def test_an_answer_over_the_cap_is_refused_as_soon_as_it_is_known(chunks, declared):
    with pytest.raises(http1.TooLarge) as raised:
        connection(*chunks).read_answer(max_body=10)
    assert raised.value.declared == declared


def test_a_request_is_written_whole_with_its_length():
    assert http1.request_bytes("POST", "/v2/repository/index", {"Host": "h:1", "X": "y"}, b"{}") == \
        b"POST /v2/repository/index HTTP/1.1\r\nHost: h:1\r\nX: y\r\nContent-Length: 2\r\n\r\n{}"
    assert http1.request_bytes("GET", "/v2", {"Host": "h"}) == b"GET /v2 HTTP/1.1\r\nHost: h\r\n\r\n"
    assert [http1.host_header(*a) for a in [("::1", 8000, False), ("h", 80, False), ("h", 443, True),
                                             ("h", 443, False)]] == ["[::1]:8000", "h", "h", "h:443"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_a_connection_reaches_a_listener_by_name_or_address(host):
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        conn, _ = listener.accept()
        with conn:
            while b"\r\n\r\n" not in conn.recv(1024):
                pass
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    c = http1.Connection((host, port), connect_timeout=5, timeout=5)
    try:
        answer = c.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", max_body=100)
        assert (answer.status, answer.body) == (200, b"ok")
    finally:
        c.close()
        listener.close()
        thread.join(5)
