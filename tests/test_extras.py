"""Each extra, missing: the command or flag that needs it exits 3 with the line that installs it. Its modules are
made unimportable for a child tritonctl (a finder first on sys.meta_path), nothing is uninstalled."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tritonctl.io.extras import EXTRAS

RUN_WITHOUT = """
import sys
hidden = set(sys.argv[1].split(","))

class Hidden:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in hidden:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Hidden())
sys.argv = ["tritonctl", *sys.argv[2:]]
from tritonctl.cli.app import main
main()
"""


@pytest.mark.parametrize(("extra", "args"), [
    ("s3", ["validate", "s3://bucket/models"]),
    ("s3", ["sync", "{repo}", "s3://bucket/models"]),
    ("server", ["server", "start", "--repo", "{repo}"]),
    ("server", ["validate", "{repo}", "--run-python"]),
    ("server", ["infer", "m", "--url", "http://127.0.0.1:9"]),
    ("export", ["export", "str", "--random-weights", "--repo", "{repo}"]),
])
def test_a_missing_extra_is_exit_3_with_its_pip_line(tmp_path, extra, args):
    repo = tmp_path / "repo"
    (repo / "m" / "1").mkdir(parents=True)
    (repo / "m" / "config.pbtxt").write_text('backend: "python"\n')
    (repo / "m" / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    result = subprocess.run([sys.executable, "-c", RUN_WITHOUT, ",".join(EXTRAS[extra]),
                             *(a.format(repo=repo) for a in args)], capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "TRITONCTL_STATE_DIR": str(tmp_path / "state"),
                                 "HOME": str(tmp_path)})
    assert result.returncode == 3, result.stderr
    assert result.stderr.rstrip().endswith(f"hint: pip install 'tritonctl[{extra}]'"), result.stderr
    assert f"'{extra}' extra" in result.stderr


def test_the_base_install_validates_a_folder_without_any_extra(tmp_path):
    repo = tmp_path / "repo"
    (repo / "m" / "1").mkdir(parents=True)
    (repo / "m" / "config.pbtxt").write_text('backend: "python"\n')
    (repo / "m" / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    every = sorted({m for modules in EXTRAS.values() for m in modules})
    for args in (["validate", str(repo)], ["rules"], ["config", "show", "m", "-r", str(repo)],
                 ["version", "list", "m", "-r", str(repo)], ["policy", "show", "m", "-r", str(repo)]):
        result = subprocess.run([sys.executable, "-c", RUN_WITHOUT, ",".join(every), *args], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, (args, result.stderr)
