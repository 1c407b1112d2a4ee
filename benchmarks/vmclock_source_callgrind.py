"""Issue 18: changed() on a vmclock counter costs the same whichever word it follows.

Counts instructions with callgrind for N calls of ``c.changed(t)`` minus the same script with 0 calls, on a
page file with VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT (source vm_generation_counter) and on QEMU 11.1's page
(flags 0: source disruption_marker), for the vmgen tree(s) given (e.g. this one and a build of the commit
before issue 18, which can only open the first page):

    python benchmarks/vmclock_source_callgrind.py [TREE ...]      # default: this tree
"""
from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import tempfile

N = 200_000
SCRIPT = r"""
import sys, timeit, vmgen
c = vmgen.open("vmclock", path=sys.argv[1])
t = c.token()
n = int(sys.argv[2])
timeit.Timer("c.changed(t)", globals={"c": c, "t": t}).timeit(20000)   # warm up (specialisation)
timeit.Timer("c.changed(t)", globals={"c": c, "t": t}).timeit(n)
"""


def page(path: str, flags: int) -> str:
    """disruption_marker 1 and vm_generation_counter 1: both sources give the same token (int conversion costs
    depend on the value)."""
    data = bytearray(4096)
    struct.pack_into("<IIHBBIQQ", data, 0, 0x4B4C4356, 4096, 1, 0xFF, 0, 2, 1, flags)
    struct.pack_into("<Q", data, 104, 1)
    with open(path, "wb") as f:
        f.write(data)
    return path


def instructions(tree: str, path: str, n: int) -> int:
    env = dict(os.environ, PYTHONPATH=tree, PYTHONHASHSEED="0")
    env.pop("VMGEN_SIMULATE", None)
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c",
                        SCRIPT, path, str(n)], env=env, capture_output=True, text=True,
                       cwd=os.path.dirname(path))   # not the caller's cwd: `python -c` puts it before PYTHONPATH
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError(r.stderr[-2000:])
    return int(m.group(1))


def main() -> int:
    trees = sys.argv[1:] or [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    with tempfile.TemporaryDirectory() as d:
        pages = {"vm_generation_counter": page(os.path.join(d, "gen"), 1 << 8),
                 "disruption_marker": page(os.path.join(d, "qemu"), 0)}
        print(f"| tree | source | instructions per changed() (N={N}) |\n|---|---|---|")
        for tree in trees:
            for source, path in pages.items():
                try:
                    per = (instructions(tree, path, N) - instructions(tree, path, 0)) / N
                except RuntimeError as exc:
                    why = [ln for ln in str(exc).splitlines() if "Error" in ln] or ["failed"]
                    print(f"| {tree} | {source} | cannot open: {why[-1].strip()} |")
                    continue
                print(f"| {tree} | {source} | {per:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
