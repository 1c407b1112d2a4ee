"""Collect benchmarks/bench_*.py (the suite's testpaths is tests/, so `pytest` alone never runs these)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest


def pytest_collect_file(file_path: Path, parent: Any) -> Optional[pytest.Module]:
    if parent.session.isinitpath(file_path):
        return None  # named on the command line: pytest collects it itself
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)  # type: ignore[no-any-return]
    return None
