"""The ``vmgen`` command line. Each subcommand lives in its own module; this file only dispatches.

status, watch, simulate: the generation counter; decode: a switch buffer; mof2h: a MOF class's C header.
_counter_args holds what the counter subcommands share.

Exit codes: 0 ok, 1 error (one line on stderr, no traceback), 2 usage error (argparse's usage and message).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple

from ..errors import VmgenError

# What `vmgen --help` tells a user (the module docstring above is for developers).
DESCRIPTION = ("Notice VM snapshot restore and clone (VM generation counters), and decode Hyper-V "
               "extensible-switch buffers and MOF policies. Without a command: `vmgen status`.")
EPILOG = ("Run `vmgen COMMAND --help` for a command's options. Exit status: 0 ok, 1 error, 2 usage error. "
          "docs: README.md, counter.md (status, watch, simulate, doctor), restore-hooks.md, switch.md, windows.md "
          "and mof.md (mof2h, decode --mof), in docs/ of vmgen's source distribution.")

# (name, module, help). Each module defines add_arguments(name, parser) and run(args) -> int.
_SUBCOMMANDS = [
    ("status", "vmgen.cli.status", "backend in use, every backend's availability, the current generation"),
    ("watch", "vmgen.cli.watch", "print each generation change with a timestamp until Ctrl-C"),
    ("simulate", "vmgen.cli.simulate", "drive a file-backed simulated counter: advance | set VALUE | show "
                                       "[FILE, default $VMGEN_SIMULATE]"),
    ("decode", "vmgen.cli.decode", "pretty-print a switch buffer (binary or hex input)"),
    ("mof2h", "vmgen.cli.mof2h", "compile a MOF class into a C header"),
    ("doctor", "vmgen.cli.doctor", "which generation source this machine uses, why not the others, how to fix"),
]

# Errors a command can meet at run time: one line, exit 1. (Usage errors go through parser.error: exit 2.)
_RUN_ERRORS: Tuple[type, ...] = (VmgenError, OSError, ValueError, OverflowError, TypeError, LookupError,
                                 MemoryError, RecursionError)


class _Parser(argparse.ArgumentParser):
    """Options and operands in any order (`decode nic-save-state --json state.bin`): argparse's
    intermixed parsing, used for every subcommand (none has sub-subcommands)."""

    _inner = False

    def parse_known_args(self, args: Optional[Sequence[str]] = None,  # type: ignore[override]
                         namespace: Optional[argparse.Namespace] = None) -> Tuple[argparse.Namespace, List[str]]:
        if self._inner or self._subparsers is not None:
            return super().parse_known_args(args, namespace)
        args = list(sys.argv[1:] if args is None else args)
        operands: List[str] = []
        if "--" in args:   # `-- -x.mof`: intermixed parsing loses what follows "--" when it starts with '-'
            k = args.index("--")
            args, operands = args[:k], args[k + 1:]
            # each '-'-named operand stands in as a name no argv string can be (a NUL), then is put back
            args += [f"\0operand{i}" if o.startswith("-") else o for i, o in enumerate(operands)]
        self._inner = True   # parse_known_intermixed_args calls parse_known_args itself on some Pythons
        try:
            ns, extra = self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False
        if operands:
            def real(v: Any) -> Any:
                if isinstance(v, str) and v.startswith("\0operand"):
                    return operands[int(v[len("\0operand"):])]
                return [real(x) for x in v] if isinstance(v, list) else v
            for key, value in vars(ns).items():
                setattr(ns, key, real(value))
            extra = real(extra)
        return ns, extra


def _load(module: str) -> Optional[Any]:
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:  # a part not built into this install
        if exc.name == module:
            return None
        raise


def _version() -> str:
    from .. import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vmgen", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"vmgen {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module, help_text in _SUBCOMMANDS:
        mod = _load(module)
        if mod is None:
            continue
        p = sub.add_parser(name, help=help_text, description=help_text[:1].upper() + help_text[1:] + ".")
        getattr(mod, "add_arguments")(name, p)
        p.set_defaults(_run=getattr(mod, "run"), _parser=p)
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
    except BrokenPipeError:   # `vmgen decode ... | head`: the reader left; stop quietly
        _silence_stdout()
        return 1
    except _RUN_ERRORS as exc:
        print(f"vmgen: error: {_one_line(exc)}", file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    import os

    try:   # the interpreter flushes stdout at exit and would report the broken pipe again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, (VmgenError, OSError, ValueError)) else f"{type(exc).__name__}: {text}"


def _about(args: argparse.Namespace) -> int:
    import vmgen

    print(f"vmgen {vmgen.__version__}")
    print(f"buffer views: {vmgen.IMPLEMENTATION}")
    print("try: vmgen decode {nic-save-state,feature-settings,port-property} FILE|-")
    return 0
