"""config.pbtxt: parse with protobuf's text_format, and find where a field was written.

`text_format` records no positions for the fields it parses, so a small scanner walks the same text and
maps field paths such as ``instance_group[0].gpus`` or ``parameters["x"]`` to ``(line, column)``, both
1-based. It also collects ``# tritonctl: ignore[CODE]`` comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tritonctl.errors import ConfigParseError
from tritonctl.io import pbtxt_quick

if TYPE_CHECKING:
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

Position = tuple[int, int]

_PARSE_ERROR_PREFIX = re.compile(r"^\d+:\d+ : (?:'.*?': )?", re.S)
_IGNORE = re.compile(r"#\s*tritonctl:\s*ignore(-file)?\[([A-Za-z0-9_,\s]+)\]")


def decode(data: bytes, path: str) -> str:
    """Config bytes as text; a file that is not UTF-8 is a parse error at the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigParseError(path, line, column, f"not UTF-8 text (byte 0x{data[e.start]:02x})") from None


def parse(text: str, path: str) -> ModelConfig:
    """Parse config text as Triton does (no unknown fields); errors keep line and column."""
    from tritonctl.io.proto.model_config_pb2 import ModelConfig

    config = ModelConfig()
    if pbtxt_quick.parse(text, config):  # the common form, read at once; the rest (and every error) below
        return config
    from google.protobuf import text_format

    try:
        text_format.Parse(text, config)
    except text_format.ParseError as e:
        detail = _PARSE_ERROR_PREFIX.sub("", str(e)).strip()
        if suggestion := _did_you_mean(detail):
            detail = f"{detail.rstrip('.')}; did you mean {suggestion}?"
        raise ConfigParseError(path, e.GetLine() or 1, e.GetColumn() or 1, detail) from None
    return config


_UNKNOWN_FIELD = re.compile(r'Message type "([\w.]+)" has no field named "(\w+)"')
_UNKNOWN_VALUE = re.compile(r'Enum type "([\w.]+)" has no value named (\w+)')


def _did_you_mean(detail: str) -> str:
    """"'max_batch_size'" for a misspelt field or enum value (the closest names of that message or enum), or
    ""."""
    import difflib

    from tritonctl.io.proto.model_config_pb2 import DESCRIPTOR

    pool = DESCRIPTOR.pool
    if m := _UNKNOWN_FIELD.search(detail):
        names = [f.name for f in pool.FindMessageTypeByName(m.group(1)).fields]
    elif m := _UNKNOWN_VALUE.search(detail):
        names = [v.name for v in pool.FindEnumTypeByName(m.group(1)).values]
    else:
        return ""
    close = difflib.get_close_matches(m.group(2), names, n=2, cutoff=0.6)
    return " or ".join(repr(c) for c in close)


@dataclass(slots=True)
class Token:
    kind: str  # "ident", "string", "punct"
    text: str
    line: int
    column: int
    offset: int  # where the token starts and ends in the text
    end: int


@dataclass
class Ignores:
    """Codes ignored on a line (``line -> codes``) or in the whole file (key 0)."""

    by_line: dict[int, set[str]] = field(default_factory=dict)

    def covers(self, code: str, line: int) -> bool:
        for key in (0, line):
            for entry in self.by_line.get(key, ()):
                if code.startswith(entry):
                    return True
        return False


