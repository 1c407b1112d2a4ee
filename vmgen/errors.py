"""vmgen's exception hierarchy: one module, imported by the C views, the pure-Python reference and the counters."""
from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (`import vmgen` stays light)
if TYPE_CHECKING:
    from typing import Any, Optional


class VmgenError(Exception):
    """Base class of every error vmgen raises on purpose."""


class DeviceNotFound(VmgenError, FileNotFoundError):
    """No usable generation-counter device (or backend) was found."""


class NotSupported(VmgenError, OSError):
    """The device exists but cannot do what was asked (e.g. event-driven reads on old guests)."""


class CounterClosed(VmgenError):
    """The counter was closed; waits in flight and later calls raise this."""


class GenerationChanged(VmgenError):
    """Raised by ``Counter.guard()`` when the generation changed inside the guarded block."""

    def __init__(self, before: Any, after: Any) -> None:
        super().__init__(f"VM generation changed from {before} to {after}")
        self.before = before
        self.after = after


class LayoutError(VmgenError, ValueError):
    """A buffer does not hold a valid structure; ``field`` names the offending field."""

    def __init__(self, message: str, field: Optional[str] = None) -> None:
        super().__init__(message)
        self.field = field


class BufferTooShort(LayoutError):
    """The buffer is smaller than the structure needs (NDIS_STATUS_BUFFER_TOO_SHORT); see ``bytes_needed``."""

    def __init__(self, message: str, bytes_needed: int, field: Optional[str] = None) -> None:
        super().__init__(message, field)
        self.bytes_needed = bytes_needed


class MofError(LayoutError):
    """A MOF text could not be parsed or laid out; ``line`` and ``column`` are 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        where = f"line {line}, column {column}: " if line else ""
        super().__init__(where + message)
        self.line = line
        self.column = column


__all__ = [
    "VmgenError", "DeviceNotFound", "NotSupported", "CounterClosed", "GenerationChanged",
    "LayoutError", "BufferTooShort", "MofError",
]
