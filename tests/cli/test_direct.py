"""The direct path (cli/_direct.py) reads a command line only as typer would: the same keyword arguments, or it
leaves the line to typer. Command lines are generated from each command's own declarations, with the forms around
the common ones (attached values, repeated options, numbers typer reads its own way, env vars, unknown options)."""

from __future__ import annotations

import contextlib
import inspect
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tritonctl.cli import _direct
from tritonctl.cli._params import typer_ready

ENV_VARS = ("TRITONCTL_REPO", "TRITONCTL_CA_CERT")


def function(words: str):
    found = _direct.command(words.split())
    assert found is not None, words
    return found[0]


@contextlib.contextmanager
def environment(env: dict[str, str]):
    saved = {k: os.environ.get(k) for k in ENV_VARS}
    for k in ENV_VARS:
        os.environ.pop(k, None)
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def typer_reading(command, args: list[str], env: dict[str, str]) -> dict | None:
    """The keyword arguments typer calls COMMAND with for ARGS (None: it called nothing: an error, --help)."""
    import typer
    import typer.main

    calls = []

    def record(**kwargs):
        calls.append(kwargs)

    record.__signature__ = inspect.signature(command, eval_str=True)
    application = typer.Typer()
    application.command()(typer_ready(record))
    with environment(env), contextlib.redirect_stdout(open(os.devnull, "w")), \
            contextlib.redirect_stderr(open(os.devnull, "w")):
        try:
            typer.main.get_command(application).main(args, prog_name="tritonctl", standalone_mode=False)
        except Exception:
            pass
    return calls[0] if calls else None


@pytest.mark.parametrize("words", _direct.DIRECT)
def test_every_parameter_of_a_direct_command_is_read(words):
    assert _direct.parameters(function(words)) is not None


NUMBERS = ["0", "1", "2", "8", "64", "65", "3600", "3601", "0.1", "0.05", "1.5", "30", "1_000", " 5", "5 ", "+3",
           "inf", "nan", "1e3", "0x10", "-1", "007", "1."]
TEXTS = ["m", "model_01", "", "-", "-x", "--repo", "s3://b/p", "/tmp/r", "a=b", "ü", "table", "json", "github",
         "sarif", "TABLE", "error", "warning", "latest:1", "k:v", "http://127.0.0.1:1"]
GOOD_NUMBERS = ["1", "2", "8", "30", "0.5", "2.5"]
GOOD_TEXTS = ["m", "model_01", "/tmp/r", "s3://b/p", "table", "json", "error", "latest:1", "k:v",
              "http://127.0.0.1:1"]
NOISE = ["--help", "-h", "--", "-abc", "--nope", "--no-such", "-Z", "--url=", "--wait=1", "--no-dry-run", "-"]


def tokens_for(params):
    """A strategy of command lines for PARAMS: options by one of their names, each alone, with its value after it
    or attached with `=`; as many arguments as declared (now and then one more or fewer); now and then noise; all
    in any order."""
    def some(common, odd):
        return st.one_of(*[st.sampled_from(common)] * 4, st.sampled_from(odd))

    options = []
    for p in params:
        if p.argument:
            continue
        names = sorted(p.flags)
        if p.kind is bool:
            options.append(st.sampled_from(names).map(lambda n: [n]))
            continue
        values = some(GOOD_NUMBERS, NUMBERS + TEXTS[:4]) if p.kind in (int, float) else some(GOOD_TEXTS, TEXTS)
        options.append(st.tuples(st.sampled_from(names), values, st.booleans()).map(
            lambda t: [f"{t[0]}={t[1]}"] if t[2] and t[0].startswith("--") else [t[0], t[1]]))
    declared = sum(p.argument for p in params)
    arguments = st.integers(max(0, declared - 1), declared + 1).flatmap(
        lambda n: st.lists(some(GOOD_TEXTS, TEXTS + NUMBERS), min_size=n, max_size=n))
    noise = st.lists(st.sampled_from(NOISE), min_size=1, max_size=1)
    groups = st.tuples(st.lists(st.one_of(*options), max_size=6), arguments,
                       st.one_of(st.just([]), st.just([]), st.just([]), noise))
    return groups.flatmap(lambda g: st.permutations([*g[0], *([a] for a in g[1]), *([n] for n in g[2])])).map(
        lambda parts: [t for part in parts for t in part])


