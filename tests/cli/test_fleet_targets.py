"""Which servers a command is pointed at when there may be several (targets.resolve_targets): in-process, no
server."""

from __future__ import annotations

import pytest

from tritonctl.errors import TritonctlError, UsageError
from tritonctl.project import ProjectConfigError
from tritonctl.targets import ServerChoice, resolve_targets


def resolve_all(urls=None, server=None, fleet=None, all_addresses=False, project_start=None):
    """The server options as a command gets them, resolved once."""
    return resolve_targets(ServerChoice(tuple(urls or ()), server, fleet, all_addresses), project_start)


@pytest.fixture(autouse=True)
def no_servers(monkeypatch, tmp_path):
    monkeypatch.setenv("TRITONCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("TRITONCTL_URL", raising=False)
    monkeypatch.delenv("TRITONCTL_SERVER", raising=False)


def urls(targets) -> list[str]:
    return [t.endpoint.url for t in targets]


def test_urls_given_more_than_once_or_comma_separated_in_the_environment(monkeypatch):
    assert urls(resolve_all(["http://a:8000", "http://b:8000", "http://a:8000"])) == ["http://a:8000",
                                                                                      "http://b:8000"]
    monkeypatch.setenv("TRITONCTL_URL", "http://a:8000, http://b:8000,")
    assert urls(resolve_all()) == ["http://a:8000", "http://b:8000"]
    assert urls(resolve_all(["http://c:8000"])) == ["http://c:8000"]  # a flag replaces the environment


def test_conflicting_choices_are_usage_errors(monkeypatch, tmp_path):
    with pytest.raises(UsageError, match="not two of them"):
        resolve_all(["http://a:8000"], fleet="prod")
    with pytest.raises(UsageError, match="--all-addresses needs --url"):
        resolve_all(all_addresses=True)
    monkeypatch.setenv("TRITONCTL_URL", "http://a:8000,http://b:8000")
    monkeypatch.setenv("TRITONCTL_SERVER", "default")
    with pytest.raises(UsageError, match="both set"):
        resolve_all()


def test_every_address_of_a_name_keeps_the_name():
    targets = resolve_all(["http://localhost:8123"], all_addresses=True)
    assert "http://127.0.0.1:8123" in urls(targets)
    assert {t.endpoint.server_name for t in targets} == {"localhost"}
    assert targets.first.endpoint.label.endswith("(localhost)")
    with pytest.raises(TritonctlError, match="cannot resolve 'no-such-host.invalid'"):
        resolve_all(["http://no-such-host.invalid:8000"], all_addresses=True)


@pytest.mark.parametrize(("table", "expected"), [
    ("[fleets.prod]\nurls = []\n", "needs urls"),
    ("[fleets.prod]\nurls = ['http://a:8000']\nreplicas = 3\n", "unknown key 'replicas'"),
    ("[fleets.prod]\nurls = ['http://a:8000']\nall-addresses = 'yes'\n", "all-addresses must be true or false"),
])
def test_a_bad_fleet_is_a_project_configuration_error_with_its_file(tmp_path, table, expected):
    (tmp_path / "tritonctl.toml").write_text(table)
    with pytest.raises(ProjectConfigError, match=expected) as caught:
        resolve_all(fleet="prod", project_start=tmp_path)
    assert "tritonctl.toml" in str(caught.value)


def test_a_named_fleet_and_an_unknown_one(tmp_path):
    (tmp_path / "tritonctl.toml").write_text("[fleets.prod]\nurls = ['http://a:8000', 'http://b:8000']\n")
    assert urls(resolve_all(fleet="prod", project_start=tmp_path)) == ["http://a:8000", "http://b:8000"]
    with pytest.raises(UsageError, match="no fleet 'staging'.*fleets: prod"):
        resolve_all(fleet="staging", project_start=tmp_path)


@pytest.mark.parametrize("header", ["X-A:b\r\nEvil: 1", "X-A:b\nc", "X A:b", "X\0:b", "é:b"])
def test_a_header_that_would_break_the_request_is_refused(header):
    from tritonctl.targets import Connection, endpoint

    with pytest.raises(UsageError, match="a name is letters, digits"):
        endpoint("http://127.0.0.1:8000", Connection(headers=[header]))
    assert endpoint("127.0.0.1:8000", Connection(headers=["X-Request-Id: a b:c"])).headers == {
        "X-Request-Id": "a b:c"}
