"""A running Triton over HTTP (management requests on a socket of their own, io/http1.py; inference through
tritonclient); its failures become tritonctl errors with Triton's words."""

from __future__ import annotations

import re
import socket
import sys
from dataclasses import dataclass, field

from tritonctl.errors import NotTriton, ServerRejected, ServerUnreachable
from tritonctl.io import http1

DEFAULT_URL = "http://localhost:8000"

# Triton answers these with the HTTP status it gives any error (400, 503): only its words tell them apart
# (triton-inference-server/core src/model_repository_manager.cc, src/server.cc).
_KINDS = {
    "failed to poll from model repository": "poll_failure",  # the model's files or config could not be read
    "explicit model load / unload is not allowed if polling is enabled": "polling_server",
    "Request for unknown model": "unknown_model",  # not loaded (or no such model)
}


def rejection_kind(error: ServerRejected) -> str:
    """What a refusal means: poll_failure, polling_server, unknown_model, or other."""
    for words, kind in _KINDS.items():
        if words in error.full:
            return kind
    return "other"


def clean_reason(text: str) -> str:
    """Triton's error text on one line: python-backend tracebacks ("At: ...") and exception class names
    dropped."""
    text = re.sub(r"\n\s*At:\n.*?(?=;|$)", "", text, flags=re.S)
    text = text.replace("TritonModelException: ", "")
    text = " ".join(part.strip() for part in text.splitlines() if part.strip())
    return text.rstrip("; ").strip()


def split_credentials(url: str) -> tuple[str, str | None]:
    """`url` without user info, and an `Authorization: Basic` value for it (None when the URL has none): a
    password never stays in a URL that is printed or logged."""
    import base64
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    return urlunsplit(parts._replace(netloc=hostport)), f"Basic {token}"


@dataclass(frozen=True)
class Endpoint:
    url: str = DEFAULT_URL  # never holds credentials: see split_credentials
    timeout: float = 60.0
    ssl: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    # the name `url` was resolved from (--all-addresses): sent as the Host header and checked against the TLS
    # certificate, while the connection goes to the address in `url`
    server_name: str | None = None
    ca_cert: str | None = None  # a CA bundle (PEM file) that the server's certificate is checked against

    @property
    def label(self) -> str:
        """How the server is shown: its URL, with the name it was resolved from."""
        return f"{self.url} ({self.server_name})" if self.server_name else self.url

    @property
    def host_port(self) -> str:
        url = self.url
        for scheme in ("http://", "https://"):
            if url.startswith(scheme):
                url = url[len(scheme):]
        return url.rstrip("/")

    @property
    def uses_ssl(self) -> bool:
        return self.ssl or self.url.startswith("https://")


def _named_tls(name: str, ca_cert: str | None = None):
    """An SSL context factory whose connections check the certificate against `name`, whatever address they reach
    (a replica found by its IP address still proves it is `name`)."""
    import ssl

    from gevent import ssl as gevent_ssl  # the context tritonclient's HTTP client (geventhttpclient) expects

    class NamedContext(gevent_ssl.SSLContext):
        def wrap_socket(self, sock, *args, server_hostname=None, **kwargs):
            return super().wrap_socket(sock, *args, server_hostname=name, **kwargs)

    def factory(*_args, cafile=None, **_kwargs):
        context = NamedContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_default_certs()
        for bundle in (cafile, ca_cert):
            if bundle:
                context.load_verify_locations(bundle)
        return context

    return factory


RESPONSE_MAX = 64 << 20  # a management answer larger than this is no Triton's (the index of 10,000 models: ~1 MiB)
CONNECT_TIMEOUT = 10.0