@dataclass
class Located:
    """Positions of the fields of one config text.

    `positions` holds raw paths, every message element indexed (``dynamic_batching[0].max_queue_delay_microseconds``,
    ``parameters[3].value[0].string_value``); `find` and `get` also take the forms rules write: a singular
    sub-message without its index (``dynamic_batching.max_queue_delay_microseconds``) and a map entry by its key
    (``parameters["k"].value``), resolved through `keys`.
    """

    positions: dict[str, Position]
    ignores: Ignores
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (start offset, end offset)
    keys: dict[tuple[str, str], int] = field(default_factory=dict)  # (raw path of a map field, key) -> index

    def get(self, path: str) -> Position | None:
        raw = self._raw(path)
        return self.positions.get(raw) if raw is not None else None

    def find(self, path: str) -> Position:
        """Position of `path`, else of the nearest enclosing field written, else 1:1."""
        while path:
            found = self.get(path)
            if found is not None:
                return found
            path = _parent(path)
        return (1, 1)

    def _raw(self, path: str) -> str | None:
        parts: list[tuple[str, list[str]]] = []
        for m in _PATH_PART.finditer(path):
            if m.group(1) is not None:
                parts.append((m.group(1), []))
            elif parts:
                parts[-1][1].append(m.group(2))
        raw = ""
        for i, (name, subscripts) in enumerate(parts):
            raw = f"{raw}.{name}" if raw else name
            if not subscripts and i < len(parts) - 1:
                raw += "[0]"  # a singular sub-message, written without its index
            for sub in subscripts:
                if sub.startswith('"'):
                    index = self.keys.get((raw, sub[1:-1]))
                    if index is None:
                        return None
                    sub = str(index)
                raw += f"[{sub}]"
        return raw


_PATH_PART = re.compile(r'\.?([^.\[\]]+)|\[("(?:[^"\\]|\\.)*"|[^\]]*)\]')


def _parent(path: str) -> str:
    if path.endswith("]"):
        return path[: path.rindex("[")]
    return path.rpartition(".")[0]


# Whitespace is skipped inside each match, and strings are unrolled loops (`"[^"\\]*(?:\\.[^"\\]*)*"`): an
# alternation inside a repetition costs Python's regex engine memory per character (gigabytes for a 50 MB value).
_TOKEN = re.compile(
    r"""\s*(?:(?P<comment>\#[^\n]*)"""
    r"""|(?P<string>"[^"\\\n]*(?:\\.[^"\\\n]*)*"?|'[^'\\\n]*(?:\\.[^'\\\n]*)*'?)"""
    r"""|(?P<ident>[A-Za-z0-9_.+\-]+)|(?P<punct>[{}<>\[\]:,;])|(?P<other>.))""",
    re.S,
)
_NEWLINE = re.compile("\n")


def tokenize(text: str) -> tuple[list[Token], list[tuple[int, int, str]]]:
    """Tokens and comments ``(line, column, text)`` of a config text; never fails. Linear in the text."""
    newlines = [m.start() for m in _NEWLINE.finditer(text)]
    tokens: list[Token] = []
    comments: list[tuple[int, int, str]] = []
    line, line_start, following = 1, 0, 0  # following: index in `newlines` of the next newline
    count = len(newlines)
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind is None or kind == "other":
            continue
        start, end = m.span(kind)
        while following < count and newlines[following] < start:
            line_start = newlines[following] + 1
            following += 1
            line += 1
        if kind == "comment":
            comments.append((line, start - line_start + 1, text[start:end]))
        else:
            tokens.append(Token(kind, text[start:end], line, start - line_start + 1, start, end))
    return tokens, comments


def locate(text: str) -> Located:
    tokens, comments = tokenize(text)
    scanner = _Scanner(tokens)
    scanner.message("", closing=None)
    return Located(scanner.positions, _ignores(comments, tokens), scanner.spans, scanner.keys)


def _ignores(comments: list[tuple[int, int, str]], tokens: list[Token]) -> Ignores:
    import bisect

    ignores = Ignores()
    token_lines = sorted({t.line for t in tokens})
    present = set(token_lines)
    for line, _column, text in comments:
        for m in _IGNORE.finditer(text):
            codes = {c.strip().upper() for c in m.group(2).split(",") if c.strip()}
            if m.group(1):  # ignore-file
                target = 0
            elif line in present:  # trailing comment: this line
                target = line
            else:  # comment on its own line: the next line with content
                later = bisect.bisect_right(token_lines, line)
                target = token_lines[later] if later < len(token_lines) else line
            ignores.by_line.setdefault(target, set()).update(codes)
    return ignores


