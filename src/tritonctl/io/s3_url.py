"""An S3 repository's address, `s3://bucket/prefix`: parsed and checked here, apart from the client (io/s3.py), so
that every command that takes a repository reads its address without importing what talks to S3."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tritonctl.errors import UsageError

# S3's bucket naming rules; Triton's S3 URL regex takes lowercase names only (core src/filesystem/implementations/s3.h)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class S3Url:
    bucket: str
    prefix: str  # without leading or trailing "/"; "" is the bucket's root

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def rel(self, key: str) -> str:
        return key[len(self.prefix) + 1:] if self.prefix else key


def is_s3(text: str) -> bool:
    return str(text).startswith("s3://")


def parse_url(text: str) -> S3Url:
    """`s3://bucket/prefix` as an S3Url; a usage error for any other form (an endpoint belongs in --endpoint-url)."""
    if not is_s3(text):
        raise UsageError(f"'{text}' is not an s3://bucket/prefix address")
    rest = text[len("s3://"):]
    if rest.startswith(("http://", "https://")) or re.match(r"^[^/]+:\d+/", rest):
        raise UsageError(f"'{text}': write s3://bucket/prefix and give the endpoint with --endpoint-url (or "
                         "AWS_ENDPOINT_URL)")
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    if not _BUCKET.match(bucket):
        raise UsageError(f"'{bucket}' is not a bucket name (3-63 lowercase letters, digits, '.' and '-')")
    parts = prefix.split("/") if prefix else []
    if any(p in ("", ".", "..") for p in parts):
        raise UsageError(f"'{text}': the prefix has an empty, '.' or '..' part")
    return S3Url(bucket, prefix)
