"""The C preprocessor subset driver-kit MOF uses, and reading preprocessor output (see docs/mof.md).

Driver MOF such as Windows-driver-samples' storage/iscsi is C-preprocessed before mofcomp sees it (the
sample ships that output too, ``iscsihba.mof``): ``#define`` object-like macros (types and qualifier lists,
continued with ``\\``), ``#include "file"`` (MOF files and headers that define macros), and conditionals.
mofcomp itself documents only ``#pragma`` and ``#include ("file")``.

``preprocess(mode="lines")`` (no preprocessing asked): linemarkers (``# 12 "f.mof"``, ``#line 12 "f.mof"``)
move the positions errors are reported at; mofcomp's ``#include ("f.mof")`` becomes ``#pragma include``;
any other directive is an error that says to ask for the preprocessor.
``mode="builtin"``: ``\\``-newline splicing, ``#include "f"`` (the including file's folder, then the
include dirs) and ``<f>`` (the include dirs), ``#define``/``#undef`` of object-like macros, ``#if``,
``#ifdef``, ``#ifndef``, ``#elif``, ``#else``, ``#endif`` (integer expressions with ``defined``, ``!``,
``&&``, ``||``, comparisons, ``+ - * / %``), ``#error``, linemarkers. Function-like macros are refused
(``mode="system"`` runs the system ``cpp`` for them). Macros are not expanded inside strings or comments,
or in ``#pragma`` lines (as cpp does).

Every output line keeps its origin (file, line), so a MofError points into the file that has the problem.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ..errors import MofError

Loader = Callable[[str], Tuple[str, List[str]]]
Origin = Tuple[str, int]

_MAX_INCLUDE_DEPTH = 64
_MAX_EXPANSION = 1 << 20   # characters one line may grow to by macro expansion
_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*(?![pP][rR][aA][gG][mM][aA]\b)", re.M)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Tokens of a text line: strings, chars, comments (a /* may run past the line), identifiers, the rest.
_TEXT = re.compile(r'''"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|//[^\n]*|/\*|[A-Za-z_][A-Za-z0-9_]*|[^"'/A-Za-z_]+|.''')
_LINEMARKER = re.compile(r'[ \t]*(?:line[ \t]+)?([0-9]+)(?:[ \t]+"((?:[^"\\]|\\.)*)")?[ \t]*(?:[0-9 \t]*)$')


def _strip_comments(text: str) -> str:
    """``text`` without its comments (not those inside strings), as cpp sees a directive's operands."""
    parts: List[str] = []
    pos = 0
    while pos < len(text):
        m = _TEXT.match(text, pos)
        assert m is not None
        tok = m.group(0)
        if tok.startswith("//"):
            break
        if tok == "/*":
            end = text.find("*/", m.end())
            if end < 0:
                break
            parts.append(" ")
            pos = end + 2
            continue
        parts.append(tok)
        pos = m.end()
    return "".join(parts).strip()


def has_directives(text: str) -> bool:
    """Whether ``text`` has a line starting with a directive other than #pragma (one regex search)."""
    return _DIRECTIVE.search(text) is not None


class _Error(Exception):
    pass


_MAIN = "<MOF>"


def _error(origin: Origin, message: str, main: str = _MAIN) -> MofError:
    """A MofError at the start of the line ``origin``; one in another file than ``main`` names that file."""
    if origin[0] == main:
        return MofError(message, origin[1], 1)
    err = MofError(f"{origin[0]}: line {origin[1]}, column 1: {message}")
    err.line, err.column = origin[1], 1
    err.included = True  # type: ignore[attr-defined]   (already names its file)
    return err


def _logical_lines(text: str, splice: bool) -> List[Tuple[str, int]]:
    """(line, first physical line number); with ``splice``, a backslash-newline joins two lines."""
    physical = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not splice:
        return [(line, i + 1) for i, line in enumerate(physical)]
    out: List[Tuple[str, int]] = []
    buf: List[str] = []
    start = 0
    for i, line in enumerate(physical):
        if not buf:
            start = i + 1
        if line.endswith("\\"):
            buf.append(line[:-1])
            continue
        buf.append(line)
        out.append(("".join(buf), start))
        buf = []
    if buf:
        out.append(("".join(buf), start))
    return out


