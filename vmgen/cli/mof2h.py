"""``vmgen mof2h FILE.mof [-o OUT.h] [--class NAME] [--c-type Prop=UINT32 ...]``: a MOF class's C header.

Also the helpers ``vmgen decode --mof`` uses to turn a MOF file into a view class.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Dict, List, Optional

from .. import mof
from ..errors import MofError
from ..switch import layout as L
from ._input import read_capped


MAX_MOF = 64 << 20  # the most MOF text read (file or stdin); documented in docs/mof.md


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the .mof file (UTF-8, or UTF-16/UTF-8 with a BOM), or - for stdin")
    parser.add_argument("-o", "--output", metavar="OUT.h", help="write the header here (default: stdout)")
    add_class_arguments(parser)
    parser.add_argument("--name", help="the C struct's name (default: the MOF class name)")
    parser.add_argument("--guard", help="the include guard macro (default: VMGEN_<NAME>_H)")


def add_class_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--class", dest="class_name", metavar="NAME",
                        help="which class of the MOF (needed when it declares several)")
    parser.add_argument("--c-type", dest="c_types", action="append", default=[], metavar="PROP=CTYPE",
                        help="override one slot's C type, e.g. IntValue16=UINT32 (repeatable)")


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


def load_layout(path: str, class_name: Optional[str] = None, c_type_items: Optional[List[str]] = None,
                name: Optional[str] = None) -> L.Layout:
    """Parse ``path``, pick the class, lay it out; MofErrors name the file."""
    text = read_mof(path)
    shown = "<stdin>" if path == "-" else path
    try:
        with warnings.catch_warnings(record=True) as caught:   # included files' encodings: one line each
            warnings.simplefilter("always")
            doc = mof.parse_document(text, path=None if path == "-" else path)
        for w in caught:
            print(f"vmgen: warning: {w.message}", file=sys.stderr)
        cls = mof.select(doc.classes, class_name)
        return mof.layout(cls, c_types=parse_c_types(c_type_items or []), name=name)
    except MofError as exc:
        err = MofError(f"{shown}: {exc}")
        err.line, err.column = exc.line, exc.column
        raise err from None


def run(args: argparse.Namespace) -> int:
    if args.guard is not None and not (args.guard.isidentifier() and args.guard.isascii()):
        args._parser.error(f"--guard {args.guard!r} is not a C identifier")
    check_c_type_items(args._parser, args.c_types)
    lay = load_layout(args.file, args.class_name, args.c_types, args.name)
    header = lay.c_header(args.guard)
    if args.output and args.output != "-":
        tmp = args.output + ".tmp"
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(header)
        os.replace(tmp, args.output)
    else:
        sys.stdout.write(header)
    return 0
