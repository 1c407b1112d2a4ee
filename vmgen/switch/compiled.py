"""A Layout together with what is made from it: view classes on both engines and the C header.

``vmgen.mof.layout()`` returns one. The description (``vmgen.switch.layout``) stays plain data that imports
none of its consumers; this module sits above the engines, the view definitions and the header generator.
"""
from __future__ import annotations

TYPE_CHECKING = False  # without importing typing: see vmgen/errors.py
if TYPE_CHECKING:
    from typing import Any, Dict, Optional

from . import _pyfields, codegen
from ._engine import engine as _engine
from ._viewdefs import view_type_for
from .layout import Layout


class CompiledLayout(Layout):
    """A Layout whose view classes are made once, on first use, and cached (same constructor as Layout)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._view_types: Dict[str, type] = {}

    @property
    def view_type(self) -> type:
        """A view class over this layout on vmgen's engine (C unless VMGEN_PURE), made once and cached."""
        return self._view_type(_engine)

    @property
    def reference_view_type(self) -> type:
        """The same view on the pure-Python reference engine."""
        return self._view_type(_pyfields)

    def _view_type(self, engine: Any) -> type:
        key = engine.__name__
        if key not in self._view_types:
            self._view_types[key] = view_type_for(engine, self)
        return self._view_types[key]

    def c_header(self, guard: Optional[str] = None) -> str:
        """A self-contained C header: the struct, its helper structs, a _Static_assert on every offset and size."""
        return codegen.layout_header(self, guard)
