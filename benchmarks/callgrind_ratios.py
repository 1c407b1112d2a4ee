#!/usr/bin/env python3
"""Issue 16's hot-path table from callgrind instruction counts, for every supported CPython installed.

    python benchmarks/callgrind_ratios.py                 # every pyenv CPython 3.10-3.14 found, full counts
    python benchmarks/callgrind_ratios.py --fast          # this interpreter only, fewer iterations
    python benchmarks/callgrind_ratios.py --python /path/to/python3.12 --json out.json

Wall-clock ratios on a shared machine swing by 30% with load; instruction counts do not. For each
interpreter the extensions are built from this tree into a scratch directory (Cython runs once, in
whichever interpreter has it; gcc compiles the C for each target), then every statement runs under
``valgrind --tool=callgrind`` in its own process: ``timeit`` with the names as globals (as users write
``vmgen.NicSaveState(buf)``), a fixed number of iterations, minus the same process running ``pass``
(the empty-loop baseline). Startup and set-up are identical in both, so they cancel.

Ratios: "times faster than the alternative" (alternative's instructions / vmgen's), except ``changed()``,
which is its cost relative to ``len(b'')`` (lower is better). ``import vmgen`` is wall time from
``-X importtime`` (vmgen's cumulative line, best of 5), since importing is a one-off, plus its instructions.
Needs Linux, valgrind and gcc; exits 0 after printing (targets are marked, not asserted).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent

SETUP = r'''
import ctypes, sys, timeit, uuid
import vmgen
assert vmgen.IMPLEMENTATION.startswith("C"), vmgen.IMPLEMENTATION

class GUID(ctypes.LittleEndianStructure):
    _fields_ = [("Data1", ctypes.c_uint32), ("Data2", ctypes.c_uint16), ("Data3", ctypes.c_uint16),
                ("Data4", ctypes.c_uint8 * 8)]

class NicSaveStateCT(ctypes.LittleEndianStructure):
    _fields_ = [("Type", ctypes.c_uint8), ("Revision", ctypes.c_uint8), ("Size", ctypes.c_uint16),
                ("Flags", ctypes.c_uint32), ("PortId", ctypes.c_uint32), ("NicIndex", ctypes.c_uint16),
                ("ExtensionId", GUID), ("NameLength", ctypes.c_uint16), ("NameString", ctypes.c_uint16 * 257),
                ("FeatureClassId", GUID), ("SaveDataSize", ctypes.c_uint16), ("SaveDataOffset", ctypes.c_uint16)]

buf = bytearray(vmgen.NicSaveState.build(uuid.UUID(int=1), "Fabrikam", bytes(64), port_id=7).obj)
v = vmgen.NicSaveState(buf)
ct = NicSaveStateCT.from_buffer(buf)
c = vmgen.open("simulated")
t = c.token()
ns = {"vmgen": vmgen, "NicSaveStateCT": NicSaveStateCT, "buf": buf, "v": v, "ct": ct, "c": c, "t": t}
for _ in range(WARMUP // 200):   # warm up: specialisation (3.11+) happens on the first runs
    timeit.Timer(STMT, globals=ns).timeit(200)
timeit.Timer(STMT, globals=ns).timeit(N)
'''

# (row label, vmgen statement, alternative statement, kind, goal)
#   kind "faster": ratio = alternative / vmgen, goal is a minimum; "cost": ratio = vmgen / alternative, a maximum
ROWS = [
    ("`c.changed(t)` cost vs `len(b'')`", "c.changed(t)", "len(b'')", "cost", 1.25),
    ("`vmgen.NicSaveState(buf)` vs ctypes `from_buffer`", "vmgen.NicSaveState(buf)",
     "NicSaveStateCT.from_buffer(buf)", "faster", 10.0),
    ("`v.port_id` read vs a ctypes field", "v.port_id", "ct.PortId", "faster", 1.6),
    ("`v.port_id = 5` write vs a ctypes field", "v.port_id = 5", "ct.PortId = 5", "faster", 1.8),
]
IMPORT_GOAL_MS = 10.0
WARMUP = 600  # iterations run before the measured ones (counted too)


def find_pythons() -> List[str]:
    """pyenv's CPython 3.10-3.14 (one per minor version, newest patch), else this interpreter."""
    found: Dict[Tuple[int, int], Tuple[Tuple[int, ...], str]] = {}
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for p in sorted(root.glob("3.*")):
        m = re.fullmatch(r"3\.(\d+)\.(\d+)", p.name)
        exe = p / "bin" / "python3"
        if m and 10 <= int(m.group(1)) <= 14 and exe.exists():
            key = (3, int(m.group(1)))
            ver = (3, int(m.group(1)), int(m.group(2)))
            if key not in found or found[key][0] < ver:
                found[key] = (ver, str(exe))
    return [exe for _, (_, exe) in sorted(found.items())] or [sys.executable]


