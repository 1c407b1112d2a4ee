"""``vmgen decode KIND FILE|-`` (or ``--mof FILE.mof [--class NAME] FILE|-``): pretty-print a switch buffer read from a file or stdin, binary or hex."""
from __future__ import annotations

import argparse
import json
import re
import uuid
from typing import Any, Dict, List, Optional, Tuple

from .. import switch as views
from ..errors import LayoutError
from ..switch._format import format_view
from ._input import read_capped

KINDS = {
    "nic-save-state": "NicSaveState",
    "feature-settings": "FeatureSettings",
    "port-property": "PortPropertyParameters",
    "switch-property": "SwitchPropertyParameters",
    "property-custom": "PropertyCustom",
}
_HEX = re.compile(rb"^(?:0x)?[0-9a-fA-F\s:,-]*$")
# The most input decode reads (file or stdin, raw or hex text): switch buffers are kilobytes; the cap keeps
# `vmgen decode KIND /dev/zero` or an endless pipe from eating memory. Documented in docs/mof.md.
MAX_INPUT = 64 << 20


def _offset(text: str) -> int:
    """--offset: a non-negative int (0x.. ok); anything else is a usage error."""
    try:
        value = int(text, 0)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a byte offset >= 0 (decimal or 0x hex), not {text!r}")
    return value


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    # KIND is optional so that `vmgen decode --mof FILE.mof BUFFER` needs none; run() insists on one of them.
    parser.add_argument("kind", nargs="?", choices=sorted(KINDS),
                        help="which structure the buffer holds (omit with --mof: the buffer is that class)")
    parser.add_argument("file", help="a file with the buffer, or - for stdin (raw bytes or hex text; "
                                     f"at most {MAX_INPUT >> 20} MiB)")
    parser.add_argument("--mof", metavar="FILE.mof",
                        help="decode with a MOF class's layout: the whole buffer, or with port-property/"
                             "switch-property the policy struct inside the custom property")
    from .mof2h import add_class_arguments

    add_class_arguments(parser)
    parser.set_defaults(_decode_parser=parser)
    parser.add_argument("--offset", type=_offset, default=0, metavar="BYTES",
                        help="where the structure starts in the buffer (default 0)")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--hex", action="store_true", help="the input is hex text (default: guess)")
    fmt.add_argument("--binary", action="store_true", help="the input is raw bytes (default: guess)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the readable form")
    parser.add_argument("--payload", choices=("feature-settings",),
                        help="port/switch-property: also decode the policy struct inside the custom property")


def read_input(path: str, force_hex: bool = False, force_binary: bool = False) -> bytes:
    """Raw bytes, or hex text (whitespace, colons, commas, dashes and a 0x prefix are ignored)."""
    data = read_capped(path, MAX_INPUT, "vmgen decode")
    looks_hex = bool(data.strip()) and _HEX.match(data) is not None
    if force_hex or (looks_hex and not force_binary):
        text = re.sub(rb"[\s:,-]", b"", data)
        text = text[2:] if text[:2].lower() == b"0x" else text
        try:
            return bytes.fromhex(text.decode("ascii"))
        except ValueError as exc:
            raise ValueError(f"{path}: not valid hex: {exc}") from None
    return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, memoryview):
        return value.tobytes().hex() if value.format == "B" else value.tolist()
    return value


def decode(kind: Optional[str], data: bytes, offset: int = 0, payload: str = "",
           payload_type: Any = None) -> List[Tuple[str, Any]]:
    """The structures found, outermost first: [(title, view), ...]. Raises LayoutError on malformed input.

    ``kind=None`` with ``payload_type`` (a view class, e.g. a MOF layout's) decodes the buffer as that type;
    with a property kind, ``payload_type`` decodes the policy struct inside the custom property."""
    if offset > len(data):
        raise LayoutError(f"offset {offset} is past the end of the {len(data)}-byte buffer")
    if kind is None:
        view = payload_type(data, offset)
        view.to_dict()
        return [(type(view).__name__, view)]
    view_type = getattr(views, KINDS[kind])
    view = view_type(data, offset)
    view.to_dict()  # every field decodes, every offset is in bounds, or LayoutError says which is not
    found: List[Tuple[str, Any]] = [(KINDS[kind], view)]
    if kind == "nic-save-state":
        view.validate()
    if kind in ("port-property", "switch-property"):
        custom = view.custom()
        custom.to_dict()
        found.append(("PropertyCustom", custom))
        if payload == "feature-settings":
            payload_type = views.FeatureSettings
        if payload_type is not None:
            settings = custom.settings(payload_type)
            settings.to_dict()
            found.append((payload_type.__name__, settings))
    return found


def run(args: argparse.Namespace) -> int:
    payload_type = None
    if args.mof:
        if args.kind not in (None, "port-property", "switch-property") or args.payload:
            args._decode_parser.error("--mof decodes the whole buffer, or the payload of port-property/"
                                      "switch-property; it does not combine with another KIND or --payload")
        from .mof2h import check_c_type_items, check_cpp_items, load_layout

        check_c_type_items(args._decode_parser, args.c_types)
        check_cpp_items(args._decode_parser, args)
        payload_type = load_layout(args.mof, args.class_name, args.c_types, cpp=args.cpp,
                                   include_dirs=args.include_dirs, defines=args.defines,
                                   require_resolve=args.resolve).view_type
    elif args.kind is None:
        args._decode_parser.error("the following arguments are required: kind (or --mof FILE.mof)")
    elif args.class_name or args.c_types or args.cpp or args.resolve or args.include_dirs or args.defines:
        args._decode_parser.error("--class, --c-type, --resolve, --cpp, -I and -D go with --mof")
    data = read_input(args.file, args.hex, args.binary)
    try:
        found = decode(args.kind, data, args.offset, args.payload or "", payload_type)
    except LayoutError as exc:
        raise LayoutError(f"{args.file}: {exc}", exc.field) from None
    if args.json:
        out: Dict[str, Any] = {title: {k: _jsonable(v) for k, v in view.to_dict().items()} for title, view in found}
        print(json.dumps(out, indent=2))
    else:
        print("\n\n".join(format_view(view) for _, view in found))
    return 0