class _Scanner:
    """Walks the tokens once, recording where each field path is first written. Linear in the tokens."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.positions: dict[str, Position] = {}
        self.spans: dict[str, tuple[int, int]] = {}
        self.keys: dict[tuple[str, str], int] = {}

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token | None:
        tok = self.peek()
        if tok is not None:
            self.i += 1
        return tok

    def record(self, path: str, tok: Token) -> None:
        if path not in self.positions:
            self.positions[path] = (tok.line, tok.column)

    def message(self, prefix: str, closing: str | None) -> dict[str, str]:
        """Scan fields until `closing`; return the scalar values seen (for map keys)."""
        counts: dict[str, int] = {}
        scalars: dict[str, str] = {}
        tokens, positions, n = self.tokens, self.positions, len(self.tokens)
        while self.i < n:
            tok = tokens[self.i]
            self.i += 1
            if tok.kind != "ident":
                if tok.kind == "punct" and tok.text == closing:
                    return scalars
                continue  # separators, stray punctuation and strings
            name = tok.text
            base = f"{prefix}.{name}" if prefix else name
            if base not in positions:
                positions[base] = (tok.line, tok.column)
            nxt = tokens[self.i] if self.i < n else None
            if nxt is not None and nxt.kind == "punct" and nxt.text == ":":
                self.i += 1
                nxt = tokens[self.i] if self.i < n else None
            if nxt is None:
                return scalars
            if nxt.kind == "punct" and nxt.text == "[":
                self.i += 1
                self._list(base, counts, name)
            elif nxt.kind == "punct" and nxt.text in "{<":
                self.i += 1
                self._element(base, counts, name, tok, nxt.text)
            else:
                self.i += 1
                idx = counts.get(name, 0)
                counts[name] = idx + 1
                indexed = f"{base}[{idx}]"
                if indexed not in positions:
                    positions[indexed] = (tok.line, tok.column)
                if name not in scalars:
                    scalars[name] = _unquote(nxt.text)
            old = self.spans.get(base)
            self.spans[base] = (old[0] if old else tok.offset, tokens[self.i - 1].end)
        return scalars

    def _list(self, base: str, counts: dict[str, int], name: str) -> None:
        while (tok := self.peek()) is not None:
            if tok.kind == "punct" and tok.text == "]":
                self.take()
                return
            if tok.kind == "punct" and tok.text in "{<":
                self.take()
                self._element(base, counts, name, tok, tok.text)
            elif tok.kind == "punct":
                self.take()
            else:
                self.take()
                idx = counts.get(name, 0)
                counts[name] = idx + 1
                self.record(f"{base}[{idx}]", tok)

    def _element(self, base: str, counts: dict[str, int], name: str, at: Token, opener: str) -> None:
        """One message element of field `name` (its opening token just taken): `base[i]`; a map entry's key
        is remembered so that `base["k"]` finds it."""
        idx = counts.get(name, 0)
        counts[name] = idx + 1
        self.record(f"{base}[{idx}]", at)
        inner = self.message(f"{base}[{idx}]", "}" if opener == "{" else ">")
        if "key" in inner:
            self.keys.setdefault((base, inner["key"]), idx)


def replace_fields(text: str, located: Located, snippets: dict[str, str | None]) -> str:
    """`text` with each top-level field of `snippets` replaced by its snippet where it is written (every element
    of a repeated field: from its first to its last), appended at the end where it is not, removed where the
    snippet is None; every other byte kept. The caller checks the result parses to what it meant."""
    edits = []
    for name, snippet in snippets.items():
        span = located.spans.get(name)
        if span is not None:
            start, end = span
            if snippet is None and text[end:end + 1] == "\n" and (start == 0 or text[start - 1] == "\n"):
                end += 1  # the field's own line goes with it
            edits.append((start, end, snippet or ""))
        elif snippet is not None:
            edits.append((len(text), len(text), ("" if not text or text.endswith("\n") else "\n") + snippet + "\n"))
    for start, end, snippet in sorted(edits, key=lambda e: e[0], reverse=True):
        text = text[:start] + snippet + text[end:]
    return text


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] in "\"'" and text[-1] == text[0]:
        return text[1:-1]
    return text