class _Expr:
    """``#if`` expressions: integers, defined(X), macros, ! ~ - + * / % < > <= >= == != && || ( )."""

    _TOK = re.compile(r"\s*(?:(0[xX][0-9A-Fa-f]+|[0-9]+)[uUlL]*|([A-Za-z_]\w*)|(&&|\|\||==|!=|<=|>=|[-+*/%<>!~()]))")

    def __init__(self, text: str, macros: Dict[str, str], expand: Callable[[str], str]) -> None:
        self.toks: List[Tuple[str, object]] = []
        text = self._defined(text, macros)
        text = expand(text)
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = self._TOK.match(text, pos)
            if m is None:
                raise _Error(f"cannot read #if expression at {text[pos:pos + 20]!r}")
            pos = m.end()
            if m.group(1):
                digits = m.group(1)
                try:
                    number = int(digits, 16) if digits[:2] in ("0x", "0X") else int(digits, 8 if digits[0] == "0" else 10)
                except ValueError:
                    raise _Error(f"malformed number {digits!r} in #if expression") from None
                self.toks.append(("n", number))
            elif m.group(2):
                self.toks.append(("n", 0))   # an identifier left after expansion is 0, as in C
            else:
                self.toks.append(("o", m.group(3)))
        self.i = 0

    @staticmethod
    def _defined(text: str, macros: Dict[str, str]) -> str:
        def sub(m: "re.Match[str]") -> str:
            return " 1 " if (m.group(1) or m.group(2)) in macros else " 0 "
        return re.sub(r"\bdefined\s*(?:\(\s*([A-Za-z_]\w*)\s*\)|([A-Za-z_]\w*))", sub, text)

    def value(self) -> int:
        if not self.toks:
            raise _Error("#if needs an expression")
        v = self.binary(0)
        if self.i != len(self.toks):
            raise _Error(f"unexpected {self.toks[self.i][1]!r} in #if expression")
        return v

    _PREC = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4, "+": 5, "-": 5,
             "*": 6, "/": 6, "%": 6}

    def binary(self, min_prec: int) -> int:
        left = self.unary()
        while self.i < len(self.toks):
            kind, op = self.toks[self.i]
            prec = self._PREC.get(op) if kind == "o" else None  # type: ignore[arg-type]
            if prec is None or prec < min_prec:
                break
            self.i += 1
            right = self.binary(prec + 1)
            left = self.apply(str(op), left, right)
        return left

    @staticmethod
    def apply(op: str, a: int, b: int) -> int:
        if op in ("/", "%") and b == 0:
            raise _Error("division by zero in #if expression")
        return {"||": lambda: int(bool(a or b)), "&&": lambda: int(bool(a and b)), "==": lambda: int(a == b),
                "!=": lambda: int(a != b), "<": lambda: int(a < b), ">": lambda: int(a > b),
                "<=": lambda: int(a <= b), ">=": lambda: int(a >= b), "+": lambda: a + b, "-": lambda: a - b,
                "*": lambda: a * b, "/": lambda: int(a / b), "%": lambda: a - b * int(a / b)}[op]()

    def unary(self) -> int:
        if self.i >= len(self.toks):
            raise _Error("#if expression ends too soon")
        kind, tok = self.toks[self.i]
        self.i += 1
        if kind == "n":
            return int(tok)  # type: ignore[call-overload]
        if tok == "(":
            v = self.binary(0)
            if self.i >= len(self.toks) or self.toks[self.i][1] != ")":
                raise _Error("missing ')' in #if expression")
            self.i += 1
            return v
        if tok == "!":
            return int(not self.unary())
        if tok == "~":
            return ~self.unary()
        if tok == "-":
            return -self.unary()
        if tok == "+":
            return self.unary()
        raise _Error(f"unexpected {tok!r} in #if expression")


