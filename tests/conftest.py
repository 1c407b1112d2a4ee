"""Shared fixtures for the view tests: the same tests run on both field engines (see view_engines.py); and the
stress mode's session hooks (support/stress.py: VMGEN_STRESS=N or --stress=N starts N CPU hogs).

``engine`` is parametrized over the C views (``vmgen`` on ``vmgen.switch._fields``) and the pure-Python
reference (``vmgen._reference``). A missing C extension is a failure, not a skip, unless VMGEN_PURE
is set (then the C half is skipped with a reason).
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from support.view_engines import ENGINES, _c_engine, _ref_engine, as_memoryview  # noqa: F401 (re-exported)
# stress mode (VMGEN_STRESS=N or --stress=N): CPU hogs beside the session
from support.stress import pytest_addoption, pytest_configure, pytest_report_header, pytest_unconfigure  # noqa: F401



@pytest.fixture(params=["c", "ref"])
def engine(request: Any) -> SimpleNamespace:
    """One field engine's view classes: .NicSaveState, .FeatureSettings, ..., .mv(view), .is_c."""
    return ENGINES[request.param]()


@pytest.fixture()
def both_engines() -> tuple:
    """(C, reference): for tests that compare the two directly."""
    return _c_engine(), _ref_engine()
