"""Which Triton (or Tritons) a command talks to, and which repository it reads beside it.

In order: `--url` (repeatable), `--server NAME` or `--fleet NAME` (one of them); else `TRITONCTL_URL` (comma-separated
for several) or `TRITONCTL_SERVER` (not both); else the local server when exactly one runs; else Triton's default
address. With several local servers running and none picked, the command refuses and lists them. A fleet is named
in the project configuration (`[tool.tritonctl.fleets.NAME] urls = [...]`). `--all-addresses` turns each URL into
one server per address its name resolves to (a Kubernetes headless Service), keeping the name for the Host header
and the TLS certificate check. The repository is `--repo` (or `TRITONCTL_REPO`), else the picked local server's.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tritonctl.errors import TritonctlError, UsageError
from tritonctl.io.s3_url import S3Url
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
    ca_cert: str | None = None  # a CA bundle (PEM) that server certificates are checked against


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


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 5.1: a token


def endpoint(url: str, connection: Connection) -> Endpoint:
    """An Endpoint for `url` (scheme optional; user info becomes an Authorization header)."""
    headers: dict[str, str] = {}
    for header in connection.headers:
        key, sep, value = header.partition(":")
        if not sep or not key.strip():
            raise UsageError(f"header '{header}' is not KEY:VALUE")
        if not _HEADER_NAME.fullmatch(key.strip()) or any(c in value for c in "\r\n\0"):
            raise UsageError(f"header {header!r}: a name is letters, digits and !#$%&'*+-.^_`|~, a value has no "
                             "line breaks")
        headers[key.strip()] = value.strip()
    if "://" not in url:
        url = "http://" + url
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url must be an http:// or https:// address, not '{url.partition('://')[0]}://...'")
    _check_address(url)
    url, authorization = split_credentials(url.rstrip("/"))
    if authorization is not None and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = authorization
    return Endpoint(url=url, timeout=connection.timeout, ssl=connection.ssl, headers=headers,
                    ca_cert=connection.ca_cert)


def _address_key(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with `localhost` as the loopback address it is: a URL naming a local server by
    localhost finds the server tritonctl started on 127.0.0.1, and its repository."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme, "127.0.0.1" if host == "localhost" else host, parts.port


def _same_address(a: str, b: str) -> bool:
    return _address_key(a) == _address_key(b)


def _check_address(url: str) -> None:
    """A usage error (exit 2) for an address urllib cannot take apart: no host, a port outside 1-65535, an
    unclosed IPv6 bracket."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as e:
        raise UsageError(f"--url '{url}' is not an address: {e}") from None
    if not host:
        raise UsageError(f"--url '{url}' names no host")
    if port == 0:
        raise UsageError(f"--url '{url}': port 0 is not a port a server listens on")


def _running_names(servers: list[ServerState]) -> str:
    return ", ".join(f"{s.name} ({s.url})" for s in servers) or "none"


def local_server(name: str) -> ServerState:
    state = read_state(check_name(name))
    if state is None:
        raise TritonctlError(f"no local Triton named '{name}' is running (running: {_running_names(running())})",
                             hint=f"start it: tritonctl server start --name {name}")
    return state


@dataclass(frozen=True)
class ServerChoice:
    """What the user said about which server(s) to talk to: the server options, taken whole (cli/_options.py)."""

    urls: tuple[str, ...] = ()
    server: str | None = None
    fleet: str | None = None
    all_addresses: bool = False
    connection: Connection = field(default_factory=Connection)


@dataclass(frozen=True)
class Targets:
    """The server(s) a command talks to, resolved once (resolve_targets)."""

    items: tuple[Target, ...]
    several: bool  # a fleet: more than one server, or --fleet / --all-addresses asked for one
    named: bool  # the user named them (a flag or an environment variable), rather than the local default
    connection: Connection = field(default_factory=Connection)

    @property
    def first(self) -> Target:
        return self.items[0]

    @property
    def endpoints(self) -> list[Endpoint]:
        return [t.endpoint for t in self.items]

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _environment() -> tuple[list[str], str | None]:
    """TRITONCTL_URL (comma-separated for several) and TRITONCTL_SERVER: the one place tritonctl reads them."""
    urls = [u.strip() for u in os.environ.get(URL_ENV, "").split(",") if u.strip()]
    server = os.environ.get(SERVER_ENV) or None
    if urls and server:
        raise UsageError(f"{URL_ENV} and {SERVER_ENV} are both set; unset one, or pass --url or --server")
    return urls, server


