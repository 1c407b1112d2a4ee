"""``Generation``: one value of the VM generation counter (the 128-bit VM_GENCOUNTER)."""
from __future__ import annotations

import _struct as struct   # the struct module is `from _struct import *`: its own file would cost `import vmgen` a load
TYPE_CHECKING = False  # without importing typing: see vmgen/errors.py
if TYPE_CHECKING:
    from typing import Any

_U64 = 1 << 64
_PACK = struct.Struct("<QQ")


class Generation:
    """Immutable, hashable, ordered by value. ``int(g) == count_high << 64 | count``;
    ``str(g)`` is the seed's ``%I64x:%I64x``; ``bytes(g)`` the 16-byte little-endian VM_GENCOUNTER."""

    __slots__ = ("count", "count_high")
    count: int
    count_high: int

    def __init__(self, count: int = 0, count_high: int = 0) -> None:
        for name, v in (("count", count), ("count_high", count_high)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"Generation {name} must be an int, not {type(v).__name__}")
            if not 0 <= v < _U64:
                raise OverflowError(f"Generation {name} {v} is outside 0..2**64-1")
        object.__setattr__(self, "count", count)
        object.__setattr__(self, "count_high", count_high)

    @classmethod
    def from_int(cls, value: int) -> "Generation":
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"expected an int, not {type(value).__name__}")
        if not 0 <= value < _U64 * _U64:
            raise OverflowError(f"generation {value} is outside 0..2**128-1")
        return cls(value & (_U64 - 1), value >> 64)

    @classmethod
    def from_bytes(cls, data: Any) -> "Generation":
        b = bytes(memoryview(data))
        if len(b) != 16:
            raise ValueError(f"a VM_GENCOUNTER is 16 bytes, got {len(b)}")
        return cls(*_PACK.unpack(b))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Generation is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Generation is immutable")

    def __reduce__(self) -> Any:
        return (Generation, (self.count, self.count_high))

    def __int__(self) -> int:
        return self.count_high << 64 | self.count

    def __bytes__(self) -> bytes:
        return _PACK.pack(self.count, self.count_high)

    def __str__(self) -> str:
        return f"{self.count:x}:{self.count_high:x}"

    def __repr__(self) -> str:
        return f"Generation(count={self.count:#x}, count_high={self.count_high:#x})"

    def __hash__(self) -> int:
        return hash((Generation, self.count, self.count_high))

    def _key(self) -> "tuple[int, int]":
        return (self.count_high, self.count)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Generation):
            return self.count == other.count and self.count_high == other.count_high
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, Generation):
            return self.count != other.count or self.count_high != other.count_high
        return NotImplemented

    def __lt__(self, other: "Generation") -> bool:
        if isinstance(other, Generation):
            return self._key() < other._key()
        return NotImplemented

    def __le__(self, other: "Generation") -> bool:
        if isinstance(other, Generation):
            return self._key() <= other._key()
        return NotImplemented

    def __gt__(self, other: "Generation") -> bool:
        if isinstance(other, Generation):
            return self._key() > other._key()
        return NotImplemented

    def __ge__(self, other: "Generation") -> bool:
        if isinstance(other, Generation):
            return self._key() >= other._key()
        return NotImplemented


def coerce(value: Any) -> Generation:
    """A Generation from a Generation or an int (what wait() and set() accept)."""
    if isinstance(value, Generation):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Generation.from_int(value)
    raise TypeError(f"expected a vmgen.Generation or an int, not {type(value).__name__}")
