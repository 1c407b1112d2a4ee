"""Binary layouts as data: one description per structure, from which everything else follows.

A ``Struct`` lists C members; their offsets are *computed* here with the compiler's rules (natural
alignment capped by ``#pragma pack``), never typed in by hand. A ``Layout`` adds the accessors a view
exposes (``Int``, ``Guid``, ``CountedString``, ...), each naming the members it reads.

From a Layout follow:
  * the C header (``vmgen.switch.codegen``), with ``_Static_assert`` on every offset and size;
  * the fast views (``vmgen.switch._fields``, Cython) and the pure-Python reference engine
    (``vmgen.switch._pyfields``), both driven by ``Layout.field_specs()``: plain tuples of numbers, the
    engines' only input.

This module imports none of them: descriptions are data, and what consumes them depends on them, never
the other way round. The MOF compiler (``vmgen.mof``) builds Layouts at run time on the same classes and
returns them as ``vmgen.switch.compiled.CompiledLayout``, which adds the view classes and the header.

Conventions for variable parts (one place, referenced by the docs):
  * an offset stored in a structure counts from the first byte of that structure;
  * a variable part must lie wholly after the fixed part and inside the buffer; a zero-length part
    (count 0, size 0) ignores its offset when read through a view (the checked property walk,
    ``validated_settings``, applies the drivers' rule Offset + Count * ElementSize <= Length to it too);
  * builders place the parts after the fixed part in field order, each aligned to its element size; an
    empty part takes the offset where it would start, unaligned, so that rule holds for it;
  * VARIABLE_LENGTH_STRING.StringLength counts **bytes** (like IF_COUNTED_STRING.Length and the
    seed's FixedLengthStringByteCount), without a terminating NUL, and must be even;
  * counted WCHAR arrays keep one slot for the NUL: WCHAR[n] holds at most n - 1 characters.
"""
from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see "Records" below)
if TYPE_CHECKING:
    from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

# ---------------------------------------------------------------------------------------------------
# Records. The descriptions below were frozen dataclasses; they are hand-written classes with the same
# constructor, equality, hash and repr, because ``import vmgen`` runs this module, and @dataclass (which
# builds every method with exec(), and imports inspect) was most of its import time (issue 16).


class _ByValue:
    """Compared and shown by the attributes named in ``_fields`` (constructor order): equal to an object of the
    same class with equal values; repr in constructor-call form."""

    __slots__ = ()
    _fields: Tuple[str, ...] = ()

    def _values(self) -> Tuple[Any, ...]:
        return tuple([getattr(self, f) for f in self._fields])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _ByValue) and other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __repr__(self) -> str:
        args = ", ".join([f"{f}={getattr(self, f)!r}" for f in self._fields])
        return f"{type(self).__qualname__}({args})"


