from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import EXAMPLES, write_tree

OK_CONFIG = 'backend: "python"\nmax_batch_size: 0\n'


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("TRITONCTL_REPO", raising=False)
    return tmp_path


def test_examples_report_the_missing_versions_in_table_format(cli, in_tmp):
    shutil.copytree(EXAMPLES, "repo")
    result = cli("validate", "repo")
    assert result.exit_code == 1
    assert result.stdout == (
        "repo/text_detection/config.pbtxt:1:1: error TRT404 model 'text_detection' has no version folder; add one "
        "(tritonctl version add)\n"
        "    triton: at least one version must be available under the version policy of model 'text_detection'\n"
        "repo/text_recognition/config.pbtxt:1:1: error TRT404 model 'text_recognition' has no version folder; add "
        "one (tritonctl version add)\n"
        "    triton: at least one version must be available under the version policy of model 'text_recognition'\n"
    )
    assert result.stderr == "2 models checked in repo: 2 errors, 0 warnings\n"


def test_parse_error_is_reported_with_its_position_in_all_formats(cli, in_tmp):
    write_tree(in_tmp / "repo", {"m/config.pbtxt": 'backend: "python"\nmax_batch_size: 2\n  dims: [3]\n',
                                 "m/1/model.py": ""})
    table = cli("validate", "repo")
    assert table.exit_code == 1
    assert table.stdout == (
        'repo/m/config.pbtxt:3:3: error TRT001 config does not parse: Message type "inference.ModelConfig" '
        'has no field named "dims".\n'
        f"    triton: failed to read text proto from {in_tmp}/repo/m/config.pbtxt\n"
    )
    doc = json.loads(cli("validate", "repo", "--format", "json").stdout)
    assert doc["summary"] == {"errors": 1, "warnings": 0, "models": 1, "files": 1}
    assert doc["findings"] == [{
        "model": "m", "path": "repo/m/config.pbtxt", "line": 3, "column": 3, "code": "TRT001",
        "severity": "error",
        "message": 'config does not parse: Message type "inference.ModelConfig" has no field named "dims".',
        "triton_message": f"failed to read text proto from {in_tmp}/repo/m/config.pbtxt",
        "field": None, "triton_first": True,
    }]
    github = cli("validate", "repo", "--format", "github")
    assert github.exit_code == 1
    assert github.stdout == (
        "::group::repo/m/config.pbtxt\n"
        "::error file=repo/m/config.pbtxt,line=3,col=3,title=TRT001::config does not parse: Message type "
        '"inference.ModelConfig" has no field named "dims". (Triton: failed to read text proto from '
        f"{in_tmp}/repo/m/config.pbtxt)\n"
        "::endgroup::\n"
    )


def test_github_format_is_the_default_under_github_actions(cli, in_tmp):
    write_tree(in_tmp / "repo", {"m/config.pbtxt": "junk junk", "m/1/model.py": ""})
    result = cli("validate", "repo", env={"GITHUB_ACTIONS": "true"})
    assert result.stdout.startswith("::group::repo/m/config.pbtxt\n::error file=repo/m/config.pbtxt,line=1,")


def test_clean_repository_exits_0(cli, in_tmp):
    write_tree(in_tmp / "repo", {"m/config.pbtxt": OK_CONFIG, "m/1/model.py": ""})
    result = cli("validate", "--repo", "repo")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "1 model checked in repo: no problems\n"


def test_repo_from_environment(cli, in_tmp):
    write_tree(in_tmp / "repo", {"m/config.pbtxt": OK_CONFIG, "m/1/model.py": ""})
    assert cli("validate", env={"TRITONCTL_REPO": "repo"}).stderr == "1 model checked in repo: no problems\n"


