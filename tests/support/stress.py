"""Stress mode: CPU hogs beside the tests, so threads are preempted at interleavings an idle machine never shows.

``VMGEN_STRESS=N`` (or ``pytest --stress=N``; ``N=0`` is off, a bare ``1``/``yes`` means one hog per CPU) starts N
busy-loop processes for the whole pytest session (tests/conftest.py) or the whole ``scripts/wine-rig`` run. They run
at the niceness of the tests, so they compete with the code under test and not with the rest of the machine, and
each exits by itself when its parent goes (no orphan keeps burning a CPU).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import List, Optional

# Spin; every ~10 ms check that the parent is still there (a killed pytest must not leave hogs behind).
_HOG = ("import os, sys\nppid = int(sys.argv[1])\nwhile os.getppid() == ppid:\n"
        "    for _ in range(200000):\n        pass\n")


def stress_level(value: Optional[str] = None) -> int:
    """How many hogs VMGEN_STRESS (or `value`) asks for: 0 = off."""
    raw = (os.environ.get("VMGEN_STRESS", "") if value is None else value).strip().lower()
    if raw in ("", "0", "no", "off", "false"):
        return 0
    if raw in ("yes", "on", "true", "1"):
        return os.cpu_count() or 2
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"VMGEN_STRESS={raw!r}: expected a number of CPU hogs (or 1/yes for one per CPU)")
    if n < 0 or n > 64:
        raise ValueError(f"VMGEN_STRESS={n}: expected 0..64 CPU hogs")
    return n


class Hogs:
    """N busy-loop child processes; stop() ends exactly those (by pid) and reaps them."""

    def __init__(self, n: int) -> None:
        self.procs: List[subprocess.Popen] = []
        for _ in range(n):
            self.procs.append(subprocess.Popen([sys.executable, "-c", _HOG, str(os.getpid())],
                                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))

    @property
    def pids(self) -> List[int]:
        return [p.pid for p in self.procs]

    def alive(self) -> int:
        return sum(p.poll() is None for p in self.procs)

    def cpu_seconds(self) -> float:
        """User+system CPU time the hogs have used so far (Linux /proc)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return total / tick

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        deadline = time.monotonic() + 10
        for p in self.procs:
            p.wait(max(0.1, deadline - time.monotonic()))
        self.procs = []

    def __enter__(self) -> "Hogs":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- pytest hooks (tests/conftest.py re-exports them): the session's hogs ----

def pytest_addoption(parser) -> None:  # type: ignore[no-untyped-def]
    parser.addoption("--stress", default=None, metavar="N",
                     help="run N CPU hogs beside the tests (1/yes: one per CPU); default: $VMGEN_STRESS")


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    n = stress_level(config.getoption("--stress"))
    config._vmgen_hogs = Hogs(n) if n else None
    config._vmgen_stress_t0 = time.monotonic()


def pytest_report_header(config) -> Optional[str]:  # type: ignore[no-untyped-def]
    hogs = getattr(config, "_vmgen_hogs", None)
    return f"stress mode: {len(hogs.procs)} CPU hogs (pids {hogs.pids})" if hogs else None


def pytest_unconfigure(config) -> None:  # type: ignore[no-untyped-def]
    hogs = getattr(config, "_vmgen_hogs", None)
    if hogs is not None:
        used, alive, n = hogs.cpu_seconds(), hogs.alive(), len(hogs.procs)
        hogs.stop()
        wall = time.monotonic() - config._vmgen_stress_t0
        sys.stderr.write(f"[stress] {n} CPU hogs ran {wall:.0f} s beside the tests and used {used:.0f} CPU s "
                         f"({alive} alive at the end)\n")
