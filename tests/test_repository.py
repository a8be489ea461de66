from __future__ import annotations

import os
from pathlib import Path

import pytest

from tritonctl.errors import RepositoryNotFound
from tritonctl.repository import open_repository, selected_versions, stoll_prefix


@pytest.mark.parametrize(
    ("name", "number"),
    [("1", 1), ("0", 0), ("12", 12), ("1abc", 1), ("1.5", 1), ("-1", -1), ("+3", 3), (" 4", 4),
     ("abc", None), ("", None), (".1", None), ("99999999999999999999", None)],
)
def test_stoll_prefix_reads_names_as_cpp_stoll(name, number):
    assert stoll_prefix(name) == number


def test_discovery_reads_models_and_versions_as_triton(make_repo):
    root = make_repo({
        "a/config.pbtxt": "",
        "a/1": None, "a/0": None, "a/10": None, "a/2": None, "a/01": None, "a/v2": None, "a/1.5": None,
        "a/warmup": None, "a/initial_state": None, "a/configs": None, "a/notes.txt": "x",
        ".ipynb_checkpoints": None,
        "README.md": "files at the root are ignored",
    })
    repo = open_repository(root)
    assert [m.name for m in repo.models] == [".ipynb_checkpoints", "a"]
    a = repo.model("a")
    assert [(v.number, v.name) for v in a.versions] == [(0, "0"), (1, "1"), (1, "1.5"), (2, "2"), (10, "10")]
    assert [(d.name, d.reason) for d in a.ignored_dirs] == [("01", "leading zeros"), ("v2", "not a number")]
    # Triton's AutoCompleteBackendFields looks at the bytewise-first subdirectory
    assert a.subdirs[:3] == ["0", "01", "1"]


def test_symlinked_folders_count_and_symlink_loops_are_ignored(make_repo, tmp_path):
    root = make_repo({"real/config.pbtxt": ""})
    os.symlink(root / "real", root / "linked")
    os.symlink(root / "loop", root / "loop")
    assert [m.name for m in open_repository(root).models] == ["linked", "real"]


def test_missing_repository_and_file_instead_of_folder_are_errors(tmp_path):
    with pytest.raises(RepositoryNotFound, match="path does not exist"):
        open_repository(tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(RepositoryNotFound, match="is a file"):
        open_repository(tmp_path / "f")


def test_unreadable_repository_is_an_error(tmp_path, monkeypatch):
    def fail(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "scandir", fail)
    with pytest.raises(RepositoryNotFound, match="Permission denied"):
        open_repository(tmp_path)


@pytest.mark.parametrize(
    ("policy", "selected"),
    [
        ("", [3]),
        ("latest { num_versions: 2 }", [2, 3]),
        ("latest { }", []),
        ("all { }", [1, 2, 3]),
        ("specific { versions: [1, 3, 7] }", [1, 3]),
        ("specific { }", []),
    ],
)
def test_version_policy_selects_as_triton(policy, selected):
    from tritonctl.io.pbtxt import parse

    config = parse(f"version_policy {{ {policy} }}" if policy else "", "c")
    assert selected_versions(config.version_policy, [1, 2, 3]) == selected


def test_a_path_given_for_a_model_name_is_told_how_to_name_it(tmp_path):
    from tritonctl.errors import ModelNotFound
    from tritonctl.repository import open_repository

    (tmp_path / "m" / "1").mkdir(parents=True)
    (tmp_path / ".hidden" / "1").mkdir(parents=True)
    with pytest.raises(ModelNotFound) as caught:
        open_repository(tmp_path).model("/elsewhere/repo/tf_a/")
    assert str(caught.value) == f"no model '/elsewhere/repo/tf_a/' in repository '{tmp_path}' (models: m)"
    assert caught.value.hint == "name the model, and its repository with --repo: tf_a --repo /elsewhere/repo"


def test_an_unknown_model_lists_ten_names_then_how_many_more_and_a_close_one():
    from tritonctl.errors import ModelNotFound
    from tritonctl.repository import Model, Repository

    def repo(names):
        return Repository(Path("/r"), [Model(n, Path("/r") / n) for n in names])

    many = [f"model_{i:05d}" for i in range(1000)]
    with pytest.raises(ModelNotFound) as caught:
        repo(many).model("text_detection")
    assert str(caught.value) == ("no model 'text_detection' in repository '/r' (models: "
                                 + ", ".join(many[:10]) + ", … (990 more))")
    assert caught.value.hint is None
    with pytest.raises(ModelNotFound) as caught:
        repo(many).model("model_0001")  # as close to model_00001 as to model_00010: no guess
    assert caught.value.hint is None
    with pytest.raises(ModelNotFound) as caught:
        repo(["text_detection", "text_recognition"]).model("text_detecton")
    assert str(caught.value).endswith("(models: text_detection, text_recognition)")
    assert caught.value.hint == "did you mean 'text_detection'?"
    with pytest.raises(ModelNotFound) as caught:
        repo([]).model("m")
    assert str(caught.value).endswith("(models: none)")
