"""The stress mode itself (tests/support/stress.py): its hogs really burn CPU, and none outlives its owner.

CI runs the counter suites (Linux and, through tests/rigs/test_windows_backend.py, Wine) once with
VMGEN_STRESS=2 (.ci/run); in that run the last test here checks that the session's hogs are running.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.stress import Hogs, stress_level

posix = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads CPU times from /proc")


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"      # a zombie no longer runs
    except FileNotFoundError:
        return True


def test_stress_level_parses_the_setting():
    assert stress_level("") == 0 and stress_level("0") == 0 and stress_level("off") == 0
    assert stress_level("3") == 3
    assert stress_level("1") == stress_level("yes") == (os.cpu_count() or 2)
    for bad in ("-1", "65", "many"):
        with pytest.raises(ValueError):
            stress_level(bad)


@posix
def test_hogs_burn_cpu_and_stop_by_pid():
    with Hogs(1) as h:
        assert h.cpu_seconds() < 0.5
        end = time.monotonic() + 10
        while h.cpu_seconds() < 0.2 and time.monotonic() < end:       # at least 0.2 s of CPU: it spins
            time.sleep(0.05)
        assert h.cpu_seconds() >= 0.2 and h.alive() == 1
        pids = h.pids
    assert all(_gone(p) for p in pids)
    assert h.alive() == 0


@posix
def test_hogs_exit_when_their_owner_dies_without_stopping_them():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from support.stress import Hogs\n"
            "h = Hogs(2); print(*h.pids, flush=True); import os; os._exit(0)")
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).resolve().parents[1])],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    pids = [int(x) for x in out.split()]
    assert len(pids) == 2
    end = time.monotonic() + 10
    while not all(_gone(p) for p in pids) and time.monotonic() < end:
        time.sleep(0.05)
    assert all(_gone(p) for p in pids), pids


def test_session_hogs_run_in_stress_mode(request):
    hogs = getattr(request.config, "_vmgen_hogs", None)
    if hogs is None:
        pytest.skip("not in stress mode (VMGEN_STRESS / --stress unset)")
    assert hogs.alive() == len(hogs.procs) > 0