class _Record(_ByValue):
    """An immutable value (hashable; copied and pickled through its constructor)."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of an immutable {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of an immutable {type(self).__name__}")

    def __reduce__(self) -> Tuple[Any, ...]:  # copy and pickle through the constructor (__setattr__ refuses)
        return (type(self), self._values())


_set = object.__setattr__  # what the records' __init__ use

# ---------------------------------------------------------------------------------------------------
# C types


class Prim(_Record):
    """A C scalar type: its name as the headers spell it, size, struct format code and alignment."""

    __slots__ = _fields = ("name", "size", "fmt", "signed", "align")
    name: str
    size: int
    fmt: str  # struct module code, used little-endian; memoryview format for arrays
    signed: bool
    align: int  # 0: same as size

    def __init__(self, name: str, size: int, fmt: str, signed: bool = False, align: int = 0) -> None:
        _set(self, "name", name)
        _set(self, "size", size)
        _set(self, "fmt", fmt)
        _set(self, "signed", signed)
        _set(self, "align", align)

    @property
    def alignment(self) -> int:
        return self.align or self.size


UINT8 = Prim("UINT8", 1, "B")
UINT16 = Prim("UINT16", 2, "H")
UINT32 = Prim("UINT32", 4, "I")
UINT64 = Prim("UINT64", 8, "Q")
INT8 = Prim("INT8", 1, "b", signed=True)
INT16 = Prim("INT16", 2, "h", signed=True)
INT32 = Prim("INT32", 4, "i", signed=True)
INT64 = Prim("INT64", 8, "q", signed=True)
# Windows spellings used by ntddndis.h; same sizes on LLP64 (ULONG is 32-bit on Windows).
UCHAR = Prim("UCHAR", 1, "B")
USHORT = Prim("USHORT", 2, "H")
ULONG = Prim("ULONG", 4, "I")
ULONGLONG = Prim("ULONGLONG", 8, "Q")
BOOLEAN = Prim("BOOLEAN", 1, "B")
WCHAR = Prim("WCHAR", 2, "H")
GUID = Prim("GUID", 16, "16s", align=4)

PRIMS: Dict[str, Prim] = {
    p.name: p
    for p in (UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, UCHAR, USHORT, ULONG, ULONGLONG,
              BOOLEAN, WCHAR, GUID)
}


class Member(_Record):
    """One C member: ``type name[count]`` at ``offset`` (filled in by Struct)."""

    __slots__ = _fields = ("name", "type", "count", "offset")
    name: str
    type: Union[Prim, Struct]
    count: Optional[int]  # array length; None for a scalar
    offset: int

    def __init__(self, name: str, type: Union[Prim, Struct], count: Optional[int] = None,  # noqa: A002
                 offset: int = -1) -> None:
        _set(self, "name", name)
        _set(self, "type", type)
        _set(self, "count", count)
        _set(self, "offset", offset)

    @property
    def size(self) -> int:
        return self.type.size * (self.count or 1)


def _align_up(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


class Struct:
    """A C struct; members laid out as MSVC/gcc do under ``#pragma pack(pack)``."""

    def __init__(self, name: str, members: Sequence[Union[Member, Tuple[Any, ...]]], pack: int = 8, comment: str = "",
                 ms_header: str = "") -> None:
        self.name = name
        self.pack = pack
        self.comment = comment
        # Set for mirrors of Microsoft's types: the C header names ours VMGEN_<name> and, where that
        # header is included too, asserts every offset against Microsoft's definition.
        self.ms_header = ms_header
        placed: List[Member] = []
        offset = 0
        alignment = 1
        for spec in members:
            m: Member = spec if isinstance(spec, Member) else Member(*spec)
            a = min(m.type.alignment, pack)
            offset = _align_up(offset, a)
            placed.append(Member(m.name, m.type, m.count, offset))
            offset += m.size
            alignment = max(alignment, a)
        self.members: Tuple[Member, ...] = tuple(placed)
        self.alignment: int = alignment
        self.size: int = _align_up(offset, alignment)

    def member(self, path: str) -> Tuple[int, Member]:
        """``"Header.Size"`` -> (absolute offset, Member)."""
        base = 0
        struct: Struct = self
        parts = path.split(".")
        for i, part in enumerate(parts):
            for m in struct.members:
                if m.name == part:
                    break
            else:
                raise KeyError(f"{self.name} has no member {path!r}")
            if i == len(parts) - 1:
                return base + m.offset, m
            if not isinstance(m.type, Struct):
                raise KeyError(f"{self.name}.{'.'.join(parts[:i + 1])} is not a struct")
            base += m.offset
            struct = m.type
        raise KeyError(path)  # pragma: no cover - loop always returns

    def leaves(self, prefix: str = "", base: int = 0) -> Iterator[Tuple[str, int, Member]]:
        """Every member path with its absolute offset, nested structs included (for _Static_asserts)."""
        for m in self.members:
            path = prefix + m.name
            yield path, base + m.offset, m
            if isinstance(m.type, Struct) and m.count is None:
                yield from m.type.leaves(path + ".", base + m.offset)

    def __repr__(self) -> str:
        return f"Struct({self.name}, size={self.size})"


# ---------------------------------------------------------------------------------------------------
# Accessors: what a view exposes, in terms of members. Each yields one engine spec tuple.

# Engine spec kinds (shared by the Cython engine and the pure-Python reference):
K_INT, K_GUID, K_CSTR, K_OSTR, K_FARR, K_OARR, K_BLOB = range(7)


