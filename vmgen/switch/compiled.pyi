from typing import Optional

from .layout import Layout

class CompiledLayout(Layout):
    @property
    def view_type(self) -> type: ...
    @property
    def reference_view_type(self) -> type: ...
    def c_header(self, guard: Optional[str] = ...) -> str: ...
