"""``vmgen status``: the backend in use, every backend's availability and reason, the current generation."""
from __future__ import annotations

import argparse
import os

from .. import counter as _counter
from ..errors import VmgenError
from ._counter_args import add_counter_arguments, open_counter


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    add_counter_arguments(parser)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when no backend can see changes (for scripts); without it, status "
                             "exits 0 whenever it could report")


def run(args: argparse.Namespace) -> int:
    infos = _counter.backends()
    width = max(len(i.name) for i in infos)
    sim = os.environ.get("VMGEN_SIMULATE")
    try:
        c = open_counter(args)
    except (VmgenError, OSError) as exc:
        c = None
        if getattr(args, "backend", None):
            print(f"backend: none ({exc})")
        elif sim:   # open() uses this file and nothing else: say why it cannot, in the list too
            why = f"VMGEN_SIMULATE={sim}: {exc}"
            print(f"backend: none ({why})")
            infos = [i if i.name != "simulated" else _counter.BackendInfo("simulated", False, why) for i in infos]
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
