"""Each rule: its failing fixture yields exactly its findings (lines, Triton's message), its passing one none."""

from __future__ import annotations

import re

import pytest

from tritonctl.validate.context import Options
from tritonctl.validate.engine import validate_repository
from tritonctl.validate.model import Severity
from tritonctl.validate.registry import RULES, all_rules
from validate.cases import BRANCHES, CASES
from validate.conftest import branch_name, fixture_names

all_rules()
_REPORTS: dict = {}


def report_for(repo, options: dict):
    key = (str(repo), tuple(sorted(options.items())))
    if key not in _REPORTS:
        _REPORTS[key] = validate_repository(repo, options=Options(**options))
    return _REPORTS[key]


def findings(repo, code: str, model: str):
    report = report_for(repo, CASES[code].options)
    return [f for f in report.findings if f.model == model]


INJECTED = {"TRT407"}  # needs an OSError that a fixture on disk cannot produce (everything runs as root)


def test_every_rule_has_a_case_and_every_case_a_rule():
    assert sorted(set(RULES) - INJECTED) == sorted(CASES)


def test_unreadable_model_folder_is_a_finding(tmp_path, monkeypatch):
    import os

    (tmp_path / "repo" / "m" / "1").mkdir(parents=True)
    real = os.scandir

    def scandir(path):
        if str(path).endswith("/m"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = validate_repository(tmp_path / "repo")
    assert [(f.code, f.message, f.line) for f in report.findings] == [
        ("TRT407", "cannot read model folder: Permission denied", None)]


@pytest.mark.parametrize("code", sorted(CASES))
def test_failing_fixture_reports_the_rule(fixtures_repo, code):
    case = CASES[code]
    fail, _ = fixture_names(code)
    mine = [f for f in findings(fixtures_repo, code, fail) if f.code == code]
    assert [f.line or 0 for f in mine] == case.lines, [f.message for f in mine]
    rule = RULES[code]
    assert all(f.severity is rule.severity for f in mine)
    if case.triton is not None:
        expected = case.triton.format(model=fail, dir=(fixtures_repo / fail).absolute())
        assert mine[0].triton_message == expected
    elif rule.severity is Severity.ERROR and rule.triton_core:
        pytest.fail(f"{code} is enforced by Triton's core: give its case Triton's message")


BRANCH_IDS = sorted((code, branch) for code, branches in BRANCHES.items() for branch in branches)


@pytest.mark.parametrize(("code", "branch"), BRANCH_IDS, ids=[f"{c}-{b}" for c, b in BRANCH_IDS])
def test_each_way_a_rule_fails_has_its_fixture(fixtures_repo, code, branch):
    case, name = BRANCHES[code][branch], branch_name(code, branch)
    mine = [f for f in findings(fixtures_repo, code, name) if f.code == code]
    assert [f.line or 0 for f in mine] == case.lines, [f.message for f in mine]
    if case.triton is not None:
        assert mine[0].triton_message == case.triton.format(model=name, dir=(fixtures_repo / name).absolute())


@pytest.mark.parametrize("code", sorted(CASES))
def test_passing_fixture_is_clean(fixtures_repo, code):
    _, passing = fixture_names(code)
    errors = [f"{f.code} {f.message}" for f in findings(fixtures_repo, code, passing)
              if f.severity is Severity.ERROR or f.code == code]
    assert errors == []


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_documents_why_bad_and_good(code):
    rule = RULES[code]
    assert re.match(r"TRT\d{3}$", code) and rule.family
    assert "\n" not in rule.summary and not rule.summary.endswith(".")
    doc = rule.doc
    assert doc.startswith("Why: ") and "\nBad:  " in doc and "\nGood: " in doc, doc


def test_findings_point_at_the_field_they_name(fixtures_repo):
    """A finding with a field path points at a line:column where that field (or its value) is written."""
    checked = 0
    for code in CASES:
        fail, _ = fixture_names(code)
        for f in findings(fixtures_repo, code, fail):
            if f.field is None or f.line is None or not f.path.endswith("config.pbtxt"):
                continue
            text = open(f.path).read().splitlines()[f.line - 1][f.column - 1:]
            leaf = re.sub(r"\[.*?\]$", "", f.field.rsplit(".", 1)[-1])
            assert text.startswith((leaf, "{", "<")) or re.match(r'["\w-]', text), (code, f.field, text)
            checked += 1
    assert checked > 40


WARMUP = ('backend: "python"\nmax_batch_size: 0\ninput [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
          'output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
          'model_warmup [ { name: "w" batch_size: 1 inputs { key: "x" value { data_type: TYPE_FP32 dims: [ 4 ] '
          'input_data_file: "x.bin" } } } ]\n')
STATE = ('backend: "python"\nmax_batch_size: 0\ninput [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
         'output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]\nsequence_batching {\n'
         '  state [ { input_name: "S" output_name: "T" data_type: TYPE_INT32 dims: [ 2 ]\n'
         '    initial_state: { name: "i" data_type: TYPE_INT32 dims: [ 2 ] data_file: "s.bin" } } ]\n}\n')


@pytest.mark.parametrize(
    ("config", "files", "code", "triton"),
    [
        (WARMUP, {}, "TRT340", "failed to open text file for read {dir}/warmup/x.bin: No such file or directory"),
        (WARMUP, {"m/warmup/x.bin": b"\0" * 15}, "TRT340",
         "warmup setting expects 16 bytes, but the data provided from x.binonly has 15 bytes"),
        (WARMUP, {"m/warmup/x.bin": b"\0" * 16}, None, None),
        (STATE, {"m/initial_state/s.bin": b"\0" * 7}, "TRT317",
         "initial_state setting expects 8 bytes, but the data provided from s.binonly has 7 bytes."),
        (STATE, {"m/initial_state/s.bin": b"\0" * 8}, None, None),
    ],
)
def test_data_files_of_warmup_and_initial_state(make_repo, config, files, code, triton):
    repo = make_repo({"m/config.pbtxt": config, "m/1/model.py": "", **files})
    found = [(f.code, f.triton_message) for f in validate_repository(repo).findings]
    expected = [] if code is None else [(code, triton.format(dir=(repo / "m").absolute()))]
    assert found == expected


def test_the_error_triton_reports_first_follows_its_load_steps(make_repo):
    """With auto-complete on, Triton checks instance groups before the tensors (Model::Init); without it,
    the tensors are checked when the config is read, before the name."""
    config = ('name: "other"\nbackend: "python"\nmax_batch_size: 0\n'
              'input [ { name: "x" data_type: TYPE_FP32 dims: [ 0 ] } ]\n'
              'output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
              "instance_group [ { kind: KIND_CPU gpus: [ 0 ] } ]\n")
    repo = make_repo({"m/config.pbtxt": config.replace('name: "other"\n', ""), "m/1/model.py": "",
                      "n/config.pbtxt": config, "n/1/model.py": ""})
    from tritonctl.validate.context import Options

    def first(options, model):
        report = validate_repository(repo, models=[model], options=options)
        return [f.code for f in report.findings if f.triton_first]

    assert first(Options(), "m") == ["TRT330"]
    assert first(Options(autocomplete=False), "m") == ["TRT201"]
    assert first(Options(), "n") == ["TRT101"]
    assert first(Options(autocomplete=False), "n") == ["TRT201"]


def test_forked_workers_find_exactly_what_one_process_finds(fixtures_repo, monkeypatch):
    """A large repository is spread over forked workers; every fixture (ensembles across models included) gives
    the same findings, in the same order, either way."""
    from tritonctl.validate import engine

    import threading

    serial = validate_repository(fixtures_repo)
    monkeypatch.setattr(engine, "PARALLEL_FROM", 2)
    assert threading.active_count() == 1  # else the engine would not fork
    forked = validate_repository(fixtures_repo)
    assert forked.findings == serial.findings and len(serial.findings) > 100
    assert (forked.models_checked, forked.files_checked) == (serial.models_checked, serial.files_checked)


def test_a_backend_outside_tritons_standard_set_is_a_warning_unless_declared(make_repo):
    repo = make_repo({"glm/config.pbtxt": 'backend: "glmbackend"\n', "glm/1": None,
                      "typo/config.pbtxt": 'backend: "onnxruntme"\n', "typo/1": None})
    found = {f.model: f for f in validate_repository(repo).findings if f.code == "TRT107"}
    assert {m: f.severity for m, f in found.items()} == {"glm": Severity.WARNING, "typo": Severity.WARNING}
    assert "did you mean 'onnxruntime'?" in found["typo"].message and "did you mean" not in found["glm"].message
    assert "--backends LIST, or backends = [...] in tritonctl.toml" in found["glm"].message
    declared = validate_repository(repo, options=Options(backends=frozenset({"glmbackend", "onnxruntime"})))
    assert [(f.model, f.code, f.severity) for f in declared.findings if f.code == "TRT107"] == [
        ("typo", "TRT107", Severity.ERROR)]
