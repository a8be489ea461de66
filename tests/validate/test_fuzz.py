"""Mutated configs and ONNX files give findings or one-line errors, never a traceback or an internal error."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import write_tree
from validate.cases import CASES
from validate.onnx_models import onnx_bytes

SEEDS = [case.fail["config.pbtxt"] for case in CASES.values() if isinstance(case.fail.get("config.pbtxt"), str)]
SEEDS += [case.passing["config.pbtxt"] for case in CASES.values()
          if isinstance(case.passing.get("config.pbtxt"), str)]
ONNX = onnx_bytes([("x", [-1, 4])], [("y", [-1, 4])], weights=True)
TOKENS = ["{", "}", "[", "]", "<", ">", ":", ",", ";", '"', "'", "#", "-1", "0", "99999999999", "TYPE_FP32",
          "KIND_GPU", "dims", "name", "input", "\n", " ", "\x00", "\xff", "é"]


@st.composite
def mutated(draw, seed_pool, alphabet):
    text = draw(st.sampled_from(seed_pool))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(alphabet)
        if op == "insert":
            text = text[:pos] + piece + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 8)):]
        else:
            text = text[:pos] + piece + text[pos + len(piece):]
    return text


def run(cli, files: dict) -> None:
    root = Path(tempfile.mkdtemp())
    try:
        write_tree(root / "repo", files)
        for args in (["validate", str(root / "repo")], ["validate", str(root / "repo"), "-f", "json", "--gpus", "1",
                                                         "--no-autocomplete"]):
            result = cli(*args)
            assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
            assert "Traceback" not in result.stderr
    finally:
        shutil.rmtree(root)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=mutated(SEEDS, st.sampled_from(TOKENS)))
def test_mutated_configs_never_crash(cli, config):
    run(cli, {"m/config.pbtxt": config, "m/1/model.py": "", "m/1/model.onnx": ONNX,
              "ens_step/config.pbtxt": SEEDS[0], "ens_step/1/model.py": ""})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, len(ONNX)), flips=st.lists(st.tuples(st.integers(0, len(ONNX) - 1), st.integers(0, 255)),
                                                     max_size=6))
def test_mutated_onnx_files_never_crash(cli, cut, flips):
    data = bytearray(ONNX)
    for pos, value in flips:
        data[pos] = value
    run(cli, {"m/config.pbtxt": 'backend: "onnxruntime"\nmax_batch_size: 4\n', "m/1/model.onnx": bytes(data[:cut])})
