"""Collect benchmarks/bench_*.py (the suite's testpaths is tests/, so `pytest` alone never runs these)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Optional

import pytest


def pytest_collect_file(file_path: Path, parent: Any) -> Optional[pytest.Module]:
    if parent.session.isinitpath(file_path):
        return None  # named on the command line: pytest collects it itself
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)  # type: ignore[no-any-return]
    return None


# scripts/bench's quick mode (VMGEN_BENCH_QUICK=1) checks that every benchmark runs, on whatever machine runs the
# tests: a wall-clock target missed there (a loaded machine) is printed, not failed. A full run enforces them.
ENFORCE_TARGETS = not os.environ.get("VMGEN_BENCH_QUICK")


@pytest.fixture
def target() -> Callable[[bool, object], None]:
    """target(ok, what): a benchmark's goal; fails a full run when missed, and is printed in quick mode."""
    def check(ok: bool, what: object) -> None:
        if ok:
            return
        if ENFORCE_TARGETS:
            pytest.fail(f"target missed: {what}")
        print(f"\ntarget missed (VMGEN_BENCH_QUICK: printed, not failed): {what}")
    return check