class Int(_Record):
    __slots__ = _fields = ("attr", "member", "present_if")
    attr: str
    member: str
    present_if: Optional[Tuple[str, int]]  # (member path, minimum value): e.g. revision-2 fields

    def __init__(self, attr: str, member: str, present_if: Optional[Tuple[str, int]] = None) -> None:
        _set(self, "attr", attr)
        _set(self, "member", member)
        _set(self, "present_if", present_if)


class Guid(_Record):
    __slots__ = _fields = ("attr", "member")
    attr: str
    member: str

    def __init__(self, attr: str, member: str) -> None:
        _set(self, "attr", attr)
        _set(self, "member", member)


class CountedString(_Record):
    """A byte count + an inline WCHAR[n] (IF_COUNTED_STRING, MOF ``string`` with MaxLen)."""

    __slots__ = _fields = ("attr", "length", "chars")
    attr: str
    length: str
    chars: str

    def __init__(self, attr: str, length: str, chars: str) -> None:
        _set(self, "attr", attr)
        _set(self, "length", length)
        _set(self, "chars", chars)


class OffsetString(_Record):
    """A UINT32 offset to a VARIABLE_LENGTH_STRING {USHORT StringLength (bytes); WCHAR StringBuffer[]}."""

    __slots__ = _fields = ("attr", "offset")
    attr: str
    offset: str

    def __init__(self, attr: str, offset: str) -> None:
        _set(self, "attr", attr)
        _set(self, "offset", offset)


class FixedArray(_Record):
    """An element count + an inline T[n] (MOF ``T X[]`` with Max(n))."""

    __slots__ = _fields = ("attr", "count", "array")
    attr: str
    count: str
    array: str

    def __init__(self, attr: str, count: str, array: str) -> None:
        _set(self, "attr", attr)
        _set(self, "count", count)
        _set(self, "array", array)


class OffsetArray(_Record):
    """An element count + a UINT32 offset to T[count] (MOF ``T X[]``, a VARIABLE_LENGTH_ARRAY)."""

    __slots__ = _fields = ("attr", "count", "offset", "element")
    attr: str
    count: str
    offset: str
    element: Prim

    def __init__(self, attr: str, count: str, offset: str, element: Prim) -> None:
        _set(self, "attr", attr)
        _set(self, "count", count)
        _set(self, "offset", offset)
        _set(self, "element", element)


class Blob(_Record):
    """A byte size + an offset to that many bytes (SaveData, PropertyBuffer)."""

    __slots__ = _fields = ("attr", "size", "offset")
    attr: str
    size: str
    offset: str

    def __init__(self, attr: str, size: str, offset: str) -> None:
        _set(self, "attr", attr)
        _set(self, "size", size)
        _set(self, "offset", offset)


if TYPE_CHECKING:
    Accessor = Union[Int, Guid, CountedString, OffsetString, FixedArray, OffsetArray, Blob]

# A field spec is a tuple; the engines unpack it by kind:
#   (K_INT,  attr, offset, size, signed, cond_offset, cond_size, cond_min)   cond_size 0: always present
#   (K_GUID, attr, offset)
#   (K_CSTR, attr, len_offset, len_size, chars_offset, capacity_units)
#   (K_OSTR, attr, offset_offset, offset_size)
#   (K_FARR, attr, count_offset, count_size, array_offset, capacity, elem_size, elem_fmt, elem_signed)
#   (K_OARR, attr, count_offset, count_size, offset_offset, offset_size, elem_size, elem_fmt, elem_signed)
#   (K_BLOB, attr, size_offset, size_size, offset_offset, offset_size)
    FieldSpec = Tuple[Any, ...]