def test_warnings_fail_only_with_fail_on_warning(cli, in_tmp):
    write_tree(in_tmp / "repo", {"m/config.pbtxt": OK_CONFIG, "m/1/model.py": "", "m/01": None})
    result = cli("validate", "repo")
    assert result.exit_code == 0
    assert result.stdout == (
        "repo/m/01: warning TRT402 folder '01' is not a version folder and is ignored; rename it to '1'\n"
        "    triton: ignore version directory '01' which contains leading zeros in its directory name\n"
    )
    assert cli("validate", "repo", "--fail-on", "warning").exit_code == 1
    assert cli("validate", "repo", "--ignore", "TRT4", "--fail-on", "warning").exit_code == 0


def test_inline_ignore_comment_silences_a_finding_on_its_line(cli, in_tmp):
    write_tree(in_tmp / "repo", {
        "m/config.pbtxt": 'name: "other"  # tritonctl: ignore[TRT101]\nbackend: "python"\n',
        "m/1/model.py": "",
    })
    assert cli("validate", "repo").exit_code == 0
    (in_tmp / "repo/m/config.pbtxt").write_text('name: "other"\nbackend: "python"\n')
    result = cli("validate", "repo")
    assert result.exit_code == 1
    assert result.stdout.startswith("repo/m/config.pbtxt:1:1: error TRT101 name 'other' differs")


def test_select_and_model_narrow_the_check(cli, in_tmp):
    write_tree(in_tmp / "repo", {"a/config.pbtxt": "junk", "a/1/model.py": "",
                                 "b/config.pbtxt": 'name: "x" backend: "python"', "b/1/model.py": ""})
    assert [f["code"] for f in json.loads(cli("validate", "repo", "-f", "json").stdout)["findings"]] == [
        "TRT001", "TRT101"]
    only_b = json.loads(cli("validate", "repo", "-f", "json", "--model", "b").stdout)
    assert [f["model"] for f in only_b["findings"]] == ["b"]
    selected = json.loads(cli("validate", "repo", "-f", "json", "--select", "TRT0").stdout)
    assert [f["code"] for f in selected["findings"]] == ["TRT001"]


@pytest.mark.parametrize(
    ("args", "code", "stderr"),
    [
        (["validate", "missing"], 3, "error: no model repository at 'missing': path does not exist\n"
                                     "hint: pass the repository folder as --repo or set TRITONCTL_REPO\n"),
        (["validate", "afile"], 3, "error: 'afile' is a file, not a model repository folder\n"),
        (["validate", "repo", "--model", "nope"], 3, "error: no model 'nope' in repository 'repo' (models: m)\n"),
        (["validate", "repo", "--select", "XYZ9"], 2, "error: unknown rule code 'XYZ9'\n"
                                                     "hint: list the codes with: tritonctl rules\n"),
        (["validate", "repo", "--fail-on", "info"], 2, "error: --fail-on must be one of error, warning, not 'info'\n"
                                                        "hint: see: tritonctl validate --help\n"),
    ],
)
def test_bad_input_is_one_line_and_a_documented_exit_code(cli, in_tmp, args, code, stderr):
    write_tree(in_tmp / "repo", {"m/config.pbtxt": OK_CONFIG, "m/1/model.py": ""})
    (in_tmp / "afile").write_text("x")
    result = cli(*args)
    assert (result.exit_code, result.stdout, result.stderr) == (code, "", stderr)


def test_bad_flag_value_is_a_usage_error(cli, in_tmp):
    result = cli("validate", "--format", "xml")
    assert (result.exit_code, result.stdout, result.stderr) == (
        2, "", "error: --format must be one of table, json, github, sarif, not 'xml'\nhint: see: tritonctl validate --help\n")


def test_binary_junk_config_is_a_finding_not_a_traceback(cli, in_tmp):
    write_tree(in_tmp / "repo", {"m/config.pbtxt": b"\x00\x01\xfe\xff\x89PNG", "m/1/model.py": ""})
    result = cli("validate", "repo")
    assert result.exit_code == 1
    assert result.stdout.startswith("repo/m/config.pbtxt:1:3: error TRT001 config does not parse: not UTF-8 text")


