"""The windows backend's speed, measured under Wine (the rig of tests/rigs/windows/rig.py) in one run.

    python3 benchmarks/bench_windows.py [--quick] [--json OUT]

prints the ratios: changed(token) vs a polling IOCTL per check vs len(b''), and the wake latency
set -> wait() return (p50/p99), same process and cross-process. As a pytest file (collected by
benchmarks/conftest.py) it runs the quick variant once and checks the numbers are sane.
Wine is not Windows: absolute numbers include Wine's wineserver round trips; see docs/notes/issue6.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "rigs" / "windows"))
import rig as rigmod  # noqa: E402


def measure(quick: bool) -> dict:
    rig = rigmod.Rig().prepare()
    with rig.session():
        args = [rig.winpath(ROOT / "benchmarks" / "win_measure.py")] + (["--quick"] if quick else [])
        r = rig.run_python(*args, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"win_measure.py failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def render(res: dict) -> str:
    hp, ra = res["hot_path"], res["ratios"]
    lines = [
        "windows backend under Wine (Windows CPython %s)%s" % (res["python"], " [quick]" if res["quick"] else ""),
        "  len(b'')                          %8.1f ns" % hp["len_ns"],
        "  c.changed(token)                  %8.1f ns   (%.2fx len(b''))" % (hp["changed_ns"], ra["changed_per_len"]),
        "  polling IOCTL per check (ctypes)  %8.1f ns   (%.0fx changed)" % (hp["ioctl_ctypes_ns"],
                                                                         ra["ioctl_ctypes_per_changed"]),
        "  c.read() (polling IOCTL in C)     %8.1f ns   (%.0fx changed)" % (hp["read_ns"], ra["read_per_changed"]),
    ]
    for key, label in (("wake_same_process", "set -> wait() returns, same process"),
                       ("wake_cross_process", "set -> wait() returns, cross-process"),
                       ("changed_after_set_same_process", "set -> changed() is True, same process")):
        s = res.get(key)
        if s:
            lines.append("  %-40s p50 %7.1f us  p99 %7.1f us  (n=%d)" % (label, s["p50_us"], s["p99_us"], s["n"]))
    return "\n".join(lines)


def test_windows_under_wine() -> None:
    import pytest
    why = rigmod.missing()
    if why:
        pytest.skip(f"Wine rig unavailable: {why}")
    res = measure(quick=True)
    print(render(res))
    assert res["hot_path"]["changed_ns"] < res["hot_path"]["ioctl_ctypes_ns"]
    assert res["wake_same_process"]["n"] == 30 and res["wake_cross_process"]["n"] >= 25


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    why = rigmod.missing()
    if why:
        print(f"Wine rig unavailable: {why}", file=sys.stderr)
        return 1
    res = measure(a.quick)
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))
    print(render(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
