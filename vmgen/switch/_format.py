"""How a view prints: the way construct prints a container, one field a line."""
from __future__ import annotations

TYPE_CHECKING = False  # without importing typing: see vmgen/errors.py
if TYPE_CHECKING:
    from typing import Any

_BLOB_PREVIEW = 16


def format_value(value: Any) -> str:
    if isinstance(value, memoryview):
        if value.format == "B":
            head = bytes(value[:_BLOB_PREVIEW])
            more = "..." if value.nbytes > _BLOB_PREVIEW else ""
            return f"{head!r}{more} (total {value.nbytes})"
        return repr(value.tolist())
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value} ({value:#x})" if value > 9 else str(value)
    return repr(value)


def format_view(view: Any) -> str:
    name = type(view).__name__
    try:
        items = view.to_dict()
    except ValueError as exc:  # malformed: say so instead of failing inside repr()
        return f"<{name} at offset {view.offset}: {exc}>"
    lines = [f"{name}: "]
    lines += [f"    {key} = {format_value(value)}" for key, value in items.items()]
    return "\n".join(lines)
