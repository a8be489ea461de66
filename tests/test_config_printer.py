"""The config printer (`config generate`, `config show`, `config convert`): whatever it prints parses back to the
message it printed, floats in their shortest float32 form."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tritonctl.generate import render, shortest_float32
from tritonctl.io import pbtxt


def _messages(descriptor, depth: int = 0):
    """Messages of `descriptor` with random values in a few of their fields (nested to depth 2)."""
    from google.protobuf import message_factory
    from google.protobuf.descriptor import FieldDescriptor as F

    cls = message_factory.GetMessageClass(descriptor)
    scalars = {
        F.TYPE_FLOAT: st.floats(width=32, allow_nan=False),
        F.TYPE_DOUBLE: st.floats(allow_nan=False),
        F.TYPE_INT32: st.integers(-2**31, 2**31 - 1), F.TYPE_INT64: st.integers(-2**63, 2**63 - 1),
        F.TYPE_UINT32: st.integers(0, 2**32 - 1), F.TYPE_UINT64: st.integers(0, 2**64 - 1),
        F.TYPE_BOOL: st.booleans(), F.TYPE_STRING: st.text(max_size=8),
        F.TYPE_BYTES: st.binary(max_size=8),
    }

    def value(field):
        if field.type == F.TYPE_ENUM:
            return st.sampled_from([v.number for v in field.enum_type.values])
        if field.type == F.TYPE_MESSAGE:
            if depth >= 2 or field.message_type.GetOptions().map_entry:
                return None
            return _messages(field.message_type, depth + 1)
        return scalars.get(field.type)

    fields = [(f, value(f)) for f in descriptor.fields]
    fields = [(f, s) for f, s in fields if s is not None]

    @st.composite
    def build(draw):
        msg = cls()
        for field, strategy in draw(st.lists(st.sampled_from(fields), max_size=4, unique_by=lambda p: p[0].name)
                                    if fields else st.just([])):
            if field.is_repeated:
                items = draw(st.lists(strategy, min_size=1, max_size=3))
                target = getattr(msg, field.name)
                for item in items:
                    target.add().CopyFrom(item) if field.type == F.TYPE_MESSAGE else target.append(item)
            elif field.type == F.TYPE_MESSAGE:
                getattr(msg, field.name).CopyFrom(draw(strategy))
            else:
                setattr(msg, field.name, draw(strategy))
        return msg

    return build()


def _config_messages():
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

    return _messages(ModelConfig.DESCRIPTOR)


@settings(max_examples=300, deadline=None)
@given(_config_messages())
def test_every_printed_config_parses_back_to_the_same_message(config):
    assert pbtxt.parse(render(config), "printed") == config


@pytest.mark.parametrize(("value", "text"), [(0.1, "0.1"), (0.10000000149011612, "0.1"), (1.0, "1"), (-2.5, "-2.5"),
                                             (1e-45, "1e-45"), (3.4028234663852886e38, "3.4028235e+38"),
                                             (math.inf, "inf"), (-math.inf, "-inf")])
def test_floats_print_in_their_shortest_float32_form(value, text):
    assert shortest_float32(value) == text


def test_a_float_list_prints_as_protobufs_text_format_does():
    from google.protobuf import text_format

    config = pbtxt.parse('sequence_batching { control_input [ { name: "R" control [ { kind: CONTROL_SEQUENCE_READY '
                         "fp32_false_true: [ 0.1, 0.7 ] } ] } ] }", "c")
    assert "fp32_false_true: [ 0.1, 0.7 ]" in render(config)
    assert "fp32_false_true: 0.1" in text_format.MessageToString(config)