class Preprocessor:
    def __init__(self, mode: str, loader: Loader, include_dirs: Sequence[str] = (),
                 defines: Optional[Dict[str, str]] = None) -> None:
        self.mode = mode
        self.loader = loader
        self.include_dirs = [os.path.abspath(d) for d in include_dirs]
        self.macros: Dict[str, str] = dict(defines or {})
        self.out: List[str] = []
        self.origins: List[Origin] = []
        self.files: List[str] = []
        self.warnings: List[str] = []
        self.main = _MAIN

    # -- macro expansion --------------------------------------------------------------------------------
    def expand(self, text: str, disabled: frozenset = frozenset(), depth: int = 0) -> str:
        if not self.macros or depth > 200:
            return text
        parts: List[str] = []
        changed = False
        for m in _TEXT.finditer(text):
            tok = m.group(0)
            if tok in self.macros and tok not in disabled:
                parts.append(self.expand(self.macros[tok], disabled | {tok}, depth + 1))
                changed = True
            else:
                parts.append(tok)
        out = "".join(parts) if changed else text
        if len(out) > _MAX_EXPANSION:
            raise _Error(f"macro expansion grows a line past {_MAX_EXPANSION} characters")
        return out

    def expand_text(self, line: str, in_comment: bool, expand: bool) -> Tuple[str, bool]:
        """Expand the macros of a text line outside strings and comments; whether a /* stays open."""
        parts: List[str] = []
        pos = 0
        n = len(line)
        while pos < n:
            if in_comment:
                end = line.find("*/", pos)
                if end < 0:
                    parts.append(line[pos:])
                    return "".join(parts), True
                parts.append(line[pos:end + 2])
                pos = end + 2
                in_comment = False
                continue
            m = _TEXT.match(line, pos)
            assert m is not None
            tok = m.group(0)
            if tok == "/*":
                in_comment = True
                parts.append(tok)
            elif tok[0] in "\"'" or tok.startswith("//"):
                parts.append(tok)
            elif expand and tok in self.macros:
                parts.append(self.expand(tok))
            else:
                parts.append(tok)
            pos = m.end()
        return "".join(parts), in_comment

    # -- files ------------------------------------------------------------------------------------------
    def run(self, text: str, path: str) -> None:
        self.main = path
        self.file(text, path, (), 0)

    def find_include(self, name: str, quoted: bool, current: str) -> Optional[str]:
        name = name.replace("\\", os.sep)
        here = quoted and current != _MAIN   # text without a path has no folder of its own
        dirs = ([os.path.dirname(os.path.abspath(current))] if here else []) + self.include_dirs
        if os.path.isabs(name):
            return name if os.path.isfile(name) else None
        for d in dirs:
            candidate = os.path.normpath(os.path.join(d, name))
            if os.path.isfile(candidate):
                return candidate
        return None

    def file(self, text: str, path: str, including: Tuple[str, ...], depth: int) -> None:
        builtin = self.mode == "builtin"
        shown = path
        line_base = 0          # a linemarker's shift: reported line = physical line + line_base
        stack: List[Tuple[bool, bool, bool, Origin]] = []  # (active, taken, seen_else, where #if was)
        active = True
        in_comment = False
        for line, number in _logical_lines(text, splice=builtin):
            origin = (shown, number + line_base)
            stripped = line.lstrip(" \t")
            if in_comment or not stripped.startswith("#"):
                try:
                    line, in_comment = self.expand_text(line, in_comment, builtin and active)
                except _Error as exc:
                    raise _error(origin, str(exc), self.main) from None
                self.emit(line if active else "", origin)
                continue
            body = stripped[1:].lstrip(" \t")
            m = _NAME.match(body)
            word = m.group(0) if m else ""
            rest = body[len(word):].strip()
            marker = None if word not in ("", "line") else _LINEMARKER.match(body)
            try:
                if marker is not None:
                    if active:
                        if marker.group(2) is not None:
                            name = marker.group(2).replace("\\\\", "\\")
                            shown = path if name in ("<stdin>", "-") else name
                        line_base = int(marker.group(1)) - number - 1
                    self.emit("", origin)
                    continue
                if word.lower() == "pragma":
                    self.emit(line if active else "", origin)
                    continue
                if not builtin:
                    m2 = re.fullmatch(r'\(\s*"((?:[^"\\]|\\.)*)"\s*\)\s*(?://.*)?', rest) if word == "include" else None
                    if m2 is not None:   # mofcomp's #include ("file"): the parser reads it as #pragma include
                        self.emit(f'#pragma include("{m2.group(1)}")', origin)
                        continue
                    raise _Error(f"C preprocessor directive '#{word}' (MOF has only #pragma and mofcomp's "
                                 "#include (\"file\"): ask for the preprocessor: parse_file(path, cpp=True), "
                                 "vmgen mof2h --cpp)")
                rest = _strip_comments(rest)
                if word in ("if", "ifdef", "ifndef"):
                    if not active:
                        stack.append((active, True, False, origin))
                    else:
                        cond = self.condition(word, rest)
                        stack.append((active, cond, False, origin))
                        active = cond
                    self.emit("", origin)
                    continue
                if word in ("elif", "else", "endif"):
                    if not stack:
                        raise _Error(f"#{word} without #if")
                    outer, taken, seen_else, where = stack[-1]
                    if word == "endif":
                        stack.pop()
                        active = outer
                    elif seen_else:
                        raise _Error(f"#{word} after #else (the #if is at line {where[1]})")
                    elif word == "else":
                        stack[-1] = (outer, True, True, where)
                        active = outer and not taken
                    else:
                        cond = (not taken) and outer and bool(self.condition("if", rest))
                        stack[-1] = (outer, taken or cond, False, where)
                        active = cond
                    self.emit("", origin)
                    continue
                if not active:
                    self.emit("", origin)
                    continue
                if word == "define":
                    self.define(rest)
                elif word == "undef":
                    self.macros.pop(rest.split()[0] if rest else "", None)
                elif word == "include":
                    self.emit("", origin)
                    self.include(rest, path, including, depth, origin)
                    continue
                elif word == "error":
                    raise _Error(f"#error {rest}")
                elif word == "warning":
                    self.warnings.append(f"{origin[0]}: line {origin[1]}: #warning {rest}")
                elif word == "" and not rest:
                    pass   # a lone '#' is a null directive
                else:
                    raise _Error(f"unsupported preprocessor directive '#{word}'")
                self.emit("", origin)
            except _Error as exc:
                raise _error(origin, str(exc), self.main) from None
        if stack:
            raise _error(stack[-1][3], "#if without #endif", self.main)

    def emit(self, line: str, origin: Origin) -> None:
        self.out.append(line)
        self.origins.append(origin)

    def condition(self, word: str, rest: str) -> bool:
        if word in ("ifdef", "ifndef"):
            m = _NAME.fullmatch(rest)
            if m is None:
                raise _Error(f"#{word} needs one macro name, not {rest!r}")
            return (rest in self.macros) == (word == "ifdef")
        return _Expr(rest, self.macros, self.expand).value() != 0

    def define(self, rest: str) -> None:
        m = _NAME.match(rest)
        if m is None:
            raise _Error(f"#define needs a macro name, not {rest[:30]!r}")
        name = m.group(0)
        if rest[m.end():m.end() + 1] == "(":
            raise _Error(f"function-like macro {name}(...) is not supported by vmgen's preprocessor "
                         "(cpp='system', vmgen mof2h --cpp=system, runs the system cpp)")
        self.macros[name] = rest[m.end():].strip()

    def include(self, rest: str, current: str, including: Tuple[str, ...], depth: int, origin: Origin) -> None:
        rest = self.expand(rest) if rest[:1] not in ('"', "<", "(") else rest
        m = re.fullmatch(r'"([^"]+)"|<([^>]+)>|\(\s*"([^"]+)"\s*\)', rest)
        if m is None:
            raise _Error(f'#include needs "file" or <file>, not {rest[:40]!r}')
        name = m.group(1) or m.group(2) or m.group(3)
        target = self.find_include(name, m.group(2) is None, current)
        if target is None:
            here = m.group(2) is None and current != _MAIN
            searched = ([os.path.dirname(os.path.abspath(current))] if here else []) + self.include_dirs
            raise _Error(f"#include {rest}: not found (searched {', '.join(searched) or 'no folder'}; "
                         "add folders with include_dirs=... or -I)")
        if target in including or target == os.path.abspath(current):
            raise _Error(f"#include {rest} includes itself")
        if depth >= _MAX_INCLUDE_DEPTH:
            raise _Error(f"#include nested more than {_MAX_INCLUDE_DEPTH} deep")
        try:
            text, warnings = self.loader(target)
        except OSError as exc:
            raise _Error(f"#include {rest}: {exc.strerror or exc}") from None
        self.files.append(target)
        self.warnings += warnings
        self.file(text, target, including + (os.path.abspath(current),), depth + 1)


