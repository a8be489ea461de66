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
    from google.protobuf import text_format

    from tritonctl.io.proto.model_config_pb2 import ModelConfig

    config = ModelConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as e:
        detail = _PARSE_ERROR_PREFIX.sub("", str(e)).strip()
        raise ConfigParseError(path, e.GetLine() or 1, e.GetColumn() or 1, detail) from None
    return config


@dataclass
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
    """Positions of the fields of one config text."""

    positions: dict[str, Position]
    ignores: Ignores
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (start offset, end offset)

    def find(self, path: str) -> Position:
        """Position of `path`, else of the nearest enclosing field written, else 1:1."""
        while path:
            if path in self.positions:
                return self.positions[path]
            path = _parent(path)
        return (1, 1)


def _parent(path: str) -> str:
    if path.endswith("]"):
        return path[: path.rindex("[")]
    return path.rpartition(".")[0]


_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<comment>\#[^\n]*)|(?P<string>"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?)"""
    r"""|(?P<ident>[A-Za-z0-9_.+\-]+)|(?P<punct>[{}<>\[\]:,;])|(?P<other>.)""",
    re.S,
)


def tokenize(text: str) -> tuple[list[Token], list[tuple[int, int, str]]]:
    """Tokens and comments ``(line, column, text)`` of a config text; never fails."""
    tokens: list[Token] = []
    comments: list[tuple[int, int, str]] = []
    line, line_start = 1, 0
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        start = m.start()
        column = start - line_start + 1
        if kind == "comment":
            comments.append((line, column, m.group()))
        elif kind in ("string", "ident", "punct"):
            tokens.append(Token(kind, m.group(), line, column, start, m.end()))
        newlines = m.group().count("\n")
        if newlines:
            line += newlines
            line_start = m.start() + m.group().rindex("\n") + 1
    return tokens, comments


def locate(text: str) -> Located:
    tokens, comments = tokenize(text)
    positions: dict[str, Position] = {}
    spans: dict[str, tuple[int, int]] = {}
    _Scanner(tokens, positions, spans).message("", closing=None)
    return Located(positions, _ignores(comments, tokens), spans)


def _ignores(comments: list[tuple[int, int, str]], tokens: list[Token]) -> Ignores:
    ignores = Ignores()
    token_lines = {t.line for t in tokens}
    for line, _column, text in comments:
        for m in _IGNORE.finditer(text):
            codes = {c.strip().upper() for c in m.group(2).split(",") if c.strip()}
            if m.group(1):  # ignore-file
                target = 0
            elif line in token_lines:  # trailing comment: this line
                target = line
            else:  # comment on its own line: the next line with content
                later = [t for t in sorted(token_lines) if t > line]
                target = later[0] if later else line
            ignores.by_line.setdefault(target, set()).update(codes)
    return ignores


class _Scanner:
    def __init__(self, tokens: list[Token], positions: dict[str, Position], spans) -> None:
        self.tokens = tokens
        self.i = 0
        self.positions = positions
        self.spans = spans

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token | None:
        tok = self.peek()
        if tok is not None:
            self.i += 1
        return tok

    def record(self, path: str, tok: Token) -> None:
        self.positions.setdefault(path, (tok.line, tok.column))

    def message(self, prefix: str, closing: str | None) -> dict[str, str]:
        """Scan fields until `closing`; return the scalar values seen (for map keys)."""
        counts: dict[str, int] = {}
        scalars: dict[str, str] = {}
        while (tok := self.peek()) is not None:
            if tok.kind == "punct":
                self.take()
                if tok.text == closing:
                    return scalars
                continue  # separators and stray punctuation
            if tok.kind != "ident":
                self.take()
                continue
            name_tok = self.take()
            name = name_tok.text
            base = f"{prefix}.{name}" if prefix else name
            nxt = self.peek()
            if nxt is not None and nxt.kind == "punct" and nxt.text == ":":
                self.take()
                nxt = self.peek()
            if nxt is None:
                self.record(base, name_tok)
                return scalars
            start = name_tok.offset
            if nxt.kind == "punct" and nxt.text == "[":
                self.take()
                self.record(base, name_tok)
                self._list(base, counts, name, name_tok)
            elif nxt.kind == "punct" and nxt.text in "{<":
                self.take()
                self.record(base, name_tok)
                self._element(base, counts, name, name_tok, nxt.text)
            else:
                value = self.take()
                idx = counts.get(name, 0)
                counts[name] = idx + 1
                self.record(base, name_tok)
                self.record(f"{base}[{idx}]", name_tok)
                scalars.setdefault(name, _unquote(value.text))
            end_tok = self.tokens[self.i - 1] if self.i else name_tok
            span = (start, end_tok.end)
            old = self.spans.get(base)
            self.spans[base] = (old[0], span[1]) if old else span
        return scalars

    def _list(self, base: str, counts: dict[str, int], name: str, name_tok: Token) -> None:
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
        """One message element of field `name` (its opening token just taken): `base[i]`, and `base["k"]`
        for a map entry with key k."""
        idx = counts.get(name, 0)
        counts[name] = idx + 1
        self.record(f"{base}[{idx}]", at)
        inner = self.message(f"{base}[{idx}]", "}" if opener == "{" else ">")
        self._alias_first(base, idx)
        if "key" in inner:
            self.record(f'{base}["{inner["key"]}"]', at)
            self._copy_children(f"{base}[{idx}]", f'{base}["{inner["key"]}"]')

    def _alias_first(self, base: str, idx: int) -> None:
        """A non-repeated sub-message is addressed without an index: alias ``a[0].b`` as ``a.b``."""
        if idx != 0:
            return
        self._copy_children(f"{base}[0]", base)

    def _copy_children(self, src: str, dst: str) -> None:
        for path, pos in list(self.positions.items()):
            if path.startswith(src + ".") or path.startswith(src + "["):
                self.positions.setdefault(dst + path[len(src):], pos)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] in "\"'" and text[-1] == text[0]:
        return text[1:-1]
    return text
