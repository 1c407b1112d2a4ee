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
_MAX_MACRO_DEPTH = 200     # macros expanding to macros (Python recursion; cpp has no limit)
_MAX_WORK = 1 << 26        # tokens macro expansion may look at in one run (empty macros give no output to cap)
_MAX_OUTPUT = 64 << 20     # characters of preprocessed text, includes and expansions together (the CLI's cap)
_MAX_LINE_NUMBER = (1 << 31) - 1   # the largest linemarker number cpp accepts
CPP_TIMEOUT = 120.0        # seconds the system cpp may run
_CPP_MEMORY = 4 << 30      # address space the system cpp may use (POSIX)
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


_MAX_EXPR_DEPTH = 200      # nested parentheses / unary operators in one #if (Python recursion)
_INTMAX = 1 << 63


class _Expr:
    """``#if`` expressions with cpp's integer semantics: intmax_t/uintmax_t (64 bits), a value with a ``u``
    suffix or too large for intmax_t is unsigned and makes the other operand unsigned, arithmetic wraps;
    integers, defined(X), macros, ! ~ - + * / % < > <= >= == != && || ( )."""

    _TOK = re.compile(r"\s*(?:(0[xX][0-9A-Fa-f]+|[0-9]+)([uUlL]*)|([A-Za-z_]\w*)|(&&|\|\||==|!=|<=|>=|[-+*/%<>!~()]))")

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
                if len(digits) > 24:   # longer than any 64-bit constant (int() refuses 4,300+ digits)
                    raise _Error(f"integer constant {digits[:20]}... is too large for #if (64 bits)")
                try:
                    number = int(digits, 16) if digits[:2] in ("0x", "0X") else int(digits, 8 if digits[0] == "0" else 10)
                except ValueError:
                    raise _Error(f"malformed number {digits!r} in #if expression") from None
                if number >= 1 << 64:
                    raise _Error(f"integer constant {digits} is too large for #if (64 bits)")
                self.toks.append(("n", (number, "u" in m.group(2).lower() or number >= _INTMAX)))
            elif m.group(3):
                self.toks.append(("n", (0, False)))   # an identifier left after expansion is 0, as in C
            else:
                self.toks.append(("o", m.group(4)))
        self.i = 0
        self.depth = 0

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
        return v[0]

    _PREC = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4, "+": 5, "-": 5,
             "*": 6, "/": 6, "%": 6}

    def nest(self) -> None:
        self.depth += 1
        if self.depth > _MAX_EXPR_DEPTH:
            raise _Error(f"#if expression nested too deep (more than {_MAX_EXPR_DEPTH} levels)")

    def binary(self, min_prec: int) -> Tuple[int, bool]:
        self.nest()
        left = self.unary()
        while self.i < len(self.toks):
            kind, op = self.toks[self.i]
            prec = self._PREC.get(op) if kind == "o" else None  # type: ignore[arg-type]
            if prec is None or prec < min_prec:
                break
            self.i += 1
            right = self.binary(prec + 1)
            left = self.apply(str(op), left, right)
        self.depth -= 1
        return left

    @staticmethod
    def wrap(v: int, unsigned: bool) -> Tuple[int, bool]:
        v &= (1 << 64) - 1
        return (v if unsigned or v < _INTMAX else v - (1 << 64)), unsigned

    @classmethod
    def apply(cls, op: str, x: Tuple[int, bool], y: Tuple[int, bool]) -> Tuple[int, bool]:
        if op == "||":
            return int(bool(x[0] or y[0])), False
        if op == "&&":
            return int(bool(x[0] and y[0])), False
        unsigned = x[1] or y[1]   # the usual arithmetic conversions
        a, _ = cls.wrap(x[0], unsigned)
        b, _ = cls.wrap(y[0], unsigned)
        if op in ("/", "%"):
            if b == 0:
                raise _Error("division by zero in #if expression")
            q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)   # C truncates toward zero
            return cls.wrap(q if op == "/" else a - b * q, unsigned)
        if op in ("==", "!=", "<", ">", "<=", ">="):
            return int({"==": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]), False
        return cls.wrap({"+": a + b, "-": a - b, "*": a * b}[op], unsigned)

    def unary(self) -> Tuple[int, bool]:
        if self.i >= len(self.toks):
            raise _Error("#if expression ends too soon")
        kind, tok = self.toks[self.i]
        self.i += 1
        if kind == "n":
            return tok  # type: ignore[return-value]
        if tok == "(":
            v = self.binary(0)
            if self.i >= len(self.toks) or self.toks[self.i][1] != ")":
                raise _Error("missing ')' in #if expression")
            self.i += 1
            return v
        if tok in ("!", "~", "-", "+"):
            self.nest()
            v, unsigned = self.unary()
            self.depth -= 1
            if tok == "!":
                return int(not v), False
            return self.wrap(~v if tok == "~" else -v if tok == "-" else v, unsigned)
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
        self.size = 0
        self.work = 0
        self.memo: Dict[str, str] = {}
        self.memo_size = 0

    # -- macro expansion --------------------------------------------------------------------------------
    def expand(self, text: str, disabled: frozenset = frozenset(), depth: int = 0) -> str:
        if not self.macros:
            return text
        if depth > _MAX_MACRO_DEPTH:
            raise _Error(f"macros nested more than {_MAX_MACRO_DEPTH} deep (a macro expanding to a macro ...)")
        parts: List[str] = []
        changed = False
        self.work += len(disabled) + 1
        for m in _TEXT.finditer(text):
            tok = m.group(0)
            self.work += 1
            if tok in self.macros and tok not in disabled:
                if self.work > _MAX_WORK:
                    raise _Error(f"macro expansion takes more than {_MAX_WORK} steps (macros expanding to many "
                                 "macros)")
                parts.append(self.expand(self.macros[tok], disabled | {tok}, depth + 1))
                changed = True
            else:
                parts.append(tok)
        out = "".join(parts) if changed else text
        if len(out) > _MAX_EXPANSION:
            raise _Error(f"macro expansion grows a line past {_MAX_EXPANSION} characters")
        return out

    def expand_macro(self, name: str) -> str:
        """A macro's expansion at the top level, remembered until a #define/#undef (a long expansion
        used on many lines is tokenized once); the memo holds at most _MAX_EXPANSION * 16 characters."""
        out = self.memo.get(name)
        if out is None:
            out = self.expand(name)
            if self.memo_size + len(out) <= _MAX_EXPANSION * 16:
                self.memo[name] = out
                self.memo_size += len(out)
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
                parts.append(self.expand_macro(tok))
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
        candidates = [name] if os.path.isabs(name) else [os.path.normpath(os.path.join(d, name)) for d in dirs]
        odd = None
        for candidate in candidates:
            if os.path.isfile(candidate):
                return candidate
            if odd is None and os.path.exists(candidate):
                odd = candidate
        if odd is not None:   # a folder, FIFO or device (reading one could hang or never end)
            raise _Error(f"#include {name}: {odd} is not a regular file")
        return None

    def file(self, text: str, path: str, including: Tuple[str, ...], depth: int) -> None:
        builtin = self.mode == "builtin"
        shown = path
        line_base = 0          # a linemarker's shift: reported line = physical line + line_base
        stack: List[Tuple[bool, bool, bool, Origin]] = []  # (active, taken, seen_else, where #if was)
        active = True
        in_comment = False
        hidden = False         # in a comment a directive line opened: the output has no /* for it
        for line, number in _logical_lines(text, splice=builtin):
            origin = (shown, number + line_base)
            stripped = line.lstrip(" \t")
            if hidden:
                end = line.find("*/")
                if end < 0:
                    self.emit("", origin)
                    continue
                line = " " * (end + 2) + line[end + 2:]   # columns stay those of the file
                hidden = in_comment = False
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
                            shown = path if name in ("<stdin>", "-", "") else name
                        digits = marker.group(1)
                        if len(digits) > 10 or int(digits) > _MAX_LINE_NUMBER:
                            raise _Error(f"line number {digits[:20]} out of range (at most {_MAX_LINE_NUMBER})")
                        line_base = int(digits) - number - 1
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
                # a /* the directive leaves open comments out the lines after it, as in cpp
                hidden = in_comment = self.expand_text(line, False, False)[1]
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
                    self.memo.clear()
                    self.memo_size = 0
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
        self.size += len(line) + 1
        if self.size > _MAX_OUTPUT:   # exponential #includes, or many lines each near the expansion cap
            raise _error(origin, f"preprocessed text grows past {_MAX_OUTPUT >> 20} MiB "
                                 "(#include or macro expansion blow-up)", self.main)
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
        self.memo.clear()
        self.memo_size = 0

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
    check_defines(defines)
    if isinstance(include_dirs, (str, bytes)):
        raise TypeError("include_dirs is a list of folders, not one string")
    include_dirs = list(include_dirs)
    for d in include_dirs:
        if not isinstance(d, str) or "\0" in d:
            raise ValueError(f"include_dirs: {d!r} is not a folder name")
    if mode == "system":
        text = run_system_cpp(text, path, include_dirs, defines)
        mode = "lines"
    pp = Preprocessor(mode, loader, list(include_dirs), defines)
    pp.run(text, path or _MAIN)
    return "\n".join(pp.out), pp.origins, pp.files, pp.warnings


