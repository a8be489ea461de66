"""AWS Signature Version 4 for S3 requests (the `Authorization` header), as AWS documents it ("Create a signed AWS
API request", and S3's "Signature Calculations for the Authorization Header") and botocore computes it
(botocore/auth.py, S3SigV4Auth): the payload is not hashed into the signature (`UNSIGNED-PAYLOAD`; what tritonctl
sends carries `Content-MD5`, which is signed, so S3 still refuses a body changed on the way), and S3's paths are
encoded once, never normalized.

`tests/test_sigv4.py` holds this to botocore's signer over generated requests.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import quote

UNSIGNED = "UNSIGNED-PAYLOAD"
_UNRESERVED = "-_.~"


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:  # never the secret, whatever prints it
        return f"Credentials(access_key={self.access_key!r}, secret_key='***', token={'***' if self.token else None})"


def encode_path(key: str) -> str:
    """A bucket-relative path as S3 wants it in the request line and the canonical request: UTF-8, every byte but
    the unreserved ones and '/' percent-encoded."""
    return quote(key, safe="/" + _UNRESERVED)


def query_string(params: list[tuple[str, str]]) -> str:
    """Query parameters canonically: each name and value encoded ('/' too), sorted by name then value."""
    return "&".join(f"{quote(k, safe=_UNRESERVED)}={quote(v, safe=_UNRESERVED)}" for k, v in sorted(params))


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


_keys: dict[tuple[str, str, str], bytes] = {}  # (secret, date, region) -> signing key: derived once a day


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    cached = _keys.get((secret, date, region))
    if cached is None:
        cached = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), date), region), service), "aws4_request")
        _keys[(secret, date, region)] = cached
    return cached


def sign(method: str, path: str, query: str, headers: dict[str, str], credentials: Credentials, region: str,
         *, service: str = "s3", now: float | None = None) -> dict[str, str]:
    """The headers to add to a request for it to be signed: `x-amz-date`, `x-amz-content-sha256`, the session token
    when there is one, and `Authorization` over every header given (which must include `host`) and those.
    `path` and `query` are as sent (encode_path, query_string)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    added = {"x-amz-date": stamp, "x-amz-content-sha256": UNSIGNED}
    if credentials.token:
        added["x-amz-security-token"] = credentials.token
    signed = {k.lower(): " ".join(str(v).split()) for k, v in {**headers, **added}.items()}
    names = sorted(signed)
    canonical = "\n".join([method, path, query, *(f"{n}:{signed[n]}" for n in names), "", ";".join(names), UNSIGNED])
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = hmac.new(_signing_key(credentials.secret_key, stamp[:8], region, service), to_sign.encode(),
                         hashlib.sha256).hexdigest()
    added["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
                              f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return added