def cython_python(pythons: List[str]) -> str:
    for py in [sys.executable] + pythons:
        if subprocess.run([py, "-c", "import Cython"], capture_output=True).returncode == 0:
            return py
    sys.exit("callgrind_ratios: no interpreter here has Cython (pip install -r requirements-test.txt)")


def prepare_sources(work: Path, pythons: List[str]) -> Path:
    """A copy of the package with its .pyx turned into C once (the C is version-independent)."""
    src = work / "src"
    shutil.copytree(ROOT / "vmgen", src / "vmgen", ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__"))
    shutil.copytree(ROOT / "csrc", src / "csrc")
    code = ("import sys; from Cython.Build import cythonize; "
            "cythonize(sys.argv[1:], language_level=3, quiet=True, compiler_directives={'embedsignature': True})")
    subprocess.run([cython_python(pythons), "-c", code, "vmgen/switch/_fields.pyx", "vmgen/counter/_core.pyx"],
                   cwd=src, check=True)
    return src


def build_for(python: str, src: Path, work: Path) -> Path:
    """The package with its two extensions compiled for `python` (gcc, that interpreter's headers)."""
    info = json.loads(subprocess.run(
        [python, "-c", "import json, sysconfig; print(json.dumps({k: sysconfig.get_config_var(k) for k in "
                       "('INCLUDEPY', 'EXT_SUFFIX', 'VERSION')}))"],
        capture_output=True, text=True, check=True).stdout)
    out = work / f"py{info['VERSION']}"
    shutil.copytree(src / "vmgen", out / "vmgen", ignore=shutil.ignore_patterns("*.c", "*.pyx", "*.pxd", "*.pxi"))
    cc = os.environ.get("CC", "gcc")
    # as setup.py builds them: the interpreter's -DNDEBUG -fwrapv (no assert() in CPython's inline headers), -O2
    flags = ["-shared", "-fPIC", "-DNDEBUG", "-fwrapv", "-O2", "-std=c11", "-w", "-I" + info["INCLUDEPY"]]
    for mod, sources, inc in (("switch/_fields", ["vmgen/switch/_fields.c"], "csrc/switch"),
                              ("counter/_core", ["vmgen/counter/_core.c", "csrc/counter/vg_counter_linux.c"],
                               "csrc/counter")):
        target = out / "vmgen" / (mod + info["EXT_SUFFIX"])
        subprocess.run([cc, *flags, "-I" + str(src / inc), *[str(src / s) for s in sources], "-o", str(target)],
                       check=True)
    return out


def instructions(python: str, path: Path, stmt: str, n: int, work: Path) -> int:
    env = dict(os.environ, PYTHONPATH=str(path), PYTHONHASHSEED="0")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the first run writes .pyc files; later ones load them
    env.pop("VMGEN_PURE", None)
    env.pop("VMGEN_SIMULATE", None)
    code = f"STMT = {stmt!r}; N = {n}; WARMUP = {WARMUP}\n" + SETUP
    out = work / "callgrind.out"
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", python, "-c", code],
                       env=env, capture_output=True, text=True, cwd=work)
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"{python}: {stmt!r} failed under callgrind:\n{r.stderr[-3000:]}")
    return int(m.group(1))


def import_ms(python: str, path: Path, runs: int, work: Path) -> float:
    """vmgen's cumulative -X importtime line (µs -> ms), best of `runs`."""
    env = dict(os.environ, PYTHONPATH=str(path))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("VMGEN_PURE", None)
    best = float("inf")
    for _ in range(runs + 1):  # the first run writes the .pyc files
        r = subprocess.run([python, "-X", "importtime", "-c", "import vmgen"], env=env, capture_output=True,
                           text=True, check=True, cwd=work)  # not this tree: -c puts the cwd first on sys.path
        m = re.search(r"^import time:\s*\d+ \|\s*(\d+) \| vmgen$", r.stderr, re.M)
        if not m:
            raise RuntimeError(r.stderr[-2000:])
        best = min(best, int(m.group(1)) / 1000)
    return best


