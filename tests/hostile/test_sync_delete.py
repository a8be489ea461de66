"""sync --delete removes only what tritonctl wrote: models in a destination it synced before (or was told to adopt);
everything else is kept and named. An empty source, and a destination holding other repositories, are refused."""

from __future__ import annotations

import json

import pytest

from conftest import write_tree
from hostile.conftest import tree
from validate.cases import PY_MODEL

USER_FILES = {"Documents/thesis.txt": "four years of work", ".ssh/id_rsa": "-----BEGIN KEY-----", "notes.txt": "x"}


@pytest.fixture
def source(tmp_path, monkeypatch):
    monkeypatch.setenv("TRITONCTL_STATE_DIR", str(tmp_path / "state"))
    return write_tree(tmp_path / "src", {"m/config.pbtxt": 'backend: "python"\n', "m/1/model.py": PY_MODEL,
                                         "n/config.pbtxt": 'backend: "python"\n', "n/1/model.py": PY_MODEL})


def sync(cli, *args):
    result = cli("sync", *args, "-f", "json")
    return result, json.loads(result.stdout) if result.stdout.startswith("{") else None


def test_a_folder_tritonctl_did_not_write_is_refused_for_delete_and_nothing_changes(cli, source, tmp_path):
    home = write_tree(tmp_path / "home", USER_FILES)
    before = tree(home)
    result, _ = sync(cli, str(source), str(home), "--delete")
    assert result.exit_code == 1
    assert "was not written by tritonctl sync (no .tritonctl-repository at its root)" in result.stderr
    assert "hint: take it over with --adopt" in result.stderr
    assert tree(home) == before
    state = tmp_path / "state"
    write_tree(state, {"backends/python/libtriton_python.so": "x", "s3-cache/k/m/config.pbtxt": "y"})
    dry, _ = sync(cli, str(source), str(state), "--delete", "--dry-run")
    assert dry.exit_code == 1 and (state / "backends/python/libtriton_python.so").exists()


def test_adopting_keeps_and_names_what_is_not_a_model_then_delete_removes_only_models(cli, source, tmp_path):
    home = write_tree(tmp_path / "home", {**USER_FILES, "old/config.pbtxt": 'backend: "python"\n',
                                          "old/1/model.py": PY_MODEL})
    dry, doc = sync(cli, str(source), str(home), "--delete", "--adopt", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert [(c["action"], c["path"]) for c in doc["changes"] if c["action"] == "delete"] == [
        ("delete", "old/1/model.py"), ("delete", "old/config.pbtxt")]
    assert not (home / ".tritonctl-repository").exists()  # a dry run marks nothing
    adopted, doc = sync(cli, str(source), str(home), "--delete", "--adopt")
    assert adopted.exit_code == 0, adopted.stderr
    assert {"kept .ssh/: not part of a model repository", "kept Documents/: not part of a model repository",
            "kept notes.txt: not part of a model repository"} <= set(doc["warnings"])
    assert not (home / "old").exists() and (home / "m/1/model.py").exists()
    for rel, content in USER_FILES.items():
        assert (home / rel).read_text() == content
    write_tree(home, {"Pictures/cat.png": "meow"})  # a marked repository: still only models are removed
    (source / "n/1/model.py").unlink()
    (source / "n/1").rmdir()
    (source / "n/config.pbtxt").unlink()
    (source / "n").rmdir()
    again, doc = sync(cli, str(source), str(home), "--delete")
    assert again.exit_code == 0, again.stderr
    assert not (home / "n").exists() and (home / "Pictures/cat.png").exists()
    assert "kept Pictures/: not part of a model repository" in doc["warnings"]


def test_a_first_sync_into_an_empty_folder_marks_it_so_later_deletes_work(cli, source, tmp_path):
    dst = tmp_path / "dst"
    assert sync(cli, str(source), str(dst))[0].exit_code == 0
    assert (dst / ".tritonctl-repository").is_file()
    write_tree(dst, {"stale/config.pbtxt": 'backend: "python"\n', "stale/1/model.py": PY_MODEL})
    result, doc = sync(cli, str(source), str(dst), "--delete")
    assert result.exit_code == 0 and not (dst / "stale").exists()
    existing = write_tree(tmp_path / "existing", {"x/config.pbtxt": 'backend: "python"\n'})
    assert sync(cli, str(source), str(existing))[0].exit_code == 0  # without --delete: added, not adopted
    assert not (existing / ".tritonctl-repository").exists()


def test_an_empty_source_with_delete_is_refused_unless_allowed(cli, source, tmp_path):
    dst = tmp_path / "dst"
    assert sync(cli, str(source), str(dst))[0].exit_code == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    refused, _ = sync(cli, str(empty), str(dst), "--delete")
    assert refused.exit_code == 3 and "is no model repository" in refused.stderr
    assert (dst / "m/1/model.py").exists()
    emptied, doc = sync(cli, str(empty), str(dst), "--delete", "--allow-empty-source")
    assert emptied.exit_code == 0, emptied.stderr
    assert not (dst / "m").exists() and not (dst / "n").exists()


def test_a_destination_holding_other_repositories_is_refused(cli, source, tmp_path):
    root = tmp_path / "bucket_root"
    for name in ("prod", "staging"):
        assert sync(cli, str(source), str(root / name))[0].exit_code == 0
    before = tree(root)
    for args in ([], ["--delete"], ["--delete", "--adopt"]):
        result, _ = sync(cli, str(source), str(root), *args)
        assert result.exit_code == 1, result.stderr
        assert "holds other repositories (prod/, staging/)" in result.stderr
    assert tree(root) == before
    write_tree(tmp_path / "above", {"solo/.tritonctl-repository": "written by tritonctl sync\n"})  # no model yet
    lone, _ = sync(cli, str(source), str(tmp_path / "above"))
    assert lone.exit_code == 1 and "holds other repositories (solo/)" in lone.stderr
