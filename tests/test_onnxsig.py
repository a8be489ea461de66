"""io/onnxsig.py, the wire-format ONNX reader validate uses, against onnx.load: field for field on every ONNX file the
tests make, and on generated models across IR versions, opsets, element types, shapes and external data."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onnx_reference import ours, reference
from validate.cases import BRANCHES, CASES
from validate.onnx_models import east_like, onnx_bytes, str_like


def _fixture_files():
    for code, case in CASES.items():
        for which, files in (("fail", case.fail), ("pass", case.passing)):
            for rel, content in files.items():
                if rel.endswith(".onnx") and callable(content):
                    yield f"{code}-{which}-{rel}", content
    for code, branches in BRANCHES.items():
        for branch, case in branches.items():
            for rel, content in case.fail.items():
                if rel.endswith(".onnx") and callable(content):
                    yield f"{code}-{branch}-{rel}", content


FIXTURES = dict(_fixture_files())


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_fixture_model_reads_as_onnx_reads_it(name):
    data = FIXTURES[name]()
    assert ours(data) == reference(data)


@pytest.mark.parametrize("build", [str_like, east_like], ids=["str_like", "east_like"])
def test_the_tutorial_shaped_models_read_as_onnx_reads_them(build):
    data = build()
    assert ours(data) == reference(data)


def test_external_data_locations_in_order_of_first_use():
    data = onnx_bytes([("x", [-1, 4])], [("y", [-1, 4])], weights=True, external="weights.bin")
    assert ours(data) == reference(data)
    assert ours(data)["external_data"] == ["weights.bin"]


ELEM_TYPES = list(range(1, 17))  # FLOAT .. BFLOAT16 (every TensorProto element type up to 16)
dims = st.lists(st.one_of(st.integers(0, 2**40), st.just(-1), st.none()), max_size=5)
tensors = st.lists(st.tuples(st.text("abcxyz_:./0123456789", min_size=1, max_size=12), dims), min_size=1,
                   max_size=4, unique_by=lambda t: t[0])


@st.composite
def models(draw):
    from onnx import TensorProto, helper

    inputs, outputs = draw(tensors), draw(tensors)
    elem = draw(st.sampled_from(ELEM_TYPES))

    def value_info(name, shape, no_shape):
        if no_shape:
            return helper.make_tensor_value_info(name, elem, None)
        return helper.make_tensor_value_info(name, elem, [d if d is not None and d >= 0 else "N" for d in shape])

    vi_in = [value_info(n, d, draw(st.booleans()) and not d) for n, d in inputs]
    vi_out = [value_info("o_" + n, d, False) for n, d in outputs]
    inits = []
    for i in range(draw(st.integers(0, 3))):
        t = helper.make_tensor(f"w{i}", TensorProto.FLOAT, [1], [0.0])
        if draw(st.booleans()):
            t.ClearField("float_data")
            t.data_location = TensorProto.EXTERNAL
            entry = t.external_data.add()
            entry.key, entry.value = "location", draw(st.sampled_from(["a.bin", "b.bin", "w.data"]))
        inits.append(t)
    overridable = [helper.make_tensor_value_info(t.name, TensorProto.FLOAT, [1]) for t in inits
                   if draw(st.booleans())]  # an initializer listed as an input: not a request input
    nodes = [helper.make_node("Identity", [inputs[0][0]], [v.name]) for v in vi_out]
    graph = helper.make_graph(nodes, "g", vi_in + overridable, vi_out, inits)
    opsets = [helper.make_opsetid("", draw(st.integers(7, 23)))]
    if draw(st.booleans()):
        opsets.append(helper.make_opsetid("com.microsoft", draw(st.integers(1, 3))))
    model = helper.make_model(graph, opset_imports=opsets, ir_version=draw(st.integers(3, 11)))
    return model.SerializeToString()


@settings(max_examples=200, deadline=None)
@given(models())
def test_generated_models_read_as_onnx_reads_them(data):
    assert ours(data) == reference(data)


def test_a_sequence_input_is_told_apart_from_a_tensor():
    from onnx import TensorProto, helper

    seq = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, None)
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("SequenceAt", ["s", "i"], ["y"])], "g",
                              [seq, helper.make_tensor_value_info("i", TensorProto.INT64, [])], [out])
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()
    assert ours(data) == reference(data)
    assert ours(data)["inputs"][0][3] == "ONNX_TYPE_SEQUENCE"


def test_a_folder_is_read_as_the_model_onnx_inside_it_and_a_large_file_through_a_map(tmp_path, monkeypatch):
    from tritonctl.errors import ModelFileError
    from tritonctl.io import onnxsig

    data = onnx_bytes([("x", [-1, 4])], [("y", [-1, 4])])
    (tmp_path / "m.onnx").mkdir()
    (tmp_path / "m.onnx" / "model.onnx").write_bytes(data)
    assert onnxsig.read_signature(tmp_path / "m.onnx").path == str(tmp_path / "m.onnx" / "model.onnx")
    with pytest.raises(ModelFileError, match="model.onnx': No such file"):
        onnxsig.read_signature(tmp_path)  # a folder without one
    whole = onnxsig.read_signature(tmp_path / "m.onnx" / "model.onnx")
    monkeypatch.setattr(onnxsig, "SMALL_FILE", 0)  # every file mapped
    mapped = onnxsig.read_signature(tmp_path / "m.onnx" / "model.onnx")
    assert [(t.name, t.dims) for t in mapped.inputs] == [(t.name, t.dims) for t in whole.inputs] == [("x", (-1, 4))]
