"""io/savedmodel.py against TensorFlow: SavedModels that TensorFlow writes, read by tritonctl's wire-format reader and
by TensorFlow itself (tf.saved_model.load, and TensorFlow's own SavedModel message), field for field; and the
tensorflow backend's auto-complete on them (tritonctl.tensorflow_backend)."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.slow


def _build(root):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    class Batching(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x"),
                                      tf.TensorSpec([None], tf.string, name="text"),
                                      tf.TensorSpec([None, None, 3], tf.uint8, name="image")])
        def serve(self, x, text, image):
            return {"y": x * 2.0, "length": tf.strings.length(text),
                    "mean": tf.reduce_mean(tf.cast(image, tf.float64), axis=[1, 2])}

        @tf.function(input_signature=[tf.TensorSpec([3], tf.int64, name="a")])
        def fixed(self, a):
            return {"b": a + 1}

        @tf.function(input_signature=[tf.TensorSpec(None, tf.float16, name="anything")])
        def unknown(self, anything):
            return {"same": anything}

    class Scalar(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="n"), tf.TensorSpec([2, 2], tf.bool,
                                                                                           name="mask")])
        def serve(self, n, mask):
            return tf.reduce_any(mask) if n > 0 else tf.constant(False)

    made = {}
    m = Batching()
    made["batching"] = root / "batching" / "model.savedmodel"
    tf.saved_model.save(m, str(made["batching"]), signatures={"serving_default": m.serve, "fixed": m.fixed,
                                                             "unknown": m.unknown})
    s = Scalar()
    made["scalar"] = root / "scalar" / "model.savedmodel"
    tf.saved_model.save(s, str(made["scalar"]), signatures=s.serve)
    return made


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("savedmodels"))


def _tf_view(path):
    """Each signature as TensorFlow sees it: key -> (inputs, outputs), each key -> (dtype enum, dims or None)."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))

    def spec(s):
        dims = None if s.shape.rank is None else tuple(-1 if d is None else d for d in s.shape.as_list())
        return s.dtype.as_datatype_enum, dims

    view = {}
    for key, fn in loaded.signatures.items():
        _args, kwargs = fn.structured_input_signature
        view[key] = ({k: spec(v) for k, v in kwargs.items()}, {k: spec(v) for k, v in fn.structured_outputs.items()})
    return view


def _ours(path):
    from tritonctl.io.savedmodel import read_saved_model

    (meta,) = read_saved_model(path).meta_graphs
    return {s.key: ({t.key: (t.dtype, t.dims) for t in s.inputs}, {t.key: (t.dtype, t.dims) for t in s.outputs})
            for s in meta.signatures if not s.key.startswith("__")}


@pytest.mark.parametrize("name", ["batching", "scalar"])
def test_the_reader_agrees_with_tf_saved_model_load(saved_models, name):
    assert _ours(saved_models[name]) == _tf_view(saved_models[name])


@pytest.mark.parametrize("name", ["batching", "scalar"])
def test_the_reader_agrees_with_tensorflows_own_message_field_for_field(saved_models, name):
    from tensorflow.core.protobuf import saved_model_pb2

    from tritonctl.io.savedmodel import read_saved_model

    theirs = saved_model_pb2.SavedModel.FromString((saved_models[name] / "saved_model.pb").read_bytes())
    ours = read_saved_model(saved_models[name])
    assert [m.tags for m in ours.meta_graphs] == [tuple(m.meta_info_def.tags) for m in theirs.meta_graphs]
    for mine, meta in zip(ours.meta_graphs, theirs.meta_graphs, strict=True):
        assert sorted(s.key for s in mine.signatures) == sorted(meta.signature_def)
        for sig in mine.signatures:
            ref = meta.signature_def[sig.key]
            assert sig.method_name == ref.method_name
            for tensors, ref_map in ((sig.inputs, ref.inputs), (sig.outputs, ref.outputs)):
                assert [t.key for t in tensors] == sorted(ref_map)
                for t in tensors:
                    info = ref_map[t.key]
                    dims = None if info.tensor_shape.unknown_rank else tuple(d.size for d in info.tensor_shape.dim)
                    assert (t.name, t.dtype, t.dims) == (info.name, info.dtype, dims)


def test_autocomplete_from_a_tensorflow_savedmodel(saved_models):
    from tritonctl.io.proto.model_config_pb2 import ModelConfig
    from tritonctl.io.savedmodel import read_saved_model
    from tritonctl.tensorflow_backend import autocomplete

    saved = read_saved_model(saved_models["batching"])
    config = ModelConfig(name="m", max_batch_size=8)
    assert autocomplete(config, saved) is None
    got = {io.name: (ModelConfig.DESCRIPTOR.fields_by_name["input"].message_type.fields_by_name["data_type"]
                     .enum_type.values_by_number[io.data_type].name, list(io.dims), io.HasField("reshape"))
           for io in [*config.input, *config.output]}
    assert got == {"x": ("TYPE_FP32", [4], False), "text": ("TYPE_STRING", [1], True),
                   "image": ("TYPE_UINT8", [-1, 3], False), "y": ("TYPE_FP32", [4], False),
                   "length": ("TYPE_INT32", [1], True), "mean": ("TYPE_FP64", [1], True)}
    scalar = ModelConfig(name="s")
    assert autocomplete(scalar, read_saved_model(saved_models["scalar"])) == (
        "unable to autofill for 's': the rank of model tensor 'n' is 0 which is not supported")


def test_validate_and_config_show_on_a_tensorflow_savedmodel(saved_models, tmp_path):
    import shutil

    from tritonctl.generate import render
    from tritonctl.normalize import served
    from tritonctl.repository import open_repository
    from tritonctl.validate.engine import validate_repository

    repo = tmp_path / "repo"
    (repo / "tf_model" / "1").mkdir(parents=True)
    shutil.copytree(saved_models["batching"], repo / "tf_model" / "1" / "model.savedmodel")
    (repo / "tf_model" / "config.pbtxt").write_text('platform: "tensorflow_savedmodel"\nmax_batch_size: 8\n')
    report = validate_repository(repo)
    assert [f.code for f in report.findings] == []
    shown = render(served(open_repository(repo).model("tf_model")).config)
    assert 'name: "text"' in shown and "TYPE_STRING" in shown and "dims: [ -1, 3 ]" in shown
    (repo / "tf_model" / "config.pbtxt").write_text('platform: "tensorflow_savedmodel"\nmax_batch_size: 8\n'
                                                    'parameters { key: "TF_SIGNATURE_DEF" value: '
                                                    '{ string_value: "fixed" } }\n')
    report = validate_repository(repo)
    assert [f.code for f in report.findings][:1] == ["TRT544"]
    assert report.findings[0].triton_message == ("unable to load model 'tf_model', configuration expects 3 inputs, "
                                                 "model provides 1")
