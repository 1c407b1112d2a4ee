"""Tokenizer for MOF (DSP0221): one compiled regex, so a token costs one match (see ``vmgen.mof``).

Every token carries its offset; line and column (1-based, columns count characters, a tab is one
column) are computed from it only where a message or a declaration needs them. Comments (``//`` to the
end of the line, ``/* ... */``) and whitespace are skipped inside the same match as the token after them.
Any character that cannot start a token, an unterminated string or comment, a bad escape or a malformed
number raises ``MofError`` at the position where the problem starts.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any, Callable, List, Tuple

from ..errors import MofError

# Token kinds
IDENT = "identifier"
INT = "integer"
REAL = "real"
STRING = "string"
CHAR = "char"
PUNCT = "punctuation"
PRAGMA = "#pragma"
ALIAS = "alias"
EOF = "end of input"

PUNCT_CHARS = frozenset("{}[]();,:=+-.")
_MAX_DIGITS = 1000  # decimal literals longer than this are refused (no MOF needs them; int() has limits)
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "'": "'", "\\": "\\", "0": "\0"}

# DSP0221 identifiers: ASCII letters, '_', and U+0080..U+FFEF; digits after the first character.
_ID = r"[A-Za-z_\u0080-\uffef][A-Za-z0-9_\u0080-\uffef]*"
# A backslash ending a line is a C line splice (preprocessed driver MOF keeps some: iscsihba.mof): blank.
_SKIP = r"(?:[ \t\r\n\f\v\ufeff]+|//[^\r\n]*|/\*(?s:.*?)\*/|\\(?=[\r\n]))*"
_TOKEN = re.compile(_SKIP + r"""(?:
    (?P<i>""" + _ID + r""")
  | (?P<p>[{}\[\]();,:=+\-])
  | (?P<s>"(?:[^"\\\r\n]|\\[^\r\n])*")
  | (?P<n>(?:0[xX][0-9A-Fa-f]+|[01]+[bB]|[0-9]*\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+|[0-9]+)
          (?![A-Za-z0-9_.]))
  | (?P<d>\.)
  | (?P<c>'(?:[^'\\\r\n]|\\(?:[xX][0-9A-Fa-f]{1,4}|[^\r\nxX]))')
  | (?P<h>\#[ \t]*[pP][rR][aA][gG][mM][aA](?![A-Za-z0-9_]))
  | (?P<a>\$""" + _ID + r""")
  | (?P<e>\Z)
  | (?P<x>(?s:.))
)""", re.VERBOSE)
# (?P<x>) takes any character no token starts with, so every match attempt succeeds at once: the regex never
# backtracks into the whitespace/comment run (nested repeats: exponential in its length) and finditer never
# retries position after position (quadratic). scan() reports it through _diagnose.
_ESCAPE = re.compile(r"\\(?:[xX]([0-9A-Fa-f]{1,4})|(.))")
_KINDS = {"i": IDENT, "p": PUNCT, "d": PUNCT, "s": STRING, "n": INT, "c": CHAR, "h": PRAGMA, "a": ALIAS, "e": EOF}



@dataclass(frozen=True)
class Token:
    kind: str
    value: Any  # identifier text, int, float, decoded str, punctuation character
    line: int
    column: int
    text: str  # the source text of the token (for messages)

    def describe(self) -> str:
        return describe(self.kind, self.text)


def describe(kind: str, text: str) -> str:
    if kind == EOF:
        return "end of input"
    if kind == PUNCT or kind in PUNCT_CHARS:
        return repr(text)
    shown = text if len(text) <= 40 else text[:37] + "..."
    return f"{kind} {shown!r}" if kind != IDENT else repr(shown)


class Positions:
    """Offset -> (line, column), both 1-based."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]

    def __call__(self, offset: int) -> Tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


def _unescape(body: str, start: int, error: Callable[[str, int], MofError]) -> str:
    def one(m: "re.Match[str]") -> str:
        if m.group(1) is not None:
            return chr(int(m.group(1), 16))
        e = m.group(2)
        if e in _ESCAPES:
            return _ESCAPES[e]
        if e in "xX":
            raise error(f"escape '\\{e}' needs 1 to 4 hex digits", start + m.start())
        raise error(f"unknown escape sequence '\\{e}'", start + m.start())
    return _ESCAPE.sub(one, body)


def _number(text: str, start: int, error: Callable[[str, int], MofError]) -> Tuple[str, Any]:
    if text[:2] in ("0x", "0X"):
        return INT, int(text[2:], 16)
    last = text[-1]
    if last in "bB":
        return INT, int(text[:-1], 2)
    if "." in text or "e" in text or "E" in text:
        return REAL, float(text)
    if len(text) > _MAX_DIGITS:
        raise error(f"integer literal of {len(text)} digits is too long", start)
    if len(text) > 1 and text[0] == "0":  # MOF: a leading 0 means octal
        if "8" in text or "9" in text:
            raise error(f"malformed octal number {text!r}", start)
        return INT, int(text, 8)
    return INT, int(text)


