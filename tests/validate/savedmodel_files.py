"""saved_model.pb files written without TensorFlow, for the rule fixtures: a SavedModel message (field 1 its schema
version, field 2 each MetaGraphDef) wrapped by hand around the messages tritonctl reads (MetaInfoDef, SignatureDef
entries), plus a graph of filler bytes (field 2 of MetaGraphDef) that the reader must skip. tests/
test_savedmodel.py checks the reader against SavedModels TensorFlow itself writes."""

from __future__ import annotations

Tensor = tuple[str, str, "list[int] | None"]  # (key, "DT_FLOAT", dims; None: unknown rank)


def _field(number: int, payload: bytes) -> bytes:
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            b, n = n & 0x7F, n >> 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)

    return varint(number << 3 | 2) + varint(len(payload)) + payload


def saved_model_bytes(signatures: dict[str, tuple[list[Tensor], list[Tensor]]], tags=("serve",),
                      graph: bytes = b"\x0a\x04node" * 16) -> bytes:
    from tritonctl.io.proto.saved_model_signature_pb2 import DataType, MetaInfoDef, SignatureEntry

    meta = _field(1, MetaInfoDef(tags=list(tags), tensorflow_version="2.17.0").SerializeToString())
    meta += _field(2, graph)
    for key, (inputs, outputs) in signatures.items():
        entry = SignatureEntry(key=key)
        entry.value.method_name = "tensorflow/serving/predict"
        for target, tensors in ((entry.value.inputs, inputs), (entry.value.outputs, outputs)):
            for name, dtype, dims in tensors:
                info = target[name]
                info.name = f"{key}_{name}:0"
                info.dtype = DataType.Value(dtype)
                if dims is None:
                    info.tensor_shape.unknown_rank = True
                else:
                    for d in dims:
                        info.tensor_shape.dim.add(size=d)
        meta += _field(5, entry.SerializeToString())
    return b"\x08\x01" + _field(2, meta)


def savedmodel_file(signatures=None, **kwargs):
    """A deferred saved_model.pb (see conftest.write_tree); by default serving_default: x [-1,4] -> y [-1,4]."""
    if signatures is None:
        signatures = {"serving_default": ([("x", "DT_FLOAT", [-1, 4])], [("y", "DT_FLOAT", [-1, 4])])}
    return lambda: saved_model_bytes(signatures, **kwargs)
