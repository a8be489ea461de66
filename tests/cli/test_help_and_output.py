"""Help, usage errors, stdout/stderr and JSON: one convention for every command."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from conftest import write_tree
from json_schemas import SCHEMAS, check, schema


def all_commands() -> list[list[str]]:
    """Every command path, from the CLI itself (so a new command is covered the day it is added)."""
    from tritonctl.cli.app import app
    from typer.main import get_command

    root = get_command(app)
    out = [[]]

    def walk(group, path):
        for name in group.list_commands(None):
            command = group.get_command(None, name)
            out.append([*path, name])
            if hasattr(command, "list_commands"):
                walk(command, [*path, name])

    walk(root, [])
    return out


def test_every_help_reads_the_same_way_at_80_columns(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    commands = all_commands()
    assert ["server", "list"] in commands and ["load"] in commands
    for path in commands:
        result = cli(*path, "--help")
        assert result.exit_code == 0, (path, result.stderr)
        text = result.stdout
        assert "…" not in text, (path, text)  # no option name cut
        assert not re.search(r"<(bool|str|int|path|list\[str\]|int range)>", text), (path, text)  # no typer types
        assert not re.search(r"\{\w+\}", text.splitlines()[0]), (path, text)  # usage: MODEL, not {model}
        for line in text.splitlines():
            assert len(line) <= 80, (path, line)
            m = re.match(r"\s+(?:-\w, )?(--[\w-]+)(?: / --[\w-]+)?(?: (\S+))?", line)
            if m and m.group(2) and not m.group(2).startswith("["):
                assert m.group(2) == m.group(2).upper(), (path, line)  # metavars in capitals
    usage = cli("validate", "--help").stdout
    assert "-f, --format [table|json|github|sarif]" in usage and "--no-autocomplete  " in usage
    assert usage.startswith("Usage: tritonctl validate [OPTIONS] [REPO]\n")
    assert cli("policy", "set", "--help").stdout.startswith("Usage: tritonctl policy set [OPTIONS] MODEL POLICY\n")


@pytest.mark.parametrize(("args", "stderr"), [
    (["validate", "--format", "xml"], "error: --format must be one of table, json, github, sarif, not 'xml'\n"
                                      "hint: see: tritonctl validate --help\n"),
    (["status", "-f", "yaml"], "error: --format must be one of table, json, not 'yaml'\n"
                               "hint: see: tritonctl status --help\n"),
    (["server", "start", "--mode", "auto"], "error: --mode must be one of explicit, poll, none, not 'auto'\n"
                                            "hint: see: tritonctl server start --help\n"),
    (["version", "add", "m"], "error: missing argument SOURCE\nhint: see: tritonctl version add --help\n"),
    (["load", "m", "--parallel", "0"], "error: --parallel must be at least 1\nhint: see: tritonctl load --help\n"),
    (["load", "m", "--parallel", "x"], "error: --parallel must be a whole number\n"
                                       "hint: see: tritonctl load --help\n"),
    (["status", "--timeout", "abc"], "error: --timeout must be a number\nhint: see: tritonctl status --help\n"),
    (["validate", "--gpus", "x"], None),
    (["validate", "--bogus"], None),
])
def test_usage_errors_are_one_line_and_exit_2(cli, args, stderr):
    result = cli(*args)
    assert result.exit_code == 2 and result.stdout == ""
    if stderr is not None:
        assert result.stderr == stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ") and lines[-1].startswith("hint: see: tritonctl ") and len(lines) == 2


@pytest.mark.parametrize("group", [[], ["server"], ["config"]])
def test_a_group_alone_prints_its_help(cli, group):
    result = cli(*group)
    assert result.exit_code == 2 and "Usage: tritonctl" in result.stdout + result.stderr
    assert "internal error" not in result.stderr


def test_a_reader_that_goes_away_ends_the_command_quietly_with_141(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "tritonctl", "rules"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line (`| head -0`); later, its buffer could hold all
    _out, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (141, b"")


def test_results_go_to_stdout_and_diagnostics_to_stderr(cli, tmp_path, monkeypatch):
    from validate.onnx_models import onnx_bytes

    monkeypatch.chdir(tmp_path)
    repo = write_tree(tmp_path / "repo", {"m/config.pbtxt": 'backend: "onnxruntime"\nmax_batch_size: 4\n'})
    (tmp_path / "x.onnx").write_bytes(onnx_bytes([("x", [-1, 4])], [("y", [-1, 4])]))
    for _ in range(2):
        added = cli("version", "add", "m", "x.onnx", "-r", str(repo))
        assert added.stdout.startswith("added version ") and added.stderr == ""
    removed = cli("version", "rm", "m", "1", "-r", str(repo))
    assert (removed.stdout, removed.stderr) == ("removed version 1 of 'm'\n", "")
    policy = cli("policy", "set", "m", "all", "-r", str(repo))
    assert policy.stdout.startswith("--- a/m/config.pbtxt") and policy.stderr.startswith("set the version policy")


def test_every_schema_is_strict_and_a_valid_schema():
    import jsonschema

    for path in SCHEMAS.glob("*.schema.json"):
        doc = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(doc)
        assert doc["additionalProperties"] is False, path


def test_validate_and_version_list_json_match_their_schemas(cli, example_repo, tmp_path, monkeypatch):
    from validate.onnx_models import onnx_bytes

    check(json.loads(cli("validate", str(example_repo), "-f", "json").stdout), "validate")
    (tmp_path / "x.onnx").write_bytes(onnx_bytes([("input.1", [-1, 1, 32, 100])], [("308", [-1, 26, 37])]))
    assert cli("version", "add", "text_recognition", str(tmp_path / "x.onnx"), "-r", str(example_repo)).exit_code == 0
    listed = json.loads(cli("version", "list", "text_recognition", "-r", str(example_repo), "-f", "json").stdout)
    check(listed, "version-list")
    assert listed["versions"][0]["version"] == 1
    check(json.loads(cli("validate", str(example_repo), "-f", "json").stdout), "validate")


def test_config_show_json_matches_its_schema_and_the_schema_every_field(cli, example_repo):
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

    assert set(schema("config-show")["properties"]) == {f.name for f in ModelConfig.DESCRIPTOR.fields}
    for model in ("text_detection", "text_recognition"):
        check(json.loads(cli("config", "show", model, "-r", str(example_repo), "-f", "json").stdout), "config-show")


def test_server_list_with_none_running_matches_its_schema(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TRITONCTL_STATE_DIR", str(tmp_path / "state"))
    result = cli("server", "list", "-f", "json")
    check(json.loads(result.stdout), "server-list")
    assert json.loads(result.stdout) == {"servers": []}
    table = cli("server", "list")
    assert (table.stdout, table.stderr) == ("", "no local Triton is running (start one: tritonctl server start)\n")
