"""S3 in one URL form, `s3://bucket/prefix`: the requests tritonctl makes, over HTTP/1.1 (io/http1.py), signed with
SigV4 (io/sigv4.py), path-style.

Where requests go and as whom:
- When the settings are plain (keys in the environment, or in the profile's sections of ~/.aws/credentials and
  ~/.aws/config with nothing but keys, region, endpoint_url and ca_bundle), tritonctl reads them itself, as botocore
  would: the endpoint from `--endpoint-url`, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the profile (else AWS's for
  the region), the region from AWS_DEFAULT_REGION or the profile, the CA bundle from AWS_CA_BUNDLE, the profile or
  REQUESTS_CA_BUNDLE, proxies from HTTP(S)_PROXY and NO_PROXY.
- Otherwise botocore resolves them (roles, SSO, credential_process, instance metadata: the `s3` extra), and its
  credentials are asked for before each request (they refresh themselves).
Neither costs a start-up: botocore's import and client took ~0.3 s of every S3 command, more than a no-op sync's
requests.

Throttling (429, 503 SlowDown), 5xx answers, dropped connections and timeouts are retried with exponential backoff
and jitter, up to `attempts`; the first request of a command is tried once, so an endpoint that is down or silent
is one line within `--timeout`. Every failure becomes one tritonctl error naming the bucket or endpoint, never a
credential. Bodies are sent from the file (`sendfile`) with their Content-MD5, which S3 checks; answers are read
within caps.
"""

from __future__ import annotations

import base64
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tritonctl.errors import TritonctlError, UsageError
from tritonctl.io import faults, http1, sigv4
from tritonctl.io.s3_url import S3Url, is_s3, parse_url  # noqa: F401 - one import for the client's users

SHA256_KEY = "sha256"  # the object metadata tritonctl writes: x-amz-meta-sha256
# Files below the threshold go in one request (rclone's default --s3-upload-cutoff), larger ones in parts, several at
# once; the ETag of what tritonctl uploads follows from these two (io/hash_cache.py)
MULTIPART_THRESHOLD, MULTIPART_CHUNK = faults.multipart() or (200 << 20, 8 << 20)
TIMEOUT_ENV = "TRITONCTL_S3_TIMEOUT"
DEFAULT_TIMEOUT = 30.0
ANSWER_MAX = 32 << 20  # a listing page, a multipart answer
_ERROR_MAX = 1 << 20
_RETRY_STATUS = {429, 500, 502, 503, 504}
_RETRY_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError",
                "ServiceUnavailable", "RequestLimitExceeded", "TooManyRequests"}
_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "InvalidToken",
                     "ExpiredToken", "InvalidSecurity", "TokenRefreshRequired"}


def default_timeout() -> float:
    """Seconds an S3 request may wait for the endpoint: TRITONCTL_S3_TIMEOUT, else 30 (a bad value: exit 2)."""
    import math

    value = os.environ.get(TIMEOUT_ENV)
    if value is None:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= 3600:
        raise UsageError(f"{TIMEOUT_ENV} must be a number of seconds above 0, at most 3600; not {value!r}")
    return seconds


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str


def content_md5(digest: bytes) -> str:
    """An MD5 digest as the Content-MD5 header carries it."""
    return base64.b64encode(digest).decode()


# ---- where requests go -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    endpoint: str  # scheme://host[:port], no path
    region: str
    credentials: Callable[[], sigv4.Credentials | None]
    ca_bundle: str | None = None
    proxy: str | None = None  # http://[user:pass@]host:port


def _true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() == "true"


# What a profile may hold for tritonctl to read it itself; anything else (a role, SSO, credential_process, per-service
# sections, s3 options) is botocore's to resolve
_PLAIN_PROFILE_KEYS = {"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region", "endpoint_url",
                       "ca_bundle", "output", "cli_pager", "cli_timestamp_format", "cli_binary_format",
                       "retry_mode", "max_attempts"}


@dataclass(frozen=True)
class _Plain:
    """The AWS settings as the environment and a plain profile give them (None: botocore must resolve them)."""

    credentials: sigv4.Credentials
    region: str | None
    endpoint: str | None
    ca_bundle: str | None


