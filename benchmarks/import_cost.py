#!/usr/bin/env python3
"""What ``import vmgen`` costs above a bare interpreter, for every supported CPython installed.

    python benchmarks/import_cost.py                      # every pyenv CPython 3.10-3.14 found
    python benchmarks/import_cost.py --python /path/to/python3.12 --runs 30

Each interpreter gets the package built from this tree (as ``callgrind_ratios.py`` builds it) and a bare
venv (``--without-pip``: its ``site`` loads nothing from site-packages, so ``.pth`` hooks such as an
editable install's finder, which pull in typing/re/pathlib, do not hide vmgen's own imports). Figures:

* instructions: callgrind's count of ``python -c 'import vmgen'`` minus ``python -c pass`` (deterministic);
* ms: those instructions divided by the interpreter's measured instructions per ms on this machine, taken
  from a calibration workload (importing a fixed set of stdlib modules: the same kind of work, unmarshal
  and module bodies): its instruction count over its best-of-N CPU time (user + system, from the child's
  rusage) minus ``pass``'s. CPU time, not wall time, because on a shared machine the wall time of a short
  process mostly measures the wait for a core; contention (caches, SMT) still inflates CPU time, so the
  ms figure errs on the high side;
* ``-X importtime``: vmgen's cumulative line (best of N) and the modules with the largest self time
  (each module's best over the N runs).
Needs Linux, valgrind and gcc. Prints a markdown table; exits 0 (the goal is marked, not asserted).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import callgrind_ratios as cr  # noqa: E402 (the build helpers)

GOAL_MS = 10.0
CALIBRATION = "import asyncio, dataclasses, inspect, typing, uuid, platform, json, email.message"


def _env(path: Path) -> Dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(path), PYTHONHASHSEED="0")
    for k in ("PYTHONDONTWRITEBYTECODE", "VMGEN_PURE", "VMGEN_SIMULATE", "PYTHONSTARTUP"):
        env.pop(k, None)
    return env


def bare_venv(python: str, work: Path) -> str:
    tag = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    venv = work / f"venv{tag}"
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    return str(venv / "bin" / "python")


def count(python: str, code: str, path: Path, work: Path) -> int:
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={work / 'imp.out'}", python,
                        "-c", code], env=_env(path), capture_output=True, text=True, cwd=work)
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"{python} -c {code!r} failed under callgrind:\n{r.stderr[-3000:]}")
    return int(m.group(1))


def best_cpu_ms(python: str, code: str, path: Path, work: Path, runs: int) -> float:
    """The child's user + system CPU time, best of `runs` (ms)."""
    best = float("inf")
    for _ in range(runs):
        p = subprocess.Popen([python, "-c", code], env=_env(path), cwd=work)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode:
            raise RuntimeError(f"{python} -c {code!r} exited with {p.returncode}")
        best = min(best, usage.ru_utime + usage.ru_stime)
    return best * 1000


def importtime(python: str, path: Path, work: Path, runs: int) -> Tuple[float, Dict[str, int]]:
    """vmgen's cumulative ms (best run) and each module's best self time (µs) over the runs."""
    total, selfs = float("inf"), {}  # type: float, Dict[str, int]
    for _ in range(runs):
        r = subprocess.run([python, "-X", "importtime", "-c", "import vmgen"], env=_env(path), cwd=work,
                           capture_output=True, text=True, check=True)
        lines = re.findall(r"^import time:\s*(\d+) \|\s*(\d+) \|( *)(\S+)$", r.stderr, re.M)
        for self_us, cum_us, _indent, name in lines:
            selfs[name] = min(selfs.get(name, 1 << 60), int(self_us))
            if name == "vmgen":
                total = min(total, int(cum_us) / 1000)
        # modules loaded by `pass` too are not in vmgen's subtree; keep only those under it
        names = [name for *_, name in lines]
        under = set(names[:names.index("vmgen") + 1])
        base = subprocess.run([python, "-X", "importtime", "-c", "pass"], env=_env(path), cwd=work,
                              capture_output=True, text=True, check=True).stderr
        for name in re.findall(r"\| *(\S+)$", base, re.M):
            under.discard(name)
        selfs = {k: v for k, v in selfs.items() if k in under}
    return total, selfs


def measure(python: str, path: Path, work: Path, runs: int) -> Dict[str, object]:
    py = bare_venv(python, work)
    subprocess.run([py, "-c", "import vmgen, " + CALIBRATION.split(" ", 1)[1]], env=_env(path), cwd=work,
                   check=True)  # writes the .pyc files every later run loads
    base = count(py, "pass", path, work)
    instr = count(py, "import vmgen", path, work) - base
    cal_instr = count(py, CALIBRATION, path, work) - base
    cal_ms = best_cpu_ms(py, CALIBRATION, path, work, runs) - best_cpu_ms(py, "pass", path, work, runs)
    per_ms = cal_instr / cal_ms
    total, selfs = importtime(py, path, work, runs)
    loaded = subprocess.run([py, "-c", "import sys; a = set(sys.modules); import vmgen; "
                                       "print(' '.join(sorted(m for m in set(sys.modules) - a "
                                       "if not m.startswith('vmgen'))))"],
                            env=_env(path), cwd=work, capture_output=True, text=True, check=True).stdout.split()
    version = subprocess.run([py, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return {"python": version, "instructions": instr, "per_ms": per_ms, "ms": instr / per_ms,
            "importtime_ms": total, "top": sorted(selfs.items(), key=lambda kv: -kv[1])[:6], "stdlib": loaded}


def table(results: List[Dict[str, object]]) -> str:
    lines = ["| CPython | instructions above bare | M instr/ms (calibration) | ≈ ms above bare | "
             "-X importtime total (best) | top self times (µs, best) | stdlib modules loaded |",
             "|---|---:|---:|---:|---:|---|---:|"]
    for r in results:
        ms = float(r["ms"])  # type: ignore[arg-type]
        top = ", ".join(f"{k} {v}" for k, v in r["top"])  # type: ignore[attr-defined]
        lines.append(f"| {r['python']} | {int(r['instructions']) / 1e6:.1f} M | "  # type: ignore[call-overload]
                     f"{float(r['per_ms']) / 1e6:.2f} | {ms:.1f}" + (" (misses)" if ms > GOAL_MS else "") +  # type: ignore[arg-type]
                     f" | {r['importtime_ms']:.1f} ms | {top} | {len(r['stdlib'])} |")  # type: ignore[arg-type]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", action="append", help="interpreter(s) to measure (default: every pyenv 3.10+)")
    ap.add_argument("--runs", type=int, default=15, help="wall-time runs per figure (best is kept)")
    ap.add_argument("--modules", action="store_true", help="also list the non-vmgen modules each import loads")
    args = ap.parse_args(argv)
    pythons = args.python or cr.find_pythons()
    results = []
    with tempfile.TemporaryDirectory(prefix="vmgen-import-") as tmp:
        work = Path(tmp)
        src = cr.prepare_sources(work, pythons)
        for python in pythons:
            results.append(measure(python, cr.build_for(python, src, work), work, args.runs))
            print(f"{results[-1]['python']}: done", file=sys.stderr)
    print(table(results))
    if args.modules:
        for r in results:
            print(f"\n{r['python']}: {' '.join(r['stdlib'])}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