ENVS = st.one_of(st.just({}), st.dictionaries(st.sampled_from(ENV_VARS),
                                              st.sampled_from(["", "r", "/tmp/x", "-r", "s3://b/p"]), max_size=2))


@pytest.mark.parametrize("words", _direct.DIRECT)
def test_the_direct_reading_is_typers(words):
    command = function(words)
    params = _direct.parameters(command)
    read = 0

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(tokens_for(params), ENVS)
    def check(args, env):
        nonlocal read
        ours = _direct.read(params, args, env)
        if ours is not None:
            read += 1
            assert ours == typer_reading(command, args, env), (args, env)

    check()
    assert read >= 20  # the generator reaches the lines this path reads, not only those it leaves to typer


COMMON = [
    "load m -r /tmp/r --url http://127.0.0.1:8000",
    "load m --version 1 -v 2 --no-wait --url http://a:1 --url http://b:1 --parallel 2",
    "unload m --url http://127.0.0.1:8000 --timeout 5",
    "status", "status m -f json --url http://127.0.0.1:8000 -H k:v --ssl",
    "policy apply m latest:1 -r /tmp/r --url http://127.0.0.1:8000 --persist",
    "validate", "validate /tmp/r", "validate -r /tmp/r -f json --select TRT1 --ignore TRT301 --gpus 2",
    "validate /tmp/r --fail-on warning --no-run-python --python-timeout 2.5 --model m -m n",
    "sync /tmp/r s3://b/p --endpoint-url http://127.0.0.1:9000 --jobs 4 --delete --dry-run -f json",
]


@pytest.mark.parametrize("line", COMMON)
def test_the_common_lines_are_read_directly_as_typer_reads_them(line):
    words = line.split()
    command, rest = _direct.command(words)
    ours = _direct.read(_direct.parameters(command), rest, {})
    assert ours is not None
    assert ours == typer_reading(command, rest, {})


@pytest.mark.parametrize("line", ["status --help", "load", "load m --nope", "validate --format xml", "sync a",
                                  "unload m --timeout 0", "load m --parallel 1_0", "status -- m", "rules",
                                  "version list", "policy show m", "server list"])
def test_other_lines_are_left_to_typer(line):
    words = line.split()
    found = _direct.command(words)
    assert found is None or _direct.read(_direct.parameters(found[0]), found[1], {}) is None


def both(args: list[str], env: dict | None = None):
    """ARGS run by `python -m tritonctl` (the direct path) and by the typer application alone."""
    env = {**os.environ, **(env or {})}
    direct = subprocess.run([sys.executable, "-m", "tritonctl", *args], capture_output=True, text=True, env=env)
    typer_path = subprocess.run([sys.executable, "-c", "import sys; from tritonctl.cli.app import main; "
                                 "sys.argv[0] = 'tritonctl'; main()", *args], capture_output=True, text=True, env=env)
    return direct, typer_path


def test_the_two_paths_end_alike(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.pbtxt").write_text('name: "n"\nbackend: "onnxruntime"\n')
    for args in (["validate", str(tmp_path)], ["validate", str(tmp_path), "-f", "json"],
                 ["status", "--url", "http://127.0.0.1:1", "--timeout", "2"],
                 ["unload", "m", "--url", "http://127.0.0.1:1"], ["load", "m", "--url", "http://127.0.0.1:1"]):
        direct, typer_path = both(args)
        assert (direct.returncode, direct.stdout, direct.stderr) == \
            (typer_path.returncode, typer_path.stdout, typer_path.stderr), args
        assert direct.returncode in (1, 2, 3)


def test_the_direct_path_imports_neither_typer_nor_rich(tmp_path):
    probe = ("import sys; sys.argv = ['tritonctl', *sys.argv[1:]]\n"
             "from tritonctl.cli.start import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('typer', 'rich', 'click') if m in sys.modules), file=sys.stderr)")
    (tmp_path / "m").mkdir()
    for args in (["validate", str(tmp_path)], ["status", "--url", "http://127.0.0.1:1", "--timeout", "2"],
                 ["unload", "m", "--url", "http://127.0.0.1:1"]):
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
        assert done.stderr.strip().splitlines()[-1] == "[]", (args, done.stderr)
