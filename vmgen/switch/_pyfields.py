"""Pure-Python field engine: the reference the Cython engine (vmgen/switch/_fields.pyx) is tested against.

Same rules, written as plainly as possible with struct and memoryview: a view keeps a memoryview of the
wrapped buffer (so the buffer cannot be resized under it), fixed part checked at construction, every
offset and length read from the buffer checked at each access. On Python >= 3.12 views export the
buffer protocol through ``__buffer__`` (PEP 688); before that, call ``view.__buffer__(0)``.
"""
from __future__ import annotations

from _operator import index as _index   # operator.index, without loading operator.py (issue 16)
import struct

TYPE_CHECKING = False  # without importing typing: see vmgen/errors.py
if TYPE_CHECKING:
    import uuid
    from typing import Any, Dict, Optional, Tuple

from ..errors import BufferTooShort, LayoutError
from .layout import K_BLOB, K_CSTR, K_FARR, K_GUID, K_INT, K_OARR, K_OSTR

_UNSIGNED = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}
_SIGNED = {1: "<b", 2: "<h", 4: "<i", 8: "<q"}


class View:
    """Base of every reference view."""

    __slots__ = ("_mv", "_obj", "_offset", "_avail", "__weakref__")
    _vg_size: int
    _vg_fields: Tuple["Field", ...]
    _vg_name: str

    def __init__(self, buf: Any, offset: int = 0) -> None:
        if getattr(self, "_mv", None) is not None:
            raise TypeError("a view is bound to its buffer once, at construction")
        if not isinstance(offset, int):
            raise TypeError("offset must be an int")
        if offset < 0:
            raise ValueError(f"{self._vg_name}: offset must be >= 0, not {offset}")
        mv = memoryview(buf)
        if not mv.c_contiguous:
            raise BufferError(f"{type(buf).__name__} is not C-contiguous")
        mv = mv.cast("B") if (mv.format, mv.ndim) != ("B", 1) else mv
        if mv.nbytes - offset < self._vg_size:
            raise BufferTooShort(f"{self._vg_name}: needs {self._vg_size} bytes at offset {offset}, "
                                 f"the buffer has {mv.nbytes}", offset + self._vg_size)
        self._mv = mv
        self._obj = buf  # what the caller passed, as the C engine reports it (mv.obj would be a slice's base)
        self._offset = offset
        self._avail = mv.nbytes - offset

    # raw access relative to the structure start --------------------------------------------------
    def _u(self, off: int, size: int) -> int:
        return int(struct.unpack_from(_UNSIGNED[size], self._mv, self._offset + off)[0])

    def _region(self, off: int, length: int) -> memoryview:
        start = self._offset + off
        return self._mv[start:start + length]

    @property
    def offset(self) -> int:
        return self._offset

    @property
    def readonly(self) -> bool:
        return bool(self._mv.readonly)

    @property
    def obj(self) -> Any:
        return self._obj

    def _check(self) -> None:
        if getattr(self, "_mv", None) is None:
            raise ValueError("view is not bound to a buffer")

    @property
    def nbytes(self) -> int:
        self._check()
        return max([self._vg_size] + [f.extent(self) for f in self._vg_fields])

    def to_dict(self) -> Dict[str, Any]:
        self._check()
        return {f.name: f.get(self) for f in self._vg_fields if f.present(self)}

    def __buffer__(self, flags: int) -> memoryview:
        self._check()
        mv = self._region(0, self.nbytes)
        if flags & 1 and mv.readonly:  # PyBUF_WRITABLE
            raise BufferError("the underlying buffer is read-only")
        return mv

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        try:
            return bool(self.__buffer__(0) == other.__buffer__(0))  # type: ignore[attr-defined,unused-ignore]
        except LayoutError:
            return self is other

    def __ne__(self, other: object) -> bool:
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    __hash__ = None  # type: ignore[assignment,unused-ignore]

    def __repr__(self) -> str:
        from ._format import format_view

        return format_view(self)


