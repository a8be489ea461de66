"""Which Triton a command talks to, and which repository it reads beside it.

In order: `--url` or `--server NAME` (not both); else `TRITONCTL_URL` or `TRITONCTL_SERVER` (not both); else the
local server when exactly one runs; else Triton's default address. With several local servers running and none
picked, the command refuses and lists them. The repository is `--repo` (or `TRITONCTL_REPO`), else the picked
local server's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tritonctl.errors import TritonctlError, UsageError
from tritonctl.io.s3 import S3Url
from tritonctl.io.triton_client import DEFAULT_URL, Endpoint, split_credentials
from tritonctl.server_state import DEFAULT_NAME, ServerState, check_name, read_state, running

URL_ENV = "TRITONCTL_URL"
SERVER_ENV = "TRITONCTL_SERVER"


@dataclass(frozen=True)
class Connection:
    """How to talk to a server, whichever it is: timeout, TLS, extra headers (KEY:VALUE)."""

    timeout: float = 60.0
    ssl: bool = False
    headers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    endpoint: Endpoint
    local: ServerState | None  # the local server, when the target is one

    @property
    def s3_endpoint(self) -> str | None:
        """The S3 endpoint the local server's repository was reached at, when it is in S3."""
        return self.local.s3_endpoint or None if self.local is not None else None

    @property
    def repository(self) -> Path | S3Url | None:
        """The local server's repository (a folder or an S3 prefix)."""
        from tritonctl.locations import parse

        return None if self.local is None else parse(self.local.repository)


def endpoint(url: str, connection: Connection) -> Endpoint:
    """An Endpoint for `url` (scheme optional; user info becomes an Authorization header)."""
    headers: dict[str, str] = {}
    for header in connection.headers:
        key, sep, value = header.partition(":")
        if not sep or not key.strip():
            raise UsageError(f"header '{header}' is not KEY:VALUE")
        headers[key.strip()] = value.strip()
    if "://" not in url:
        url = "http://" + url
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url must be an http:// or https:// address, not '{url.partition('://')[0]}://...'")
    url, authorization = split_credentials(url.rstrip("/"))
    if authorization is not None and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = authorization
    return Endpoint(url=url, timeout=connection.timeout, ssl=connection.ssl, headers=headers)


def _running_names(servers: list[ServerState]) -> str:
    return ", ".join(f"{s.name} ({s.url})" for s in servers) or "none"


def local_server(name: str) -> ServerState:
    state = read_state(check_name(name))
    if state is None:
        raise TritonctlError(f"no local Triton named '{name}' is running (running: {_running_names(running())})",
                             hint=f"start it: tritonctl server start --name {name}")
    return state


def resolve(url: str | None = None, server: str | None = None, connection: Connection | None = None) -> Target:
    connection = connection or Connection()
    if url and server:
        raise UsageError("give --url or --server, not both")
    if not url and not server:
        env_url, env_server = os.environ.get(URL_ENV) or None, os.environ.get(SERVER_ENV) or None
        if env_url and env_server:
            raise UsageError(f"{URL_ENV} and {SERVER_ENV} are both set; unset one, or pass --url or --server")
        url, server = env_url, env_server
    if server:
        state = local_server(server)
        return Target(endpoint(state.url, connection), state)
    if url:
        chosen = endpoint(url, connection)
        local = next((s for s in running() if s.url == chosen.url), None)
        return Target(chosen, local)
    servers = running()
    if len(servers) > 1:
        raise UsageError(f"{len(servers)} local servers are running: {_running_names(servers)}; pick one with "
                         f"--server NAME (or {SERVER_ENV})")
    if servers:
        return Target(endpoint(servers[0].url, connection), servers[0])
    return Target(endpoint(DEFAULT_URL, connection), None)


def repository(repo: str | Path | None, target: Target) -> Path | S3Url | None:
    """`--repo` when given, else the target's own repository (a local server's), else None."""
    from tritonctl.locations import parse

    return parse(repo) if repo is not None else target.repository


def serving(repo: Path, url: str | None, server: str | None, connection: Connection) -> list[Target]:
    """The servers whose loaded versions matter for a change to `repo`: the one picked by --url/--server (or
    their environment variables), else every running local server whose repository is `repo`."""
    if url or server or os.environ.get(URL_ENV) or os.environ.get(SERVER_ENV):
        return [resolve(url, server, connection)]
    here = os.path.realpath(repo)
    return [Target(endpoint(s.url, connection), s) for s in running()
            if not s.repository.startswith("s3://") and os.path.realpath(s.repository) == here]


def lifecycle_name(server: str | None) -> str:
    """The local server `server stop` or `server logs` acts on: --server, TRITONCTL_SERVER, the only one running,
    or 'default'."""
    name = server or os.environ.get(SERVER_ENV)
    if name:
        return check_name(name)
    servers = running(clean=False)  # a stale state is the command's to report
    if len(servers) > 1:
        raise UsageError(f"{len(servers)} local servers are running: {_running_names(servers)}; pick one with "
                         f"--server NAME (or {SERVER_ENV})")
    return servers[0].name if servers else DEFAULT_NAME
