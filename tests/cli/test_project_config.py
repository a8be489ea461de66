"""Project configuration: [tool.tritonctl] in pyproject.toml or tritonctl.toml, found upwards from the repository;
flags replace it, --extend-* add to it; every command that validates honours it; a bad one is exit 2 with file:line."""

from __future__ import annotations

import json

import pytest

from conftest import write_tree
from validate.cases import PY_MODEL

# a model with one error (TRT106) and one warning (TRT402: a version folder Triton ignores)
BAD = {"m/config.pbtxt": 'backend: "python"\nmax_batch_size: -1\n', "m/1/model.py": PY_MODEL,
       "m/01/model.py": PY_MODEL}


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    write_tree(tmp_path / "repo", BAD)
    return tmp_path


def codes(cli, *args) -> tuple[int, list[str]]:
    result = cli("validate", "repo", "-f", "json", *args)
    assert result.exit_code in (0, 1), result.stderr
    return result.exit_code, [f["code"] for f in json.loads(result.stdout)["findings"]]


def test_pyproject_table_is_read_and_flags_replace_or_extend_it(cli, project):
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.tritonctl]\nignore = ["TRT106"]\n')
    assert codes(cli) == (0, ["TRT402"])
    assert codes(cli, "--ignore", "TRT402") == (1, ["TRT106"])  # replaces
    assert codes(cli, "--extend-ignore", "TRT402") == (0, [])  # adds


def test_the_nearest_file_upwards_wins_and_tritonctl_toml_beats_pyproject_in_one_folder(cli, project):
    (project / "pyproject.toml").write_text('[tool.tritonctl]\nignore = ["TRT106"]\n')
    assert codes(cli) == (0, ["TRT402"])
    (project / "tritonctl.toml").write_text('ignore = ["TRT402"]\n')
    assert codes(cli) == (1, ["TRT106"])
    (project / "repo" / "tritonctl.toml").write_text('ignore = ["TRT1", "TRT4"]\n')  # in the repository folder
    assert codes(cli) == (0, [])


def test_a_pyproject_without_the_table_is_passed_over(cli, project):
    (project / "pyproject.toml").write_text('[tool.tritonctl]\nignore = ["TRT106"]\n')
    (project / "repo" / "pyproject.toml").write_text('[project]\nname = "models"\n')
    assert codes(cli) == (0, ["TRT402"])


def test_fail_on_gpus_and_per_model_ignores(cli, project):
    (project / "tritonctl.toml").write_text('fail-on = "warning"\n[per-model-ignores]\nm = ["TRT106"]\n')
    assert codes(cli) == (1, ["TRT402"])  # a warning fails under fail-on = "warning"
    assert codes(cli, "--fail-on", "error") == (0, ["TRT402"])


@pytest.mark.parametrize(("text", "line", "message"), [
    ('select = ["TRT1"]\nfail_on = "warning"\n', 2, "unknown key 'fail_on' in tritonctl.toml; did you mean 'fail-on'?"),
    ('gpus = "two"\n', 1, "'gpus' must be a whole number from 0 to 1024, not 'two'"),
    ('\n\nignore = ["TRT999"]\n', 3, "unknown rule code 'TRT999'"),
    ('[per-model-ignores]\nm = ["TRT1", "NOPE"]\n', 2, "unknown rule code 'NOPE'"),
    ('run-python = "yes"\n', 1, "'run-python' must be true or false, not 'yes'"),
])
def test_a_bad_setting_is_exit_2_with_file_and_line(cli, project, text, line, message):
    (project / "tritonctl.toml").write_text(text)
    result = cli("validate", "repo")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {project}/tritonctl.toml:{line}: {message}")


def test_toml_that_does_not_parse_is_exit_2(cli, project):
    (project / "pyproject.toml").write_text("[tool.tritonctl]\nselect = [\n")
    result = cli("validate", "repo")
    assert result.exit_code == 2 and f"{project}/pyproject.toml: not valid TOML" in result.stderr


def test_show_config_says_where_each_setting_comes_from(cli, project):
    (project / "pyproject.toml").write_text('[tool.tritonctl]\nignore = ["TRT106"]\ngpus = 1\n')
    result = cli("validate", "repo", "--show-config", "--extend-ignore", "TRT402", "--fail-on", "warning")
    assert result.exit_code == 0
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert f"{project}/pyproject.toml" in rows["configuration"]
    assert rows["ignore"].split()[1:] == ["TRT106,", "TRT402", f"{project}/pyproject.toml:2", "+", "--extend-ignore"]
    assert rows["gpus"].split()[1:] == ["1", f"{project}/pyproject.toml:3"]
    assert rows["fail-on"].split()[1:] == ["warning", "--fail-on"]
    assert rows["select"].split()[-1] == "default"


def test_version_add_and_sync_honour_the_project(cli, project):
    (project / "repo" / "m" / "01").rename(project / "src_version")
    add = cli("version", "add", "m", str(project / "src_version"), "-r", "repo")
    assert add.exit_code == 1 and "TRT106" in add.stderr  # refused by validate
    sync = cli("sync", "repo", "copy")
    assert sync.exit_code == 1 and "TRT106" in sync.stderr and not (project / "copy").exists()
    (project / "tritonctl.toml").write_text('ignore = ["TRT106"]\n')
    assert cli("version", "add", "m", str(project / "src_version"), "-r", "repo").exit_code == 0
    assert cli("sync", "repo", "copy").exit_code == 0
    assert (project / "copy" / "m" / "2" / "model.py").exists()


def test_server_start_validate_honours_fail_on_before_starting_anything(cli, project):
    (project / "tritonctl.toml").write_text('fail-on = "warning"\nignore = ["TRT106"]\n')
    result = cli("server", "start", "--repo", "repo", "--validate", "--name", "never")
    assert result.exit_code == 1 and "not started" in result.stderr and "TRT402" in result.stdout
