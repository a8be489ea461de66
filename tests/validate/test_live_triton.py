"""Every rule Triton's core enforces, checked against the real Triton 2.51: the failing fixture is refused
with the message tritonctl reports, the passing fixture loads."""

from __future__ import annotations

import pytest

import triton_harness
from tritonctl.validate.registry import RULES, all_rules
from validate.cases import BRANCHES, CASES
from validate.conftest import branch_name, fixture_names

all_rules()
LIVE = sorted(code for code, case in CASES.items() if RULES[code].triton_core and case.live is True
              and RULES[code].severity.value == "error")

pytestmark = pytest.mark.triton


STANDIN = ["TRT405", "TRT502", "TRT503", "TRT510", "TRT511"]
LIVE_BRANCHES = sorted((code, branch) for code, branches in BRANCHES.items() for branch, case in branches.items()
                       if case.live is True)


@pytest.fixture(scope="module")
def triton(fixtures_repo, tmp_path_factory):
    server = triton_harness.start(fixtures_repo.absolute(), tmp_path_factory.mktemp("triton"))
    yield server
    triton_harness.triton_binary.stop(server.proc)


@pytest.fixture(scope="module")
def outcomes(triton) -> dict[str, triton_harness.LoadOutcome]:
    """Every fixture the tests below need, loaded into the real Triton once: four at a time, but one at a time for
    the pairs that need other models (an ensemble's unload takes its steps with it)."""
    alone, shared = [], []
    for code in sorted(set(LIVE) | set(STANDIN) | {"TRT108"}):
        (shared if CASES[code].extra else alone).extend(fixture_names(code))
    alone += [branch_name(code, branch) for code, branch in LIVE_BRANCHES]
    return {**triton.load_each(alone, workers=4), **triton.load_each(shared)}


def test_core_rules_are_checked_live():
    assert len(LIVE) >= 35


@pytest.mark.parametrize("code", LIVE)
def test_triton_refuses_the_failing_fixture_with_tritonctls_message(triton, outcomes, code):
    fail, _ = fixture_names(code)
    expected = CASES[code].triton.format(model=fail, dir=(triton.repository / fail))
    got = outcomes[fail]
    assert got.status != 200, f"Triton loaded {fail}"
    assert expected in got.error or expected in got.log, f"API: {got.error}\nLOG: {got.log[-2000:]}"


@pytest.mark.parametrize("code", LIVE)
def test_triton_loads_the_passing_fixture(outcomes, code):
    _, passing = fixture_names(code)
    assert outcomes[passing].status == 200, outcomes[passing].error


@pytest.mark.parametrize("code", STANDIN)
def test_onnxruntime_standin_refuses_what_validate_reports(outcomes, fixtures_repo, code):
    """The onnxruntime rules are the C++ backend's; the local server runs tritonctl's stand-in for it, which
    must refuse the failing fixture with the message validate reports, and load the passing one."""
    from tritonctl.validate.engine import validate_repository

    fail, passing = fixture_names(code)
    report = validate_repository(fixtures_repo, models=[fail])
    (finding,) = [f for f in report.findings if f.code == code]
    got = outcomes[fail]
    assert got.status != 200
    assert finding.triton_message in got.error or finding.triton_message in got.log, \
        f"API: {got.error}\nLOG: {got.log[-2000:]}"
    assert outcomes[passing].status == 200, outcomes[passing].error


@pytest.mark.parametrize(("code", "branch"), LIVE_BRANCHES, ids=[f"{c}-{b}" for c, b in LIVE_BRANCHES])
def test_triton_refuses_each_way_a_rule_fails_with_the_message_validate_reports(outcomes, fixtures_repo, code,
                                                                               branch):
    """Core rules against Triton's core, TRT511 against the onnxruntime stand-in, TRT108 against Triton's own python
    backend running the model's auto_complete_config."""
    from tritonctl.validate.context import Options
    from tritonctl.validate.engine import validate_repository

    name = branch_name(code, branch)
    report = validate_repository(fixtures_repo, models=[name], options=Options(run_python=code == "TRT108"))
    first = next(f for f in report.findings if f.triton_first)
    assert first.code == code
    got = outcomes[name]
    assert got.status != 200
    assert first.triton_message in got.error or first.triton_message in got.log, \
        f"API: {got.error}\nLOG: {got.log[-2000:]}"