class Layout(_ByValue):
    """A Struct plus the accessors a view exposes over it (mutable, compared by value, unhashable)."""

    _fields = ("struct", "fields", "view_name", "version", "min_size", "helpers")

    def __init__(self, struct: Struct, fields: Tuple[Accessor, ...], view_name: str = "",
                 version: Optional[int] = None, min_size: int = 0, helpers: Tuple[Struct, ...] = ()) -> None:
        self.struct = struct
        self.fields = fields
        self.view_name = view_name
        self.version = version  # (major << 8) + minor where the source defines one (MOF)
        self.min_size = min_size  # bytes a view needs (default: struct size); revision-1 NIC save state: 568
        self.helpers = helpers  # extra structs the header defines (VARIABLE_LENGTH_STRING, ...)
        self._specs: Optional[Tuple[FieldSpec, ...]] = None

    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value

    @property
    def size(self) -> int:
        return self.min_size or self.struct.size

    def field_specs(self) -> Tuple[FieldSpec, ...]:
        if self._specs is None:
            self._specs = tuple(self._spec(a) for a in self.fields)
        return self._specs

    def _int(self, path: str) -> Tuple[int, Prim]:
        off, m = self.struct.member(path)
        if not isinstance(m.type, Prim) or m.count is not None or m.type is GUID:
            raise TypeError(f"{self.struct.name}.{path} is not an integer member")
        return off, m.type

    def _spec(self, a: Accessor) -> FieldSpec:
        if isinstance(a, Int):
            off, t = self._int(a.member)
            if a.present_if:
                coff, ct = self._int(a.present_if[0])
                return (K_INT, a.attr, off, t.size, t.signed, coff, ct.size, a.present_if[1])
            return (K_INT, a.attr, off, t.size, t.signed, 0, 0, 0)
        if isinstance(a, Guid):
            off, m = self.struct.member(a.member)
            assert m.type is GUID and m.count is None, a
            return (K_GUID, a.attr, off)
        if isinstance(a, CountedString):
            loff, lt = self._int(a.length)
            coff, cm = self.struct.member(a.chars)
            assert cm.type is WCHAR and cm.count and cm.count >= 1, a
            return (K_CSTR, a.attr, loff, lt.size, coff, cm.count - 1)
        if isinstance(a, OffsetString):
            ooff, ot = self._int(a.offset)
            return (K_OSTR, a.attr, ooff, ot.size)
        if isinstance(a, FixedArray):
            coff, ct = self._int(a.count)
            aoff, am = self.struct.member(a.array)
            assert isinstance(am.type, Prim) and am.count, a
            e = am.type
            return (K_FARR, a.attr, coff, ct.size, aoff, am.count, e.size, e.fmt, e.signed)
        if isinstance(a, OffsetArray):
            coff, ct = self._int(a.count)
            ooff, ot = self._int(a.offset)
            e = a.element
            return (K_OARR, a.attr, coff, ct.size, ooff, ot.size, e.size, e.fmt, e.signed)
        if isinstance(a, Blob):
            soff, st = self._int(a.size)
            ooff, ot = self._int(a.offset)
            return (K_BLOB, a.attr, soff, st.size, ooff, ot.size)
        raise TypeError(f"unknown accessor {a!r}")

    def attr_names(self) -> Tuple[str, ...]:
        return tuple(a.attr for a in self.fields)


# ---------------------------------------------------------------------------------------------------
# The layouts vmgen ships (LAYOUTS.md; Microsoft's ntddndis.h; seed 001)

NDIS_OBJECT_TYPE_DEFAULT = 0x80
NDIS_STATUS_BUFFER_TOO_SHORT = 0xC0010016
NDIS_SWITCH_OBJECT_SERIALIZATION_VERSION_1 = 1
NDIS_SWITCH_PROPERTY_TYPE_CUSTOM = 1
OID_SWITCH_PROPERTY_ADD = 0x00010263
OID_SWITCH_PORT_PROPERTY_ADD = 0x00010271
OID_SWITCH_NIC_SAVE = 0x00010290
OID_SWITCH_NIC_SAVE_COMPLETE = 0x00010291
OID_SWITCH_NIC_RESTORE = 0x00010292
OID_SWITCH_NIC_RESTORE_COMPLETE = 0x00010293
IF_MAX_STRING_SIZE = 256

NDIS_OBJECT_HEADER = Struct("NDIS_OBJECT_HEADER", [("Type", UCHAR), ("Revision", UCHAR), ("Size", USHORT)],
                            ms_header="ntddndis.h")

