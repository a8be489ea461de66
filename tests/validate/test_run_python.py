"""validate --run-python: each python model's auto_complete_config run in a pool of workers, isolated from the
others, with a timeout; what it finds is per model (Triton's own messages are checked live in
test_live_triton.py)."""

from __future__ import annotations

import json

from conftest import write_tree
from validate.cases import AUTO_COMPLETE, PY_MODEL, X_FP32_4

SIBLING = PY_MODEL + """
    @staticmethod
    def auto_complete_config(config):
        from helpers import DIMS
        config.add_input({"name": "x", "data_type": "TYPE_FP32", "dims": DIMS})
        config.add_output({"name": "y", "data_type": "TYPE_FP32", "dims": DIMS})
        return config
"""


def model(body: str, config: str = 'backend: "python"\n', **files) -> dict:
    return {"config.pbtxt": config, "1/model.py": body, **files}


def findings(cli, repo, *args) -> tuple[int, list[tuple[str, str, str]]]:
    result = cli("validate", str(repo), "--run-python", "-f", "json", *args)
    report = json.loads(result.stdout)
    return result.exit_code, [(f["model"], f["code"], f["severity"]) for f in report["findings"]]


def test_two_models_with_a_sibling_module_of_the_same_name_each_see_their_own(tmp_path):
    from tritonctl.io.python_autocomplete import PythonAutoComplete
    from tritonctl.repository import open_repository
    from tritonctl.validate.context import ModelContext, Options

    repo = write_tree(tmp_path / "repo", {
        **{f"a/{k}": v for k, v in model(SIBLING, **{"1/helpers.py": "DIMS = [2]\n"}).items()},
        **{f"b/{k}": v for k, v in model(SIBLING, **{"1/helpers.py": "DIMS = [5]\n"}).items()}})
    opened = open_repository(repo)
    with PythonAutoComplete(workers=1) as pool:  # one worker: b is imported where a was
        options = Options(python=pool)
        dims = {m.name: list(ModelContext(opened, m, options).final.input[0].dims) for m in opened.models}
        assert len(pool._all) == 1
    assert dims == {"a": [2], "b": [5]}


def test_a_hung_and_a_crashed_model_are_findings_and_the_others_are_still_checked(cli, tmp_path):
    hang = PY_MODEL + "\n    @staticmethod\n    def auto_complete_config(config):\n        import time\n" \
                      "        time.sleep(600)\n"
    crash = PY_MODEL + "\n    @staticmethod\n    def auto_complete_config(config):\n        import os\n" \
                       "        os._exit(7)\n"
    bad = AUTO_COMPLETE.format(add='"name": "x", "dims": [4]')
    repo = write_tree(tmp_path / "repo", {
        **{f"hangs/{k}": v for k, v in model(hang).items()},
        **{f"crashes/{k}": v for k, v in model(crash).items()},
        **{f"bad/{k}": v for k, v in model(bad).items()},
        **{f"good/{k}": v for k, v in model(AUTO_COMPLETE.format(add=X_FP32_4)).items()}})
    result = cli("validate", str(repo), "--run-python", "--python-timeout", "2", "-f", "json")
    assert result.exit_code == 1
    found = {f["model"]: f for f in json.loads(result.stdout)["findings"]}
    assert sorted(found) == ["bad", "crashes", "hangs"]
    assert "took longer than 2 s" in found["hangs"]["message"]
    assert "exit status 7" in found["crashes"]["message"]
    assert found["bad"]["triton_message"].startswith("ValueError: input 'x' in auto-complete-config function")
    assert {f["code"] for f in found.values()} == {"TRT108"}


def test_a_missing_import_is_a_warning_not_an_error(cli, tmp_path):
    repo = tmp_path / "repo"
    write_tree(repo / "m", model("import not_installed_anywhere\n" + PY_MODEL))
    assert findings(cli, repo) == (0, [("m", "TRT109", "warning")])
    assert findings(cli, repo, "--fail-on", "warning")[0] == 1


def test_without_run_python_nothing_runs(cli, tmp_path):
    crash = PY_MODEL + "\n    @staticmethod\n    def auto_complete_config(config):\n        raise ValueError('x')\n"
    repo = write_tree(tmp_path / "repo", {f"m/{k}": v for k, v in model(crash).items()})
    assert cli("validate", str(repo)).exit_code == 0
    assert findings(cli, repo)[0] == 1


def test_a_config_and_auto_complete_that_declare_the_same_int64_dims_agree(cli, tmp_path):
    config = ('backend: "python"\ninput [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
              'output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]\n')
    repo = write_tree(tmp_path / "repo", {f"m/{k}": v for k, v in
                                          model(AUTO_COMPLETE.format(add=X_FP32_4), config).items()})
    shown = cli("config", "show", "m", "-r", str(repo), "--normalized", "--run-python")
    assert shown.exit_code == 0, shown.stderr


def test_config_show_normalized_of_a_refused_model_shows_the_findings_and_exits_1(cli, tmp_path):
    repo = write_tree(tmp_path / "repo", {"m/config.pbtxt": 'backend: "python"\nmax_batch_size: -1\n',
                                          "m/1/model.py": PY_MODEL})
    shown = cli("config", "show", "m", "-r", str(repo), "--normalized")
    assert shown.exit_code == 1 and shown.stdout == ""
    assert "TRT106" in shown.stderr and "would refuse 'm'" in shown.stderr


def test_a_model_that_closes_its_pipe_then_exits_is_reported_by_its_exit_status_not_as_a_timeout(cli, tmp_path):
    # The worker's end of the pipe closes before the process can be reaped: a poll at that moment sees it alive.
    # Closing the pipe and exiting a moment later makes that window wide, so a race there fails every time.
    crash = PY_MODEL + "\n    @staticmethod\n    def auto_complete_config(config):\n        import os, time\n" \
                       "        os.close(1)\n        time.sleep(0.5)\n        os._exit(7)\n"
    repo = write_tree(tmp_path / "repo", {f"m/{k}": v for k, v in model(crash).items()})
    result = cli("validate", str(repo), "--run-python", "--python-timeout", "20", "-f", "json")
    [finding] = json.loads(result.stdout)["findings"]
    assert "exit status 7" in finding["message"], finding["message"]