class TritonClient:
    """Management requests (health, metadata, repository, config, statistics) over Triton's HTTP API (io/http1.py):
    one keep-alive connection, a connect timeout, a deadline per request and a cap on what is
    read. Inference goes through tritonclient (its binary tensor format), imported when first used."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._headers = dict(endpoint.headers)
        host, _, port = endpoint.host_port.rpartition(":")
        if not port.isdigit():
            host, port = endpoint.host_port, "443" if endpoint.uses_ssl else "80"
        self._address = (host.strip("[]"), int(port))
        if endpoint.server_name:
            self._headers.setdefault("Host", f"{endpoint.server_name}:{self._address[1]}")
        self._connection = None
        self._infer_client = None

    def close(self) -> None:
        for closer in (getattr(self._connection, "close", None), getattr(self._infer_client, "close", None)):
            try:
                if closer is not None:
                    closer()
            except Exception:  # noqa: BLE001 - closing a broken connection must not hide the real error
                pass
        self._connection = self._infer_client = None

    def __enter__(self) -> TritonClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) connections go to."""
        return self._address

    def connection(self) -> http1.Connection:
        """A connection of its own, opened with this client's TLS and timeouts: for callers that keep one per
        thread (the built-in load generator)."""
        try:
            connection = self._new_connection()
            connection.connect()
            return connection
        except ConnectionRefusedError:
            raise ServerUnreachable(f"no Triton server at {self.endpoint.url} (connection refused)",
                                    hint="start one with: tritonctl server start") from None

    def _new_connection(self) -> http1.Connection:
        endpoint = self.endpoint
        context = None
        if endpoint.uses_ssl:
            import ssl

            try:
                context = ssl.create_default_context(cafile=endpoint.ca_cert)
            except (OSError, ssl.SSLError) as e:
                raise ServerUnreachable(f"cannot use the CA certificate '{endpoint.ca_cert}': "
                                        f"{getattr(e, 'strerror', None) or e}", hint="check --ca-cert") from None
        # the certificate is checked against the name, whatever address is reached
        return http1.Connection(self._address, connect_timeout=min(endpoint.timeout, CONNECT_TIMEOUT),
                                timeout=endpoint.timeout, tls=context,
                                tls_name=endpoint.server_name or self._address[0])

    def request_headers(self) -> dict[str, str]:
        """Every header a request carries before its body's: Host (the name of --all-addresses, else the address),
        -H and Authorization."""
        host, port = self._address
        headers = {"Host": http1.host_header(host, port, self.endpoint.uses_ssl)}
        for key, value in self._headers.items():
            for known in [k for k in headers if k.lower() == key.lower()]:
                del headers[known]
            headers[key] = value
        return headers

    def _request(self, method: str, path: str, body: dict | None = None) -> http1.Answer:
        """The answer to one request; a keep-alive connection the server closed is opened again once."""
        import json
        import time

        data = json.dumps(body).encode() if body is not None else None
        headers = {**self.request_headers(), "Accept-Encoding": "identity",
                   **({"Content-Type": "application/json"} if data is not None else {})}
        request = http1.request_bytes(method, path, headers, data)
        for attempt in (1, 2):
            fresh = self._connection is None
            if fresh:
                self._connection = self._new_connection()
            try:
                return self._connection.exchange(request, max_body=RESPONSE_MAX,
                                                 deadline=time.monotonic() + self.endpoint.timeout)
            except (http1.Closed, BrokenPipeError, ConnectionResetError) as e:
                self.close()
                if fresh or attempt == 2 or (isinstance(e, http1.Closed) and not e.empty):
                    raise
        raise AssertionError("unreachable")

    def _call(self, method: str, path: str, body: dict | None = None, *, what: str, ok_only: bool = False):
        """The JSON Triton answers `path` with; its error answers become ServerRejected with its words. With
        `ok_only`, whether it answered 200 (health and readiness)."""
        import json

        url = self.endpoint.url
        try:
            answer = self._request(method, path, body)
        except ConnectionRefusedError:
            raise ServerUnreachable(f"no Triton server at {url} (connection refused)",
                                    hint="start one with: tritonctl server start") from None
        except (socket.gaierror, TimeoutError) as e:
            what_happened = "timed out" if not isinstance(e, socket.gaierror) else "unknown host"
            raise ServerUnreachable(f"no answer from a Triton server at {url} ({what_happened})",
                                    hint="check --url, or raise --timeout") from None
        except http1.TooLarge as e:
            self.close()
            size = f"with {e.declared:,} bytes, more than the {RESPONSE_MAX:,} read here" if e.declared is not None \
                else f"with more than the {RESPONSE_MAX:,} bytes read here"
            raise NotTriton(f"the server at {url} answered {path} {size}; is it a Triton server?",
                            hint="check --url") from None
        except http1.NotHTTP:
            self.close()
            raise NotTriton(f"the server at {url} answered with something that is not HTTP; is it a Triton server?",
                            hint="check --url") from None
        except http1.Closed as e:
            self.close()
            raise ServerUnreachable(f"lost the connection to {url} (it closed "
                                    f"{'without an answer' if e.empty else 'in the middle of its answer'})") from None
        except OSError as e:
            self.close()
            ssl = sys.modules.get("ssl")  # imported by a TLS connection only
            if ssl is not None and isinstance(e, ssl.SSLError):
                raise ServerUnreachable(f"TLS with {url} failed ({e.reason or e})",
                                        hint="check --ssl and the server's certificate") from None
            raise ServerUnreachable(f"lost the connection to {url} ({type(e).__name__}: {e})") from None
        status, data = answer.status, answer.body
        if ok_only:
            return status == 200
        try:
            doc = json.loads(data) if data else {}
        except (ValueError, UnicodeDecodeError):
            raise NotTriton(f"the server at {url} answered with something that is not JSON; is it a "
                            "Triton server?", hint="check --url") from None
        if status != 200:
            text = doc.get("error") if isinstance(doc, dict) and isinstance(doc.get("error"), str) else None
            if text is None:
                raise NotTriton(f"the server at {url} answered {what} with HTTP {status} and no "
                                "Triton error; is it a Triton server?", hint="check --url")
            raise ServerRejected(clean_reason(text), status=str(status), full=text)
        return doc

    @staticmethod
    def _model_path(model: str, version: str = "", tail: str = "") -> str:
        from urllib.parse import quote

        path = f"/v2/models/{quote(model, safe='')}"
        if version:
            path += f"/versions/{quote(str(version), safe='')}"
        return path + tail

    def _expect(self, value, kind: type, what: str):
        """`value` when it is what Triton answers (a `kind`); else NotTriton."""
        items = value if kind is list and isinstance(value, list) else None
        if not isinstance(value, kind) or (items is not None and not all(
                isinstance(i, dict) and isinstance(i.get("name"), str) for i in items)):
            raise NotTriton(f"the server at {self.endpoint.url} answered {what} with JSON that is not Triton's; is "
                            "it a Triton server?", hint="check --url")
        return value

    # health and metadata
    def live(self) -> bool:
        return self._call("GET", "/v2/health/live", what="the liveness request", ok_only=True)

    def metadata(self) -> dict:
        return self._expect(self._call("GET", "/v2", what="the server metadata request"), dict,
                            "the server metadata request")

    # repository
    def index(self) -> list[dict]:
        return self._expect(self._call("POST", "/v2/repository/index", {}, what="the repository index request"), list,
                            "the repository index request")

    def load(self, model: str, config_json: str | None = None) -> None:
        from urllib.parse import quote

        body = {"parameters": {"config": config_json}} if config_json is not None else {}
        self._call("POST", f"/v2/repository/models/{quote(model, safe='')}/load", body, what="the load request")

    def unload(self, model: str, dependents: bool = False) -> None:
        from urllib.parse import quote

        self._call("POST", f"/v2/repository/models/{quote(model, safe='')}/unload",
                   {"parameters": {"unload_dependents": dependents}}, what="the unload request")

    def config(self, model: str) -> dict:
        return self._expect(self._call("GET", self._model_path(model, tail="/config"), what="the model config request"),
                            dict, "the model config request")

    def model_metadata(self, model: str, version: str = "") -> dict:
        return self._expect(self._call("GET", self._model_path(model, version), what="the model metadata request"),
                            dict, "the model metadata request")

    def ready(self, model: str, version: str = "") -> bool:
        return self._call("GET", self._model_path(model, version, "/ready"), what="the readiness request",
                          ok_only=True)

    def statistics(self, model: str = "") -> dict:
        path = self._model_path(model, tail="/stats") if model else "/v2/models/stats"
        return self._expect(self._call("GET", path, what="the statistics request"), dict, "the statistics request")

    # inference
    def _inference(self):
        """tritonclient's HTTP client (gevent-based: one per thread), made when first asked for."""
        if self._infer_client is None:
            import tritonclient.http as http

            endpoint = self.endpoint
            factory = _named_tls(endpoint.server_name or self._address[0], endpoint.ca_cert) \
                if endpoint.uses_ssl and (endpoint.server_name or endpoint.ca_cert) else None
            self._infer_client = http.InferenceServerClient(
                endpoint.host_port, connection_timeout=min(endpoint.timeout, CONNECT_TIMEOUT),
                network_timeout=endpoint.timeout, ssl=endpoint.uses_ssl, ssl_context_factory=factory)
        return self._infer_client

    def infer(self, model: str, arrays: dict, datatypes: dict[str, str], outputs: list[str], version: str = ""):
        import tritonclient.http as http
        from tritonclient.utils import InferenceServerException

        client = self._inference()
        inputs = []
        for name, array in arrays.items():
            item = http.InferInput(name, list(array.shape), datatypes[name])
            item.set_data_from_numpy(array, binary_data=True)
            inputs.append(item)
        requested = [http.InferRequestedOutput(o, binary_data=True) for o in outputs]
        try:
            result = client.infer(model, inputs, model_version=version, outputs=requested,
                                  headers=self._headers or None)
        except InferenceServerException as e:
            text = e.message() or str(e)
            raise ServerRejected(clean_reason(text), status=e.status(), full=text) from None
        except ConnectionRefusedError:
            raise ServerUnreachable(f"no Triton server at {self.endpoint.url} (connection refused)",
                                    hint="start one with: tritonctl server start") from None
        except (socket.gaierror, socket.timeout, TimeoutError) as e:
            what = "timed out" if not isinstance(e, socket.gaierror) else "unknown host"
            raise ServerUnreachable(f"no answer from a Triton server at {self.endpoint.url} ({what})",
                                    hint="check --url, or raise --timeout") from None
        except (ConnectionError, OSError) as e:
            raise ServerUnreachable(f"lost the connection to {self.endpoint.url} ({e.__class__.__name__}: {e})")\
                from None
        except Exception as e:
            if type(e).__module__.startswith(("geventhttpclient", "gevent")):  # e.g. HTTPConnectionClosed
                raise ServerUnreachable(f"lost the connection to {self.endpoint.url} ({type(e).__name__}: {e})") \
                    from None
            raise
        response = result.get_response()
        return {o: result.as_numpy(o) for o in outputs}, response
