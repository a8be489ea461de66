"""Numbers and addresses at and past their bounds: each a clean exit 2 with one line, never exit 70 and never a
command that runs for minutes building something per GPU."""

from __future__ import annotations

import pytest

from conftest import write_tree
from validate.cases import PY_MODEL


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path / "repo", {"m/config.pbtxt": 'backend: "python"\n', "m/1/model.py": PY_MODEL})
    return tmp_path


@pytest.mark.parametrize("url", ["http://host:99999", "http://host:-1", "http://[::1:8000", "http://:8000",
                                 "http://127.0.0.1:0"])
def test_an_address_urllib_cannot_take_apart_is_a_usage_error(cli, url):
    for command in (["status"], ["load", "m", "-r", "."], ["infer", "m"]):
        result = cli(*command, "--url", url)
        assert result.exit_code == 2, (command, result.stderr)
        assert result.stderr.startswith("error: --url") and len(result.stderr.splitlines()) == 1, result.stderr
    env = cli("status", env={"TRITONCTL_URL": url})
    assert env.exit_code == 2, env.stderr


@pytest.mark.parametrize("args", [["--http-port", "-5"], ["--http-port", "99999"], ["--grpc-port", "0"],
                                  ["--metrics-port", "70000"]])
def test_server_ports_outside_1_to_65535_are_usage_errors(cli, args, tmp_path):
    result = cli("server", "start", "--repo", str(tmp_path), *args, env={"TRITONCTL_STATE_DIR": str(tmp_path / "s")})
    assert result.exit_code == 2 and "must be at" in result.stderr, result.stderr


@pytest.mark.parametrize(("text", "message"), [
    ("gpus = 9223372036854775807\n", "'gpus' must be a whole number from 0 to 1024"),
    ("python-timeout = inf\n", "'python-timeout' must be a number of seconds above 0, at most 86400"),
    ("python-timeout = nan\n", "'python-timeout' must be a number of seconds above 0, at most 86400"),
    ('python-memory = "4GB"\n', "'python-memory' must be a size with a binary unit"),
    ('python-memory = "1KiB"\n', "'python-memory' must be a size with a binary unit"),
    ("select = " + "[" * 5000 + "]" * 5000 + "\n", "not valid TOML: arrays or tables nested too deep"),
])
def test_settings_past_their_bounds_are_exit_2_with_the_file(cli, project, text, message):
    (project / "tritonctl.toml").write_text(text)
    result = cli("validate", "repo")
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"error: {project}/tritonctl.toml") and message in result.stderr, result.stderr


@pytest.mark.parametrize("args", [["--gpus", "100000000"], ["--gpus", "-1"], ["--python-timeout", "1e308"],
                                  ["--python-timeout", "inf"], ["--python-timeout", "nan"],
                                  ["--python-memory", "8 GB"], ["--python-memory", "2TiB"]])
def test_flags_past_their_bounds_are_usage_errors(cli, project, args):
    result = cli("validate", "repo", *args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: ") and "internal error" not in result.stderr
    shown = cli("config", "show", "m", "-r", "repo", "--normalized", "--gpus", "100000000")
    assert shown.exit_code == 2
