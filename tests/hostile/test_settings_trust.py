"""A settings file found upwards changes what validate reports: it is named wherever it does, ignored when anyone
can write it, said when another user owns it, and looked for no higher than the checkout, home or filesystem."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import write_tree
from validate.cases import PY_MODEL

SILENCE = 'ignore = ["TRT"]\n'
BAD = {"m/config.pbtxt": 'backend: "python"\nmax_batch_size: -1\n', "m/1/model.py": PY_MODEL}  # TRT106, an error


@pytest.fixture
def shared(tmp_path, monkeypatch):
    """A folder like /tmp: a settings file in it, a repository below."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRITONCTL_TRUSTED_SETTINGS", raising=False)
    write_tree(tmp_path / "work" / "repo", BAD)
    (tmp_path / "tritonctl.toml").write_text(SILENCE)
    return tmp_path


def codes(cli, repo, *args):
    result = cli("validate", str(repo), "-f", "json", *args)
    return result, [f["code"] for f in json.loads(result.stdout)["findings"]] if result.stdout else None


def test_a_settings_file_anyone_can_write_is_ignored_with_a_warning_naming_it(cli, shared):
    settings = shared / "tritonctl.toml"
    os.chmod(settings, 0o666)
    result, found = codes(cli, shared / "work" / "repo")
    assert result.exit_code == 1 and found == ["TRT106"]
    assert f"warning: ignored the settings file '{settings}': anyone can write it (mode 666)" in result.stderr
    os.chmod(settings, 0o644)
    silenced, found = codes(cli, shared / "work" / "repo")
    assert silenced.exit_code == 0 and found == []
    assert json.loads(silenced.stdout)["settings"] == str(settings)  # the JSON names the file that silenced it
    table = cli("validate", str(shared / "work" / "repo"))
    assert table.stderr.rstrip().endswith(f"no problems (settings: {settings})")
    sarif = json.loads(cli("validate", str(shared / "work" / "repo"), "-f", "sarif").stdout)
    assert sarif["runs"][0]["properties"] == {"settingsFile": str(settings)}


def test_a_settings_file_another_user_owns_is_used_with_a_warning_unless_told_otherwise(cli, shared, monkeypatch):
    settings = shared / "tritonctl.toml"
    os.chown(settings, 12345, 12345)
    used, found = codes(cli, shared / "work" / "repo")
    assert used.exit_code == 0 and found == []
    assert f"warning: using the settings file '{settings}', which belongs to another user (uid 12345)" in used.stderr
    monkeypatch.setenv("TRITONCTL_TRUSTED_SETTINGS", "ignore")
    ignored, found = codes(cli, shared / "work" / "repo")
    assert ignored.exit_code == 1 and found == ["TRT106"] and "belongs to another user" in ignored.stderr
    monkeypatch.setenv("TRITONCTL_TRUSTED_SETTINGS", "trust")
    trusted, found = codes(cli, shared / "work" / "repo")
    assert trusted.exit_code == 0 and "warning" not in trusted.stderr
    monkeypatch.setenv("TRITONCTL_TRUSTED_SETTINGS", "maybe")
    assert cli("validate", str(shared / "work" / "repo")).exit_code == 2


def test_the_search_stops_at_the_checkout_root(cli, shared):
    (shared / "work" / ".git").mkdir()
    result, found = codes(cli, shared / "work" / "repo")
    assert result.exit_code == 1 and found == ["TRT106"]
    assert json.loads(result.stdout)["settings"] is None
    (shared / "work" / "tritonctl.toml").write_text(SILENCE)  # the checkout's own file is still read
    assert codes(cli, shared / "work" / "repo")[1] == []


def test_a_sync_refused_by_validate_names_the_settings_file(cli, shared, tmp_path, monkeypatch):
    monkeypatch.setenv("TRITONCTL_STATE_DIR", str(tmp_path / "state"))
    (shared / "tritonctl.toml").write_text('fail-on = "warning"\n')
    write_tree(shared / "work" / "repo", {"m/01/model.py": PY_MODEL, "m/config.pbtxt": 'backend: "python"\n'})
    result = cli("sync", str(shared / "work" / "repo"), str(tmp_path / "dst"))
    assert result.exit_code == 1
    assert f"(settings: {shared / 'tritonctl.toml'}); nothing was synced" in result.stderr


def test_the_search_stops_at_a_filesystem_boundary(shared):
    assert shutil.which("unshare"), "unshare (util-linux) is needed: CI has it"
    mount = shared / "work"
    script = (f"mount -t tmpfs -o size=8m tmpfs {mount} && mkdir -p {mount}/repo/m/1 && "
              f"printf 'backend: \"python\"\\nmax_batch_size: -1\\n' > {mount}/repo/m/config.pbtxt && "
              f"cp {shared}/work/repo/m/1/model.py {mount}/repo/m/1/ 2>/dev/null; "
              f"touch {mount}/repo/m/1/model.py && {sys.executable} -m tritonctl validate {mount}/repo -f json")
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert [f["code"] for f in json.loads(result.stdout)["findings"]] == ["TRT106"]
