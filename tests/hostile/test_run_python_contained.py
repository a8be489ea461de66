"""validate --run-python runs the models' own code: what a hostile model can and cannot do to tritonctl.

Each model runs in a fresh process forked from a warm worker, in a PID namespace of its own where the system has
unprivileged user namespaces (CI has them: these tests fail, not skip, without them), with an allowlisted
environment, a temporary working folder, a memory limit and a timeout. The report is always printed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from conftest import write_tree
from hostile.conftest import run
from validate.cases import AUTO_COMPLETE, PY_MODEL, X_FP32_4

SECRET = "wJalrXUtnFEMI-not-a-real-secret-K7MDENG"


def hook(body: str) -> str:
    """A python model whose auto_complete_config runs `body` (indented by the caller's lines) and then returns."""
    lines = "\n".join("        " + line for line in body.strip().splitlines())
    return PY_MODEL + f"\n    @staticmethod\n    def auto_complete_config(config):\n{lines}\n        return config\n"


def repo_with(tmp_path: Path, **bodies: str) -> Path:
    files = {}
    for name, body in bodies.items():
        files[f"{name}/config.pbtxt"] = 'backend: "python"\n'
        files[f"{name}/1/model.py"] = body
    files["good/config.pbtxt"] = 'backend: "python"\n'
    files["good/1/model.py"] = AUTO_COMPLETE.format(add=X_FP32_4)
    return write_tree(tmp_path / "repo", files)


def validate(repo: Path, *args: str, env: dict | None = None, timeout: float = 90):
    result = run("validate", str(repo), "--run-python", "-f", "json", *args, env=env, timeout=timeout)
    assert result.stdout.startswith("{"), (result.returncode, result.stderr)  # the report is always printed
    return result, {f["model"]: f for f in json.loads(result.stdout)["findings"]}


def test_credentials_in_the_environment_never_reach_model_code(tmp_path):
    repo = repo_with(tmp_path, leak=hook("import os\nraise RuntimeError(repr(dict(os.environ)))"),
                     home=hook("import os\nraise RuntimeError(os.environ['HOME'] + ' ' + os.getcwd())"))
    result, found = validate(repo, env={"AWS_SECRET_ACCESS_KEY": SECRET, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                                        "GITHUB_TOKEN": SECRET, "TRITONCTL_URL": f"http://u:{SECRET}@h:1"})
    assert SECRET not in result.stdout + result.stderr
    assert "AWS_" not in found["leak"]["triton_message"] and "PATH" in found["leak"]["triton_message"]
    home, cwd = found["home"]["triton_message"].removeprefix("RuntimeError: ").split()
    assert home.startswith(os.path.realpath(os.environ.get("TMPDIR", "/tmp"))) or "tritonctl-run-python" in home
    assert cwd.startswith(home) and not Path(home).exists()  # its own folders, gone afterwards
    assert "good" not in found


def test_a_model_that_forks_a_daemon_leaves_nothing_running(tmp_path):
    pidfile = tmp_path / "daemon.pid"
    body = f"""import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open({str(pidfile)!r}, "w") as f:
            f.write(str(os.getpid()) + " " + open("/proc/self/stat").read().split()[21])
        time.sleep(600)
    os._exit(0)
time.sleep(0.5)
"""
    repo = repo_with(tmp_path, daemon=hook(body))
    result, found = validate(repo)
    assert result.returncode == 0, result.stderr
    pid, started = pidfile.read_text().split()
    time.sleep(0.2)
    try:
        alive = open(f"/proc/{pid}/stat").read().split()[21] == started
    except OSError:
        alive = False
    assert not alive, f"the model's daemon (pid {pid}) outlived validate"


def test_a_model_that_takes_too_much_memory_is_a_finding(tmp_path):
    repo = repo_with(tmp_path, hog=hook("blocks = [bytearray(256 << 20) for _ in range(32)]"))  # 8 GiB
    started = time.monotonic()
    result, found = validate(repo)
    assert result.returncode == 1
    assert "needed more than the 4 GiB memory limit (--python-memory)" in found["hog"]["message"]
    assert time.monotonic() - started < 30
    smaller, found = validate(repo_with(tmp_path / "b", small=hook("x = bytearray(200 << 20)")),
                              "--python-memory", "128MiB")
    assert "needed more than the 128 MiB memory limit" in found["small"]["message"]


def test_relative_writes_land_in_a_temporary_folder_not_the_repository_or_the_current_folder(tmp_path):
    repo = repo_with(tmp_path, writer=hook("open('dropped.txt', 'w').write('x')"))
    result = run("validate", str(repo), "--run-python", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not list(tmp_path.rglob("dropped.txt"))
    assert not list(repo.rglob("__pycache__"))  # nor bytecode in a version folder (a polling Triton reloads it)


def test_a_model_that_signals_every_process_it_can_see_still_gets_a_report(tmp_path):
    body = """import os, signal
for entry in os.listdir('/proc'):
    if entry.isdigit() and int(entry) != os.getpid():
        try:
            os.kill(int(entry), signal.SIGKILL)
        except OSError:
            pass
os.kill(os.getppid(), signal.SIGKILL)
raise RuntimeError('still here')
"""
    repo = repo_with(tmp_path, killer=hook(body))
    result, found = validate(repo)
    assert result.returncode == 1, result.stderr
    assert "killer" in found and "good" not in found
    assert "note: --run-python: no PID namespace" not in result.stderr  # CI and this machine have them


def test_a_model_that_exits_or_hangs_is_a_finding_and_the_next_model_runs_in_a_fresh_process(tmp_path):
    repo = repo_with(tmp_path, a_exits=hook("import os\nos._exit(3)"),
                     b_pollutes=hook("import sys\nsys.modules['json'] = None\nraise ValueError('x')"),
                     c_hangs=hook("import time\ntime.sleep(600)"))
    result, found = validate(repo, "--python-timeout", "2")
    assert "exit status 3" in found["a_exits"]["message"]
    assert "took longer than 2 s" in found["c_hangs"]["message"]
    assert "good" not in found  # ran after the others in the same worker, untouched by them


def test_without_user_namespaces_it_says_so_once_and_still_kills_what_a_model_leaves(tmp_path):
    pidfile = tmp_path / "daemon.pid"
    body = f"""import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        open({str(pidfile)!r}, "w").write(str(os.getpid()))
        time.sleep(600)
    os._exit(0)
time.sleep(0.5)
"""
    repo = repo_with(tmp_path, daemon=hook(body), other=hook("pass"))
    result, found = validate(repo, env={"PATH": str(tmp_path / "no-unshare-here")})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("note: --run-python: no PID namespace here") == 1, result.stderr
    time.sleep(0.2)
    assert not Path(f"/proc/{pidfile.read_text()}").exists()  # a subreaper got the orphan back and killed it
