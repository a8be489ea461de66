"""io/pbtxt_quick reads the common form of a config exactly as protobuf's text_format does, and leaves every other
text to it: on generated configs (each field of ModelConfig, down three levels, in the common form and in the forms
around it), whatever the quick reader accepts, text_format parses to the same message."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tritonctl.errors import ConfigParseError
from tritonctl.io import pbtxt, pbtxt_quick
from tritonctl.io.proto.model_config_pb2 import ModelConfig

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted([*ROOT.glob("examples/**/config.pbtxt"), *ROOT.glob("templates/*.pbtxt")])


def quick(text: str) -> ModelConfig | None:
    config = ModelConfig()
    if pbtxt_quick.parse(text, config):
        return config
    assert config == ModelConfig() and config.ByteSize() == 0  # left empty for text_format
    return None


def same_as_text_format(text: str) -> bool:
    """Whether the quick reader took `text`; when it did, text_format parses it to the very same message."""
    found = quick(text)
    if found is None:
        return False
    expected = ModelConfig()
    text_format.Parse(text, expected)
    assert found.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True), text
    return True


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_shipped_configs_and_templates_are_read_by_the_quick_reader_as_text_format_reads_them(path):
    assert same_as_text_format(path.read_text())


@pytest.mark.parametrize("text", [
    'name: "a\\n"',  # an escape
    'output: < name: "z" >',  # angle brackets
    "max_batch_size: 0x10",  # hexadecimal
    "max_batch_size: 010",  # octal
    "max_batch_size: +8",
    "max_batch_size: 8 max_batch_size: 8",  # twice: text_format's error
    "max_batch_size: 0 max_batch_size: 8",  # twice, the first the default: text_format allows it
    'instance_group [ { kind: 1 } ]',  # an enum by number
    'name: "a" "b"',  # concatenated
    "dynamic_batching { } sequence_batching { }",  # two members of one oneof
    'parameters { key: "k" value { string_value: "v" } } [ext.field]: 1',
    "max_batch_size: 99999999999",  # out of int32's range
    "input [ { name: \"x\" }, ]",  # a trailing comma
    'name: "caf\u00e9" }',  # a stray brace
    "model_warmup [ { batch_size: 1 inputs { key: \"x\" value { zero_data: true dims: 1 } } } ]",
])
def test_the_forms_around_the_common_one_are_left_to_text_format_and_pbtxt_parse_gives_its_answer(text):
    assert quick(text) is None or same_as_text_format(text)
    expected = ModelConfig()
    try:
        text_format.Parse(text, expected)
    except text_format.ParseError:
        with pytest.raises(ConfigParseError):
            pbtxt.parse(text, "config.pbtxt")
    else:
        assert pbtxt.parse(text, "config.pbtxt") == expected


def test_the_common_form_is_taken_whole():
    text = ('# comment\nname: "m", max_batch_size: 8;\ninput [ { name: "a" dims: [ -1, 3 ] }, { name: "b" dims: [] '
            'optional: true } ]\ninstance_group { kind: KIND_CPU count: 2 }\ndynamic_batching { '
            'max_queue_delay_microseconds: 100 default_queue_policy { default_timeout_microseconds: 5 } }\n'
            "parameters: { key: 'k' value: { string_value: \"\" } }\nparameters { key: \"k\" value { "
            'string_value: "second" } }\nversion_policy { specific { versions: [1, 3] } }\n'
            "optimization { execution_accelerators { cpu_execution_accelerator [ { name: \"openvino\" } ] } }\n")
    assert same_as_text_format(text)
    assert quick(text).parameters["k"].string_value == "second"  # a map key given twice: the last one


# ---- generated configs ---------------------------------------------------------------------------------------------

def mostly(common: st.SearchStrategy[str], odd: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """The common form, and one time in forty a form around it (so that whole configs are often common)."""
    return st.integers(0, 39).flatmap(lambda n: odd if n == 39 else common)  # (hypothesis favours 0)


SPACES = mostly(st.sampled_from([" ", "\n", "  ", "\t", " # a comment\n", "\r\n", "\n\n  "]),
                st.sampled_from(["", "\u00a0", "#\n", "\x0b", "#"]))
ODD_INTEGERS = st.one_of(st.integers(-(1 << 65), 1 << 65).map(str),
                         st.sampled_from(["-0", "007", "0x1F", "+5", "1.0", "1e3", "abc", "1_0", "-", "9" * 25]))
RANGES = {F.TYPE_INT32: (-(1 << 31), (1 << 31) - 1), F.TYPE_INT64: (-(1 << 63), (1 << 63) - 1),
          F.TYPE_UINT32: (0, (1 << 32) - 1), F.TYPE_UINT64: (0, (1 << 64) - 1)}
FLOATS = mostly(st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
                          st.sampled_from(["1", "-2", "1.", ".5", "-.5", "1e-3", "1E+9", "-0", "0"])),
                st.sampled_from(["inf", "-inf", "nan", "1.5f", "01.5", "1_0.5", "0.1.2", "1e", "3.4e39", "- 1",
                                 "1e400", "0x1p3"]))
BOOLS = mostly(st.sampled_from(["true", "false", "t", "f", "1", "0", "True", "False"]),
               st.sampled_from(["yes", "TRUE", "2", "-1", "tru"]))
STRINGS = mostly(st.one_of(st.text(st.characters(blacklist_characters='"\\\n'), max_size=6).map(lambda s: f'"{s}"'),
                           st.text(st.characters(blacklist_characters="'\\\n"), max_size=6).map(lambda s: f"'{s}'")),
                 st.sampled_from(['"a\\n"', '"a\\"b"', '"unterminated', '"a" "b"', "unquoted", '"a"\'b\'',
                                  "'mixed\"", '"\\x41"', '"\\303\\251"']))


def enum_values(field) -> st.SearchStrategy[str]:
    names = [v.name for v in field.enum_type.values]
    return mostly(st.sampled_from(names), st.sampled_from(["1", "-1", "99", "NOT_A_VALUE", names[0].lower()]))


def scalar(field) -> st.SearchStrategy[str]:
    if field.type == F.TYPE_ENUM:
        return enum_values(field)
    if field.type == F.TYPE_BOOL:
        return BOOLS
    if field.type in (F.TYPE_STRING, F.TYPE_BYTES):
        return STRINGS
    if field.type in (F.TYPE_FLOAT, F.TYPE_DOUBLE):
        return FLOATS
    low, high = RANGES.get(field.type, RANGES[F.TYPE_INT32])
    return mostly(st.one_of(st.integers(low, high), st.integers(max(low, -9), 99)).map(str), ODD_INTEGERS)


@st.composite
def message_text(draw, descriptor, depth: int = 0) -> str:
    fields = list(descriptor.fields)
    chosen = draw(st.lists(st.sampled_from(fields), max_size=4 if depth < 2 else 1, unique=True)) if fields else []
    if chosen and draw(mostly(st.just(False), st.just(True))):
        chosen.append(draw(st.sampled_from(chosen)))  # a field given twice
    parts = []
    for field in chosen:
        name = draw(mostly(st.just(field.name), st.sampled_from([field.name.upper(), "no_such_field", f"[{field.name}]",
                                                                   f"{field.name}-x", "1"])))
        is_message = field.cpp_type == F.CPPTYPE_MESSAGE
        if is_message and depth >= 3:
            continue
        colon = draw(st.sampled_from([":", ""]) if is_message else mostly(st.just(":"), st.just("")))

        def one() -> str:
            if is_message:
                inner = draw(message_text(field.message_type, depth + 1))
                opening, closing = draw(mostly(st.just(("{", "}")), st.sampled_from([("<", ">"), ("{", ">"), ("{", ""),
                                                                                      ("[", "]")])))
                return f"{opening}{draw(SPACES)}{inner}{draw(SPACES)}{closing}"
            return draw(scalar(field))

        if field.is_repeated and draw(st.booleans()):
            values = [one() for _ in range(draw(st.integers(0, 3)))]
            comma = draw(mostly(st.sampled_from([",", ", ", " , ", ",\n"]), st.sampled_from([" ", ";", ",,"])))
            trailing = draw(mostly(st.just(""), st.just(",")))
            value = f"[{draw(SPACES)}{comma.join(values)}{trailing}{draw(SPACES)}]"
        else:
            value = one()
        separator = draw(mostly(st.sampled_from(["", "", ",", ";"]), st.sampled_from([",;", ";;", ":"])))
        parts.append(f"{name}{draw(SPACES)}{colon}{draw(SPACES)}{value}{separator}")
    return "".join(part + draw(SPACES) for part in parts)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(message_text(ModelConfig.DESCRIPTOR))
def test_whatever_the_quick_reader_takes_text_format_parses_to_the_same_message(text):
    same_as_text_format(text)


def test_the_generated_configs_are_often_in_the_common_form():
    """The property above is not vacuous: the quick reader takes a good share of what the generator writes."""
    taken = []

    @settings(max_examples=200, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(message_text(ModelConfig.DESCRIPTOR))
    def run(text):
        taken.append(same_as_text_format(text))

    run()
    assert sum(taken) >= len(taken) // 5, f"{sum(taken)} of {len(taken)}"
