"""The signatures of a TensorFlow SavedModel, read from `saved_model.pb`'s wire format without TensorFlow.

A SavedModel (tensorflow/core/protobuf/saved_model.proto) is a list of MetaGraphDefs (field 2); each holds its tags
in MetaInfoDef (field 1) and its signatures in the map `signature_def` (field 5), beside the graph itself (field 2,
often most of the file: constants are stored in it) and the object graph (field 7). Only fields 1 and 5 are parsed,
with the few messages of protos/saved_model_signature.proto; everything else is skipped by length over an mmap, so
a graph of gigabytes is never read.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field

from tritonctl.errors import ModelFileError
from tritonctl.io.wire import Truncated, fields

SAVED_MODEL_FILE = "saved_model.pb"
SAVED_MODEL_TEXT_FILE = "saved_model.pbtxt"  # TensorFlow reads this one too; tritonctl does not


@dataclass(frozen=True)
class TfTensor:
    key: str  # the signature's key for it: the name Triton gives the tensor
    name: str  # the graph tensor it feeds or fetches ("serving_default_x:0")
    dtype: int  # a TensorFlow DataType (DT_FLOAT = 1, ...)
    dims: tuple[int, ...] | None  # -1 for unknown dims; None for an unknown rank
    sparse: bool = False  # a CooSparse or composite tensor, not a dense one

    @property
    def dtype_name(self) -> str:
        from tritonctl.io.proto.saved_model_signature_pb2 import DataType

        return DataType.Name(self.dtype) if self.dtype in DataType.values() else f"DT_{self.dtype}"

    @property
    def rank(self) -> int:
        """What the tensorflow backend sees: the number of dims listed (an unknown rank lists none)."""
        return len(self.dims or ())


@dataclass(frozen=True)
class SignatureDef:
    key: str
    method_name: str
    inputs: tuple[TfTensor, ...]
    outputs: tuple[TfTensor, ...]


@dataclass(frozen=True)
class MetaGraph:
    tags: tuple[str, ...]
    signatures: tuple[SignatureDef, ...]  # in file order

    def signature(self, key: str) -> SignatureDef | None:
        return next((s for s in self.signatures if s.key == key), None)


@dataclass
class SavedModel:
    path: str  # the saved_model.pb read
    meta_graphs: list[MetaGraph] = field(default_factory=list)

    @property
    def tag_sets(self) -> list[tuple[str, ...]]:
        return [m.tags for m in self.meta_graphs]


def _tensor(key: str, info) -> TfTensor:
    shape = info.tensor_shape
    dims = None if shape.unknown_rank else tuple(d.size for d in shape.dim)
    sparse = info.WhichOneof("encoding") in ("coo_sparse", "composite_tensor")
    return TfTensor(key, info.name, info.dtype, dims, sparse)


def _signature(entry) -> SignatureDef:
    value = entry.value
    return SignatureDef(entry.key, value.method_name,
                        tuple(_tensor(k, value.inputs[k]) for k in sorted(value.inputs)),
                        tuple(_tensor(k, value.outputs[k]) for k in sorted(value.outputs)))


def _meta_graph(buf, start: int, end: int) -> MetaGraph:
    from tritonctl.io.proto.saved_model_signature_pb2 import MetaInfoDef, SignatureEntry

    tags: tuple[str, ...] = ()
    signatures = []
    for number, wire, value in fields(buf, start, end):
        if wire != 2:
            continue
        if number == 1:  # MetaInfoDef: small, but its stripped_op_list (field 2) is skipped by the parser too
            tags = tuple(MetaInfoDef.FromString(bytes(buf[value[0]:value[1]])).tags)
        elif number == 5:  # one entry of map<string, SignatureDef> signature_def
            signatures.append(_signature(SignatureEntry.FromString(bytes(buf[value[0]:value[1]]))))
    return MetaGraph(tags, tuple(signatures))


def parse_saved_model(data, path: str = "<bytes>") -> SavedModel:
    from google.protobuf.message import DecodeError

    model = SavedModel(path)
    try:
        for number, wire, value in fields(data, 0, len(data)):
            if number == 2 and wire == 2:
                model.meta_graphs.append(_meta_graph(data, *value))
    except (Truncated, DecodeError):
        raise ModelFileError(f"'{path}' is not a SavedModel (truncated or not protobuf)") from None
    if not model.meta_graphs:
        raise ModelFileError(f"'{path}' is not a SavedModel (it holds no meta graph)")
    return model


def read_saved_model(path: str | os.PathLike[str]) -> SavedModel:
    """The meta graphs and signatures of the SavedModel folder at `path` (its saved_model.pb)."""
    folder = os.fspath(path)
    pb = os.path.join(folder, SAVED_MODEL_FILE)
    if not os.path.isdir(folder):
        raise ModelFileError(f"'{folder}' is not a SavedModel folder (TensorFlow reads a folder holding "
                             f"{SAVED_MODEL_FILE})")
    if not os.path.lexists(pb):
        if os.path.lexists(os.path.join(folder, SAVED_MODEL_TEXT_FILE)):
            raise ModelFileError(f"'{folder}' holds {SAVED_MODEL_TEXT_FILE}, which tritonctl does not read; "
                                 f"save the model in binary form ({SAVED_MODEL_FILE})")
        raise ModelFileError(f"SavedModel file does not exist at: {folder}/{{{SAVED_MODEL_TEXT_FILE}|"
                             f"{SAVED_MODEL_FILE}}}")
    from tritonctl.io.files import open_regular

    try:
        with open_regular(pb) as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise ModelFileError(f"'{pb}' is empty, not a SavedModel")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return parse_saved_model(data, pb)
    except OSError as e:
        raise ModelFileError(f"cannot read '{pb}': {e.strerror or e}") from None
