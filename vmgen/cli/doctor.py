"""``vmgen doctor``: which generation source this machine would use, why each other one is not usable, and
what would make it usable. Exits 0 when vmgen.open() would find a source that sees changes, else 1."""
from __future__ import annotations

import argparse
import json

from ..counter import _doctor


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the findings as one JSON object")
    parser.add_argument("--root", default="/", help=argparse.SUPPRESS)      # tests: a faked /sys, /dev, /proc
    parser.add_argument("--release", default=None, help=argparse.SUPPRESS)  # tests: the kernel release


def run(args: argparse.Namespace) -> int:
    r = _doctor.diagnose(root=args.root, release=args.release)
    if args.json:
        print(json.dumps({
            "ok": r.ok, "source": r.source, "why": r.why,
            "backends": [f._asdict() for f in r.findings],
            "kernel_rng": r.kernel_rng, "hooks": r.hooks,
        }, indent=2))
        return 0 if r.ok else 1
    print(f"source: {r.source} ({r.why})" if r.ok else f"source: none ({r.why})")
    for f in r.findings:
        mark = "usable" if f.usable else "not usable"
        print(f"  {f.name}: {mark}: {f.reason}")
        if f.remedy:
            print(f"    remedy: {f.remedy}")
    print(f"kernel RNG: {r.kernel_rng}")
    print(f"restore hooks: {r.hooks}")
    return 0 if r.ok else 1
