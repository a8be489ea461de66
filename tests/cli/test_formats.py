"""validate's output formats: a registry (the --format choices come from it, nothing falls back), and SARIF 2.1.0
for GitHub code scanning."""

from __future__ import annotations

import json

import pytest

from conftest import write_tree
from json_schemas import check
from validate.cases import PY_MODEL

REPO = {"m/config.pbtxt": 'backend: "python"\nmax_batch_size: -1\n', "m/1/model.py": PY_MODEL,
        "m/01/model.py": PY_MODEL, "ok/config.pbtxt": 'backend: "python"\n', "ok/1/model.py": PY_MODEL}


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return write_tree(tmp_path / "checkout" / "models", REPO)


def test_every_registered_format_is_a_choice_and_renders(cli, repo):
    from tritonctl.cli._options import FindingsFormat
    from tritonctl.cli._output import FINDINGS_FORMATS

    assert [f.value for f in FindingsFormat] == list(FINDINGS_FORMATS)
    for name in FINDINGS_FORMATS:
        result = cli("validate", str(repo), "-f", name)
        assert result.exit_code == 1 and "TRT106" in result.stdout, name


def test_an_unknown_format_is_a_usage_error_not_another_format(cli, repo):
    result = cli("validate", str(repo), "-f", "xml")
    assert result.exit_code == 2 and result.stdout == ""


def test_sarif_matches_the_schema_and_carries_rules_levels_and_regions(cli, repo, tmp_path):
    import os

    os.chdir(tmp_path / "checkout")
    result = cli("validate", "models", "-f", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    check(log, "sarif-2.1.0-subset")
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    from tritonctl.validate.registry import all_rules

    assert [r["id"] for r in rules] == [r.code for r in all_rules()]  # every rule that ran
    by_id = {r["id"]: r for r in rules}
    assert by_id["TRT106"]["defaultConfiguration"]["level"] == "error"
    assert "Why:" in by_id["TRT106"]["fullDescription"]["text"]
    results = {r["ruleId"]: r for r in run["results"]}
    error, warning = results["TRT106"], results["TRT402"]
    assert rules[error["ruleIndex"]]["id"] == "TRT106"
    assert error["level"] == "error" and warning["level"] == "warning"
    assert error["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "models/m/config.pbtxt", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 2, "startColumn": 1}}
    assert "Triton: 'max_batch_size' must be non-negative value for m" in error["message"]["text"]
    assert warning["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "models/m/01", "uriBaseId": "%SRCROOT%"}}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/checkout/")


def test_sarif_of_a_clean_repository_has_no_results_and_still_the_rules(cli, repo):
    result = cli("validate", str(repo), "-m", "ok", "-f", "sarif")
    assert result.exit_code == 0
    log = json.loads(result.stdout)
    check(log, "sarif-2.1.0-subset")
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"]


def test_a_path_outside_the_checkout_is_an_absolute_file_uri(cli, repo, tmp_path):
    import os

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    log = json.loads(cli("validate", str(repo), "-f", "sarif").stdout)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert f"{repo.as_uri()}/m/config.pbtxt" in uris


def test_the_schema_refuses_what_code_scanning_would(cli, repo):
    import jsonschema

    log = json.loads(cli("validate", str(repo), "-f", "sarif").stdout)
    for spoil in (lambda r: r["locations"][0]["physicalLocation"].update(region={"startLine": 0}),
                  lambda r: r.update(level="fatal"), lambda r: r.pop("message"),
                  lambda r: r.update(extra=1)):
        broken = json.loads(json.dumps(log))
        spoil(broken["runs"][0]["results"][0])
        with pytest.raises(jsonschema.ValidationError):
            check(broken, "sarif-2.1.0-subset")