def test_config_that_is_a_folder_or_unreadable_is_a_finding(cli, in_tmp, monkeypatch):
    write_tree(in_tmp / "repo", {"m/config.pbtxt/x": "", "m/1/model.py": "", "n/config.pbtxt": OK_CONFIG,
                                 "n/1/model.py": ""})
    from tritonctl.io import files

    real = files.read_regular

    def read_regular(path, max_bytes):
        if Path(path).parent.name == "n" and Path(path).name == "config.pbtxt":
            raise OSError(5, "Input/output error")
        return real(path, max_bytes)

    monkeypatch.setattr(files, "read_regular", read_regular)
    result = cli("validate", "repo")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "repo/m/config.pbtxt:1:1: error TRT002 cannot read config.pbtxt: Is a directory" in lines
    assert "repo/n/config.pbtxt:1:1: error TRT002 cannot read config.pbtxt: Input/output error" in lines
    assert (f"    triton: failed to open text file for read {in_tmp}/repo/n/config.pbtxt: Input/output error"
            in lines)


def test_non_utf8_folder_names_are_printed_not_crashed_on(cli, in_tmp):
    root = write_tree(in_tmp / "repo", {"m/config.pbtxt": OK_CONFIG, "m/1/model.py": ""})
    os.mkdir(os.fsencode(root) + b"/m/\xff\xfe")
    result = cli("validate", "repo")
    assert result.exit_code == 0
    assert result.stdout.startswith("repo/m/\ufffd\ufffd: warning TRT402 folder '\ufffd\ufffd' is not a version")


