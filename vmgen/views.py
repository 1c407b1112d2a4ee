"""The buffer views, on the fastest engine available.

``vmgen._fields`` (Cython) normally; ``vmgen._reference`` (pure Python) with ``VMGEN_PURE=1`` or, with a
warning, when the extension is missing.
"""
from __future__ import annotations

import os
import warnings
from typing import Any

from ._viewdefs import define_views

engine: Any
if os.environ.get("VMGEN_PURE"):
    from ._reference import _fields as engine

    IMPLEMENTATION = "pure-Python reference (VMGEN_PURE=1)"
else:
    try:
        from . import _fields as engine  # type: ignore[no-redef]

        IMPLEMENTATION = "C (Cython field engine)"
    except ImportError as exc:  # pragma: no cover - exercised by the no-extension test in a subprocess
        warnings.warn(f"vmgen: C extension unavailable ({exc}); using the pure-Python reference", RuntimeWarning,
                      stacklevel=2)
        from ._reference import _fields as engine

        IMPLEMENTATION = "pure-Python reference (C extension missing)"

_views = define_views(engine)
NicSaveState = _views["NicSaveState"]
FeatureSettings = _views["FeatureSettings"]
PropertyCustom = _views["PropertyCustom"]
PortPropertyParameters = _views["PortPropertyParameters"]
SwitchPropertyParameters = _views["SwitchPropertyParameters"]
