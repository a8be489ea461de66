"""The protobuf wire format, scanned over a buffer (an mmap) without building messages: fields as spans, so a
reader takes the few small fields it needs and skips the rest (weights, graphs) by length, never reading them."""

from __future__ import annotations


class Truncated(Exception):
    """The bytes end inside a field, or are not protobuf."""


def varint(buf, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise Truncated
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise Truncated


def fields(buf, pos: int, end: int):
    """Yield (field number, wire type, value) where value is an int (varint/fixed) or a (start, end) span."""
    while pos < end:
        key, pos = varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos, end)
        elif wire == 2:
            length, pos = varint(buf, pos, end)
            if pos + length > end:
                raise Truncated
            value = (pos, pos + length)
            pos += length
        elif wire == 1:
            value, pos = int.from_bytes(buf[pos:pos + 8], "little"), pos + 8
        elif wire == 5:
            value, pos = int.from_bytes(buf[pos:pos + 4], "little"), pos + 4
        else:
            raise Truncated
        if number == 0 or pos > end:
            raise Truncated
        yield number, wire, value


def signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def text(buf, span) -> str:
    return bytes(buf[span[0]:span[1]]).decode("utf-8", "replace")


