"""benchmarks/callgrind_ratios.py (issue 16's instruction-count table) must keep running: its fast mode, here.

The figures themselves are not asserted (speed claims come from the benchmark's output, not from tests);
what is checked is that every row of the table is produced with a number, so the command cannot rot.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "callgrind_ratios.py"
pytestmark = pytest.mark.skipif(not SCRIPT.is_file(), reason="no source tree here (tests run against a wheel)")


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed (scripts/test installs it)")
@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_fast_mode_prints_every_row() -> None:
    pytest.importorskip("Cython", reason="the script cythonizes the tree (pip install -r requirements-test.txt)")
    r = subprocess.run([sys.executable, str(SCRIPT), "--fast"], cwd=ROOT, capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    version = "%d.%d" % sys.version_info[:2]
    assert re.search(rf"^\| operation \| {re.escape(version)} \| goal \|$", r.stdout, re.M), r.stdout
    for label in ("`c.changed(t)`", "`vmgen.NicSaveState(buf)`", "`v.port_id` read", "`v.port_id = 5` write",
                  "`import vmgen`"):
        row = [line for line in r.stdout.splitlines() if line.startswith("| " + label)]
        assert row and re.search(r"\| \d+\.\d+ ?(x|ms)", row[0]), (label, r.stdout)
    # per-operation counts: positive (the empty loop was subtracted, not the statement)
    counts = re.findall(r"^\| `[^`]+` \| (-?\d+) \|$", r.stdout, re.M)
    assert len(counts) == 8 and all(int(c) > 0 for c in counts), r.stdout


def test_cython_pin_is_the_same_in_build_and_test_requirements() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    build = re.search(r'requires = \[[^\]]*"Cython([^"]*)"', pyproject)
    test = re.search(r"^Cython(\S+)", (ROOT / "requirements-test.txt").read_text(), re.M)
    assert build and test, "Cython must be in both"
    assert build.group(1) == test.group(1), (build.group(1), test.group(1))
    assert "<" in build.group(1), "an upper bound: a new Cython is tested before it is allowed"
