"""Where two features meet: settings and version add, select and a config that does not parse, a scaffold and a
model file, messages that must name what the user sees."""

from __future__ import annotations

import json

import pytest

from conftest import write_tree
from validate.cases import PY_MODEL
from validate.onnx_models import onnx_bytes


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRITONCTL_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "repo").mkdir()
    return tmp_path


def test_fail_on_warning_judges_a_staged_version_as_the_version_it_becomes(cli, project):
    (project / "tritonctl.toml").write_text('fail-on = "warning"\n')
    assert cli("config", "init", "m", "--backend", "python", "-r", "repo").exit_code == 0
    (project / "model.py").write_text(PY_MODEL)
    added = cli("version", "add", "m", "model.py", "-r", "repo")
    assert added.exit_code == 0, added.stderr
    assert "staging" not in added.stderr and "TRT403" not in added.stderr
    assert added.stdout.startswith("added version 2 of 'm'")


def test_a_config_that_does_not_parse_is_reported_whatever_select_and_ignore_say(cli, project):
    write_tree(project / "repo", {"bad/config.pbtxt": 'backend: "python" input [ {\n',
                                  "ok/config.pbtxt": 'backend: "python"\n', "ok/1/model.py": PY_MODEL})
    for args in (["--select", "TRT5"], ["--ignore", "TRT0"], ["--ignore", "TRT"]):
        result = cli("validate", "repo", "-f", "json", *args)
        assert result.exit_code == 1, (args, result.stderr)
        assert [f["code"] for f in json.loads(result.stdout)["findings"]] == ["TRT001"], args


def test_per_model_ignores_naming_no_model_is_a_warning_with_file_and_line(cli, project):
    write_tree(project / "repo", {"text_detection/config.pbtxt": 'backend: "python"\n',
                                  "text_detection/1/model.py": PY_MODEL})
    (project / "tritonctl.toml").write_text('select = ["TRT"]\n[per-model-ignores]\ntext_detecton = ["TRT1"]\n')
    result = cli("validate", "repo")
    assert result.exit_code == 0
    assert (f"warning: {project}/tritonctl.toml:3: [per-model-ignores] names 'text_detecton', which is no model of "
            "this repository; did you mean 'text_detection'?") in result.stderr


def test_a_scaffold_plus_an_onnx_file_ends_in_a_model_that_validates(cli, project):
    assert cli("config", "init", "o", "--backend", "onnxruntime", "-r", "repo").exit_code == 0
    (project / "model.onnx").write_bytes(onnx_bytes([("x", [-1, 4])], [("y", [-1, 4])]))
    refused = cli("version", "add", "o", "model.onnx", "-r", "repo")
    assert refused.exit_code == 1
    assert "tritonctl version add --update-config takes the inputs and outputs from it" in refused.stderr
    added = cli("version", "add", "o", "model.onnx", "-r", "repo", "--update-config")
    assert added.exit_code == 0, added.stderr
    assert added.stdout.startswith("added version 1 of 'o'")  # the empty 1/ the scaffold left is filled
    assert '+    name: "x"' in added.stdout and "updated" in added.stderr
    assert not (project / "repo" / "o" / "2").exists()
    assert cli("validate", "repo").exit_code == 0


def test_messages_name_what_the_user_gave_never_tritonctls_own_folders(cli, project):
    assert cli("config", "init", "o", "--backend", "onnxruntime", "-r", "repo").exit_code == 0
    passwd = project / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\n")
    refused = cli("version", "add", "o", str(passwd), "-r", "repo")
    assert refused.exit_code == 1 and "repo/o/1" in refused.stderr
    assert "tritonctl-staging" not in refused.stderr


def test_a_config_that_does_not_parse_is_exit_1_in_show_as_in_show_normalized(cli, project):
    write_tree(project / "repo", {"m/config.pbtxt": "max_batch_size: [\n", "m/1/model.py": PY_MODEL})
    for args in ([], ["--normalized"]):
        result = cli("config", "show", "m", "-r", "repo", *args)
        assert result.exit_code == 1, (args, result.stderr)


def test_policy_set_says_which_named_versions_are_missing(cli, project):
    write_tree(project / "repo", {"m/config.pbtxt": 'backend: "python"\n', "m/1/model.py": PY_MODEL})
    result = cli("policy", "set", "m", "specific:1,3", "-r", "repo")
    assert result.exit_code == 0, result.stderr
    assert "warning: the policy names version 3, which 'm' does not have (TRT406)" in result.stderr
