"""What the counter subcommands (status, watch) share: the --backend/--path options and opening the counter."""
from __future__ import annotations

import argparse
import warnings
from typing import Optional

from .. import counter as _counter


def add_counter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("windows", "vmclock", "vmgenid", "simulated"),
                        help="use this backend instead of the best available one")
    parser.add_argument("--path", help="device or file for --backend (vmclock page, simulated file)")


def open_counter(args: argparse.Namespace) -> _counter.Counter:
    backend: Optional[str] = getattr(args, "backend", None)
    path: Optional[str] = getattr(args, "path", None)
    if path and not backend:
        raise ValueError("--path needs --backend")
    with warnings.catch_warnings():   # status shows the vmgenid caveat itself
        warnings.simplefilter("ignore", RuntimeWarning)
        return _counter.open(backend, path=path) if backend else _counter.open()
