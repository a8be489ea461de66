"""A model config in the JSON form Triton's /v2/models/<m>/config returns, and back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from google.protobuf.descriptor import FieldDescriptor

from tritonctl.errors import TritonctlError

if TYPE_CHECKING:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

def to_triton_json(config: ModelConfig) -> dict:
    """The dict Triton's /v2/models/<m>/config returns: every field printed, snake_case, enum names,
    int64 as numbers."""
    from google.protobuf import json_format

    doc = json_format.MessageToDict(config, preserving_proto_field_name=True,
                                    always_print_fields_with_no_presence=True)
    return _declared_order(config.DESCRIPTOR, doc)


_WIDE = (FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64)


def _wide(value):
    """64-bit integers, which protobuf's JSON writes as strings, as numbers (Triton's /config does)."""
    if isinstance(value, list):
        return [int(v) for v in value]
    return int(value)


def _declared_order(desc, node: dict) -> dict:
    """Keys in the order the proto declares the fields, as Triton's C++ printer writes them; 64-bit integers
    as numbers."""
    out = {}
    for field in desc.fields:
        if field.name not in node:
            continue
        value = node[field.name]
        if field.cpp_type in _WIDE:
            value = _wide(value)
        sub = field.message_type
        if sub is not None and sub.GetOptions().map_entry:
            inner = sub.fields_by_name["value"].message_type
            value = {k: _declared_order(inner, v) for k, v in value.items()} if inner else value
            if sub.fields_by_name["key"].cpp_type in _WIDE:
                value = dict(value)  # map keys stay strings in JSON
        elif sub is not None and isinstance(value, list):
            value = [_declared_order(sub, v) for v in value]
        elif sub is not None and isinstance(value, dict):
            value = _declared_order(sub, value)
        out[field.name] = value
    return out


def from_json(text: str, path: str) -> ModelConfig:
    from google.protobuf import json_format

    from tritonctl.io.proto.model_config_pb2 import ModelConfig

    try:
        return json_format.Parse(text, ModelConfig())
    except json_format.ParseError as e:
        raise TritonctlError(f"{path}: not a Triton model config in JSON: {e}") from None