def import_instructions(python: str, path: Path, work: Path) -> int:
    env = dict(os.environ, PYTHONPATH=str(path), PYTHONHASHSEED="0")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("VMGEN_PURE", None)
    counts = []
    for code in ("import vmgen", "pass"):
        r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={work / 'imp.out'}", python,
                            "-c", code], env=env, capture_output=True, text=True, cwd=work)
        counts.append(int(re.search(r"Collected\s*:\s*(\d+)", r.stderr).group(1)))  # type: ignore[union-attr]
    return counts[0] - counts[1]


def measure(python: str, path: Path, n: int, work: Path, import_runs: int) -> Dict[str, object]:
    ms = import_ms(python, path, import_runs, work)  # also writes the .pyc files the counted runs load
    base = instructions(python, path, "pass", n, work)
    cost = {}
    for _, mine, theirs, _, _ in ROWS:
        for stmt in (mine, theirs):
            if stmt not in cost:
                cost[stmt] = (instructions(python, path, stmt, n, work) - base) / (n + WARMUP)
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return {"python": version, "per_op": cost, "import_ms": ms,
            "import_instructions": import_instructions(python, path, work)}


def ratio(row: Tuple[str, str, str, str, float], per_op: Dict[str, float]) -> float:
    _, mine, theirs, kind, _ = row
    return per_op[mine] / per_op[theirs] if kind == "cost" else per_op[theirs] / per_op[mine]


def table(results: List[Dict[str, object]]) -> str:
    vers = [".".join(str(r["python"]).split(".")[:2]) for r in results]
    lines = ["| operation | " + " | ".join(vers) + " | goal |", "|---|" + "---|" * len(vers) + "---|"]
    for row in ROWS:
        cells = []
        for r in results:
            x = ratio(row, r["per_op"])  # type: ignore[arg-type]
            ok = x <= row[4] if row[3] == "cost" else x >= row[4]
            cells.append(f"{x:.2f}x" + ("" if ok else " (misses)"))
        goal = ("<= " if row[3] == "cost" else ">= ") + f"{row[4]:g}x"
        lines.append(f"| {row[0]} | " + " | ".join(cells) + f" | {goal} |")
    cells = [f"{r['import_ms']:.1f} ms" + ("" if r["import_ms"] <= IMPORT_GOAL_MS else " (misses)")  # type: ignore
             for r in results]
    lines.append("| `import vmgen` (-X importtime, best run) | " + " | ".join(cells)
                 + f" | <= {IMPORT_GOAL_MS:g} ms above a bare interpreter |")
    cells = [f"{int(r['import_instructions']) / 1e6:.1f} M" for r in results]  # type: ignore[call-overload]
    lines.append("| `import vmgen` instructions | " + " | ".join(cells) + " | |")
    lines.append("")
    lines.append("Instructions per operation (empty loop subtracted):")
    lines.append("")
    lines.append("| statement | " + " | ".join(vers) + " |")
    lines.append("|---|" + "---:|" * len(vers))
    for stmt in results[0]["per_op"]:  # type: ignore[attr-defined]
        lines.append(f"| `{stmt}` | " + " | ".join(f"{r['per_op'][stmt]:.0f}" for r in results) + " |")  # type: ignore
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", action="append", help="interpreter(s) to measure (default: every pyenv CPython "
                                                      "3.10-3.14, or this one)")
    ap.add_argument("--fast", action="store_true", help="this interpreter only, 2,000 iterations, 1 import run")
    ap.add_argument("-n", "--iterations", type=int, default=20000)
    ap.add_argument("--json", help="also write the per-operation counts here")
    ap.add_argument("--combine", nargs="+", metavar="JSON", help="print one table from earlier --json outputs "
                                                                 "(e.g. one run per interpreter, in parallel)")
    args = ap.parse_args(argv)
    if args.combine:
        print(table([r for f in args.combine for r in json.loads(Path(f).read_text())]))
        return 0
    for tool in ("valgrind", os.environ.get("CC", "gcc")):
        if shutil.which(tool) is None:
            sys.exit(f"callgrind_ratios: {tool} is not installed")
    pythons = args.python or ([sys.executable] if args.fast else find_pythons())
    n = 2000 if args.fast else args.iterations
    results = []
    with tempfile.TemporaryDirectory(prefix="vmgen-callgrind-") as tmp:
        work = Path(tmp)
        src = prepare_sources(work, pythons)
        for py in pythons:
            path = build_for(py, src, work)
            print(f"measuring {py} ...", file=sys.stderr, flush=True)
            results.append(measure(py, path, n, work, 1 if args.fast else 5))
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
