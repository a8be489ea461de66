from __future__ import annotations

import pytest

from tritonctl.errors import ConfigParseError
from tritonctl.io import pbtxt

CONFIG = """\
# a comment
name: "m"
max_batch_size: 8
input [
  {
    name: "a"
    dims: [ 3, 224, 224 ]
  },
  { name: "b", dims: [1] }
]
output { name: "y" dims: 2 dims: 5 }
output: < name: "z" >
instance_group [ { kind: KIND_CPU, gpus: [0, 1] } ]
parameters { key: "execution_mode" value: { string_value: "2" } }
version_policy: { specific { versions: 1; versions: 3 } }
"""


@pytest.mark.parametrize(
    ("path", "position"),
    [
        ("name", (2, 1)),
        ("max_batch_size", (3, 1)),
        ("input", (4, 1)),
        ("input[0]", (5, 3)),
        ("input[0].name", (6, 5)),
        ("input[0].dims", (7, 5)),
        ("input[0].dims[2]", (7, 21)),
        ("input[1].dims[0]", (9, 23)),
        ("output[0].dims[1]", (11, 28)),
        ("output[1].name", (12, 11)),
        ("instance_group[0].gpus[1]", (13, 46)),
        ('parameters["execution_mode"]', (14, 1)),
        ('parameters["execution_mode"].value.string_value', (14, 45)),
        ("version_policy.specific.versions[1]", (15, 43)),
        ("version_policy.specific", (15, 19)),
    ],
)
def test_locate_maps_field_paths_to_line_and_column(path, position):
    pbtxt.parse(CONFIG, "config.pbtxt")  # the text is valid
    assert pbtxt.locate(CONFIG).find(path) == position


def test_locate_falls_back_to_the_enclosing_field_then_to_1_1():
    located = pbtxt.locate(CONFIG)
    assert located.find("input[1].data_type") == (9, 3)
    assert located.find("dynamic_batching.preferred_batch_size[0]") == (1, 1)


@pytest.mark.parametrize(
    ("text", "line", "column", "detail"),
    [
        ('name: "a"\nfoo: 1\n', 2, 1, 'Message type "inference.ModelConfig" has no field named "foo".'),
        ("input [{ data_type: TYPE_FOO }]", 1, 21, 'Enum type "inference.DataType" has no value named TYPE_FOO; did you '
                                                 "mean 'TYPE_BOOL' or 'TYPE_FP64'?"),
        ("max_batch_size: 08", 1, 17, "Couldn't parse integer: 08"),
        ("dynamic_batching {}\nsequence_batching {}", 2, 1, None),
        ("max_batch_size 8", 1, 16, None),
    ],
)
def test_parse_errors_keep_line_and_column(text, line, column, detail):
    with pytest.raises(ConfigParseError) as e:
        pbtxt.parse(text, "m/config.pbtxt")
    assert (e.value.line, e.value.column) == (line, column)
    if detail:
        assert e.value.detail == detail
    assert str(e.value).startswith(f"m/config.pbtxt:{line}:{column}: ")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n",
        "max_batch_size: 0 max_batch_size: 8",  # a default scalar given twice is accepted (R4)
        "max_batch_size: 010",  # octal
        "dynamic_batching: { }; input: [], name: 'x' 'y'",
        "input < name: \"a\" data_type: 11 dims: [-1] >",  # integer enums (R3)
        'parameters { key: "k" value { string_value: "1" } } parameters { key: "k" value { string_value: "2" } }',
    ],
)
def test_syntax_triton_accepts_parses(text):
    pbtxt.parse(text, "c")


def test_octal_and_duplicate_map_keys_read_as_triton_reads_them():
    assert pbtxt.parse("max_batch_size: 010", "c").max_batch_size == 8
    config = pbtxt.parse('parameters { key: "k" value { string_value: "1" } } '
                         'parameters { key: "k" value { string_value: "2" } }', "c")
    assert config.parameters["k"].string_value == "2"


def test_non_utf8_bytes_are_a_parse_error_at_the_bad_byte():
    with pytest.raises(ConfigParseError) as e:
        pbtxt.decode(b'name: "a"\nbackend: "\xff"\n', "c")
    assert (e.value.line, e.value.column) == (2, 11)
    assert "not UTF-8" in e.value.detail


def test_ignore_comments_cover_their_line_the_next_line_or_the_file():
    text = (
        'name: "m"  # tritonctl: ignore[TRT101]\n'
        "# tritonctl: ignore[TRT2, TRT301]\n"
        "\n"
        "max_batch_size: 1\n"
        "# tritonctl: ignore-file[TRT405]\n"
    )
    ignores = pbtxt.locate(text).ignores
    assert ignores.covers("TRT101", 1)
    assert not ignores.covers("TRT101", 4)
    assert ignores.covers("TRT201", 4) and ignores.covers("TRT301", 4)
    assert not ignores.covers("TRT302", 4)
    assert ignores.covers("TRT405", 17)


def test_scanner_never_fails_on_junk():
    for junk in ["{{{{", "]]]", "name: \"unterminated", "\x00\x01\x02", "a { b [ c < d"]:
        pbtxt.locate(junk)
