"""A misspelt field or enum value: the error says where it is and what was probably meant, in every command that
reads the config."""

from __future__ import annotations

import pytest

from conftest import write_tree

CASES = [
    ("max_batchsize: 4\n", 2, 1, "has no field named \"max_batchsize\"; did you mean 'max_batch_size'?"),
    ('input [ { nme: "x" } ]\n', 2, 11, "has no field named \"nme\"; did you mean 'name'?"),
    ("dynamic_batching { max_queue_delay: 3 }\n", 2, 20, "did you mean 'max_queue_delay_microseconds'?"),
    ("instance_group [ { kind: KIND_CPUU } ]\n", 2, 26, "no value named KIND_CPUU; did you mean 'KIND_CPU' or "
                                                        "'KIND_GPU'?"),
]
COMMANDS = [("validate", "{repo}"), ("version", "list", "m", "-r", "{repo}"), ("policy", "show", "m", "-r", "{repo}"),
            ("config", "show", "m", "-r", "{repo}")]


@pytest.mark.parametrize(("typo", "line", "column", "expected"), CASES)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_typo_is_located_and_the_closest_name_suggested(cli, tmp_path, command, typo, line, column, expected):
    repo = write_tree(tmp_path / "repo", {"m/config.pbtxt": 'backend: "python"\n' + typo, "m/1/model.py": ""})
    result = cli(*(arg.format(repo=repo) for arg in command))
    assert result.exit_code == 1  # a config that does not parse: a verdict against the input, whichever command
    text = result.stdout + result.stderr
    assert f"{repo}/m/config.pbtxt:{line}:{column}:" in text and expected in text


def test_a_name_nothing_is_close_to_gets_no_suggestion(cli, tmp_path):
    repo = write_tree(tmp_path / "repo", {"m/config.pbtxt": "zzzz: 1\n", "m/1/model.py": ""})
    result = cli("config", "show", "m", "-r", str(repo))
    assert result.exit_code == 1 and "has no field named \"zzzz\"." in result.stderr
    assert "did you mean" not in result.stderr