def _plain_settings() -> _Plain | None:
    """The settings botocore would find, read here when they are plain: keys in the environment (which come first
    in botocore's chain) or in the profile's sections of the shared credentials and config files, and that
    profile holding nothing else. None when botocore must resolve them."""
    env = os.environ
    if _true("AWS_USE_FIPS_ENDPOINT") or _true("AWS_USE_DUALSTACK_ENDPOINT"):
        return None
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    sections = []
    for path, name in ((env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials", profile),
                       (env.get("AWS_CONFIG_FILE") or "~/.aws/config",
                        profile if profile == "default" else f"profile {profile}")):
        path = os.path.expanduser(path)
        if not os.path.exists(path):
            continue
        import configparser

        parser = configparser.RawConfigParser()
        try:
            parser.read(path)
        except (configparser.Error, OSError, UnicodeDecodeError):
            return None  # botocore says what is wrong with it
        if parser.has_section(name):
            sections.append(dict(parser.items(name)))
        elif name == "default" and parser.has_section("profile default"):
            sections.append(dict(parser.items("profile default")))
    found: dict[str, str] = {}
    for section in reversed(sections):  # the credentials file over the config file
        found.update(section)
    if set(found) - _PLAIN_PROFILE_KEYS or (profile != "default" and not sections):
        return None
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    token = env.get("AWS_SESSION_TOKEN") or None
    if not (key and secret):
        key, secret = found.get("aws_access_key_id"), found.get("aws_secret_access_key")
        token = found.get("aws_session_token") or None
    if not (key and secret):
        return None  # instance metadata, a container's role, ...: botocore's chain
    return _Plain(sigv4.Credentials(key, secret, token), env.get("AWS_DEFAULT_REGION") or found.get("region"),
                  found.get("endpoint_url"), env.get("AWS_CA_BUNDLE") or found.get("ca_bundle"))


def _aws_endpoint(region: str) -> str:
    return f"https://s3.{region}.amazonaws.com" + (".cn" if region.startswith("cn-") else "")


def _proxy_for(endpoint: str) -> str | None:
    """The proxy HTTP(S)_PROXY names for `endpoint`, unless NO_PROXY exempts its host."""
    from urllib.parse import urlsplit

    scheme = urlsplit(endpoint).scheme
    names = ("https_proxy", "HTTPS_PROXY") if scheme == "https" else ("http_proxy", "HTTP_PROXY")
    proxy = next((os.environ[n] for n in names if os.environ.get(n)), None)
    if proxy is None:
        return None
    import urllib.request

    host = urlsplit(endpoint).hostname or ""
    return None if urllib.request.proxy_bypass_environment(host) else proxy


def resolve(endpoint_url: str | None) -> Settings:
    """Where this command's S3 requests go and how they are signed (see the module's docstring)."""
    env = os.environ
    plain = _plain_settings()
    if plain is None:
        return _resolve_with_botocore(endpoint_url)
    region = plain.region or "us-east-1"
    configured = None if _true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") else (
        env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or plain.endpoint)
    endpoint = endpoint_url or configured or _aws_endpoint(region)
    ca = plain.ca_bundle or env.get("REQUESTS_CA_BUNDLE") or None
    return Settings(_checked_endpoint(endpoint), region, lambda: plain.credentials, ca, _proxy_for(endpoint))


def _resolve_with_botocore(endpoint_url: str | None) -> Settings:
    import botocore.session
    from botocore.config import Config

    try:
        session = botocore.session.get_session()
        client = session.create_client("s3", endpoint_url=endpoint_url or None,
                                       config=Config(s3={"addressing_style": "path"}))
        provider = session.get_credentials()
        ca = session.get_config_variable("ca_bundle") or os.environ.get("REQUESTS_CA_BUNDLE") or None
    except Exception as e:  # noqa: BLE001 - a bad profile, endpoint URL or region: one line
        raise TritonctlError(f"cannot use S3: {type(e).__name__}: {e}") from None
    endpoint = client.meta.endpoint_url
    region = client.meta.region_name or "us-east-1"

    def credentials() -> sigv4.Credentials | None:
        if provider is None:
            return None
        frozen = provider.get_frozen_credentials()
        return sigv4.Credentials(frozen.access_key, frozen.secret_key, frozen.token or None)

    return Settings(_checked_endpoint(endpoint), region, credentials, ca, _proxy_for(endpoint))


