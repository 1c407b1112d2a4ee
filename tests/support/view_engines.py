"""The two field engines as test subjects (imported by conftest.py and by tests that need them directly;
named uniquely because tests/rigs/windows has a conftest.py of its own).

``engine`` is parametrized over the C views (``vmgen`` on ``vmgen.switch._fields``) and the pure-Python
reference (``vmgen._reference``). A missing C extension is a failure, not a skip, unless VMGEN_PURE
is set (then the C half is skipped with a reason).
"""
from __future__ import annotations

import importlib
import os
import sys
from types import SimpleNamespace
from typing import Any

import pytest

VIEW_NAMES = ("NicSaveState", "FeatureSettings", "PropertyCustom", "PortPropertyParameters",
              "SwitchPropertyParameters")


def as_memoryview(view: Any, flags: int = 0) -> memoryview:
    """``memoryview(view)``; reference views on Python < 3.12 export through ``__buffer__`` (PEP 688)."""
    try:
        return memoryview(view)
    except TypeError:
        if sys.version_info >= (3, 12) or not hasattr(view, "__buffer__"):
            raise
        return view.__buffer__(flags)


def _c_engine() -> SimpleNamespace:
    try:
        fields = importlib.import_module("vmgen.switch._fields")
    except ImportError as exc:
        if os.environ.get("VMGEN_PURE"):
            pytest.skip(f"VMGEN_PURE is set and the C extension is not importable ({exc})")
        pytest.fail(f"the C extension vmgen.switch._fields does not import ({exc}); build it with "
                    "`python3 setup.py build_ext --inplace` (or set VMGEN_PURE=1 to test the reference only)",
                    pytrace=False)
    import vmgen
    from vmgen.switch._viewdefs import define_views

    if vmgen.IMPLEMENTATION.startswith("C"):
        classes = {name: getattr(vmgen, name) for name in VIEW_NAMES}
    else:  # VMGEN_PURE=1 but the extension exists: still test it, on its own classes
        classes = define_views(fields)
    return SimpleNamespace(name="c", is_c=True, fields=fields, mv=as_memoryview, **classes)


def _ref_engine() -> SimpleNamespace:
    import vmgen._reference as ref
    from vmgen.switch import _pyfields as _fields

    return SimpleNamespace(name="ref", is_c=False, fields=_fields, mv=as_memoryview,
                           **{name: getattr(ref, name) for name in VIEW_NAMES})


ENGINES = {"c": _c_engine, "ref": _ref_engine}