def preprocess(text: str, path: Optional[str], mode: str, loader: Loader, include_dirs: Iterable[str] = (),
               defines: Optional[Dict[str, str]] = None) -> Tuple[str, List[Origin], List[str], List[str]]:
    """(text, origin of every line, files included, warnings); see the module docstring for ``mode``."""
    if mode == "system":
        text = run_system_cpp(text, path, include_dirs, defines)
        mode = "lines"
    pp = Preprocessor(mode, loader, list(include_dirs), defines)
    pp.run(text, path or _MAIN)
    return "\n".join(pp.out), pp.origins, pp.files, pp.warnings


def run_system_cpp(text: str, path: Optional[str], include_dirs: Iterable[str],
                   defines: Optional[Dict[str, str]]) -> str:
    """The output of the system C preprocessor (``cpp``, else ``gcc -E``), with linemarkers; -undef keeps
    gcc's own macros (``linux``, ``unix``) out of MOF identifiers."""
    exe = shutil.which("cpp")
    cmd = [exe] if exe else ([shutil.which("gcc"), "-E"] if shutil.which("gcc") else None)
    if cmd is None:
        raise MofError("cpp='system' needs the C preprocessor (cpp or gcc) on PATH")
    cmd += ["-x", "c", "-undef", "-nostdinc"]
    if path is not None:
        cmd += ["-iquote", os.path.dirname(os.path.abspath(path))]
    for d in include_dirs:
        cmd += ["-I", d]
    for name, value in (defines or {}).items():
        cmd += ["-D", f"{name}={value}"]
    cmd.append("-")
    proc = subprocess.run(cmd, input=text.encode("utf-8"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          check=False, cwd=os.path.dirname(os.path.abspath(path)) if path else None)
    if proc.returncode != 0:
        errors = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if "error" in ln]
        raise MofError(f"{path or '<MOF>'}: the C preprocessor failed: " + ("; ".join(errors[:3]) or
                       proc.stderr.decode("utf-8", "replace")[:300]))
    return proc.stdout.decode("utf-8", "replace")
