"""A running Triton over HTTP, through tritonclient; its failures become tritonctl errors with Triton's words."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from typing import Any

from tritonctl.errors import NotTriton, ServerRejected, ServerUnreachable

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


def _named_tls(name: str):
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
        if cafile:
            context.load_verify_locations(cafile)
        return context

    return factory


class TritonClient:
    def __init__(self, endpoint: Endpoint) -> None:
        import tritonclient.http as http

        self.endpoint = endpoint
        self._http = http
        self._headers = dict(endpoint.headers)
        factory = None
        if endpoint.server_name:
            port = endpoint.host_port.rpartition(":")[2]
            self._headers.setdefault("Host", f"{endpoint.server_name}:{port}" if port.isdigit() else endpoint.server_name)
            factory = _named_tls(endpoint.server_name) if endpoint.uses_ssl else None
        self._client = http.InferenceServerClient(
            endpoint.host_port, connection_timeout=min(endpoint.timeout, 10.0), network_timeout=endpoint.timeout,
            ssl=endpoint.uses_ssl, ssl_context_factory=factory)

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not hide the real error
            pass

    def __enter__(self) -> TritonClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, fn, *args, **kwargs) -> Any:
        from tritonclient.utils import InferenceServerException

        kwargs.setdefault("headers", self._headers or None)
        try:
            return fn(*args, **kwargs)
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
        except ValueError as e:
            if type(e).__name__ != "JSONDecodeError" and not isinstance(e, UnicodeDecodeError):
                raise
            raise NotTriton(f"the server at {self.endpoint.url} answered with something that is not JSON; is it a "
                            "Triton server?", hint="check --url") from None
        except Exception as e:
            if type(e).__module__.startswith(("geventhttpclient", "gevent")):  # e.g. HTTPConnectionClosed
                raise ServerUnreachable(f"lost the connection to {self.endpoint.url} ({type(e).__name__}: {e})") \
                    from None
            raise

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
        return bool(self._call(self._client.is_server_live))

    def metadata(self) -> dict:
        return self._expect(self._call(self._client.get_server_metadata), dict, "the server metadata request")

    # repository
    def index(self) -> list[dict]:
        return self._expect(self._call(self._client.get_model_repository_index), list, "the repository index request")

    def load(self, model: str, config_json: str | None = None) -> None:
        self._call(self._client.load_model, model, config=config_json)

    def unload(self, model: str, dependents: bool = False) -> None:
        self._call(self._client.unload_model, model, unload_dependents=dependents)

    def config(self, model: str) -> dict:
        return self._expect(self._call(self._client.get_model_config, model), dict, "the model config request")

    def model_metadata(self, model: str, version: str = "") -> dict:
        return self._expect(self._call(self._client.get_model_metadata, model, model_version=version), dict,
                            "the model metadata request")

    def ready(self, model: str, version: str = "") -> bool:
        return bool(self._call(self._client.is_model_ready, model, model_version=version))

    def statistics(self, model: str = "") -> dict:
        return self._expect(self._call(self._client.get_inference_statistics, model), dict, "the statistics request")

    # inference
    def infer(self, model: str, arrays: dict, datatypes: dict[str, str], outputs: list[str], version: str = ""):
        http = self._http
        inputs = []
        for name, array in arrays.items():
            item = http.InferInput(name, list(array.shape), datatypes[name])
            item.set_data_from_numpy(array, binary_data=True)
            inputs.append(item)
        requested = [http.InferRequestedOutput(o, binary_data=True) for o in outputs]
        result = self._call(self._client.infer, model, inputs, model_version=version, outputs=requested)
        response = result.get_response()
        return {o: result.as_numpy(o) for o in outputs}, response
