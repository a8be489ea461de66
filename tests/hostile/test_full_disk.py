"""A local sync into a mount point (a Kubernetes volume) and onto a full disk, each in a mount namespace of its own
with a small tmpfs (`unshare -m`: CI has it, so these fail rather than skip without it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_tree
from validate.cases import PY_MODEL

_RUNNER = r"""
import json, os, subprocess, sys
mount, size, state = sys.argv[1], sys.argv[2], sys.argv[3]
subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mount], check=True)
out = []
for line in sys.stdin:
    args = json.loads(line)
    if args[0] == "@rm":
        os.unlink(args[1])
        continue
    if args[0] == "@tree":
        found = []
        for folder, dirs, names in os.walk(args[1]):
            for name in dirs + names:
                found.append(os.path.relpath(os.path.join(folder, name), args[1]))
        out.append({"tree": sorted(found)})
        continue
    r = subprocess.run([sys.executable, "-m", "tritonctl", *args], capture_output=True, text=True,
                       env={**os.environ, "TRITONCTL_STATE_DIR": state})
    out.append({"code": r.returncode, "stderr": r.stderr, "stdout": r.stdout})
print(json.dumps(out))
"""


def in_tmpfs(mount: Path, size: str, state: Path, steps: list[list[str]]) -> list[dict]:
    assert shutil.which("unshare"), "unshare (util-linux) is needed: CI has it"
    mount.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["unshare", "-m", sys.executable, "-c", _RUNNER, str(mount), size, str(state)],
                            input="\n".join(json.dumps(s) for s in steps), capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def source(tmp_path):
    return write_tree(tmp_path / "src", {
        "m/config.pbtxt": 'backend: "python"\n', "m/1/model.py": PY_MODEL, "m/1/weights.bin": os.urandom(3 << 20),
        "m/2/model.py": PY_MODEL, "small/config.pbtxt": 'backend: "python"\n', "small/1/model.py": PY_MODEL})


def test_a_destination_that_is_a_mount_point_gets_every_file(source, tmp_path):
    dst = tmp_path / "volume"
    first, second, listing = in_tmpfs(dst, "64m", tmp_path / "state", [
        ["sync", str(source), str(dst)], ["sync", str(source), str(dst), "-f", "json"], ["@tree", str(dst)]])
    assert first["code"] == 0, first["stderr"]
    assert "is a mount point" in first["stderr"]  # versions staged inside their model folders, said once
    assert second["code"] == 0 and json.loads(second["stdout"])["changes"] == []
    assert sorted(listing["tree"]) == sorted([".tritonctl-repository", "m", "m/1", "m/1/model.py", "m/1/weights.bin",
                                              "m/2", "m/2/model.py", "m/config.pbtxt", "small", "small/1",
                                              "small/1/model.py", "small/config.pbtxt"])


def test_a_full_disk_is_one_line_naming_the_path_and_leaves_nothing_the_next_run_does_not_finish(source, tmp_path):
    dst = tmp_path / "volume"
    weights = source / "m/1/weights.bin"
    full, listing, again, done = in_tmpfs(dst, "2m", tmp_path / "state", [
        ["sync", str(source), str(dst)], ["@tree", str(dst)], ["@rm", str(weights)], ["sync", str(source), str(dst)],
        ["@tree", str(dst)]])
    assert full["code"] == 3, full["stderr"]
    lines = [line for line in full["stderr"].splitlines() if line.startswith("error:")]
    assert lines == [f"error: cannot write '{dst}/m/1/weights.bin': No space left on device"], full["stderr"]
    assert "Traceback" not in full["stderr"]
    assert not [p for p in listing["tree"] if "tritonctl-" in p and p != ".tritonctl-repository"], listing
    for version in ("m/1", "m/2", "small/1"):  # what is in place is whole: a version with its model file
        if version in listing["tree"]:
            assert f"{version}/model.py" in listing["tree"], listing
    assert "m/config.pbtxt" not in listing["tree"] or "m/1/weights.bin" in listing["tree"]
    assert again["code"] == 0, again["stderr"]
    assert {"m/1/model.py", "m/2/model.py", "m/config.pbtxt", "small/config.pbtxt"} <= set(done["tree"])


def test_a_full_disk_beside_the_destination_cleans_its_work_folder(source, tmp_path):
    disk = tmp_path / "disk"
    dst = disk / "repo"
    full, listing = in_tmpfs(disk, "2m", tmp_path / "state", [["sync", str(source), str(dst)], ["@tree", str(disk)]])
    assert full["code"] == 3 and "No space left on device" in full["stderr"], full["stderr"]
    assert not [p for p in listing["tree"] if "tritonctl-work" in p or p.endswith(".tmp")], listing
