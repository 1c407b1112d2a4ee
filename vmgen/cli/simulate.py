"""``vmgen simulate {advance,set VALUE,show} [FILE]``: drive a file-backed simulated counter from a shell.

FILE defaults to $VMGEN_SIMULATE, the file a plain ``vmgen.open()`` (and ``vmgen status``/``watch``) uses.
"""
from __future__ import annotations

import argparse
import os
from typing import Optional

from .. import counter as _counter


EXAMPLE = """example (keep the file in a directory only you can write, not /tmp):
  export VMGEN_SIMULATE="$XDG_RUNTIME_DIR/vmgen-sim"
  python my_service.py &             # vmgen.open() there returns this counter
  vmgen simulate advance "$VMGEN_SIMULATE"

FILE is opened as vmgen opens any counter file: not through a symlink, a regular file owned by you or root
and writable by nobody else; created with mode 0644 if missing (docs/counter.md, "Counter files")."""


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.usage = "vmgen simulate [-h] {advance,show} [FILE]\n       vmgen simulate [-h] set VALUE [FILE]"
    parser.epilog = EXAMPLE
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("action", choices=("advance", "set", "show"),
                        help="advance: +1 and wake waiters; set VALUE; show: print the generation")
    # [VALUE] [FILE]: argparse cannot tell `set VALUE` from `show FILE`; run() sorts the operands out.
    parser.add_argument("operands", nargs="*", metavar="[VALUE] [FILE]",
                        help="for set: VALUE, an int (0x.. ok) or COUNT:HIGH in hex, as `vmgen status` prints "
                             "it; FILE: the shared counter file (created if missing; default $VMGEN_SIMULATE)")


def _parse_value(text: str) -> _counter.Generation:
    try:
        if ":" in text:
            low, _, high = text.partition(":")
            return _counter.Generation(int(low, 16), int(high, 16))
        return _counter.Generation.from_int(int(text, 0))
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"bad generation {text!r}: {exc}") from None


def _operands(args: argparse.Namespace) -> "tuple[Optional[str], str]":
    parser: argparse.ArgumentParser = args._parser
    ops = list(args.operands)
    wanted = 1 if args.action == "set" else 0
    env = os.environ.get("VMGEN_SIMULATE") or None
    if len(ops) < wanted:
        parser.error("simulate set needs a VALUE")
    if len(ops) > wanted + 1:
        parser.error(f"simulate {args.action} takes {'VALUE [FILE]' if wanted else '[FILE]'}; "
                     f"extra: {' '.join(ops[wanted + 1:])}")
    value = ops[0] if wanted else None
    path = ops[wanted] if len(ops) > wanted else env
    if path is None:
        if args.action == "set" and len(ops) == 1 and not _looks_like_value(ops[0]):
            parser.error("simulate set needs a VALUE")   # `simulate set FILE`
        parser.error(f"simulate {args.action} needs FILE (or VMGEN_SIMULATE=FILE in the environment)")
    return value, path


def _looks_like_value(text: str) -> bool:
    try:
        _parse_value(text)
        return True
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    value, path = _operands(args)
    with _counter.open("simulated", path=path) as c:
        if args.action == "advance":
            g = c.advance()
        elif args.action == "set":
            assert value is not None
            g = c.set(_parse_value(value))
        else:
            g = c.read()
        print(g)
    return 0