def _checked_endpoint(endpoint: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
        shown = endpoint if parts is None or parts.username is None else f"{parts.scheme}://…@{parts.hostname}"
        raise UsageError(f"'{shown}' is not an S3 endpoint URL (http://host:port or https://host, no user or "
                         "password: credentials come from the AWS settings)")
    return f"{parts.scheme}://{parts.netloc}"


# ---- answers -----------------------------------------------------------------------------------------------------


class AnswerTooLarge(TritonctlError):
    """An answer longer than the request's cap (not retried)."""


class S3Error(Exception):
    """An S3 error answer."""

    def __init__(self, status: int, code: str, message: str, region: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.region = status, code, message, region


def _xml(body: bytes):
    import xml.etree.ElementTree as ET

    try:
        return ET.fromstring(body)
    except ET.ParseError:
        return None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element) -> dict[str, str]:
    """An XML element's children as local name -> text (the last one of a name)."""
    return {_local(child.tag): (child.text or "") for child in element}


def _error_of(answer: http1.Answer) -> S3Error:
    root = _xml(answer.body) if answer.body else None
    fields = _children(root) if root is not None and _local(root.tag) == "Error" else {}
    return S3Error(answer.status, fields.get("Code") or str(answer.status), fields.get("Message", ""),
                   answer.headers.get("x-amz-bucket-region") or fields.get("Region"))


def _failure(e: BaseException, what: str, endpoint: str) -> TritonctlError:
    """One line for a failed request; credentials and signatures never appear in it."""
    if isinstance(e, TritonctlError):
        return e
    if isinstance(e, S3Error):
        if e.code in ("BadDigest", "InvalidDigest"):
            return _failure(http1.BodyEnded(), what, endpoint)
        if e.code in ("NoSuchBucket", "404", "NotFound"):
            return TritonctlError(f"{what}: no such bucket at {endpoint}")
        if e.code in _CREDENTIAL_CODES:
            return TritonctlError(f"{what}: the S3 endpoint {endpoint} refused the credentials ({e.code})",
                                  hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the AWS profile")
        return TritonctlError(f"{what}: S3 answered {e.code or 'an error'}: {e.message}".rstrip(": "))
    if isinstance(e, http1.BodyEnded):
        return TritonctlError(f"{what}: the file changed while it was sent", hint="run the sync again")
    if isinstance(e, http1.ProxyRefused):
        return TritonctlError(f"{what}: {e}")
    if type(e).__name__ == "SSLCertVerificationError":
        return TritonctlError(f"{what}: the certificate of the S3 endpoint {endpoint} is not trusted "
                              f"({getattr(e, 'verify_message', '') or e})",
                              hint="give the CA that signed it in AWS_CA_BUNDLE")
    if isinstance(e, OSError | http1.NotHTTP):
        return TritonctlError(f"{what}: no answer from the S3 endpoint {endpoint}",
                              hint="check --endpoint-url (or AWS_ENDPOINT_URL) and that the endpoint runs")
    raise e


# ---- the client --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Body:
    """What a request sends: bytes, or `length` bytes of the file at `path` from `offset`."""

    data: bytes = b""
    path: Path | None = None
    offset: int = 0
    length: int = 0

    @property
    def size(self) -> int:
        return self.length if self.path is not None else len(self.data)


class S3:
    """A client for one endpoint, safe to share between threads (a kept-alive connection per thread)."""

    def __init__(self, endpoint_url: str | None = None, *, jobs: int = 8, timeout: float | None = None,
                 attempts: int = 6, settings: Settings | None = None) -> None:
        from tritonctl.io.extras import require

        require("s3", "S3 (s3:// addresses, sync to S3)")
        self.jobs = max(1, jobs)
        self.timeout = timeout if timeout is not None else default_timeout()
        self.attempts = max(1, attempts)
        self.settings = settings or resolve(endpoint_url)
        self.endpoint = self.settings.endpoint
        self._region = self.settings.region
        self._local = threading.local()
        self._connections: list[http1.Connection] = []
        self._lock = threading.Lock()
        self._tls = None
        self._proxy: tuple[tuple[str, int], dict[str, str]] | None = None  # (address, Proxy-Authorization header)
        if self.settings.proxy:
            from urllib.parse import unquote, urlsplit

            given = self.settings.proxy
            proxy = urlsplit(given if "://" in given else f"http://{given}")
            auth = {}
            if proxy.username is not None:
                token = base64.b64encode(f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode())
                auth = {"Proxy-Authorization": f"Basic {token.decode()}"}
            self._proxy = ((proxy.hostname or "", proxy.port or 80), auth)

    # the wire
    def _connection(self) -> http1.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            from urllib.parse import urlsplit

            target = urlsplit(self.endpoint)
            host, port = target.hostname, target.port or (443 if target.scheme == "https" else 80)
            tls = self._tls_context() if target.scheme == "https" else None
            address, tunnel = (host, port), None
            if self._proxy is not None:
                address = self._proxy[0]
                tunnel = (host, port, self._proxy[1]) if tls is not None else None  # https: CONNECT through it
            conn = http1.Connection(address, connect_timeout=min(5.0, self.timeout), timeout=self.timeout, tls=tls,
                                    tls_name=host, tunnel=tunnel)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _tls_context(self):
        with self._lock:
            if self._tls is None:
                import ssl

                self._tls = ssl.create_default_context(cafile=self.settings.ca_bundle or None)
            return self._tls

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    def _request(self, method: str, bucket: str, key: str = "", query: list[tuple[str, str]] | None = None,
                 headers: dict[str, str] | None = None, body: _Body | None = None, *, what: str,
                 max_body: int = ANSWER_MAX, attempts: int | None = None, ok: tuple[int, ...] = ()
                 ) -> http1.Answer:
        """One request, retried as the module says (`attempts`: the client's); its answer when 2xx (or a status in
        `ok`), else a tritonctl error once the attempts are spent."""
        from urllib.parse import urlsplit

        attempts = attempts or self.attempts
        path = f"/{bucket}" + (f"/{sigv4.encode_path(key)}" if key else "")
        q = sigv4.query_string(query or [])
        netloc = urlsplit(self.endpoint).netloc
        target = path + (f"?{q}" if q else "")
        plain_proxy = self._proxy is not None and self.endpoint.startswith("http://")
        if plain_proxy:
            target = self.endpoint + target  # through a plain proxy: the absolute form, and its credentials
        cap = max(max_body, _ERROR_MAX)  # an error's body, whatever the answer expected
        attempt = 0
        resent = False
        while True:
            credentials = self.settings.credentials()
            if credentials is None:
                raise TritonctlError(f"{what}: no AWS credentials found",
                                     hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an AWS profile")
            base = {"host": netloc, **(headers or {})}
            region = self._region
            signed = sigv4.sign(method, path, q, base, credentials, region)
            all_headers = {**base, **signed, **(self._proxy[1] if plain_proxy else {})}
            payload = body or _Body()
            if payload.path is not None:
                all_headers["Content-Length"] = str(payload.length)
            inline = payload.data if payload.path is None and (payload.data or method in ("PUT", "POST")) else None
            head = http1.request_bytes(method, target, all_headers, inline)
            error: BaseException
            try:
                conn = self._connection()
                if payload.path is not None:
                    from tritonctl.io.files import open_regular

                    with open_regular(payload.path) as f:
                        answer = conn.exchange(head, max_body=cap, file=(f, payload.offset, payload.length))
                else:
                    answer = conn.exchange(head, max_body=cap, head=method == "HEAD")
            except http1.Closed as e:
                self._drop()
                if e.empty and not resent:  # a kept-alive connection the endpoint had closed: once more, anew
                    resent = True
                    continue
                error = e
            except http1.BodyEnded as e:
                self._drop()
                raise _failure(e, what, self.endpoint) from None
            except http1.TooLarge:
                self._drop()
                raise AnswerTooLarge(f"{what}: the answer is larger than the {max_body:,} bytes read here") from None
            except (OSError, http1.NotHTTP) as e:
                self._drop()
                if type(e).__name__ == "SSLCertVerificationError":
                    raise _failure(e, what, self.endpoint) from None  # no attempt makes it trusted
                error = e
            else:
                if 200 <= answer.status < 300 or answer.status in ok:
                    if len(answer.body) > max_body and 200 <= answer.status < 300:
                        raise AnswerTooLarge(f"{what}: the answer is larger than the {max_body:,} bytes read here")
                    return answer
                error = _error_of(answer)
                if self._redirected(error, region):
                    continue
                if not (error.status in _RETRY_STATUS or error.code in _RETRY_CODES):
                    raise _failure(error, what, self.endpoint) from None
            attempt += 1
            if attempt >= attempts:
                raise _failure(error, what, self.endpoint) from None
            import random

            time.sleep(random.uniform(0, min(20.0, 0.5 * 2 ** attempt)))

    def _redirected(self, error: S3Error, signed_for: str) -> bool:
        """A bucket in another region than the request was signed for: from now on sign for its region (and, on
        AWS's own endpoint, go to that region's), and send the request again."""
        region = error.region
        if not region or region == signed_for or error.status not in (301, 307, 400):
            return False
        with self._lock:
            if region == self._region:
                return True  # another thread learnt it first
            self._region = region
            if self.endpoint.endswith((".amazonaws.com", ".amazonaws.com.cn")) and \
                    self.endpoint == _aws_endpoint(self.settings.region):
                self.endpoint = _aws_endpoint(region)
                self._local = threading.local()
        return True

    # reading
    def check_bucket(self, url: S3Url) -> None:
        """The endpoint answers and the bucket exists (one request, not retried: a silent endpoint fails within the
        timeout)."""
        self._request("HEAD", url.bucket, what=f"bucket '{url.bucket}'", attempts=1)

    def list(self, url: S3Url) -> dict[str, ObjectInfo]:
        """Every object under the prefix, by key relative to it (folder markers left out)."""
        return self.listing(url)[0]

    def listing(self, url: S3Url, *, probe: bool = False) -> tuple[dict[str, ObjectInfo], list[str]]:
        """One listing of the prefix: its objects by key relative to it, and apart the folder markers (keys ending
        in '/', written by other tools for empty folders; the prefix's own left out). With `probe` (a command's
        first request) its first request is tried once, so a silent endpoint is one line within the timeout."""
        from urllib.parse import unquote_plus

        out: dict[str, ObjectInfo] = {}
        markers: list[str] = []
        prefix = url.key("") if url.prefix else ""
        token = None
        while True:
            query = [("list-type", "2"), ("prefix", prefix), ("encoding-type", "url")]
            if token:
                query.append(("continuation-token", token))
            answer = self._request("GET", url.bucket, query=query, what=f"listing {url}",
                                   attempts=1 if probe and token is None else None)
            root = _xml(answer.body)
            not_a_listing = TritonctlError(f"listing {url}: the S3 endpoint {self.endpoint} answered with something "
                                           "that is not a listing of that prefix")
            if root is None or _local(root.tag) != "ListBucketResult":
                raise not_a_listing
            token = None
            truncated = False
            encoded = (root.findtext("{*}EncodingType") or "") == "url"  # keys decoded only when the answer says so
            for element in root:
                name = _local(element.tag)
                if name == "Contents":
                    fields = _children(element)
                    key = unquote_plus(fields.get("Key", "")) if encoded else fields.get("Key", "")
                    size = fields.get("Size", "0").strip()
                    if not key.startswith(prefix) or not size.isdigit():
                        raise not_a_listing
                    if key.endswith("/"):
                        if key != prefix:
                            markers.append(url.rel(key))
                        continue
                    out[url.rel(key)] = ObjectInfo(key, int(size), fields.get("ETag", ""))
                elif name == "NextContinuationToken":
                    token = element.text
                elif name == "IsTruncated":
                    truncated = (element.text or "").strip() == "true"
            if not (truncated and token):
                return out, markers

    def read_versioned(self, url: S3Url, rel: str, max_bytes: int, *, attempts: int | None = None
                       ) -> tuple[bytes, str] | None:
        """A small object's bytes and its ETag (None when it does not exist)."""
        try:
            answer = self._request("GET", url.bucket, url.key(rel), what=f"reading {url.key(rel)}",
                                   max_body=max_bytes, ok=(404,), attempts=attempts)
        except AnswerTooLarge:
            raise TritonctlError(f"{url}/{rel} is larger than the {max_bytes:,} bytes read here") from None
        if answer.status == 404:
            if _error_of(answer).code == "NoSuchBucket":
                raise _failure(_error_of(answer), f"reading {url.key(rel)}", self.endpoint)
            return None
        return answer.body, answer.headers.get("etag", "")

    def etag_of(self, url: S3Url, rel: str) -> str | None:
        """An object's ETag, without its bytes (None when it does not exist)."""
        answer = self._request("HEAD", url.bucket, url.key(rel), what=f"reading {url.key(rel)}", ok=(404,))
        return None if answer.status == 404 else answer.headers.get("etag", "")

    def download(self, url: S3Url, rel: str, path: Path, size: int,
                 progress: Callable[[int], None] | None = None) -> None:
        """An object into the file `path`: in parts of MULTIPART_CHUNK, each read whole before it is written."""
        with open(path, "wb") as f:
            offset = 0
            while offset < size or (size == 0 and offset == 0):
                last = min(size, offset + MULTIPART_CHUNK) - 1
                headers = {"range": f"bytes={offset}-{last}"} if size else {}
                answer = self._request("GET", url.bucket, url.key(rel), headers=headers,
                                       what=f"downloading {url.key(rel)}", max_body=MULTIPART_CHUNK)
                f.write(answer.body)
                if progress is not None:
                    progress(len(answer.body))
                if not answer.body:
                    break
                offset += len(answer.body)

    # writing
    def write(self, url: S3Url, rel: str, data: bytes, sha256: str) -> str:
        """Put a small object; returns its ETag."""
        return self.put(url, rel, data, sha256=sha256)

    def write_if(self, url: S3Url, rel: str, data: bytes, *, absent: bool = False, etag: str | None = None
                 ) -> str | None:
        """Put a small object only if it does not exist (`absent`) or still has `etag`; its new ETag, or None when
        the condition did not hold (HTTP 412, or 409 when another conditional write came first). An endpoint that
        ignores the conditions writes anyway."""
        conditions = {"if-none-match": "*"} if absent else {"if-match": etag} if etag is not None else {}
        answer = self._send_put(url, rel, _Body(data), _md5(data), None, conditions, ok=(409, 412))
        if answer.status in (409, 412):
            return None
        return answer.headers.get("etag", "")

    def put(self, url: S3Url, rel: str, data: bytes | Path, *, md5: bytes | None = None, size: int | None = None,
            sha256: str | None = None, progress: Callable[[int], None] | None = None) -> str:
        """Put an object in one request (bytes, or a file's first `size` bytes, its MD5 given); its ETag."""
        body = _Body(data) if isinstance(data, bytes) else _Body(path=data, length=size or 0)
        md5 = md5 if md5 is not None else _md5(body.data)
        answer = self._send_put(url, rel, body, md5, sha256, {})
        _check_md5(answer, md5, f"writing {url.key(rel)}", self.endpoint)
        if progress is not None:
            progress(body.size)
        return answer.headers.get("etag", "")

    def _send_put(self, url: S3Url, rel: str, body: _Body, md5: bytes, sha256: str | None,
                  conditions: dict[str, str], ok: tuple[int, ...] = ()) -> http1.Answer:
        headers = {"content-md5": content_md5(md5), **conditions}
        if sha256:
            headers[f"x-amz-meta-{SHA256_KEY}"] = sha256
        return self._request("PUT", url.bucket, url.key(rel), headers=headers, body=body,
                             what=f"writing {url.key(rel)}", ok=ok)

    def create_upload(self, url: S3Url, rel: str, sha256: str | None = None) -> str:
        """A multipart upload to `rel`: nothing there changes until it is completed. Its upload id."""
        headers = {f"x-amz-meta-{SHA256_KEY}": sha256} if sha256 else {}
        answer = self._request("POST", url.bucket, url.key(rel), query=[("uploads", "")], headers=headers,
                               body=_Body(b""), what=f"starting an upload of {url.key(rel)}")
        root = _xml(answer.body)
        upload = _children(root).get("UploadId") if root is not None else None
        if not upload:
            raise TritonctlError(f"starting an upload of {url.key(rel)}: the endpoint {self.endpoint} gave no "
                                 "upload id")
        return upload

    def upload_part(self, url: S3Url, rel: str, upload: str, number: int, path: Path, offset: int, length: int,
                    md5: bytes, progress: Callable[[int], None] | None = None) -> str:
        """One part of a multipart upload, sent from the file with its MD5 (S3 refuses it when the bytes differ)."""
        answer = self._request("PUT", url.bucket, url.key(rel),
                               query=[("partNumber", str(number)), ("uploadId", upload)],
                               headers={"content-md5": content_md5(md5)}, body=_Body(path=path, offset=offset,
                                                                                     length=length),
                               what=f"uploading {path} to {url.key(rel)}")
        _check_md5(answer, md5, f"uploading {path} to {url.key(rel)}", self.endpoint)
        if progress is not None:
            progress(length)
        return answer.headers.get("etag", "")

    def copy_part(self, url: S3Url, rel: str, upload: str, number: int, source_rel: str, first: int,
                  last: int) -> str:
        """One part of a multipart upload copied server-side from bytes first..last of another object."""
        answer = self._request("PUT", url.bucket, url.key(rel),
                               query=[("partNumber", str(number)), ("uploadId", upload)],
                               headers={"x-amz-copy-source": self._copy_source(url, source_rel),
                                        "x-amz-copy-source-range": f"bytes={first}-{last}"},
                               body=_Body(b""), what=f"copying {url.key(source_rel)} to {url.key(rel)}")
        return self._result_etag(answer, f"copying {url.key(source_rel)} to {url.key(rel)}")

    def complete_upload(self, url: S3Url, rel: str, upload: str, etags: list[str]) -> str:
        """Complete a multipart upload with the parts' ETags (S3 refuses parts whose ETag differs): the object
        appears whole. Its ETag."""
        from xml.sax.saxutils import escape

        body = ("<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{escape(etag)}</ETag></Part>"
            for n, etag in enumerate(etags, 1)) + "</CompleteMultipartUpload>").encode()
        what = f"completing the upload of {url.key(rel)}"
        answer = self._request("POST", url.bucket, url.key(rel), query=[("uploadId", upload)],
                               headers={"content-md5": content_md5(_md5(body))}, body=_Body(body), what=what)
        return self._result_etag(answer, what)

    def abort_upload(self, url: S3Url, rel: str, upload: str, *, attempts: int | None = None) -> None:
        """Abort a multipart upload (its parts are dropped); one that is gone already is no error."""
        self._request("DELETE", url.bucket, url.key(rel), query=[("uploadId", upload)],
                      what=f"aborting an upload of {url.key(rel)}", ok=(404,), attempts=attempts)

    def copy(self, url: S3Url, source_rel: str, rel: str) -> str:
        """A server-side copy within the bucket in one request (objects up to 5 GiB; metadata kept). Its ETag."""
        what = f"copying {url.key(source_rel)} to {url.key(rel)}"
        answer = self._request("PUT", url.bucket, url.key(rel),
                               headers={"x-amz-copy-source": self._copy_source(url, source_rel)},
                               body=_Body(b""), what=what)
        return self._result_etag(answer, what)

    @staticmethod
    def _copy_source(url: S3Url, source_rel: str) -> str:
        return f"/{url.bucket}/{sigv4.encode_path(url.key(source_rel))}"

    def _result_etag(self, answer: http1.Answer, what: str) -> str:
        """The ETag in a copy's or a completion's answer, which S3 may send as 200 with an error inside."""
        root = _xml(answer.body)
        if root is None:
            raise TritonctlError(f"{what}: the S3 endpoint {self.endpoint} answered with something unreadable")
        if _local(root.tag) == "Error":
            fields = _children(root)
            raise _failure(S3Error(answer.status, fields.get("Code", ""), fields.get("Message", "")), what,
                           self.endpoint)
        return _children(root).get("ETag", "")

    def delete_one(self, url: S3Url, rel: str, *, attempts: int | None = None) -> None:
        self._request("DELETE", url.bucket, url.key(rel), what=f"deleting {url.key(rel)}", ok=(404,),
                      attempts=attempts)

    def delete(self, url: S3Url, rels: list[str]) -> None:
        from xml.sax.saxutils import escape

        for start in range(0, len(rels), 1000):
            body = ("<Delete><Quiet>true</Quiet>" + "".join(
                f"<Object><Key>{escape(url.key(r))}</Key></Object>" for r in rels[start:start + 1000]) +
                "</Delete>").encode()
            answer = self._request("POST", url.bucket, query=[("delete", "")],
                                   headers={"content-md5": content_md5(_md5(body))}, body=_Body(body),
                                   what=f"deleting under {url}")
            root = _xml(answer.body)
            for element in root if root is not None else []:
                if _local(element.tag) == "Error":
                    fields = _children(element)
                    raise TritonctlError(f"deleting {fields.get('Key')} under {url}: {fields.get('Code')} "
                                         f"{fields.get('Message', '')}".rstrip())

    def environment(self) -> dict[str, str]:
        """The credentials and region as the environment variables Triton's S3 client reads (for a child process
        only: never on a command line, never printed)."""
        env: dict[str, str] = {}
        credentials = self.settings.credentials()
        if credentials is not None:
            env["AWS_ACCESS_KEY_ID"] = credentials.access_key
            env["AWS_SECRET_ACCESS_KEY"] = credentials.secret_key
            if credentials.token:
                env["AWS_SESSION_TOKEN"] = credentials.token
        env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = self._region
        return env


def _check_md5(answer: http1.Answer, md5: bytes, what: str, endpoint: str) -> None:
    """An endpoint that does not check Content-MD5 may store other bytes than were hashed (S3 refuses them with
    BadDigest): its ETag says so, where the ETag is the MD5 (not under KMS or customer keys)."""
    if answer.headers.get("x-amz-server-side-encryption", "").startswith("aws:kms") or \
            "x-amz-server-side-encryption-customer-algorithm" in answer.headers:
        return
    etag = answer.headers.get("etag", "").strip('"')
    if re.fullmatch(r"[0-9a-f]{32}", etag) and etag != md5.hex():
        raise _failure(http1.BodyEnded(), what, endpoint)


def _md5(data: bytes) -> bytes:
    import hashlib

    return hashlib.md5(data, usedforsecurity=False).digest()


_TRITON_PART = re.compile(r"^[0-9a-zA-Z.\-_]+$")


def triton_url(endpoint: str, url: S3Url) -> str:
    """`url` as Triton 2.51 reads an S3 repository: `s3://http://HOST:PORT/bucket/prefix` for an endpoint of its own
    (core src/filesystem/implementations/s3.h, its URL regex), plain `s3://bucket/prefix` for AWS's."""
    from urllib.parse import urlsplit

    for part in url.prefix.split("/") if url.prefix else []:
        if not _TRITON_PART.match(part):
            raise UsageError(f"{url}: Triton reads S3 prefixes of letters, digits, '.', '-' and '_' only, not '{part}'")
    parts = urlsplit(endpoint)
    if (parts.hostname or "").endswith("amazonaws.com"):
        return str(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"s3://{parts.scheme}://{parts.hostname}:{port}/{url.bucket}" + (f"/{url.prefix}" if url.prefix else "")