class Field:
    """A data descriptor for one view attribute."""

    def __init__(self, spec: Tuple[Any, ...], owner_size: int) -> None:
        self.name: str = spec[1]
        self.fixed_size = owner_size
        self.owner: Optional[type] = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.owner = owner

    def __get__(self, inst: Any, owner: Any = None) -> Any:
        if inst is None:
            return self
        self._own(inst)
        return self.get(inst)

    def __set__(self, inst: Any, value: Any) -> None:
        self._own(inst)
        if inst._mv.readonly:
            raise TypeError(f"cannot set {self.name}: the underlying buffer is read-only")
        self.set(inst, value)

    def __delete__(self, inst: Any) -> None:
        raise AttributeError(f"cannot delete field {self.name!r}")

    def _own(self, inst: Any) -> None:
        if not isinstance(inst, View) or self.owner is None or not isinstance(inst, self.owner):
            raise TypeError(f"field {self.name!r} does not belong to {type(inst).__name__}")
        if getattr(inst, "_mv", None) is None:
            raise ValueError("view is not bound to a buffer")

    def _bad(self, why: str) -> LayoutError:
        return LayoutError(f"{self.name}: {why}", self.name)

    def _part_in_bounds(self, v: View, off: int, length: int) -> None:
        if off < self.fixed_size:
            raise self._bad(f"offset {off} points inside the {self.fixed_size}-byte fixed part")
        if off + length > v._avail:
            raise self._bad(f"{length} bytes at offset {off} run past the end of the {v._avail}-byte buffer")

    def present(self, v: View) -> bool:
        return True

    def get(self, v: View) -> Any:
        raise NotImplementedError

    def set(self, v: View, value: Any) -> None:
        raise AttributeError(f"{self.name} is a variable-length part and cannot be set in place; use build()")

    def extent(self, v: View) -> int:
        return 0


def _check_int(value: Any, size: int, signed: bool, name: str) -> int:
    v = _index(value)  # TypeError (not AttributeError) for str, float, None
    lo, hi = (-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1) if signed else (0, (1 << (8 * size)) - 1)
    if not lo <= v <= hi:
        raise OverflowError(f"{name}: {value} does not fit {'a signed' if signed else 'an unsigned'} "
                            f"{8 * size}-bit field")
    return int(v)


class IntField(Field):
    def __init__(self, spec: Tuple[Any, ...], owner_size: int) -> None:
        super().__init__(spec, owner_size)
        _, _, self.off, self.size, self.signed, self.cond_off, self.cond_size, self.cond_min = spec

    def present(self, v: View) -> bool:
        if not self.cond_size:
            return True
        return bool(v._u(self.cond_off, self.cond_size) >= self.cond_min and self.off + self.size <= v._avail)

    def get(self, v: View) -> int:
        if not self.present(v):
            raise self._bad("not present in this structure")
        fmt = (_SIGNED if self.signed else _UNSIGNED)[self.size]
        return int(struct.unpack_from(fmt, v._mv, v._offset + self.off)[0])

    def set(self, v: View, value: Any) -> None:
        if not self.present(v):
            raise self._bad("not present in this structure")
        value = _check_int(value, self.size, self.signed, self.name)
        fmt = (_SIGNED if self.signed else _UNSIGNED)[self.size]
        struct.pack_into(fmt, v._mv, v._offset + self.off, value)

    def extent(self, v: View) -> int:
        return self.off + self.size if self.cond_size and self.present(v) else 0


class GuidField(Field):
    def __init__(self, spec: Tuple[Any, ...], owner_size: int) -> None:
        super().__init__(spec, owner_size)
        self.off = spec[2]

    def get(self, v: View) -> uuid.UUID:
        from uuid import UUID  # on first use, not with `import vmgen._reference` (platform, enum, libuuid)

        return UUID(bytes_le=bytes(v._region(self.off, 16)))

    def set(self, v: View, value: Any) -> None:
        from uuid import UUID

        if isinstance(value, str):
            value = UUID(value)
        if not isinstance(value, UUID):
            raise TypeError(f"{self.name} must be a uuid.UUID or a GUID string, not {type(value).__name__}")
        v._region(self.off, 16)[:] = value.bytes_le


class CountedStringField(Field):
    def __init__(self, spec: Tuple[Any, ...], owner_size: int) -> None:
        super().__init__(spec, owner_size)
        _, _, self.len_off, self.len_size, self.chars_off, self.capacity = spec

    def get(self, v: View) -> str:
        n = v._u(self.len_off, self.len_size)
        if n % 2:
            raise self._bad(f"byte count {n} is odd")
        if n > 2 * self.capacity:
            raise self._bad(f"byte count {n} exceeds the {2 * self.capacity}-byte capacity")
        return bytes(v._region(self.chars_off, n)).decode("utf-16-le", "surrogatepass")

    def set(self, v: View, value: Any) -> None:
        if not isinstance(value, str):
            raise TypeError(f"{self.name} must be a str, not {type(value).__name__}")
        data = value.encode("utf-16-le", "surrogatepass")
        if len(data) > 2 * self.capacity:
            raise OverflowError(f"{self.name}: {len(data) // 2} UTF-16 code units exceed the capacity of "
                                f"{self.capacity}")
        v._region(self.chars_off, 2 * (self.capacity + 1))[:] = data.ljust(2 * (self.capacity + 1), b"\0")
        struct.pack_into(_UNSIGNED[self.len_size], v._mv, v._offset + self.len_off, len(data))