IF_COUNTED_STRING = Struct("IF_COUNTED_STRING", [("Length", USHORT), ("String", WCHAR, IF_MAX_STRING_SIZE + 1)],
                           ms_header="ifdef.h")

_HEADER_FIELDS = (
    Int("header_type", "Header.Type"),
    Int("header_revision", "Header.Revision"),
    Int("header_size", "Header.Size"),
)

# Revision 2 (NDIS 6.50) appends SaveDataSizeOverflow; revision 1 is RTL_SIZEOF_THROUGH_FIELD(SaveDataOffset).
NIC_SAVE_STATE = Struct("NDIS_SWITCH_NIC_SAVE_STATE", [
    ("Header", NDIS_OBJECT_HEADER),
    ("Flags", ULONG),
    ("PortId", ULONG),  # NDIS_SWITCH_PORT_ID
    ("NicIndex", USHORT),  # NDIS_SWITCH_NIC_INDEX
    ("ExtensionId", GUID),
    ("ExtensionFriendlyName", IF_COUNTED_STRING),  # NDIS_SWITCH_EXTENSION_FRIENDLYNAME
    ("FeatureClassId", GUID),
    ("SaveDataSize", USHORT),
    ("SaveDataOffset", USHORT),
    ("SaveDataSizeOverflow", ULONG),
], ms_header="ntddndis.h")
NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1 = 1
NDIS_SWITCH_NIC_SAVE_STATE_REVISION_2 = 2
NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1 = NIC_SAVE_STATE.member("SaveDataOffset")[0] + 2
NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_2 = NIC_SAVE_STATE.member("SaveDataSizeOverflow")[0] + 4

NIC_SAVE_STATE_LAYOUT = Layout(
    NIC_SAVE_STATE,
    _HEADER_FIELDS + (
        Int("flags", "Flags"),
        Int("port_id", "PortId"),
        Int("nic_index", "NicIndex"),
        Guid("extension_id", "ExtensionId"),
        CountedString("extension_friendly_name", "ExtensionFriendlyName.Length", "ExtensionFriendlyName.String"),
        Guid("feature_class_id", "FeatureClassId"),
        Int("save_data_size", "SaveDataSize"),
        Int("save_data_offset", "SaveDataOffset"),
        Int("save_data_size_overflow", "SaveDataSizeOverflow",
            present_if=("Header.Revision", NDIS_SWITCH_NIC_SAVE_STATE_REVISION_2)),
        Blob("save_data", "SaveDataSize", "SaveDataOffset"),
    ),
    view_name="NicSaveState",
    min_size=NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1,
)

PORT_PROPERTY_PARAMETERS = Struct("NDIS_SWITCH_PORT_PROPERTY_PARAMETERS", [
    ("Header", NDIS_OBJECT_HEADER),
    ("Flags", ULONG),
    ("PortId", ULONG),
    ("PropertyType", ULONG),  # NDIS_SWITCH_PORT_PROPERTY_TYPE (a C enum: 4 bytes)
    ("PropertyId", GUID),
    ("PropertyVersion", USHORT),  # NDIS_SWITCH_OBJECT_VERSION
    ("SerializationVersion", USHORT),  # NDIS_SWITCH_OBJECT_SERIALIZATION_VERSION
    ("PropertyInstanceId", GUID),
    ("PropertyBufferLength", ULONG),
    ("PropertyBufferOffset", ULONG),
    ("Reserved", ULONG),
], ms_header="ntddndis.h")
NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1 = 1

SWITCH_PROPERTY_PARAMETERS = Struct("NDIS_SWITCH_PROPERTY_PARAMETERS", [
    ("Header", NDIS_OBJECT_HEADER),
    ("Flags", ULONG),
    ("PropertyType", ULONG),  # NDIS_SWITCH_PROPERTY_TYPE
    ("PropertyId", GUID),
    ("PropertyVersion", USHORT),
    ("SerializationVersion", USHORT),
    ("PropertyInstanceId", GUID),
    ("PropertyBufferLength", ULONG),
    ("PropertyBufferOffset", ULONG),
], ms_header="ntddndis.h")
NDIS_SWITCH_PROPERTY_PARAMETERS_REVISION_1 = 1