def test_internal_errors_are_one_line_with_exit_70(cli, in_tmp, monkeypatch):
    write_tree(in_tmp / "repo", {"m/config.pbtxt": OK_CONFIG})
    import tritonctl.validate.engine as engine

    def boom(*a, **k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(engine, "check_model", boom)
    result = cli("validate", "repo")
    assert result.exit_code == 70
    assert result.stderr == ("error: internal error: ZeroDivisionError: boom\n"
                             "hint: set TRITONCTL_DEBUG=1 for the traceback\n")


def test_version_and_help(cli):
    from tritonctl import __version__

    assert cli("--version").stdout == f"tritonctl {__version__}\n"
    assert cli("--help").exit_code == 0


def test_rules_lists_every_code_and_explains_one(cli):
    listing = cli("rules")
    assert listing.exit_code == 0
    codes = [line.split()[0] for line in listing.stdout.splitlines()]
    assert codes == sorted(codes) and "TRT101" in codes and len(codes) >= 60
    one = cli("rules", "trt101")
    assert one.stdout.startswith("TRT101 name-mismatch (error, model-level fields)\n")
    assert "Why: " in one.stdout and "Bad:  " in one.stdout and "Good: " in one.stdout
    unknown = cli("rules", "TRT999")
    assert (unknown.exit_code, unknown.stderr) == (2, "error: unknown rule code 'TRT999'\n"
                                                      "hint: list the codes with: tritonctl rules\n")


GPU_CONFIG = 'backend: "python"\ninstance_group [ { kind: KIND_GPU gpus: [ 1 ] } ]\n'


def test_gpu_checks_run_only_when_the_target_gpu_count_is_given(cli, in_tmp):
    write_tree(in_tmp / "repo", {"m/config.pbtxt": GPU_CONFIG, "m/1/model.py": ""})
    assert cli("validate", "repo").exit_code == 0
    assert cli("validate", "repo", "--gpus", "2").exit_code == 0
    one = cli("validate", "repo", "--gpus", "1", "-f", "json")
    (finding,) = json.loads(one.stdout)["findings"]
    assert (finding["code"], finding["line"], finding["column"]) == ("TRT331", 2, 43)
    assert finding["triton_message"] == (
        "instance group m_0 of model m specifies invalid or unsupported gpu id 1. GPUs with at least the minimum "
        "required CUDA compute compatibility of 6.000000 are: 0")


def test_backends_narrows_what_the_target_has(cli, in_tmp):
    write_tree(in_tmp / "repo", {"m/config.pbtxt": 'backend: "python"\n', "m/1/model.py": ""})
    assert cli("validate", "repo", "--backends", "python,onnxruntime").exit_code == 0
    result = cli("validate", "repo", "--backends", "onnxruntime")
    assert result.exit_code == 1 and "TRT107 backend 'python' is not installed on the target" in result.stdout


def test_no_autocomplete_checks_as_a_strict_server(cli, in_tmp):
    from validate.onnx_models import onnx_bytes

    model = onnx_bytes([("x", [-1, 4])], [("y", [-1, 4])])
    write_tree(in_tmp / "repo", {"bare/1/model.onnx": model,
                                 "partial/config.pbtxt": 'backend: "onnxruntime"\n', "partial/1/model.onnx": model})
    assert cli("validate", "repo").exit_code == 0  # onnxruntime completes both from the model
    strict = json.loads(cli("validate", "repo", "--no-autocomplete", "-f", "json").stdout)["findings"]
    assert [(f["model"], f["code"]) for f in strict] == [("bare", "TRT003"), ("partial", "TRT511")]
    assert strict[0]["triton_message"] == (
        f"failed to open text file for read {in_tmp}/repo/bare/config.pbtxt: No such file or directory")
    assert strict[1]["triton_message"] == "unable to load model 'partial', configuration expects 0 inputs, model provides 1"


def test_a_folder_that_is_no_repository_is_an_error_not_a_flood_of_findings(cli, in_tmp):
    write_tree(in_tmp / "project", {"src/main.py": "", "docs/index.md": "", ".git/HEAD": ""})
    result = cli("validate", "project")
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == ("error: no model repository at 'project' (no subfolder has a config.pbtxt or a numeric "
                             "version folder)\nhint: pass the repository: tritonctl validate PATH\n")
    write_tree(in_tmp / "empty", {"notes.txt": "x"})  # a wrong path must not pass CI as an empty repository
    empty = cli("validate", "empty")
    assert (empty.exit_code, empty.stderr) == (3, "error: no model repository at 'empty' (it has no subfolder)\n"
                                                  "hint: pass the repository: tritonctl validate PATH\n")


def test_a_model_folder_is_named_as_one_and_its_repository_suggested(cli, in_tmp):
    write_tree(in_tmp / "repo", {"m/config.pbtxt": 'backend: "python"\n', "m/1/model.py": "",
                                 "bare/2/model.py": ""})
    for folder in ("m", "bare"):
        result = cli("validate", f"repo/{folder}")
        assert (result.exit_code, result.stdout) == (3, "")
        assert result.stderr == (f"error: 'repo/{folder}' is a model folder, not a model repository\n"
                                 f"hint: validate its repository: tritonctl validate repo --model {folder}\n")
    assert cli("validate", "repo", "--model", "m").exit_code == 0


def test_a_backend_taken_from_the_model_name_is_not_held_to_a_model_file(cli, in_tmp):
    io = ('max_batch_size: 0\ninput [ { name: "x" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
          'output [ { name: "y" data_type: TYPE_FP32 dims: [ 1 ] } ]\n')
    write_tree(in_tmp / "repo", {"no_backend.identity/config.pbtxt": io, "no_backend.identity/1": None,
                                 "named/config.pbtxt": 'backend: "custom"\ndefault_model_filename: "w.bin"\n' + io,
                                 "named/1": None})
    result = cli("validate", "repo", "-f", "json")
    found = [(f["model"], f["code"], f["severity"]) for f in json.loads(result.stdout)["findings"]]
    # a file the config names is still required; a backend outside Triton's standard set is said to be one
    assert sorted(found) == [("named", "TRT107", "warning"), ("named", "TRT405", "error")]
    shown = cli("config", "show", "no_backend.identity", "-r", "repo", "--normalized")
    assert shown.exit_code == 0 and 'backend: "identity"' in shown.stdout