def check_defines(defines: Optional[Dict[str, str]]) -> None:
    """ValueError for a macro name that is no C identifier or a value with a line break (it would end the
    #define and start another directive in cpp's command-line buffer)."""
    for name, value in (defines or {}).items():
        if not (isinstance(name, str) and _NAME.fullmatch(name)):
            raise ValueError(f"defines: macro name {name!r} is not a C identifier")
        if not isinstance(value, str) or "\n" in value or "\r" in value or "\0" in value:
            raise ValueError(f"defines: the value of {name} must be a string without line breaks or NULs, not {value!r}")


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
    out, err, code = _run_bounded(cmd, text.encode("utf-8"), os.path.dirname(os.path.abspath(path)) if path else None)
    if code is None:
        raise MofError(f"{path or '<MOF>'}: the C preprocessor ran longer than {CPP_TIMEOUT:g} s or wrote more "
                       f"than {_MAX_OUTPUT >> 20} MiB (an #include of a device, or a macro blow-up?); stopped")
    if code != 0:
        lines = [ln.strip() for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln]   # one line: the CLI prints an error per line
        raise MofError(f"{path or '<MOF>'}: the C preprocessor failed: " + ("; ".join(errors[:3]) or
                       "; ".join(lines)[:300] or f"exit status {code}"))
    return out.decode("utf-8", "replace")


