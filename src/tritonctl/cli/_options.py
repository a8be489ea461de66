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