_PROPERTY_PARAMETER_FIELDS = (
    Int("property_type", "PropertyType"),
    Guid("property_id", "PropertyId"),
    Int("property_version", "PropertyVersion"),
    Int("serialization_version", "SerializationVersion"),
    Guid("property_instance_id", "PropertyInstanceId"),
    Int("property_buffer_length", "PropertyBufferLength"),
    Int("property_buffer_offset", "PropertyBufferOffset"),
    Blob("property_buffer", "PropertyBufferLength", "PropertyBufferOffset"),
)

PORT_PROPERTY_PARAMETERS_LAYOUT = Layout(
    PORT_PROPERTY_PARAMETERS,
    _HEADER_FIELDS + (Int("flags", "Flags"), Int("port_id", "PortId")) + _PROPERTY_PARAMETER_FIELDS
    + (Int("reserved", "Reserved"),),
    view_name="PortPropertyParameters",
)
SWITCH_PROPERTY_PARAMETERS_LAYOUT = Layout(
    SWITCH_PROPERTY_PARAMETERS,
    _HEADER_FIELDS + (Int("flags", "Flags"),) + _PROPERTY_PARAMETER_FIELDS,
    view_name="SwitchPropertyParameters",
)

# NDIS_SWITCH_PORT_PROPERTY_CUSTOM and NDIS_SWITCH_PROPERTY_CUSTOM have the same shape.
PORT_PROPERTY_CUSTOM = Struct("NDIS_SWITCH_PORT_PROPERTY_CUSTOM", [
    ("Header", NDIS_OBJECT_HEADER),
    ("Flags", ULONG),
    ("PropertyBufferLength", ULONG),
    ("PropertyBufferOffset", ULONG),
], ms_header="ntddndis.h")
SWITCH_PROPERTY_CUSTOM = Struct("NDIS_SWITCH_PROPERTY_CUSTOM", [(m.name, m.type, m.count) for m in PORT_PROPERTY_CUSTOM.members],
                                ms_header="ntddndis.h")
NDIS_SWITCH_PORT_PROPERTY_CUSTOM_REVISION_1 = 1
PROPERTY_CUSTOM_LAYOUT = Layout(
    PORT_PROPERTY_CUSTOM,
    _HEADER_FIELDS + (
        Int("flags", "Flags"),
        Int("property_buffer_length", "PropertyBufferLength"),
        Int("property_buffer_offset", "PropertyBufferOffset"),
        Blob("property_buffer", "PropertyBufferLength", "PropertyBufferOffset"),
    ),
    view_name="PropertyCustom",
)

# Seed 001: the C struct WMI serializes Vendor_SampleFeatureSettingData into, as the document prints it
# (note: IntValue16 sits in a UINT32 slot there although the MOF property is uint16).
VARIABLE_LENGTH_STRING = Struct("VARIABLE_LENGTH_STRING", [("StringLength", USHORT), ("StringBuffer", WCHAR, 1)])
VARIABLE_LENGTH_ARRAY = Struct("VARIABLE_LENGTH_ARRAY", [("Buffer", UINT32, 1)])

SAMPLE_FEATURE_SETTINGS = Struct("SAMPLE_FEATURE_SETTINGS", [
    ("IntValue8", UINT8),
    ("IntValue16", UINT32),
    ("IntValue32", UINT32),
    ("IntValue64", UINT64),
    ("FixedLengthStringByteCount", UINT16),
    ("FixedLengthString", WCHAR, 256),
    ("VariableLengthStringOffset", UINT32),
    ("FixedLengthArrayElementCount", UINT32),
    ("FixedLengthArray", UINT32, 8),
    ("VariableLengthArrayElementCount", UINT32),
    ("VariableLengthArrayOffset", UINT32),
], pack=8)