def _limit_memory() -> None:   # in the child, before exec
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _CPP_MEMORY if hard == resource.RLIM_INFINITY else min(_CPP_MEMORY, hard)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _run_bounded(cmd: List[str], data: bytes, cwd: Optional[str]) -> Tuple[bytes, bytes, Optional[int]]:
    """(stdout, stderr, exit status) of ``cmd`` fed ``data``; status None when it ran past CPP_TIMEOUT or
    wrote more than _MAX_OUTPUT bytes (then it is killed). Every exit path reaps the child and its pipes."""
    import threading
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                            preexec_fn=_limit_memory if os.name == "posix" else None,
                            start_new_session=os.name == "posix")   # its own group: kill() reaches cc1 too

    def kill() -> None:
        if os.name == "posix":
            import signal
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:   # already gone
                pass
        else:
            proc.kill()
    chunks: Dict[str, List[bytes]] = {"out": [], "err": []}
    over = threading.Event()

    def drain(name: str, stream: object, cap: int) -> None:
        size = 0
        while True:
            block = stream.read(1 << 16)  # type: ignore[attr-defined]
            if not block:
                return
            size += len(block)
            if size > cap:
                over.set()
                kill()
                return
            chunks[name].append(block)

    def feed() -> None:
        try:
            proc.stdin.write(data)  # type: ignore[union-attr]
        except OSError:   # cpp stopped reading (an error, or killed)
            pass
        finally:
            try:
                proc.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass

    threads = [threading.Thread(target=drain, args=("out", proc.stdout, _MAX_OUTPUT), daemon=True),
               threading.Thread(target=drain, args=("err", proc.stderr, 1 << 20), daemon=True),
               threading.Thread(target=feed, daemon=True)]
    for t in threads:
        t.start()
    try:
        code: Optional[int] = proc.wait(timeout=CPP_TIMEOUT)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        kill()   # cpp's own children (cc1) too, whatever happened; they hold our pipes
        proc.wait()
        for t in threads:
            t.join()
        for stream in (proc.stdout, proc.stderr):
            stream.close()  # type: ignore[union-attr]
    if over.is_set():
        code = None
    return b"".join(chunks["out"]), b"".join(chunks["err"]), code
