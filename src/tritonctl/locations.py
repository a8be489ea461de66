"""Where a repository is: a local folder, or an S3 prefix written `s3://bucket/prefix`.

Commands that read a repository take either; commands that write one take a folder only, and refuse an S3 address
with a hint (edit a local copy, then `tritonctl sync` it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tritonctl.errors import UsageError
from tritonctl.io.s3_url import S3Url, is_s3, parse_url

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


@dataclass
class View:
    """A repository as a local folder: the folder itself, or the local copy of an S3 repository."""

    path: Path
    source: str  # the repository as the user named it
    unfinished: list[str] = field(default_factory=list)

    def label(self, text: str) -> str:
        """`text` with the local copy's path shown as the repository it stands for."""
        return text.replace(str(self.path), self.source) if self.source != str(self.path) else text


def view(location: Path | S3Url, *, endpoint_url: str | None = None) -> View:
    """`location` as a local folder: a folder as it is, an S3 repository through its local copy, brought up to date
    (s3_cache.materialize)."""
    if isinstance(location, S3Url):
        from tritonctl.s3_cache import materialize

        copy = materialize(location, endpoint_url=endpoint_url)
        return View(copy.path, str(location), copy.unfinished)
    return View(location, str(location))
