"""The benchmarks must keep working: run them once each (--benchmark-disable), as a plain test.

They are not part of the normal suite (pyproject's testpaths is tests/); this keeps them from rotting.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytest_benchmark", reason="pytest-benchmark is not installed")
pytest.importorskip("construct", reason="construct is not installed (the views benchmark compares against it)")

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not (ROOT / "benchmarks").is_dir(),
                                reason="no source tree here (tests run against an installed wheel)")


def test_benchmarks_run_once() -> None:
    env = dict(os.environ)
    env.pop("VMGEN_PURE", None)  # the views benchmark measures the C engine
    r = subprocess.run([sys.executable, "-m", "pytest", "benchmarks/", "--benchmark-disable", "-q", "-rA",
                        "-p", "no:cacheprovider"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    for name in ("read", "write", "wrap", "decode"):
        assert f"PASSED benchmarks/bench_views.py::test_{name}_vmgen" in r.stdout, r.stdout[-4000:]
