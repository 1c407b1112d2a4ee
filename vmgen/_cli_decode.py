"""``vmgen decode KIND FILE|-``: pretty-print a switch buffer read from a file or stdin, binary or hex."""
from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from typing import Any, Dict, List, Tuple

from . import views
from ._format import format_view
from .errors import LayoutError

KINDS = {
    "nic-save-state": "NicSaveState",
    "feature-settings": "FeatureSettings",
    "port-property": "PortPropertyParameters",
    "switch-property": "SwitchPropertyParameters",
    "property-custom": "PropertyCustom",
}
_HEX = re.compile(rb"^(?:0x)?[0-9a-fA-F\s:,-]*$")


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=sorted(KINDS), help="which structure the buffer holds")
    parser.add_argument("file", help="a file with the buffer, or - for stdin (raw bytes or hex text)")
    parser.add_argument("--offset", type=int, default=0, help="where the structure starts in the buffer")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--hex", action="store_true", help="the input is hex text (default: guess)")
    fmt.add_argument("--binary", action="store_true", help="the input is raw bytes (default: guess)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the readable form")
    parser.add_argument("--payload", choices=("feature-settings",),
                        help="port/switch-property: also decode the policy struct inside the custom property")


def read_input(path: str, force_hex: bool = False, force_binary: bool = False) -> bytes:
    """Raw bytes, or hex text (whitespace, colons, commas, dashes and a 0x prefix are ignored)."""
    data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
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


def decode(kind: str, data: bytes, offset: int = 0, payload: str = "") -> List[Tuple[str, Any]]:
    """The structures found, outermost first: [(title, view), ...]. Raises LayoutError on malformed input."""
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
            settings = custom.settings(views.FeatureSettings)
            settings.to_dict()
            found.append(("FeatureSettings", settings))
    return found


def run(args: argparse.Namespace) -> int:
    data = read_input(args.file, args.hex, args.binary)
    try:
        found = decode(args.kind, data, args.offset, args.payload or "")
    except LayoutError as exc:
        raise LayoutError(f"{args.file}: {exc}", exc.field) from None
    if args.json:
        out: Dict[str, Any] = {title: {k: _jsonable(v) for k, v in view.to_dict().items()} for title, view in found}
        print(json.dumps(out, indent=2))
    else:
        print("\n\n".join(format_view(view) for _, view in found))
    return 0
