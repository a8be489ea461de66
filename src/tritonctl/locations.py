"""Where a repository is: a local folder, or an S3 prefix written `s3://bucket/prefix`.

Commands that read a repository take either; commands that write one take a folder only, and refuse an S3 address
with a hint (edit a local copy, then `tritonctl sync` it).
"""

from __future__ import annotations

from pathlib import Path

from tritonctl.errors import UsageError
from tritonctl.io.s3 import S3Url, is_s3, parse_url

Location = Path | S3Url


def parse(text: str | Path) -> Location:
    text = str(text)
    if is_s3(text):
        return parse_url(text)
    if text.startswith("s3:/"):  # what pathlib makes of s3://...
        return parse_url("s3://" + text[len("s3:/"):])
    return Path(text)


def writable(text: str | Path, what: str = "--repo") -> Path:
    """A local repository folder to write; an S3 address is a usage error (exit 2)."""
    location = parse(text)
    if isinstance(location, S3Url):
        raise UsageError(f"{what} {location}: this command writes the repository, and S3 repositories are read-only "
                         "here", hint=f"edit a local copy, then publish it: tritonctl sync LOCAL_COPY {location}")
    return location
