"""The signature of an ONNX model, read from the protobuf wire format without parsing the weights.

`onnx.load` materialises every initializer (seconds and gigabytes for a large model). The signature needs only
a few small fields: ModelProto.ir_version (1), opset_import (8), graph (7) -> input (11), output (12), and the
names and external-data locations of initializers (5). Everything else is skipped by length over an mmap, so
only the pages holding those fields are read.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field

from tritonctl.errors import ModelFileError
from tritonctl.io.wire import Truncated as _Truncated
from tritonctl.io.wire import fields as _fields
from tritonctl.io.wire import signed as _signed
from tritonctl.io.wire import text as _text

# ONNX TensorProto.DataType -> its name
ONNX_TYPE_NAMES = {
    0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
    8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64",
    15: "COMPLEX128", 16: "BFLOAT16", 17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2",
    20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1",
}
# ONNX element type -> Triton data type name, as Triton 2.51's onnxruntime backend maps it (BF16 unsupported)
ONNX_TO_TRITON = {
    1: "TYPE_FP32", 2: "TYPE_UINT8", 3: "TYPE_INT8", 4: "TYPE_UINT16", 5: "TYPE_INT16", 6: "TYPE_INT32",
    7: "TYPE_INT64", 8: "TYPE_STRING", 9: "TYPE_BOOL", 10: "TYPE_FP16", 11: "TYPE_FP64", 12: "TYPE_UINT32",
    13: "TYPE_UINT64",
}

# TypeProto oneof members -> the name ONNX Runtime prints for them
_VALUE_KINDS = {1: "ONNX_TYPE_TENSOR", 4: "ONNX_TYPE_SEQUENCE", 5: "ONNX_TYPE_MAP", 8: "ONNX_TYPE_SPARSETENSOR",
                9: "ONNX_TYPE_OPTIONAL"}


@dataclass(frozen=True)
class TensorSig:
    name: str
    elem_type: int  # ONNX TensorProto.DataType; 0 when not a tensor
    dims: tuple[int, ...] | None  # -1 for symbolic or unknown dims; None when the shape is unknown
    kind: str = "ONNX_TYPE_TENSOR"

    @property
    def triton_type(self) -> str | None:
        return ONNX_TO_TRITON.get(self.elem_type)

    @property
    def onnx_type(self) -> str:
        return ONNX_TYPE_NAMES.get(self.elem_type, str(self.elem_type))


@dataclass
class OnnxSignature:
    path: str
    ir_version: int = 0
    opsets: dict[str, int] = field(default_factory=dict)  # domain ("" = ai.onnx) -> version
    inputs: list[TensorSig] = field(default_factory=list)  # graph inputs, initializers excluded
    outputs: list[TensorSig] = field(default_factory=list)
    initializers: set[str] = field(default_factory=set)
    external_data: list[str] = field(default_factory=list)  # locations, in order of first use

    @property
    def opset(self) -> int:
        return self.opsets.get("", self.opsets.get("ai.onnx", 0))


def _shape(buf, span) -> tuple[int, ...]:
    dims = []
    for number, wire, value in _fields(buf, *span):
        if number == 1 and wire == 2:
            dim = -1
            for n2, w2, v2 in _fields(buf, *value):
                if n2 == 1 and w2 == 0:
                    dim = _signed(v2)
            dims.append(dim)
    return tuple(dims)


def _value_info(buf, span) -> TensorSig:
    name, elem, dims, kind = "", 0, None, "ONNX_TYPE_TENSOR"
    for number, wire, value in _fields(buf, *span):
        if number == 1 and wire == 2:
            name = _text(buf, value)
        elif number == 2 and wire == 2:  # TypeProto
            for n2, w2, v2 in _fields(buf, *value):
                if w2 != 2:
                    continue
                kind = _VALUE_KINDS.get(n2, kind)
                if n2 == 1:  # tensor_type
                    for n3, w3, v3 in _fields(buf, *v2):
                        if n3 == 1 and w3 == 0:
                            elem = v3
                        elif n3 == 2 and w3 == 2:
                            dims = _shape(buf, v3)
    return TensorSig(name, elem, dims, kind)


def _initializer(buf, span, sig: OnnxSignature) -> None:
    for number, wire, value in _fields(buf, *span):
        if number == 8 and wire == 2:
            sig.initializers.add(_text(buf, value))
        elif number == 13 and wire == 2:  # external_data: StringStringEntryProto {key, value}
            key = val = ""
            for n2, w2, v2 in _fields(buf, *value):
                if n2 == 1 and w2 == 2:
                    key = _text(buf, v2)
                elif n2 == 2 and w2 == 2:
                    val = _text(buf, v2)
            if key == "location" and val not in sig.external_data:
                sig.external_data.append(val)


def _graph(buf, span, sig: OnnxSignature) -> None:
    inputs = []
    for number, wire, value in _fields(buf, *span):
        if wire != 2:
            continue
        if number == 11:
            inputs.append(_value_info(buf, value))
        elif number == 12:
            sig.outputs.append(_value_info(buf, value))
        elif number == 5:
            _initializer(buf, value, sig)
    sig.inputs = [t for t in inputs if t.name not in sig.initializers]


def parse_signature(data, path: str = "<bytes>") -> OnnxSignature:
    sig = OnnxSignature(path)
    end = len(data)
    seen_graph = False
    try:
        for number, wire, value in _fields(data, 0, end):
            if number == 1 and wire == 0:
                sig.ir_version = value
            elif number == 8 and wire == 2:
                domain, version = "", 0
                for n2, w2, v2 in _fields(data, *value):
                    if n2 == 1 and w2 == 2:
                        domain = _text(data, v2)
                    elif n2 == 2 and w2 == 0:
                        version = v2
                sig.opsets[domain] = version
            elif number == 7 and wire == 2:
                _graph(data, value, sig)
                seen_graph = True
    except _Truncated:
        raise ModelFileError(f"'{path}' is not an ONNX model (truncated or not protobuf)") from None
    if not seen_graph or sig.ir_version == 0:
        raise ModelFileError(f"'{path}' is not an ONNX model (no graph or no IR version)")
    return sig


SMALL_FILE = 1 << 20  # bytes; a smaller model file is read whole, a larger one mapped (its weights never read)


def read_signature(path: str | os.PathLike[str]) -> OnnxSignature:
    """The signature of the ONNX file at `path` (a folder means `<folder>/model.onnx`, as Triton reads it)."""
    path = os.fspath(path)
    from tritonctl.io.files import open_regular

    try:
        try:
            f = open_regular(path)
        except IsADirectoryError:  # (asked of the opened file: no stat before the open)
            path = os.path.join(path, "model.onnx")
            f = open_regular(path)
        with f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise ModelFileError(f"'{path}' is empty, not an ONNX model")
            if size <= SMALL_FILE:
                return parse_signature(f.read(), path)
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return parse_signature(data, path)
    except OSError as e:
        raise ModelFileError(f"cannot read '{path}': {e.strerror or e}") from None
