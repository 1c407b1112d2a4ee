"""``vmgen simulate {advance,set VALUE,show} FILE``: drive a file-backed simulated counter from a shell."""
from __future__ import annotations

import argparse
from typing import Optional

from .. import counter as _counter


EXAMPLE = """example (keep the file in a directory only you can write, not /tmp):
  export VMGEN_SIMULATE="$XDG_RUNTIME_DIR/vmgen-sim"
  python my_service.py &             # vmgen.open() there returns this counter
  vmgen simulate advance "$VMGEN_SIMULATE"

FILE is opened as vmgen opens any counter file: not through a symlink, a regular file owned by you or root
and writable by nobody else; created with mode 0644 if missing (docs/counter.md, "Counter files")."""


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLE
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("action", choices=("advance", "set", "show"),
                        help="advance: +1 and wake waiters; set VALUE; show: print the generation")
    parser.add_argument("value", nargs="?", help="for set: an int (0x.. ok) or COUNT:HIGH in hex, "
                                                 "as `vmgen status` prints it")
    parser.add_argument("file", help="the shared counter file (created if missing)")


def _parse_value(text: Optional[str]) -> _counter.Generation:
    if text is None:
        raise ValueError("simulate set needs a VALUE")
    try:
        if ":" in text:
            low, _, high = text.partition(":")
            return _counter.Generation(int(low, 16), int(high, 16))
        return _counter.Generation.from_int(int(text, 0))
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"bad generation {text!r}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    if args.action != "set" and args.value is not None:
        raise ValueError(f"simulate {args.action} takes only FILE")
    with _counter.open("simulated", path=args.file) as c:
        if args.action == "advance":
            g = c.advance()
        elif args.action == "set":
            g = c.set(_parse_value(args.value))
        else:
            g = c.read()
        print(g)
    return 0
