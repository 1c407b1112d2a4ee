"""Which field engine the views run on: ``vmgen.switch._fields`` (Cython) normally; the pure-Python
``vmgen.switch._pyfields`` with ``VMGEN_PURE=1`` or, with a warning, when the extension is missing.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False  # without importing typing: see vmgen/errors.py
if TYPE_CHECKING:
    from typing import Any

engine: Any
if os.environ.get("VMGEN_PURE"):
    from . import _pyfields as engine

    IMPLEMENTATION = "pure-Python reference (VMGEN_PURE=1)"
else:
    try:
        from . import _fields as engine  # type: ignore[no-redef]

        IMPLEMENTATION = "C (Cython field engine)"
    except ImportError as exc:  # pragma: no cover - exercised by the no-extension test in a subprocess
        import warnings

        warnings.warn(f"vmgen: C extension unavailable ({exc}); using the pure-Python reference", RuntimeWarning,
                      stacklevel=2)
        from . import _pyfields as engine

        IMPLEMENTATION = "pure-Python reference (C extension missing)"
