"""Options shared by several commands, declared once."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

RepoOpt = Annotated[
    Path,
    typer.Option("--repo", "-r", envvar="TRITONCTL_REPO", help="Model repository folder.", show_default=True),
]
ModelArg = Annotated[str, typer.Argument(help="Model name (its folder in the repository).")]


class FindingsFormat(str, Enum):
    table = "table"
    json = "json"
    github = "github"


class DataFormat(str, Enum):
    table = "table"
    json = "json"


FindingsFormatOpt = Annotated[
    Optional[FindingsFormat],
    typer.Option("--format", "-f", help="Output format (default: github under GitHub Actions, else table)."),
]
DataFormatOpt = Annotated[DataFormat, typer.Option("--format", "-f", help="Output format.")]

UrlOpt = Annotated[Optional[str], typer.Option("--url", "-u", envvar="TRITONCTL_URL",
                                               help="Triton's HTTP endpoint (default: the local server, else "
                                                    "http://localhost:8000).")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds to wait for the server.")]
SslOpt = Annotated[bool, typer.Option("--ssl", help="Use HTTPS.")]
HeaderOpt = Annotated[Optional[list[str]], typer.Option("--header", "-H", help="An HTTP header KEY:VALUE (repeatable).")]
ServerRepoOpt = Annotated[Optional[Path], typer.Option("--repo", "-r", envvar="TRITONCTL_REPO",
                                                       help="Model repository (default: the local server's).")]
