"""``vmgen mof2h FILE.mof [-o OUT.h] [--class NAME] [--c-type Prop=UINT32 ...]``: a MOF class's C header.

Also the helpers ``vmgen decode --mof`` uses to turn a MOF file into a view class.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .. import mof
from ..errors import MofError
from ..mof._layout import parse_in_order
from ..mof._resolve import merge_documents
from ..switch import layout as L
from ._input import read_capped


MAX_MOF = 64 << 20  # the most MOF text read (file or stdin); documented in docs/mof.md


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="+", help="the .mof file (UTF-8, UTF-16, Windows-1252), or - for stdin; "
                        "more files (e.g. the superclass's) are read as one MOF")
    parser.add_argument("-o", "--output", metavar="OUT.h", help="write the header here (default: stdout)")
    add_class_arguments(parser)
    parser.add_argument("--name", help="the C struct's name (default: the MOF class name)")
    parser.add_argument("--guard", help="the include guard macro (default: VMGEN_<NAME>_H)")


def add_class_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--class", dest="class_name", metavar="NAME",
                        help="which class of the MOF (needed when it declares several)")
    parser.add_argument("--c-type", dest="c_types", action="append", default=[], metavar="PROP=CTYPE",
                        help="override one slot's C type, e.g. IntValue16=UINT32 (repeatable)")
    parser.add_argument("--resolve", action="store_true",
                        help="require the superclasses in the MOF read (default: they are used when present)")
    parser.add_argument("--cpp", dest="cpp", action="store_const", const="builtin", default=False,
                        help="C-preprocess the MOF first (driver-kit MOF: #include, #define, #if...)")
    parser.add_argument("--system-cpp", dest="cpp", action="store_const", const="system",
                        help="run the system cpp instead (function-like macros)")
    parser.add_argument("-I", dest="include_dirs", action="append", default=[], metavar="DIR",
                        help="with --cpp: a folder #include searches (repeatable)")
    parser.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VALUE]",
                        help="with --cpp: define a macro (repeatable)")


def read_mof(path: str) -> str:
    """The MOF text, decoded as vmgen.mof.decode_mof does (BOMs, UTF-16 without one, UTF-8, Windows-1252
    with a warning printed as one line)."""
    data = read_capped(path, MAX_MOF, "vmgen mof2h")
    text, warnings = mof.decode_mof(data, "<stdin>" if path == "-" else path)
    for message in warnings:
        print(f"vmgen: warning: {message}", file=sys.stderr)
    return text


def parse_c_types(items: List[str]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"--c-type {item!r}: expected PROPERTY=CTYPE, e.g. IntValue16=UINT32")
        out[key.strip()] = value.strip()
    return out


def check_c_type_items(parser: argparse.ArgumentParser, items: List[str]) -> None:
    """A malformed --c-type is a usage error (exit 2), found before any file is read."""
    try:
        for key, value in parse_c_types(items).items():
            if value not in mof.OVERRIDE_TYPES:
                raise ValueError(f"--c-type {key}={value}: unknown C type (one of {', '.join(mof.OVERRIDE_TYPES)})")
    except ValueError as exc:
        parser.error(str(exc))


def parse_defines(items: List[str]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key.isidentifier():
            raise ValueError(f"-D {item!r}: expected NAME or NAME=VALUE")
        out[key] = value if sep else "1"
    return out


def check_cpp_items(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """-I/-D without --cpp, or a malformed -D, are usage errors."""
    if (args.include_dirs or args.defines) and not args.cpp:
        parser.error("-I and -D go with --cpp (or --system-cpp)")
    try:
        parse_defines(args.defines)
    except ValueError as exc:
        parser.error(str(exc))


def load_layout(path: Any, class_name: Optional[str] = None, c_type_items: Optional[List[str]] = None,
                name: Optional[str] = None, *, cpp: Any = False, include_dirs: Sequence[str] = (),
                defines: Sequence[str] = (), require_resolve: bool = False) -> L.Layout:
    """Parse ``path`` (or a list of paths, read as one MOF), pick the class, resolve it against its
    superclasses when they were read (always with ``require_resolve``), lay it out; MofErrors name the file."""
    paths = [path] if isinstance(path, str) else list(path)
    if "-" in paths and len(paths) > 1:
        raise MofError("- (stdin) is the only MOF input when given")
    shown = ", ".join("<stdin>" if p == "-" else p for p in paths)
    docs = []
    try:
        def sources() -> Iterator[Tuple[str, Optional[str], List[str]]]:
            nonlocal shown
            for p in paths:
                text = read_mof(p)
                shown = "<stdin>" if p == "-" else p
                yield text, None if p == "-" else p, []
        for doc in parse_in_order(sources(), cpp=cpp, include_dirs=include_dirs,
                                  defines=parse_defines(list(defines))):
            for message in doc.warnings:   # included files' encodings, #warning: a line each
                print(f"vmgen: warning: {message}", file=sys.stderr)
            docs.append(doc)
        doc = docs[0] if len(docs) == 1 else merge_documents(docs)
        if len(docs) > 1:   # a class declared again in a later file
            printed = {m for d in docs for m in d.warnings}
            for message in doc.warnings:
                if message not in printed:
                    print(f"vmgen: warning: {message}", file=sys.stderr)
        shown = ", ".join("<stdin>" if p == "-" else p for p in paths)
        cls = mof.select(doc.classes, class_name)
        if cls.superclass and (require_resolve or mof.can_resolve(doc.classes, cls.name)):
            cls = mof.resolve(doc, cls.name)
        return mof.layout(cls, c_types=parse_c_types(c_type_items or []), name=name)
    except MofError as exc:
        err = MofError(f"{shown}: {exc}")
        err.line, err.column = exc.line, exc.column
        raise err from None


def run(args: argparse.Namespace) -> int:
    if args.guard is not None and not (args.guard.isidentifier() and args.guard.isascii()):
        args._parser.error(f"--guard {args.guard!r} is not a C identifier")
    check_c_type_items(args._parser, args.c_types)
    check_cpp_items(args._parser, args)
    lay = load_layout(args.file, args.class_name, args.c_types, args.name, cpp=args.cpp,
                      include_dirs=args.include_dirs, defines=args.defines, require_resolve=args.resolve)
    header = lay.c_header(args.guard)
    if args.output and args.output != "-":
        tmp = args.output + ".tmp"
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(header)
        os.replace(tmp, args.output)
    else:
        sys.stdout.write(header)
    return 0
