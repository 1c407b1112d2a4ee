"""``vmgen status`` / ``vmgen watch`` / ``vmgen simulate``: the generation counter from a shell."""
from __future__ import annotations

import argparse
import datetime
import warnings
from typing import Optional

from . import counter as _counter
from .errors import VmgenError


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    if name in ("status", "watch"):
        parser.add_argument("--backend", choices=("windows", "vmclock", "vmgenid", "simulated"),
                            help="use this backend instead of the best available one")
        parser.add_argument("--path", help="device or file for --backend (vmclock page, simulated file)")
    if name == "status":
        parser.add_argument("--check", action="store_true",
                            help="exit 1 when no backend can see changes (for scripts); without it, status "
                                 "exits 0 whenever it could report")
    if name == "simulate":
        parser.add_argument("action", choices=("advance", "set", "show"),
                            help="advance: +1 and wake waiters; set VALUE; show: print the generation")
        parser.add_argument("value", nargs="?", help="for set: an int (0x.. ok) or COUNT:HIGH in hex, "
                                                     "as `vmgen status` prints it")
        parser.add_argument("file", help="the shared counter file (created if missing)")


def run(args: argparse.Namespace) -> int:
    return {"status": _status, "watch": _watch, "simulate": _simulate}[args.command or "status"](args)


def _open(args: argparse.Namespace) -> _counter.Counter:
    backend: Optional[str] = getattr(args, "backend", None)
    path: Optional[str] = getattr(args, "path", None)
    if path and not backend:
        raise ValueError("--path needs --backend")
    with warnings.catch_warnings():   # status shows the vmgenid caveat itself
        warnings.simplefilter("ignore", RuntimeWarning)
        return _counter.open(backend, path=path) if backend else _counter.open()


def _status(args: argparse.Namespace) -> int:
    infos = _counter.backends()
    width = max(len(i.name) for i in infos)
    try:
        c = _open(args)
    except (VmgenError, OSError) as exc:
        c = None
        if getattr(args, "backend", None):
            print(f"backend: none ({exc})")
        else:
            print("backend: none (no backend below can see changes; to test restore handling without a "
                  "hypervisor: VMGEN_SIMULATE=FILE and `vmgen simulate advance FILE`)")
    if c is not None:
        with c:
            print(f"backend: {c.backend} ({c.describe()})")
            print(f"generation: {c.read()}")
    print("backends:")
    for i in infos:
        print(f"  {i.name:<{width}}  {'available' if i.available else 'unavailable'}: {i.reason}")
    return 0 if c is not None or not getattr(args, "check", False) else 1


def _watch(args: argparse.Namespace) -> int:
    with _open(args) as c:
        g = c.read()
        print(f"{_now()} watching {c.backend} ({c.describe()}); generation {g}; Ctrl-C stops", flush=True)
        while True:
            g = c.wait(g)
            print(f"{_now()} changed: {g}", flush=True)


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")


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


def _simulate(args: argparse.Namespace) -> int:
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
