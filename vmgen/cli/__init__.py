"""The ``vmgen`` command line. Each subcommand lives in its own module; this file only dispatches.

status, watch, simulate: the generation counter; decode: a switch buffer; mof2h: a MOF class's C header.
_counter_args holds what the counter subcommands share.

Exit codes: 0 ok, 1 error (one line on stderr, no traceback), 2 usage error (argparse).
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, List, Optional

from ..errors import VmgenError

# (name, module, help). Each module defines add_arguments(parser) and run(args) -> int.
_SUBCOMMANDS = [
    ("status", "vmgen.cli.status", "backend in use, every backend's availability, the current generation"),
    ("watch", "vmgen.cli.watch", "print each generation change with a timestamp until Ctrl-C"),
    ("simulate", "vmgen.cli.simulate", "drive a file-backed simulated counter: advance | set VALUE | show"),
    ("decode", "vmgen.cli.decode", "pretty-print a switch buffer (binary or hex input)"),
    ("mof2h", "vmgen.cli.mof2h", "compile a MOF class into a C header"),
]


def _load(module: str) -> Optional[object]:
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:  # a part not built into this install
        if exc.name == module:
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vmgen", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.epilog = "docs: README.md and docs/ (counter.md, windows.md, mof.md) in vmgen's sdist and source tree"
    sub = parser.add_subparsers(dest="command")
    for name, module, help_text in _SUBCOMMANDS:
        mod = _load(module)
        if mod is None:
            continue
        p = sub.add_parser(name, help=help_text)
        getattr(mod, "add_arguments")(name, p)
        p.set_defaults(_run=getattr(mod, "run"))
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Optional[Callable[[argparse.Namespace], int]] = getattr(args, "_run", None)
    if run is None:
        mod = _load("vmgen.cli.status")
        if mod is not None:
            args = parser.parse_args(["status"] + (argv or []))
            run = args._run
        else:
            run = _about
    try:
        return run(args)
    except KeyboardInterrupt:
        return 0 if args.command == "watch" else 130
    except (VmgenError, OSError, ValueError) as exc:
        print(f"vmgen: error: {exc}", file=sys.stderr)
        return 1


def _about(args: argparse.Namespace) -> int:
    import vmgen

    print(f"vmgen {vmgen.__version__}")
    print(f"buffer views: {vmgen.IMPLEMENTATION}")
    print("try: vmgen decode {nic-save-state,feature-settings,port-property} FILE|-")
    return 0
