"""MOF InterfaceVersion <-> the USHORT the switch serializes into PropertyVersion: (major << 8) + minor."""
from __future__ import annotations

TYPE_CHECKING = False  # without importing typing: see vmgen/errors.py
if TYPE_CHECKING:
    from typing import Tuple, Union


def encode_version(version: Union[str, int, Tuple[int, int]]) -> int:
    """``"1"`` -> 0x0100, ``"1.1"`` -> 0x0101, ``(1, 1)`` -> 0x0101; an int is returned as is after a range check."""
    if isinstance(version, bool):
        raise TypeError("version must be a str like '1.1', a (major, minor) tuple or an int")
    if isinstance(version, int):
        if not 0 <= version <= 0xFFFF:
            raise OverflowError(f"serialized version {version:#x} does not fit a USHORT")
        return version
    if isinstance(version, tuple):
        major, minor = version
    elif isinstance(version, str):
        parts = version.strip().split(".")
        if len(parts) > 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"version {version!r} is not 'MAJOR' or 'MAJOR.MINOR'")
        major, minor = int(parts[0]), int(parts[1]) if len(parts) == 2 else 0
    else:
        raise TypeError("version must be a str like '1.1', a (major, minor) tuple or an int")
    if not (0 <= major <= 0xFF and 0 <= minor <= 0xFF):
        raise OverflowError(f"version {major}.{minor}: major and minor must each fit in 8 bits")
    return (major << 8) + minor


def decode_version(value: int) -> Tuple[int, int]:
    """0x0101 -> (1, 1)."""
    if not 0 <= value <= 0xFFFF:
        raise OverflowError(f"serialized version {value:#x} does not fit a USHORT")
    return value >> 8, value & 0xFF
