from __future__ import annotations

import pytest

from tritonctl.io.pbtxt import parse
from tritonctl.policy import set_policy

BODY_BEFORE = '# detector\nname: "m"  # keep me\nbackend: "python"\n'
BODY_AFTER = '\n# trailing comment\ninstance_group [ { kind: KIND_CPU } ]\n'

VARIANTS = [
    'version_policy: { latest: { num_versions: 2 } }',
    'version_policy { latest { num_versions: 2 } }',
    'version_policy < all < > >',
    'version_policy: { specific: { versions: [1, 3] } }',
    'version_policy {\n  specific {\n    versions: 1;\n    versions: 3 # both\n  }\n}',
    "version_policy: { specific: { versions: 1, versions: 3 } }",
    "version_policy: <specific: <versions: [ 1 ]>>",
]


def model(make_repo, config: str | None):
    files = {"m/1/model.py": "", "m/2/model.py": "", "m/3/model.py": ""}
    if config is not None:
        files["m/config.pbtxt"] = config
    return make_repo(files)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("spec", ["latest:1", "all", "specific:2,3"])
def test_set_replaces_only_the_policy_text(make_repo, variant, spec):
    repo = model(make_repo, BODY_BEFORE + variant + BODY_AFTER)
    change = set_policy(repo, "m", spec)
    text = (repo / "m/config.pbtxt").read_text()
    from tritonctl.policy import parse_spec, policy_text

    assert text == BODY_BEFORE + policy_text(parse_spec(spec)) + BODY_AFTER
    assert parse(text, "c").version_policy == parse_spec(spec)
    assert change.diff.count("\n-") >= 1


def test_set_inserts_a_policy_and_keeps_the_rest(make_repo):
    repo = model(make_repo, BODY_BEFORE.rstrip("\n"))
    set_policy(repo, "m", "latest:2")
    assert (repo / "m/config.pbtxt").read_text() == BODY_BEFORE + "version_policy: { latest: { num_versions: 2 } }\n"


def test_set_writes_a_config_for_a_model_without_one(make_repo):
    repo = model(make_repo, None)
    change = set_policy(repo, "m", "specific:1")
    assert change.created
    assert (repo / "m/config.pbtxt").read_text() == "version_policy: { specific: { versions: [ 1 ] } }\n"


def test_set_refuses_a_policy_that_selects_nothing_and_writes_nothing(cli, make_repo):
    repo = model(make_repo, BODY_BEFORE)
    result = cli("policy", "set", "m", "specific:7,8", "--repo", str(repo))
    assert (result.exit_code, result.stderr) == (
        3, "error: policy specific:7,8 selects none of the versions of 'm' (present: 1, 2, 3); "
           "Triton would refuse the model\n")
    assert (repo / "m/config.pbtxt").read_text() == BODY_BEFORE


@pytest.mark.parametrize("spec", ["latest:0", "latest", "newest:2", "specific:", "specific:a", "all:3"])
def test_bad_policy_is_a_usage_error(cli, make_repo, spec):
    repo = model(make_repo, BODY_BEFORE)
    result = cli("policy", "set", "m", spec, "--repo", str(repo))
    assert result.exit_code == 2
    assert result.stderr == (f"error: '{spec}' is not a version policy; use latest:N (N >= 1), all, or "
                             "specific:1,3\n")


def test_cli_show_and_set_with_diff(cli, make_repo):
    repo = model(make_repo, BODY_BEFORE + "version_policy: { latest: { num_versions: 2 } }\n")
    shown = cli("policy", "show", "m", "--repo", str(repo))
    assert shown.stdout == (f"m: latest:2 ({repo}/m/config.pbtxt:4:1)\nversions present: 1, 2, 3\nserved: 2, 3\n")
    dry = cli("policy", "set", "m", "all", "--repo", str(repo), "--dry-run")
    assert dry.stdout.endswith("-version_policy: { latest: { num_versions: 2 } }\n+version_policy: { all: { } }\n")
    assert dry.stderr == "would set the version policy of 'm': latest:2 -> all (serves 1, 2, 3)\n"
    assert "latest" in (repo / "m/config.pbtxt").read_text()
    done = cli("policy", "set", "m", "all", "--repo", str(repo))
    assert done.exit_code == 0 and "all: { }" in (repo / "m/config.pbtxt").read_text()
