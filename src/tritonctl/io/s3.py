"""S3 through boto3, in one URL form: `s3://bucket/prefix`.

The endpoint comes from `--endpoint-url`, `AWS_ENDPOINT_URL` or the AWS configuration (boto3 resolves the last two
itself); credentials from boto3's usual chain, never printed. Throttling, 5xx answers and dropped connections are
retried with backoff (botocore's standard retry mode); large files go through boto3's transfer manager (multipart,
parts in parallel). Every failure becomes one tritonctl error naming the bucket or endpoint, not the keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tritonctl.errors import TritonctlError, UsageError

SHA256_KEY = "sha256"  # the object metadata tritonctl writes: x-amz-meta-sha256
MULTIPART_THRESHOLD = MULTIPART_CHUNK = 8 << 20  # the ETag of what tritonctl uploads follows from these (hash_cache)
TIMEOUT_ENV = "TRITONCTL_S3_TIMEOUT"
DEFAULT_TIMEOUT = 30.0


def default_timeout() -> float:
    """Seconds an S3 request may wait for the endpoint: TRITONCTL_S3_TIMEOUT, else 30 (a bad value: exit 2)."""
    import math
    import os

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


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str


def _error(e: Exception, what: str, endpoint: str) -> TritonctlError:
    """One line for a failure of boto3 or botocore; credentials and signatures never appear in it."""
    from botocore import exceptions as bx

    if isinstance(e, bx.NoCredentialsError | bx.PartialCredentialsError):
        return TritonctlError(f"{what}: no AWS credentials found",
                              hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an AWS profile")
    if isinstance(e, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ConnectionClosedError |
                  bx.ReadTimeoutError):
        return TritonctlError(f"{what}: no answer from the S3 endpoint {endpoint}",
                              hint="check --endpoint-url (or AWS_ENDPOINT_URL) and that the endpoint runs")
    if isinstance(e, bx.ClientError):
        error = e.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in ("NoSuchBucket", "404", "NotFound"):
            return TritonctlError(f"{what}: no such bucket at {endpoint}")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "InvalidToken",
                    "ExpiredToken"):
            return TritonctlError(f"{what}: the S3 endpoint {endpoint} refused the credentials ({code})",
                                  hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the AWS profile")
        return TritonctlError(f"{what}: S3 answered {code or 'an error'}: {error.get('Message', '')}".rstrip(": "))
    if isinstance(e, bx.BotoCoreError):
        return TritonctlError(f"{what}: {type(e).__name__}: {e}")
    if isinstance(e, OSError):
        return TritonctlError(f"{what}: {e.strerror or e}")
    raise e


class S3:
    """A client for one endpoint, safe to share between threads."""

    def __init__(self, endpoint_url: str | None = None, *, jobs: int = 8, timeout: float | None = None,
                 attempts: int = 6) -> None:
        from tritonctl.io.extras import require

        require("s3", "S3 (s3:// addresses, sync to S3)")
        import boto3
        from botocore.config import Config

        self.jobs = max(1, jobs)
        self.timeout = timeout if timeout is not None else default_timeout()
        import botocore.session

        core = botocore.session.get_session()
        # timestamps stay the strings S3 sent: nothing here reads a date, and parsing every listed object's
        # LastModified was a fifth of a no-op sync over 2,000 files (as aws-cli does for its "wire" timestamp
        # format: botocore/parsers.py, ResponseParserFactory.set_parser_defaults)
        core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=str)
        self._session = boto3.session.Session(botocore_session=core)

        def config(tries: int):
            return Config(retries={"mode": "standard", "max_attempts": tries},
                          max_pool_connections=max(10, 2 * self.jobs), connect_timeout=min(5.0, self.timeout),
                          read_timeout=self.timeout, signature_version="s3v4", s3={"addressing_style": "path"})

        try:
            self.client = self._session.client("s3", endpoint_url=endpoint_url or None, config=config(attempts))
            # the first request of a command goes through this one: an endpoint that accepts connections and never
            # answers is said within the timeout, not after every retry of every request
            self._probe = self._session.client("s3", endpoint_url=endpoint_url or None, config=config(1))
        except Exception as e:  # noqa: BLE001 - a bad endpoint URL or region: one line
            raise _error(e, "cannot use S3", endpoint_url or "(default)") from None
        self.endpoint = self.client.meta.endpoint_url
        self._transfers = None  # one transfer manager for every upload and download: `jobs` requests at once

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - mapped to one line, or re-raised when not an S3 failure
            raise _error(e, what, self.endpoint) from None

    def transfer_config(self):
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNK,
                              max_concurrency=self.jobs, use_threads=True)

    def check_bucket(self, url: S3Url) -> None:
        """The endpoint answers and the bucket exists (one request, not retried: a silent endpoint fails within the
        timeout)."""
        self._call(f"bucket '{url.bucket}'", self._probe.head_bucket, Bucket=url.bucket)

    def list(self, url: S3Url) -> dict[str, ObjectInfo]:
        """Every object under the prefix, by key relative to it (folder markers left out)."""
        return self.listing(url)[0]

    def listing(self, url: S3Url) -> tuple[dict[str, ObjectInfo], list[str]]:
        """One listing of the prefix: its objects by key relative to it, and apart the folder markers (keys ending
        in '/', written by other tools for empty folders; the prefix's own left out)."""
        out: dict[str, ObjectInfo] = {}
        markers: list[str] = []
        prefix = url.key("") if url.prefix else ""

        def run():
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=url.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/"):
                        if key != prefix:
                            markers.append(url.rel(key))
                        continue
                    out[url.rel(key)] = ObjectInfo(key, int(obj["Size"]), str(obj.get("ETag", "")))

        self._call(f"listing {url}", run)
        return out, markers

    def sha256_of(self, url: S3Url, rel: str) -> str | None:
        """The sha256 tritonctl recorded in an object's metadata (None when another tool wrote it)."""
        head = self._call(f"reading {url.key(rel)}", self.client.head_object, Bucket=url.bucket, Key=url.key(rel))
        value = head.get("Metadata", {}).get(SHA256_KEY)
        return value if value and re.fullmatch(r"[0-9a-f]{64}", value) else None

    def read(self, url: S3Url, rel: str, max_bytes: int) -> bytes | None:
        """A small object's bytes (None when it does not exist)."""
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=url.bucket, Key=url.key(rel))["Body"]
            data = body.read(max_bytes + 1)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise _error(e, f"reading {url.key(rel)}", self.endpoint) from None
        except Exception as e:  # noqa: BLE001
            raise _error(e, f"reading {url.key(rel)}", self.endpoint) from None
        if len(data) > max_bytes:
            raise TritonctlError(f"{url}/{rel} is larger than the {max_bytes:,} bytes read here")
        return data

    def read_versioned(self, url: S3Url, rel: str, max_bytes: int) -> tuple[bytes, str] | None:
        """A small object's bytes and its ETag (None when it does not exist)."""
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=url.bucket, Key=url.key(rel))
            data = answer["Body"].read(max_bytes + 1)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise _error(e, f"reading {url.key(rel)}", self.endpoint) from None
        except Exception as e:  # noqa: BLE001
            raise _error(e, f"reading {url.key(rel)}", self.endpoint) from None
        if len(data) > max_bytes:
            raise TritonctlError(f"{url}/{rel} is larger than the {max_bytes:,} bytes read here")
        return data, str(answer.get("ETag", ""))

    def write_if(self, url: S3Url, rel: str, data: bytes, *, absent: bool = False, etag: str | None = None
                 ) -> str | None:
        """Put a small object only if it does not exist (`absent`) or still has `etag`; its new ETag, or None when
        the condition did not hold (HTTP 412). An endpoint that ignores the conditions writes anyway."""
        from botocore.exceptions import ClientError

        extra = {"IfNoneMatch": "*"} if absent else {"IfMatch": etag} if etag is not None else {}
        try:
            result = self.client.put_object(Bucket=url.bucket, Key=url.key(rel), Body=data, **extra)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return None
            raise _error(e, f"writing {url.key(rel)}", self.endpoint) from None
        except Exception as e:  # noqa: BLE001
            raise _error(e, f"writing {url.key(rel)}", self.endpoint) from None
        return str(result.get("ETag", ""))

    def delete_one(self, url: S3Url, rel: str) -> None:
        self._call(f"deleting {url.key(rel)}", self.client.delete_object, Bucket=url.bucket, Key=url.key(rel))

    def write(self, url: S3Url, rel: str, data: bytes, sha256: str) -> str:
        """Put a small object; returns its ETag."""
        result = self._call(f"writing {url.key(rel)}", self.client.put_object, Bucket=url.bucket, Key=url.key(rel),
                            Body=data, Metadata={SHA256_KEY: sha256})
        return str(result.get("ETag", ""))

    def _manager(self):
        if self._transfers is None:
            from s3transfer.manager import TransferManager

            self._transfers = TransferManager(self.client, self.transfer_config())
        return self._transfers

    @staticmethod
    def _subscribers(progress: Callable[[int], None] | None) -> list:
        if progress is None:
            return []
        from s3transfer.subscribers import BaseSubscriber

        class Progress(BaseSubscriber):
            def on_progress(self, future, bytes_transferred, **kwargs):
                progress(bytes_transferred)

        return [Progress()]

    def upload(self, path: Path, url: S3Url, rel: str, sha256: str,
               progress: Callable[[int], None] | None = None) -> None:
        """Upload a file (multipart past 8 MiB, its parts in parallel), with its sha256 in the object's metadata.
        Safe to call from several threads: the uploads share one transfer manager."""
        future = self._manager().upload(str(path), url.bucket, url.key(rel),
                                        extra_args={"Metadata": {SHA256_KEY: sha256}},
                                        subscribers=self._subscribers(progress))
        self._call(f"uploading {path} to {url.key(rel)}", future.result)

    def download(self, url: S3Url, rel: str, path: Path, progress: Callable[[int], None] | None = None) -> None:
        future = self._manager().download(url.bucket, url.key(rel), str(path),
                                          subscribers=self._subscribers(progress))
        self._call(f"downloading {url.key(rel)}", future.result)

    def close(self) -> None:
        if self._transfers is not None:
            self._transfers.shutdown()
            self._transfers = None

    def copy(self, url: S3Url, source_rel: str, rel: str) -> None:
        """A server-side copy within the bucket: no byte goes through this machine (metadata kept)."""
        self._call(f"copying {url.key(source_rel)} to {url.key(rel)}", self.client.copy,
                   {"Bucket": url.bucket, "Key": url.key(source_rel)}, url.bucket, url.key(rel),
                   Config=self.transfer_config())

    def copy_from(self, source: S3Url, source_rel: str, url: S3Url, rel: str) -> None:
        """A server-side copy from another prefix of the same bucket (metadata kept)."""
        self._call(f"copying {source.key(source_rel)} to {url.key(rel)}", self.client.copy,
                   {"Bucket": source.bucket, "Key": source.key(source_rel)}, url.bucket, url.key(rel),
                   Config=self.transfer_config())

    def delete(self, url: S3Url, rels: list[str]) -> None:
        for start in range(0, len(rels), 1000):
            batch = [{"Key": url.key(r)} for r in rels[start:start + 1000]]
            result = self._call(f"deleting under {url}", self.client.delete_objects, Bucket=url.bucket,
                                Delete={"Objects": batch, "Quiet": True})
            failed = result.get("Errors", [])
            if failed:
                first = failed[0]
                raise TritonctlError(f"deleting {first.get('Key')} under {url}: {first.get('Code')} "
                                     f"{first.get('Message', '')}".rstrip())

    def environment(self) -> dict[str, str]:
        """The credentials and region as the environment variables Triton's S3 client reads (for a child process
        only: never on a command line, never printed)."""
        credentials = self._session.get_credentials()
        env: dict[str, str] = {}
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            env["AWS_ACCESS_KEY_ID"] = frozen.access_key
            env["AWS_SECRET_ACCESS_KEY"] = frozen.secret_key
            if frozen.token:
                env["AWS_SESSION_TOKEN"] = frozen.token
        region = self.client.meta.region_name or "us-east-1"
        env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = region
        return env


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