class OffsetStringField(Field):
    def __init__(self, spec: Tuple[Any, ...], owner_size: int) -> None:
        super().__init__(spec, owner_size)
        _, _, self.off_off, self.off_size = spec

    def _locate(self, v: View) -> Tuple[int, int]:
        off = v._u(self.off_off, self.off_size)
        self._part_in_bounds(v, off, 2)
        n = v._u(off, 2)
        if n % 2:
            raise self._bad(f"StringLength {n} is odd")
        self._part_in_bounds(v, off, 2 + n)
        return off, n

    def get(self, v: View) -> str:
        off, n = self._locate(v)
        return bytes(v._region(off + 2, n)).decode("utf-16-le", "surrogatepass")

    def extent(self, v: View) -> int:
        off, n = self._locate(v)
        return off + 2 + n


class _ArrayField(Field):
    elem_size: int
    fmt: str
    signed: bool

    def _items(self, v: View, off: int, n: int) -> memoryview:
        return v._region(off, n * self.elem_size).cast(self.fmt)  # type: ignore[call-overload,no-any-return,unused-ignore]


class FixedArrayField(_ArrayField):
    def __init__(self, spec: Tuple[Any, ...], owner_size: int) -> None:
        super().__init__(spec, owner_size)
        (_, _, self.count_off, self.count_size, self.array_off, self.capacity, self.elem_size, self.fmt,
         self.signed) = spec

    def get(self, v: View) -> memoryview:
        n = v._u(self.count_off, self.count_size)
        if n > self.capacity:
            raise self._bad(f"element count {n} exceeds the capacity of {self.capacity}")
        return self._items(v, self.array_off, n)

    def set(self, v: View, value: Any) -> None:
        items = list(value)
        if len(items) > self.capacity:  # capacity first, then each element: the C engine's order
            raise OverflowError(f"{self.name}: {len(items)} elements exceed the capacity of {self.capacity}")
        items = [_check_int(x, self.elem_size, self.signed, self.name) for x in items]
        data = struct.pack(f"<{len(items)}{self.fmt}", *items).ljust(self.capacity * self.elem_size, b"\0")
        v._region(self.array_off, len(data))[:] = data
        struct.pack_into(_UNSIGNED[self.count_size], v._mv, v._offset + self.count_off, len(items))


class OffsetArrayField(_ArrayField):
    def __init__(self, spec: Tuple[Any, ...], owner_size: int) -> None:
        super().__init__(spec, owner_size)
        (_, _, self.count_off, self.count_size, self.off_off, self.off_size, self.elem_size, self.fmt,
         self.signed) = spec

    def _locate(self, v: View) -> Tuple[int, int]:
        n = v._u(self.count_off, self.count_size)
        if n == 0:
            return 0, 0
        off = v._u(self.off_off, self.off_size)
        self._part_in_bounds(v, off, n * self.elem_size)
        return off, n

    def get(self, v: View) -> memoryview:
        off, n = self._locate(v)
        return self._items(v, off, n)

    def extent(self, v: View) -> int:
        off, n = self._locate(v)
        return off + n * self.elem_size if n else 0


def _blob_field(spec: Tuple[Any, ...], owner_size: int) -> OffsetArrayField:
    """A blob (SaveData, PropertyBuffer) is an offset array of unsigned bytes."""
    return OffsetArrayField(spec + (1, "B", False), owner_size)


_FIELD_TYPES = {K_INT: IntField, K_GUID: GuidField, K_CSTR: CountedStringField, K_OSTR: OffsetStringField,
                K_FARR: FixedArrayField, K_OARR: OffsetArrayField, K_BLOB: _blob_field}


def make_view_type(name: str, layout: Any, bases: Tuple[type, ...] = (), namespace: Optional[Dict[str, Any]] = None) -> type:
    """Same contract as ``vmgen._fields.make_view_type``."""
    fields = tuple(_FIELD_TYPES[spec[0]](spec, layout.size) for spec in layout.field_specs())
    ns: Dict[str, Any] = dict(namespace or {})
    ns.update({"__slots__": (), "layout": layout, "_vg_size": layout.size, "_vg_fields": fields, "_vg_name": name})
    ns.update({f.name: f for f in fields})
    return type(name, tuple(bases) + (View,), ns)