def scan(text: str, pos: Positions) -> Tuple[List[str], List[Any], List[int], List[int]]:
    """The tokens of ``text`` as parallel lists (kinds, values, starts, ends), ending with one EOF token.

    A punctuation token's kind is the character itself (``"{"``), so the parser tests one list."""
    if not isinstance(text, str):
        raise TypeError(f"MOF text must be a str, not {type(text).__name__}")

    def error(message: str, offset: int) -> MofError:
        line, col = pos(offset)
        return MofError(message, line, col)

    kinds: List[str] = []
    vals: List[Any] = []
    starts: List[int] = []
    ends: List[int] = []
    kind_add, val_add, start_add, end_add = kinds.append, vals.append, starts.append, ends.append
    prev = 0
    for m in _TOKEN.finditer(text):
        if m.start() != prev:   # finditer skipped what no token matches: say what it is
            raise _diagnose(text, prev, error)
        g = m.lastgroup
        if g == "x":
            raise _diagnose(text, prev, error)
        start, end = m.span(g)  # type: ignore[arg-type]
        prev = end
        if g == "i":
            kind_add(IDENT)
            val_add(text[start:end])
        elif g == "p" or g == "d":
            c = text[start]
            kind_add(c)
            val_add(c)
        elif g == "s":
            body = text[start + 1:end - 1]
            kind_add(STRING)
            val_add(_unescape(body, start + 1, error) if "\\" in body else body)
        elif g == "n":
            k, value = _number(text[start:end], start, error)
            kind_add(k)
            val_add(value)
        elif g == "c":
            body = text[start + 1:end - 1]
            kind_add(CHAR)
            val_add(_unescape(body, start + 1, error) if body[0] == "\\" else body)
        elif g == "h":
            kind_add(PRAGMA)
            val_add("pragma")
        elif g == "a":
            kind_add(ALIAS)
            val_add(text[start + 1:end])
        else:
            kind_add(EOF)
            val_add(None)
            start_add(start)
            end_add(end)
            return kinds, vals, starts, ends
        start_add(start)
        end_add(end)
    raise _diagnose(text, prev, error)


def _diagnose(text: str, i: int, error: Callable[[str, int], MofError]) -> MofError:
    """Why no token matches at ``i`` (after skipping what the token regex skips)."""
    m = re.compile(_SKIP).match(text, i)
    j = m.end() if m else i
    n = len(text)
    if text.startswith("/*", j):
        return error("unterminated /* comment", j)
    c = text[j]
    if c == '"':
        k = j + 1
        while k < n and text[k] not in '"\r\n':
            if text[k] == "\\":
                if k + 1 >= n or text[k + 1] in "\r\n":
                    return error("unterminated escape sequence", k)
                k += 1
            k += 1
        return error("unterminated string literal", j)
    if c == "'":
        if j + 1 >= n or text[j + 1] in "\r\n'":
            return error("empty or unterminated character literal", j)
        if text[j + 1] == "\\" and j + 2 < n and text[j + 2] in "xX":
            return error(f"escape '\\{text[j + 2]}' needs 1 to 4 hex digits", j + 1)
        return error("unterminated character literal (one character between single quotes)", j)
    if c == "#":
        word = re.compile(r"#[ \t]*([A-Za-z_]\w*)").match(text, j)
        name = word.group(1) if word else ""
        if name.lower() in ("include", "define", "undef", "if", "ifdef", "ifndef", "else", "elif", "endif",
                            "line", "error"):
            return error(f"C preprocessor directive '#{name}' (only #pragma is MOF: run the file through the "
                         "C preprocessor first, as the driver kit's build does)", j)
        return error(f"unsupported preprocessor directive '#{name}' (only #pragma is MOF)", j)
    if c.isdigit() or c == ".":
        num = re.compile(r"[0-9A-Za-z_.]+").match(text, j)
        return error(f"malformed number {num.group(0) if num else c!r}", j)
    if c == "$":
        return error("expected an alias name after '$'", j)
    return error(f"unexpected character {c!r}", j)


def tokenize(text: str) -> List[Token]:
    """The tokens of ``text``, ending with one EOF token (with line and column; the parser uses scan())."""
    pos = Positions(text if isinstance(text, str) else "")
    out = []
    kinds, vals, starts, ends = scan(text, pos)
    for kind, value, start, end in zip(kinds, vals, starts, ends):
        line, col = pos(start)
        out.append(Token(PUNCT if kind in PUNCT_CHARS else kind, value, line, col, text[start:end]))
    return out
