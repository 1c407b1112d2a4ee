"""Tokenizer for the MOF subset vmgen compiles (see ``vmgen.mof``).

Every token carries its 1-based line and column (columns count characters; a tab is one column).
Comments (``//`` to the end of the line, ``/* ... */``) and whitespace are skipped. Any character that
cannot start a token, an unterminated string or comment, a bad escape or a malformed number raises
``MofError`` at the position where the problem starts.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any, List, Tuple

from ..errors import MofError

# Token kinds
IDENT = "identifier"
INT = "integer"
REAL = "real"
STRING = "string"
CHAR = "char"
PUNCT = "punctuation"
PRAGMA = "#pragma"
EOF = "end of input"

_PUNCT = set("{}[]();,:=$+-")
_MAX_DIGITS = 1000  # decimal literals longer than this are refused (no MOF needs them; int() has limits)

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Order matters: hex and binary before decimal, real before integer.
_HEX_RE = re.compile(r"0[xX]([0-9A-Fa-f]+)")
_BIN_RE = re.compile(r"([01]+)[bB](?![A-Za-z0-9_])")
_REAL_RE = re.compile(r"(?:[0-9]*\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)")
_DEC_RE = re.compile(r"[0-9]+")
_WS_RE = re.compile(r"[ \t\r\n\f\v\ufeff]+")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "'": "'", "\\": "\\", "0": "\0"}


@dataclass(frozen=True)
class Token:
    kind: str
    value: Any  # identifier text, int, float, decoded str, punctuation character
    line: int
    column: int
    text: str  # the source text of the token (for messages)

    def describe(self) -> str:
        if self.kind == EOF:
            return "end of input"
        if self.kind == PUNCT:
            return repr(self.value)
        shown = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        return f"{self.kind} {shown!r}" if self.kind != IDENT else repr(shown)


class _Positions:
    """Offset -> (line, column), both 1-based."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]

    def __call__(self, offset: int) -> Tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


def tokenize(text: str) -> List[Token]:
    """The tokens of ``text``, ending with one EOF token."""
    if not isinstance(text, str):
        raise TypeError(f"MOF text must be a str, not {type(text).__name__}")
    pos = _Positions(text)
    tokens: List[Token] = []
    i, n = 0, len(text)

    def error(message: str, offset: int) -> MofError:
        line, col = pos(offset)
        return MofError(message, line, col)

    def add(kind: str, value: Any, start: int, end: int) -> None:
        line, col = pos(start)
        tokens.append(Token(kind, value, line, col, text[start:end]))

    while i < n:
        c = text[i]
        m = _WS_RE.match(text, i)
        if m:
            i = m.end()
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise error("unterminated /* comment", i)
            i = j + 2
            continue
        if c == "#":
            m = _IDENT_RE.match(text, i + 1)
            if not m or m.group(0).lower() != "pragma":
                word = m.group(0) if m else ""
                raise error(f"unsupported preprocessor directive '#{word}' (only #pragma is MOF)", i)
            add(PRAGMA, "pragma", i, m.end())
            i = m.end()
            continue
        if c == '"':
            i = _string(text, i, add, error)
            continue
        if c == "'":
            i = _char(text, i, add, error)
            continue
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            i = _number(text, i, add, error)
            continue
        m = _IDENT_RE.match(text, i)
        if m:
            add(IDENT, m.group(0), i, m.end())
            i = m.end()
            continue
        if c in _PUNCT:
            add(PUNCT, c, i, i + 1)
            i += 1
            continue
        raise error(f"unexpected character {c!r}", i)
    line, col = pos(n)
    tokens.append(Token(EOF, None, line, col, ""))
    return tokens


def _escape(text: str, i: int, error: Any) -> Tuple[str, int]:
    """The escape at text[i] == '\\': (decoded character, index after it)."""
    if i + 1 >= len(text):
        raise error("unterminated escape sequence", i)
    e = text[i + 1]
    if e in _ESCAPES:
        return _ESCAPES[e], i + 2
    if e in "xX":
        m = re.compile(r"[0-9A-Fa-f]{1,4}").match(text, i + 2)
        if not m:
            raise error(f"escape '\\{e}' needs 1 to 4 hex digits", i)
        return chr(int(m.group(0), 16)), m.end()
    raise error(f"unknown escape sequence '\\{e}'", i)


def _string(text: str, start: int, add: Any, error: Any) -> int:
    i, n = start + 1, len(text)
    out: List[str] = []
    while True:
        if i >= n or text[i] in "\r\n":
            raise error("unterminated string literal", start)
        c = text[i]
        if c == '"':
            add(STRING, "".join(out), start, i + 1)
            return i + 1
        if c == "\\":
            ch, i = _escape(text, i, error)
            out.append(ch)
        else:
            out.append(c)
            i += 1


def _char(text: str, start: int, add: Any, error: Any) -> int:
    i, n = start + 1, len(text)
    if i >= n or text[i] in "\r\n'":
        raise error("empty or unterminated character literal", start)
    if text[i] == "\\":
        ch, i = _escape(text, i, error)
    else:
        ch, i = text[i], i + 1
    if i >= n or text[i] != "'":
        raise error("unterminated character literal (one character between single quotes)", start)
    add(CHAR, ch, start, i + 1)
    return i + 1


def _number(text: str, start: int, add: Any, error: Any) -> int:
    for regex, kind in ((_HEX_RE, "hex"), (_BIN_RE, "bin"), (_REAL_RE, "real"), (_DEC_RE, "dec")):
        m = regex.match(text, start)
        if m:
            break
    else:  # pragma: no cover - a digit or '.'+digit always matches one of them
        raise error("malformed number", start)
    end = m.end()
    if end < len(text) and (text[end].isalnum() or text[end] in "_."):
        raise error(f"malformed number {text[start:end + 1]!r}", start)
    if kind == "hex":
        value: Any = int(m.group(1), 16)
    elif kind == "bin":
        value = int(m.group(1), 2)
    elif kind == "real":
        value = float(m.group(0))
    else:
        digits = m.group(0)
        if len(digits) > _MAX_DIGITS:
            raise error(f"integer literal of {len(digits)} digits is too long", start)
        if len(digits) > 1 and digits[0] == "0":  # MOF: a leading 0 means octal
            if any(d in "89" for d in digits):
                raise error(f"malformed octal number {digits!r}", start)
            value = int(digits, 8)
        else:
            value = int(digits)
    add(REAL if kind == "real" else INT, value, start, end)
    return end
