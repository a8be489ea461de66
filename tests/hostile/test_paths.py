"""Nothing is read or written outside the repository: external data, links in a version folder or a config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostile.conftest import GOOD, tree
from validate.onnx_models import onnx_bytes

SIG = ([("input.1", [-1, 1, 32, 100])], [("308", [-1, 26, 37])])


def escaping_model(location: str) -> bytes:
    return onnx_bytes(*SIG, weights=True, external=location)


@pytest.fixture
def victim(tmp_path) -> Path:
    """A file beside the repository that no command may touch."""
    path = tmp_path / "victim" / "f.txt"
    path.parent.mkdir()
    path.write_text("precious\n")
    return path


def nested_source(tmp_path: Path, location: str) -> Path:
    """A model three folders deep, so that `../../../victim/f.txt` exists from its folder and, seen from the
    staging folder (repository/model/.staging), lands beside the repository."""
    folder = tmp_path / "a" / "b" / "c"
    folder.mkdir(parents=True)
    (folder / "m.onnx").write_bytes(escaping_model(location))
    return folder / "m.onnx"


@pytest.mark.parametrize("no_validate", [False, True])
def test_external_data_climbing_out_is_refused_before_anything_is_read_or_written(cli, repo, tmp_path, victim,
                                                                                    no_validate):
    source = nested_source(tmp_path, "../../../victim/f.txt")
    before = tree(repo)
    result = cli("version", "add", "text_recognition", str(source), "-r", str(repo),
                 *(["--no-validate"] if no_validate else []))
    assert result.exit_code == 3
    assert result.stderr == (f"error: external data of '{source}' '../../../victim/f.txt' points outside its "
                             "folder\n")
    assert victim.read_text() == "precious\n"
    assert tree(repo) == before


def test_an_absolute_location_never_empties_the_file_it_names(cli, repo, tmp_path, victim):
    (tmp_path / "m.onnx").write_bytes(escaping_model(str(victim)))
    result = cli("version", "add", "text_recognition", "m.onnx", "-r", str(repo), "--no-validate")
    assert result.exit_code == 3
    assert "is an absolute path; it must be relative to its folder" in result.stderr
    assert victim.read_text() == "precious\n"


def test_a_location_naming_the_config_leaves_it_alone(cli, repo, tmp_path):
    folder = tmp_path / "src" / "text_recognition" / "x"
    folder.mkdir(parents=True)
    (folder.parent / "config.pbtxt").write_text("# the source's own, not the repository's\n")
    (folder / "m.onnx").write_bytes(escaping_model("../config.pbtxt"))
    config = (repo / "text_recognition" / "config.pbtxt").read_bytes()
    result = cli("version", "add", "text_recognition", str(folder / "m.onnx"), "-r", str(repo), "--no-validate")
    assert result.exit_code == 3
    assert (repo / "text_recognition" / "config.pbtxt").read_bytes() == config


def test_a_location_climbing_into_the_repository_makes_no_model(cli, repo, tmp_path):
    folder = tmp_path / "s1" / "s2"
    folder.mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0\n")
    (folder / "m.onnx").write_bytes(escaping_model("../../etc/passwd"))
    result = cli("version", "add", "text_recognition", str(folder / "m.onnx"), "-r", str(repo), "--no-validate")
    assert result.exit_code == 3
    assert not (repo / "etc").exists()


def test_a_location_through_a_link_that_leaves_the_folder_is_refused(cli, repo, tmp_path, victim):
    src = tmp_path / "src"
    src.mkdir()
    os.symlink(victim.parent, src / "weights")
    (src / "m.onnx").write_bytes(escaping_model("weights/f.txt"))
    result = cli("version", "add", "text_recognition", str(src / "m.onnx"), "-r", str(repo), "--no-validate")
    assert result.exit_code == 3
    assert "goes through a symbolic link to" in result.stderr
    assert not any(p.name.isdigit() for p in (repo / "text_recognition").iterdir())


def test_external_data_inside_the_folder_still_comes_along(cli, repo, tmp_path):
    src = tmp_path / "src"
    (src / "w").mkdir(parents=True)
    (src / "w" / "data.bin").write_bytes(b"\0" * 4)
    (src / "m.onnx").write_bytes(escaping_model("./w/../w/data.bin"))
    result = cli("version", "add", "text_recognition", str(src / "m.onnx"), "-r", str(repo), "--no-validate")
    assert result.exit_code == 0, result.stderr
    assert (repo / "text_recognition" / "1" / "w" / "data.bin").read_bytes() == b"\0" * 4


def test_a_folder_source_with_a_link_leaving_it_is_refused(cli, repo, tmp_path, victim):
    src = tmp_path / "v"
    src.mkdir()
    (src / "model.onnx").write_bytes(GOOD)
    os.symlink(victim, src / "notes.txt")
    before = tree(repo)
    result = cli("version", "add", "text_recognition", str(src), "-r", str(repo))
    assert result.exit_code == 3
    assert result.stderr.startswith(f"error: '{src}/notes.txt' is a symbolic link to '{victim}', outside '{src}'")
    assert tree(repo) == before


def test_a_folder_source_with_a_link_loop_is_refused(cli, repo, tmp_path):
    src = tmp_path / "v"
    (src / "sub").mkdir(parents=True)
    (src / "model.onnx").write_bytes(GOOD)
    os.symlink("..", src / "sub" / "up")
    result = cli("version", "add", "text_recognition", str(src), "-r", str(repo))
    assert result.exit_code == 3
    assert "symbolic link loop" in result.stderr


def test_a_folder_source_follows_links_that_stay_inside(cli, repo, tmp_path):
    src = tmp_path / "v"
    src.mkdir()
    (src / "real.onnx").write_bytes(GOOD)
    os.symlink("real.onnx", src / "model.onnx")
    result = cli("version", "add", "text_recognition", str(src), "-r", str(repo))
    assert result.exit_code == 0, result.stderr
    published = repo / "text_recognition" / "1" / "model.onnx"
    assert not published.is_symlink() and published.read_bytes() == GOOD


def test_a_folder_source_whose_onnx_file_climbs_out_is_refused(cli, repo, tmp_path, victim):
    src = tmp_path / "deep" / "v"
    src.mkdir(parents=True)
    (src / "model.onnx").write_bytes(escaping_model("../../victim/f.txt"))
    result = cli("version", "add", "text_recognition", str(src), "-r", str(repo), "--no-validate")
    assert result.exit_code == 3
    assert "points outside its folder" in result.stderr
    assert victim.read_text() == "precious\n"


def test_config_generate_refuses_a_model_whose_data_climbs_out(cli, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.onnx").write_bytes(escaping_model("../../victim/f.txt"))
    result = cli("config", "generate", str(tmp_path / "m" / "model.onnx"))
    assert result.exit_code == 3
    assert "points outside its folder" in result.stderr
    assert result.stdout == ""


# ---- symbolic links in the repository -------------------------------------------------------------------------


def test_rm_of_a_linked_version_removes_the_link_not_its_target(cli, repo, tmp_path):
    elsewhere = tmp_path / "kept" / "v2"
    elsewhere.mkdir(parents=True)
    (elsewhere / "model.onnx").write_bytes(GOOD)
    model = repo / "text_recognition"
    (model / "1").mkdir()
    (model / "1" / "model.onnx").write_bytes(GOOD)
    os.symlink(elsewhere, model / "2")
    (model / "3").mkdir()
    (model / "3" / "model.onnx").write_bytes(GOOD)
    result = cli("version", "rm", "text_recognition", "2", "-r", str(repo))
    assert (result.exit_code, result.stdout) == (0, "removed version 2 of 'text_recognition'\n")
    assert (elsewhere / "model.onnx").read_bytes() == GOOD
    assert sorted(p.name for p in model.iterdir()) == ["1", "3", "config.pbtxt"]


def test_a_link_left_by_an_interrupted_rm_is_finished_by_the_next_command(cli, repo, tmp_path):
    elsewhere = tmp_path / "kept"
    elsewhere.mkdir()
    (elsewhere / "model.onnx").write_bytes(GOOD)
    model = repo / "text_recognition"
    os.symlink(elsewhere, model / ".tritonctl-removed-2-4242-deadbeef")
    (tmp_path / "str.onnx").write_bytes(GOOD)
    result = cli("version", "add", "text_recognition", "str.onnx", "-r", str(repo))
    assert result.exit_code == 0, result.stderr
    assert "cleared '.tritonctl-removed-2-4242-deadbeef' left by an interrupted run" in result.stderr
    assert (elsewhere / "model.onnx").read_bytes() == GOOD
    assert sorted(p.name for p in model.iterdir()) == ["1", "config.pbtxt"]


def test_policy_set_writes_through_a_link_inside_the_repository_and_says_so(cli, repo):
    model = repo / "text_recognition"
    shared = repo / "text_recognition" / "configs"
    shared.mkdir()
    (model / "config.pbtxt").rename(shared / "base.pbtxt")
    os.symlink("configs/base.pbtxt", model / "config.pbtxt")
    (model / "1").mkdir()
    result = cli("policy", "set", "text_recognition", "latest:1", "-r", str(repo))
    assert result.exit_code == 0, result.stderr
    assert (model / "config.pbtxt").is_symlink()
    assert "version_policy: { latest: { num_versions: 1 } }" in (shared / "base.pbtxt").read_text()
    assert f"{model}/config.pbtxt is a symbolic link: wrote its target {shared}/base.pbtxt" in result.stderr


def test_policy_set_refuses_a_link_leaving_the_repository(cli, repo, tmp_path):
    model = repo / "text_recognition"
    outside = tmp_path / "outside.pbtxt"
    (model / "config.pbtxt").rename(outside)
    os.symlink(outside, model / "config.pbtxt")
    (model / "1").mkdir()
    before = outside.read_bytes()
    result = cli("policy", "set", "text_recognition", "latest:1", "-r", str(repo))
    assert result.exit_code == 3
    assert result.stderr.startswith(f"error: '{model}/config.pbtxt' is a symbolic link to '{outside}', outside "
                                    f"'{repo}'; not written\n")
    assert outside.read_bytes() == before and (model / "config.pbtxt").is_symlink()
