#!/usr/bin/env python3
"""Run benchmarks/bench_views.py once and print how many times faster vmgen is than each alternative.

    python3 benchmarks/ratios.py [--json out.json] [--min-rounds N] [--max-time S] [--markdown]

Ratios are of per-operation medians (pytest-benchmark's median of the rounds, divided by the
operations each round performs): ratio = alternative / vmgen, so > 1 means vmgen is faster. The
issue's targets are checked and printed; the exit status is 0 either way (the machine may be noisy).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# (group, alternative, target or None): vmgen's entry is test_<group>_vmgen
TARGETS = [
    ("read", "ctypes", 1.1), ("read", "struct", 2.0), ("read", "numpy", None), ("read", "construct", None),
    ("write", "ctypes", 1.5), ("write", "struct", None), ("write", "numpy", None), ("write", "construct", None),
    ("wrap", "ctypes", 10.0), ("wrap", "numpy", None), ("wrap", "construct", None),
    ("decode", "struct", 1.5), ("decode", "construct", None),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", help="keep pytest-benchmark's JSON here")
    ap.add_argument("--min-rounds", type=int, default=200)
    ap.add_argument("--max-time", type=float, default=2.0, help="seconds per benchmark (pytest-benchmark)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    out = Path(args.json) if args.json else Path(tempfile.mkdtemp()) / "bench.json"
    env = dict(os.environ)
    env.pop("VMGEN_PURE", None)
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "benchmarks" / "bench_views.py"), "-q", "-p", "no:cacheprovider",
           f"--benchmark-json={out}", f"--benchmark-min-rounds={args.min_rounds}",
           f"--benchmark-max-time={args.max_time}", "--benchmark-warmup=on", "--benchmark-disable-gc",
           "--benchmark-group-by=group", "--benchmark-columns=min,median,max,iqr,rounds"]
    r = subprocess.run(cmd, cwd=ROOT, env=env)
    if r.returncode != 0:
        return r.returncode
    data = json.loads(out.read_text())
    per_op = {}
    for b in data["benchmarks"]:
        per_op[b["name"]] = (b["stats"]["median"] / b["extra_info"]["ops"], b["stats"]["iqr"] / b["extra_info"]["ops"])
    rows = []
    for group, alt, target in TARGETS:
        mine, _ = per_op[f"test_{group}_vmgen"]
        theirs, _ = per_op[f"test_{group}_{alt}"]
        ratio = theirs / mine
        verdict = "" if target is None else ("meets" if ratio >= target else "MISSES") + f" target >= {target}x"
        rows.append((group, alt, mine * 1e9, theirs * 1e9, ratio, verdict))
    if "test_decode_vmgen_wrapped" in per_op:
        mine = per_op["test_decode_vmgen_wrapped"][0]
        theirs = per_op["test_decode_struct"][0]
        rows.append(("decode", "struct (to_dict on an existing view)", mine * 1e9, theirs * 1e9, theirs / mine, ""))
    print(f"\nmachine: {data['machine_info'].get('cpu', {}).get('brand_raw', '?')}, "
          f"Python {data['machine_info']['python_version']}, {data['datetime']}")
    if args.markdown:
        print("\n| operation | vs | vmgen ns/op | other ns/op | vmgen faster by | target |")
        print("|---|---|---:|---:|---:|---|")
        for g, a, m, t, ratio, v in rows:
            print(f"| {g} | {a} | {m:.1f} | {t:.1f} | {ratio:.2f}x | {v} |")
    else:
        print(f"\n{'operation':<8} {'vs':<38} {'vmgen ns/op':>12} {'other ns/op':>12} {'ratio':>8}  target")
        for g, a, m, t, ratio, v in rows:
            print(f"{g:<8} {a:<38} {m:>12.1f} {t:>12.1f} {ratio:>7.2f}x  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
