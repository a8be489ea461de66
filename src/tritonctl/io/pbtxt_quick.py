"""The common form of a config.pbtxt parsed in one pass, the message built as protobuf's text_format builds it.

`text_format.Parse` (protobuf 6, pure Python even over upb) spends most of its time in its tokenizer: a method call
and a regex per token and per stretch of whitespace, the input walked line by line. A model repository's configs
keep to a small part of the text format: field names, `:`, `{ }`, `[ ]` lists, `,`/`;` separators, `#` comments,
decimal numbers, enum names, `true`/`false` and strings without escapes. `parse` reads exactly that part, with
text_format's own token pattern, and makes the same calls on the message (`add`, `append`, `setattr`,
`SetInParent`, a map's entry class), so what it returns is what text_format returns (tests/test_pbtxt_quick.py
compares the two on generated configs). Anything else it returns None for, and text_format parses the text: every
other form (escapes, `<>`, hexadecimal, `inf`, enum numbers, concatenated strings, extensions, `Any`), and every
error, which keeps text_format's words and position. So does a field given twice where it may be given once,
and a second member of a oneof: text_format decides those.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.protobuf.message import Message

# text_format.Tokenizer._TOKEN's kinds of token, over the whole text at once (a token never spans lines: no
# pattern matches a newline, so these are the tokens text_format reads line by line), strings without escapes and
# only the punctuation of the common form
_TOKENS = r"""(
    [a-zA-Z_][0-9a-zA-Z_+-]*                 # an identifier
  | (?:[0-9+-]|\.[0-9])[0-9a-zA-Z_.+-]*      # a number
  | "[^"\n\\]*" | '[^'\n\\]*'              # a string without escapes
  | [{}\[\]:,;]
)"""
_SPACE = r"(?:\s|\#[^\n]*)"  # text_format's whitespace and comments
_COMMON = re.compile(rf"(?:{_SPACE}|{_TOKENS})*+", re.X)
# a token, or the end: each match starts where the last one ended (a comment closing the text is one match, not
# searched through for tokens), the end's match an empty token
_TOKEN = re.compile(rf"{_SPACE}*+(?:{_TOKENS}|\Z)", re.X)
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|-?\.[0-9]+(?:[eE][+-]?[0-9]+)?")
_BOOL = {"true": True, "t": True, "1": True, "True": True, "false": False, "f": False, "0": False, "False": False}
_QUOTES = ("\"", "'")


class _Other(Exception):
    """The text leaves the common form here: text_format parses it."""


def tokens(text: str) -> list[str] | None:
    """Every token, or None when the text holds one outside the common form's (its kind is told by its first
    character: a letter or _, a quote, punctuation, else a number)."""
    if not _COMMON.fullmatch(text):
        return None
    found = _TOKEN.findall(text)
    while found and not found[-1]:  # the end
        found.pop()
    return found


def parse(text: str, message: Message) -> bool:
    """Merge `text` into the empty `message` when it is in the common form (True); else leave it empty and return
    False."""
    found = tokens(text)
    if found is None:
        return False
    try:
        _fields(found, 0, message, None)
    except (_Other, ValueError, TypeError, OverflowError):  # a value the message refuses: text_format says so
        message.Clear()
        return False
    return True


_SHAPES: dict[object, dict] = {}  # message Descriptor -> field name -> _Shape


@functools.cache
def _int_ranges() -> dict[int, tuple[int, int]]:
    """FieldDescriptor.type -> (lowest, highest) of each integer type."""
    from google.protobuf.descriptor import FieldDescriptor as F

    ranges = {}
    for kinds, low, high in (((F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32), -(1 << 31), (1 << 31) - 1),
                             ((F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64), -(1 << 63), (1 << 63) - 1),
                             ((F.TYPE_UINT32, F.TYPE_FIXED32), 0, (1 << 32) - 1),
                             ((F.TYPE_UINT64, F.TYPE_FIXED64), 0, (1 << 64) - 1)):
        for kind in kinds:
            ranges[kind] = (low, high)
    return ranges


class _Shape:
    """What parsing needs to know of one field, read once from its descriptor."""

    __slots__ = ("field", "name", "repeated", "message", "_map", "oneof", "kind", "enum", "ints")

    def __init__(self, field) -> None:
        from google.protobuf.descriptor import FieldDescriptor as F

        self.field = field
        self.name = field.name
        self.repeated = field.is_repeated
        self.message = field.cpp_type == F.CPPTYPE_MESSAGE
        self._map: int | None = None  # see map_kind
        self.oneof = field.containing_oneof.name if field.containing_oneof is not None else None
        self.kind = {F.TYPE_STRING: "string", F.TYPE_BOOL: "bool", F.TYPE_FLOAT: "float",
                     F.TYPE_DOUBLE: "float"}.get(field.type)  # the other scalars: ints, enum, bytes (not read)
        self.enum = ({v.name: v.number for v in field.enum_type.values} if field.type == F.TYPE_ENUM else None)
        self.ints = _int_ranges().get(field.type)


    def map_kind(self) -> int:
        """0: not a map; 1: a map of scalars; 2: a map of messages. Found when first asked, as text_format's
        _IsMapEntry finds it: GetOptions imports descriptor_pb2 (2 ms), and most configs have no map field."""
        if self._map is None:
            from google.protobuf.descriptor import FieldDescriptor as F

            entry = self.field.message_type
            self._map = 0
            if entry.has_options and entry.GetOptions().map_entry:
                self._map = 2 if entry.fields_by_name["value"].cpp_type == F.CPPTYPE_MESSAGE else 1
        return self._map


def _shapes(descriptor) -> dict:
    shapes = _SHAPES.get(descriptor)
    if shapes is None:
        shapes = _SHAPES[descriptor] = {f.name: _Shape(f) for f in descriptor.fields}
    return shapes


def _fields(found: list[str], i: int, message, closing: str | None) -> int:
    """Merge fields into `message` from token i up to `closing` (None: the end); the index after it."""
    shapes = _shapes(message.DESCRIPTOR)
    given: set[str] = set()  # singular fields already given: a second one is text_format's to judge
    oneofs: dict[str, str] = {}
    count = len(found)
    while True:
        if i == count:
            if closing is None:
                return i
            raise _Other
        token = found[i]
        if token == closing:
            return i + 1
        shape = shapes.get(token)  # a field's name is an identifier: no other token is a key
        if shape is None:
            raise _Other
        i += 1
        if shape.oneof is not None and oneofs.setdefault(shape.oneof, shape.name) != shape.name:
            raise _Other
        if not shape.repeated:
            if shape.name in given:
                raise _Other
            given.add(shape.name)
        if i < count and found[i] == ":":
            i += 1
        elif not shape.message:
            raise _Other
        if shape.repeated and i < count and found[i] == "[":
            i += 1
            if i < count and found[i] == "]":
                i += 1
            else:
                while True:
                    i = _value(found, i, message, shape)
                    if i < count and found[i] == "]":
                        i += 1
                        break
                    if i < count and found[i] == ",":
                        i += 1
                        continue
                    raise _Other
        else:
            i = _value(found, i, message, shape)
        if i < count and found[i] in (",", ";"):  # one separator, as text_format takes
            i += 1


def _value(found: list[str], i: int, message, shape: _Shape) -> int:
    """One value of `shape` at token i merged into `message`; the index after it."""
    if i >= len(found):
        raise _Other
    token = found[i]
    if shape.message:
        if token != "{":
            raise _Other
        container = getattr(message, shape.name)
        kind = shape.map_kind() if shape.repeated else 0
        if kind:
            entry = container.GetEntryClass()()
            i = _fields(found, i + 1, entry, "}")
            if kind == 2:
                container[entry.key].CopyFrom(entry.value)
            else:
                container[entry.key] = entry.value
            return i
        if shape.repeated:
            return _fields(found, i + 1, container.add(), "}")
        container.SetInParent()
        return _fields(found, i + 1, container, "}")
    value = _scalar(token, shape)
    if i + 1 < len(found) and found[i + 1].startswith(_QUOTES) and token.startswith(_QUOTES):
        raise _Other  # "a" "b": text_format joins them
    if shape.repeated:
        getattr(message, shape.name).append(value)
    else:
        setattr(message, shape.name, value)
    return i + 1


def _scalar(token: str, shape: _Shape):
    if shape.ints is not None:
        if not _INTEGER.fullmatch(token):
            raise _Other
        value = int(token)
        low, high = shape.ints
        if not low <= value <= high:
            raise _Other
        return value
    if shape.enum is not None:
        if token not in shape.enum:  # a name: an identifier
            raise _Other
        return shape.enum[token]
    kind = shape.kind
    if kind == "string":
        if not token.startswith(_QUOTES):
            raise _Other
        return token[1:-1]
    if kind == "bool":
        if token not in _BOOL:
            raise _Other
        return _BOOL[token]
    if kind == "float":
        if not _FLOAT.fullmatch(token):  # (no "01.5": text_format refuses octal floats)
            raise _Other
        return float(token)
    raise _Other  # bytes