def test_python_auto_complete_agrees_with_triton_on_its_cases(outcomes, fixtures_repo):
    from tritonctl.validate.context import Options
    from tritonctl.validate.engine import validate_repository

    fail, passing = fixture_names("TRT108")
    report = validate_repository(fixtures_repo, models=[fail, passing], options=Options(run_python=True))
    (finding,) = [f for f in report.findings if f.code == "TRT108"]
    assert outcomes[fail].status != 200 and finding.triton_message in outcomes[fail].error, outcomes[fail].error
    assert outcomes[passing].status == 200, outcomes[passing].error


def test_a_step_model_that_fails_at_poll_makes_the_ensemble_refer_to_it_as_unavailable(tmp_path):
    """Triton reports a step model whose config it refuses as "not available" (checked live)."""
    from conftest import write_tree
    from tritonctl.validate.engine import validate_repository
    from validate.cases import PY, ensemble, io_config, step

    repo = tmp_path / "repo"
    write_tree(repo / "ens", ensemble(step(model="bad_step")))
    write_tree(repo / "bad_step", {"config.pbtxt": io_config(mbs=8).replace("max_batch_size: 8",
                                                                            "max_batch_size: -1"), **PY})
    (finding,) = [f for f in validate_repository(repo, models=["ens"]).findings if f.code == "TRT610"]
    assert finding.triton_message == "ensemble ens contains models that are not available or ambiguous: bad_step"
    server = triton_harness.start(repo.absolute(), tmp_path / "server")
    try:
        status, error = server.load("ens")
    finally:
        triton_harness.triton_binary.stop(server.proc)
    assert status == 400 and finding.triton_message in error


WARMUPS = [(4, "[ 4 ]", "data_type: TYPE_FP32 dims: [ 5 ]"), (0, "[ 2, 2 ]", "data_type: TYPE_FP32 dims: [ 4 ]"),
           (4, "[ 4 ]", "data_type: TYPE_INT32 dims: [ 4 ]"), (4, "[ -1 ]", "data_type: TYPE_FP32 dims: [ 7 ]")]


@pytest.fixture(scope="module")
def warmed(tmp_path_factory):
    """A model per warmup case in one repository, each validated and loaded into one local Triton."""
    from conftest import write_tree
    from tritonctl.validate.engine import validate_repository
    from validate.cases import PY_MODEL, io_config

    root = tmp_path_factory.mktemp("warmup")
    for i, (mbs, input_dims, warmup) in enumerate(WARMUPS):
        config = io_config(f'model_warmup [ {{ name: "w" batch_size: 1 inputs {{ key: "x" value {{ {warmup} '
                           "zero_data: true } } } ]\n", mbs=mbs, in_dims=input_dims)
        write_tree(root / "repo" / f"w{i}", {"config.pbtxt": config, "1/model.py": PY_MODEL})
    report = validate_repository(root / "repo")
    server = triton_harness.start((root / "repo").absolute(), root / "server")
    try:
        outcomes = server.load_each([f"w{i}" for i in range(len(WARMUPS))], workers=4)
    finally:
        triton_harness.triton_binary.stop(server.proc)
    return report, outcomes


@pytest.mark.parametrize("case", range(len(WARMUPS)), ids=[" ".join(map(str, w)) for w in WARMUPS])
def test_warmup_samples_are_checked_as_the_requests_triton_sends(warmed, case):
    report, outcomes = warmed
    got = outcomes[f"w{case}"]
    findings = [f for f in report.findings if f.code == "TRT340" and f.model == f"w{case}"]
    assert (got.status == 200) == (findings == []), (got.error, findings)
    if findings:
        assert findings[0].triton_message in got.error, (findings[0].triton_message, got.error)


def test_a_python_model_without_its_file_is_a_load_that_never_returns(fixtures_repo, tmp_path):
    """Why TRT405's python branch is not in the live list above: Triton 2.51 logs the message validate quotes and then
    does not answer the load request (a request that times out here; a fixed Triton would fail this test, and the
    rule's words would change with it)."""
    import socket
    import urllib.error

    name = branch_name("TRT405", "python")
    server = triton_harness.start(fixtures_repo.absolute(), tmp_path)
    try:
        with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
            server.post(f"/v2/repository/models/{name}/load", timeout=5)
        expected = BRANCHES["TRT405"]["python"].triton.format(dir=(fixtures_repo / name).absolute())
        assert expected in server.log_since(0)
    finally:
        server.proc.kill()
        server.proc.wait(10)