FEATURE_SETTINGS_LAYOUT = Layout(
    SAMPLE_FEATURE_SETTINGS,
    (
        Int("int_value8", "IntValue8"),
        Int("int_value16", "IntValue16"),
        Int("int_value32", "IntValue32"),
        Int("int_value64", "IntValue64"),
        CountedString("fixed_length_string", "FixedLengthStringByteCount", "FixedLengthString"),
        OffsetString("variable_length_string", "VariableLengthStringOffset"),
        FixedArray("fixed_length_array", "FixedLengthArrayElementCount", "FixedLengthArray"),
        OffsetArray("variable_length_array", "VariableLengthArrayElementCount", "VariableLengthArrayOffset", UINT32),
    ),
    view_name="FeatureSettings",
    version=0x0100,  # InterfaceVersion("1"), InterfaceRevision("0")
    helpers=(VARIABLE_LENGTH_STRING, VARIABLE_LENGTH_ARRAY),
)

# Fields present only from a later revision: (struct, member, macro that enables it in Microsoft's header).
REVISION_GATED = {("NDIS_SWITCH_NIC_SAVE_STATE", "SaveDataSizeOverflow"): "NDIS_SUPPORT_NDIS650"}

# Constants the header exports, each checked against Microsoft's definition where that is visible.
CONSTANTS: Tuple[Tuple[str, int], ...] = (
    ("NDIS_OBJECT_TYPE_DEFAULT", NDIS_OBJECT_TYPE_DEFAULT),
    ("NDIS_STATUS_BUFFER_TOO_SHORT", NDIS_STATUS_BUFFER_TOO_SHORT),
    ("NDIS_SWITCH_OBJECT_SERIALIZATION_VERSION_1", NDIS_SWITCH_OBJECT_SERIALIZATION_VERSION_1),
    ("OID_SWITCH_PROPERTY_ADD", OID_SWITCH_PROPERTY_ADD),
    ("OID_SWITCH_PORT_PROPERTY_ADD", OID_SWITCH_PORT_PROPERTY_ADD),
    ("OID_SWITCH_NIC_SAVE", OID_SWITCH_NIC_SAVE),
    ("OID_SWITCH_NIC_SAVE_COMPLETE", OID_SWITCH_NIC_SAVE_COMPLETE),
    ("OID_SWITCH_NIC_RESTORE", OID_SWITCH_NIC_RESTORE),
    ("OID_SWITCH_NIC_RESTORE_COMPLETE", OID_SWITCH_NIC_RESTORE_COMPLETE),
    ("IF_MAX_STRING_SIZE", IF_MAX_STRING_SIZE),
    ("NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1", NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1),
    ("NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1", NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1),
    ("NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1", NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1),
    ("NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1", PORT_PROPERTY_PARAMETERS.size),
    ("NDIS_SWITCH_PROPERTY_PARAMETERS_REVISION_1", NDIS_SWITCH_PROPERTY_PARAMETERS_REVISION_1),
    ("NDIS_SIZEOF_NDIS_SWITCH_PROPERTY_PARAMETERS_REVISION_1", SWITCH_PROPERTY_PARAMETERS.size),
    ("NDIS_SWITCH_PORT_PROPERTY_CUSTOM_REVISION_1", NDIS_SWITCH_PORT_PROPERTY_CUSTOM_REVISION_1),
    ("NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_CUSTOM_REVISION_1", PORT_PROPERTY_CUSTOM.size),
    ("NDIS_SIZEOF_NDIS_SWITCH_PROPERTY_CUSTOM_REVISION_1", SWITCH_PROPERTY_CUSTOM.size),
)

BUILTIN_STRUCTS: Tuple[Struct, ...] = (
    NIC_SAVE_STATE, PORT_PROPERTY_PARAMETERS, SWITCH_PROPERTY_PARAMETERS, PORT_PROPERTY_CUSTOM,
    SWITCH_PROPERTY_CUSTOM, SAMPLE_FEATURE_SETTINGS, VARIABLE_LENGTH_STRING, VARIABLE_LENGTH_ARRAY,
)

BUILTIN_LAYOUTS: Tuple[Layout, ...] = (
    NIC_SAVE_STATE_LAYOUT,
    FEATURE_SETTINGS_LAYOUT,
    PORT_PROPERTY_PARAMETERS_LAYOUT,
    SWITCH_PROPERTY_PARAMETERS_LAYOUT,
    PROPERTY_CUSTOM_LAYOUT,
)