def resolve_targets(choice: ServerChoice | None = None, project_start: Path | None = None) -> Targets:
    """Every server a command is pointed at: the flags, else the environment, else the one local server running,
    else Triton's default address. A fleet is looked for in the project configuration found from
    `project_start`."""
    choice = choice or ServerChoice()
    connection = choice.connection
    urls = [u for u in choice.urls if u]
    if sum(bool(x) for x in (urls, choice.server, choice.fleet)) > 1:
        raise UsageError("give --url, --server or --fleet, not two of them")
    server, every_address = choice.server, choice.all_addresses
    if choice.fleet:
        urls, from_fleet = _fleet(choice.fleet, project_start)
        every_address = every_address or from_fleet
    named = bool(urls or server or choice.fleet)
    if not named:
        urls, server = _environment()
        named = bool(urls or server)
    if every_address:
        if not urls:
            raise UsageError("--all-addresses needs --url (a name whose every address is a server)")
        return Targets(tuple(t for url in urls for t in _every_address(url, connection)), True, True, connection)
    if server:
        state = local_server(server)
        return Targets((Target(endpoint(state.url, connection), state),), False, True, connection)
    if urls:
        local = {_address_key(s.url): s for s in running()}
        found: dict[str, Target] = {}
        for url in urls:  # one target per server, in the order given
            chosen = endpoint(url, connection)
            found.setdefault(chosen.url, Target(chosen, local.get(_address_key(chosen.url))))
        return Targets(tuple(found.values()), len(found) > 1 or bool(choice.fleet), True, connection)
    servers = running()
    if len(servers) > 1:
        raise UsageError(f"{len(servers)} local servers are running: {_running_names(servers)}; pick one with "
                         f"--server NAME (or {SERVER_ENV})")
    if servers:
        return Targets((Target(endpoint(servers[0].url, connection), servers[0]),), False, False, connection)
    return Targets((Target(endpoint(DEFAULT_URL, connection), None),), False, False, connection)


def _fleet(name: str, start: Path | None) -> tuple[list[str], bool]:
    from tritonctl.project import ProjectConfigError, load

    project = load(start)
    fleets = project.get("fleets") or {}
    if name not in fleets:
        known = ", ".join(sorted(fleets)) or "none"
        where = project.path or "no project configuration found"
        raise UsageError(f"no fleet '{name}' in the project configuration ({where}; fleets: {known})",
                         hint="add [tool.tritonctl.fleets.NAME] urls = [\"http://...\"] to pyproject.toml")
    entry = fleets[name]
    unknown = sorted(set(entry) - {"urls", "all-addresses"})
    urls = entry.get("urls")
    if unknown:
        raise ProjectConfigError(f"{project.where('fleets.' + name)}: unknown key '{unknown[0]}' in fleet '{name}' "
                                 "(known: urls, all-addresses)")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u for u in urls):
        raise ProjectConfigError(f"{project.where('fleets.' + name)}: fleet '{name}' needs urls = [\"http://...\", "
                                 "...]")
    addresses = entry.get("all-addresses", False)
    if not isinstance(addresses, bool):
        raise ProjectConfigError(f"{project.where('fleets.' + name)}: all-addresses must be true or false")
    return list(urls), addresses


def fleets_holding(url: str, start: Path | None) -> list[str]:
    """The fleets of the project configuration found from `start` that list the server at `url` (by address:
    localhost is 127.0.0.1); fleets written wrong are left to the commands that use them."""
    from tritonctl.project import load

    fleets = load(start).get("fleets") or {}
    names = []
    for name, entry in sorted(fleets.items()):
        urls = entry.get("urls") if isinstance(entry, dict) else None
        if isinstance(urls, list) and any(isinstance(u, str) and _same_address(u if "://" in u else "http://" + u,
                                                                               url) for u in urls):
            names.append(name)
    return names


def _every_address(url: str, connection: Connection) -> list[Target]:
    """One target per address the URL's host name resolves to, each keeping the name (Host header, TLS)."""
    import socket
    from urllib.parse import urlsplit

    base = endpoint(url, connection)
    parts = urlsplit(base.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise TritonctlError(f"cannot resolve '{host}' ({e.strerror})", hint="check --url") from None
    addresses = sorted({info[4][0] for info in infos}, key=lambda a: (":" in a, socket.inet_pton(
        socket.AF_INET6 if ":" in a else socket.AF_INET, a)))
    return [Target(dataclasses.replace(base, url=f"{parts.scheme}://{_bracketed(address)}:{port}", server_name=host),
                   None) for address in addresses]


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def repository(repo: str | Path | None, target: Target) -> Path | S3Url | None:
    """`--repo` when given, else the target's own repository (a local server's), else None."""
    from tritonctl.locations import parse

    return parse(repo) if repo is not None else target.repository


def serving(repo: Path, targets: Targets) -> list[Target]:
    """The servers whose loaded versions matter for a change to `repo`: the ones the user named, else every running
    local server whose repository is `repo`."""
    if targets.named:
        return list(targets)
    here = os.path.realpath(repo)
    return [Target(endpoint(s.url, targets.connection), s) for s in running()
            if not s.repository.startswith("s3://") and os.path.realpath(s.repository) == here]


def lifecycle_name(server: str | None) -> str:
    """The local server `server stop` or `server logs` acts on: --server, TRITONCTL_SERVER, the only one running,
    or 'default'."""
    name = server or _environment()[1]
    if name:
        return check_name(name)
    servers = running(clean=False)  # a stale state is the command's to report
    if len(servers) > 1:
        raise UsageError(f"{len(servers)} local servers are running: {_running_names(servers)}; pick one with "
                         f"--server NAME (or {SERVER_ENV})")
    return servers[0].name if servers else DEFAULT_NAME
