"""The view classes, defined once over any field engine.

``define_views(engine)`` makes NicSaveState, FeatureSettings, ... on ``engine.make_view_type``: the
Cython engine (``vmgen.switch._fields``) for ``vmgen`` and the pure-Python one (``vmgen.switch._pyfields``)
for ``vmgen._reference``. Fields come from ``vmgen.switch.layout``; the methods below (builders, restore-side
checks, the property chain) are the only hand-written behaviour, and both engines share it.
"""
from __future__ import annotations

import _struct as struct   # the struct module is `from _struct import *`: its own file would cost `import vmgen` a load
from _operator import index as _index   # operator.index, without loading operator.py (issue 16)

TYPE_CHECKING = False  # without importing typing: see vmgen/errors.py
if TYPE_CHECKING:
    import uuid
    from typing import Any, Dict, Iterable, Optional, Tuple

from . import layout as L
from ..errors import BufferTooShort, LayoutError
from .versions import encode_version

# ---------------------------------------------------------------------------------------------------
# Generic builder: works for any Layout (the MOF compiler's views use it too).


def _readable_bytes(obj: Any, what: str) -> memoryview:
    """Any buffer-protocol object as a flat byte memoryview (no copy)."""
    try:
        mv = memoryview(obj)
    except TypeError:
        buffer = getattr(obj, "__buffer__", None)  # pure-Python views before PEP 688 (3.12)
        if buffer is None:
            raise TypeError(f"{what} must support the buffer protocol, not {type(obj).__name__}") from None
        mv = buffer(0)
    return mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv


def _writable_bytes(obj: Any) -> memoryview:
    mv = memoryview(obj)
    if mv.readonly:
        raise TypeError(f"into: {type(obj).__name__} is read-only")
    if not mv.c_contiguous:
        raise TypeError("into: the buffer must be C-contiguous")
    return mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv


def _field_max(size: int) -> int:
    return (1 << (8 * size)) - 1


def _measure_part(spec: Tuple[Any, ...], value: Any) -> Tuple[Any, int, int, int]:
    """A variable part, checked against its count/size field before anything is copied.

    Returns (what to copy: bytes or a memoryview of the caller's buffer, its length, its alignment, the
    count/size stored beside its offset). Every limit is checked on a length the object reports, so a
    value that cannot fit raises OverflowError without its data being read or copied.
    """
    kind, attr = spec[0], spec[1]
    if kind == L.K_OSTR:
        if not isinstance(value, str):
            raise TypeError(f"{attr} must be a str, not {type(value).__name__}")
        if 2 * len(value) > 0xFFFF:  # every character takes at least one UTF-16 unit: reject before encoding
            raise OverflowError(f"{attr}: {len(value)} characters do not fit VARIABLE_LENGTH_STRING.StringLength")
        chars = value.encode("utf-16-le", "surrogatepass")
        if len(chars) > 0xFFFF:
            raise OverflowError(f"{attr}: {len(chars)} bytes do not fit VARIABLE_LENGTH_STRING.StringLength")
        data = struct.pack("<H", len(chars)) + chars
        return data, len(data), 2, 0
    if kind == L.K_OARR:
        count_size, elem_size, fmt, signed = spec[3], spec[6], spec[7], spec[8]
        limit = _field_max(count_size)
        if hasattr(value, "__len__") and len(value) > limit:  # before list(): range(2**40) is never expanded
            raise OverflowError(f"{attr}: {len(value)} elements do not fit its {8 * count_size}-bit count")
        items = list(value)
        if len(items) > limit:
            raise OverflowError(f"{attr}: {len(items)} elements do not fit its {8 * count_size}-bit count")
        lo, hi = (-(1 << (8 * elem_size - 1)), (1 << (8 * elem_size - 1)) - 1) if signed else (0, _field_max(elem_size))
        for item in items:
            i = _index(item)  # TypeError (not AttributeError) for non-integers
            if not lo <= i <= hi:
                raise OverflowError(f"{attr}: {item} does not fit a {'signed' if signed else 'unsigned'} "
                                    f"{8 * elem_size}-bit element")
        return struct.pack(f"<{len(items)}{fmt}", *items), len(items) * elem_size, elem_size, len(items)
    if kind == L.K_BLOB:
        blob = _readable_bytes(value, attr)  # a view of the caller's buffer: nothing copied yet
        size_size = spec[3]
        if blob.nbytes > _field_max(size_size):
            raise OverflowError(f"{attr}: {blob.nbytes} bytes do not fit its {8 * size_size}-bit size field")
        return blob, blob.nbytes, 1, blob.nbytes
    raise AssertionError(kind)


def _store_member(buf: bytearray, offset: int, size: int, value: int, what: str) -> None:
    if not 0 <= value <= _field_max(size):
        raise OverflowError(f"{what}: {value} does not fit its {8 * size}-bit field")
    buf[offset:offset + size] = value.to_bytes(size, "little")


def _offset_member(spec: Tuple[Any, ...]) -> Tuple[int, int]:
    """(offset, size) of the member that stores a variable part's offset."""
    return (spec[2], spec[3]) if spec[0] == L.K_OSTR else (spec[4], spec[5])


def build_view(cls: Any, values: Dict[str, Any], into: Any = None) -> Any:
    """Serialize ``values`` (field name -> value) into a new bytearray or into ``into``.

    Variable parts follow the fixed part in field order, each aligned to its element size; an empty one
    (no elements, no bytes) takes the offset where it would start, unaligned, so that Offset + Count *
    ElementSize <= the structure's length holds for it too. Every count, size and offset is checked
    against its field before any data is copied (OverflowError). ``into`` too small raises
    BufferTooShort(bytes_needed) and is left untouched: everything is checked and laid out in a scratch
    buffer first.
    """
    layout = cls.layout
    specs = {s[1]: s for s in layout.field_specs()}
    unknown = set(values) - set(specs)
    if unknown:
        raise TypeError(f"{cls.__name__}.build() got unexpected field(s): {', '.join(sorted(unknown))}")
    pos = layout.size
    parts = []
    for attr, spec in specs.items():
        if spec[0] in (L.K_OSTR, L.K_OARR, L.K_BLOB):
            default = "" if spec[0] == L.K_OSTR else b"" if spec[0] == L.K_BLOB else ()
            data, length, align, count = _measure_part(spec, values.get(attr, default))
            if length:
                pos = (pos + align - 1) // align * align
            off_off, off_size = _offset_member(spec)
            if pos > _field_max(off_size):
                raise OverflowError(f"{attr}: offset {pos} does not fit its {8 * off_size}-bit offset field")
            parts.append((spec, pos, data, length, count))
            pos += length
    target = None
    if into is not None:  # the BytesNeeded exchange before building anything
        target = _writable_bytes(into)
        if target.nbytes < pos:
            have = target.nbytes
            target.release()  # let the caller resize ``into`` while handling the error
            raise BufferTooShort(f"{cls.__name__}: {pos} bytes needed, the buffer has {have}", pos)
    scratch = bytearray(pos)
    view = cls(scratch)
    for attr, value in values.items():
        if specs[attr][0] not in (L.K_OSTR, L.K_OARR, L.K_BLOB):
            setattr(view, attr, value)
    for spec, offset, data, length, count in parts:
        kind, attr = spec[0], spec[1]
        if kind == L.K_OSTR:
            _store_member(scratch, spec[2], spec[3], offset, attr + " offset")
        else:  # OARR: (count_off, count_size, off_off, off_size); BLOB: (size_off, size_size, off_off, off_size)
            _store_member(scratch, spec[2], spec[3], count, attr + (" count" if kind == L.K_OARR else " size"))
            _store_member(scratch, spec[4], spec[5], offset, attr + " offset")
        scratch[offset:offset + length] = data
    del view  # release our export of scratch before handing it out
    if target is None:
        return cls(scratch)
    target[:len(scratch)] = scratch
    target.release()
    return cls(into)


class _Buildable:
    __slots__ = ()
    layout: L.Layout

    @classmethod
    def build(cls, into: Any = None, **values: Any) -> Any:
        """A new structure from field values (missing ones are zero/empty); see ``build_view``."""
        return build_view(cls, values, into)


# ---------------------------------------------------------------------------------------------------
# NDIS_SWITCH_NIC_SAVE_STATE

_REV1_SIZE = L.NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1
_NAME_CAPACITY = 2 * L.IF_MAX_STRING_SIZE  # bytes of IF_COUNTED_STRING.String, one WCHAR kept for the NUL


def _uuid_type() -> type[uuid.UUID]:
    """uuid.UUID, imported on first use: uuid loads platform, enum and libuuid, which `import vmgen` skips."""
    from uuid import UUID

    return UUID


def _guid(value: Any, what: str) -> uuid.UUID:
    UUID = _uuid_type()
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        return UUID(value)
    raise TypeError(f"{what} must be a uuid.UUID or a GUID string, not {type(value).__name__}")


def _available(view: Any) -> int:
    """Bytes from the view's start to the end of the buffer it wraps."""
    return int(_readable_bytes(view.obj, "buffer").nbytes) - int(view.offset)


def _check_header(view: Any, revision_1: int, size_1: int, size_name: str) -> None:
    """An NDIS_OBJECT_HEADER as Microsoft's base library checks it, plus: the structure lies in the buffer."""
    if view.header_type != L.NDIS_OBJECT_TYPE_DEFAULT:
        raise LayoutError(f"header_type is {view.header_type:#x}, not NDIS_OBJECT_TYPE_DEFAULT (0x80)", "header_type")
    if view.header_revision < revision_1:
        raise LayoutError(f"header_revision {view.header_revision} < {revision_1}", "header_revision")
    if view.header_size < size_1:
        raise LayoutError(f"header_size {view.header_size} < {size_name} ({size_1})", "header_size")
    avail = _available(view)
    if view.header_size > avail:
        raise LayoutError(f"header_size {view.header_size} exceeds the {avail} bytes in the buffer", "header_size")


def _check_name(name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"extension_friendly_name must be a str, not {type(name).__name__}")
    # len() first: a huge str is refused without being encoded
    if len(name) > L.IF_MAX_STRING_SIZE or len(name.encode("utf-16-le", "surrogatepass")) > _NAME_CAPACITY:
        raise OverflowError(f"extension_friendly_name: more than {L.IF_MAX_STRING_SIZE} UTF-16 code units")


def _prepared_save_offset(target: memoryview) -> int:
    """SaveDataOffset of a buffer the switch prepared for OID_SWITCH_NIC_SAVE; LayoutError naming the check
    that fails: type 0x80, revision >= 1, size >= 568 and within the buffer, SaveDataOffset >= size."""
    have = target.nbytes
    if have < _REV1_SIZE:
        raise LayoutError(f"the buffer holds {have} bytes, fewer than a revision-1 NIC save state "
                          f"({_REV1_SIZE}): not a buffer the switch prepared", "header_size")
    htype, revision, size = struct.unpack_from("<BBH", target, 0)
    offset = struct.unpack_from("<H", target, _REV1_SIZE - 2)[0]
    if htype != L.NDIS_OBJECT_TYPE_DEFAULT:
        raise LayoutError(f"header_type is {htype:#x}, not NDIS_OBJECT_TYPE_DEFAULT (0x80)", "header_type")
    if revision < L.NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1:
        raise LayoutError(f"header_revision {revision} < 1", "header_revision")
    if size < _REV1_SIZE:
        raise LayoutError(f"header_size {size} < NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1 ({_REV1_SIZE})",
                          "header_size")
    if size > have:
        raise LayoutError(f"header_size {size} exceeds the {have} bytes in the buffer", "header_size")
    if offset < size:
        raise LayoutError(f"save_data_offset {offset} lies inside the {size}-byte structure the header "
                          "declares", "save_data_offset")
    return int(offset)


class _NicSaveStateMethods:
    __slots__ = ()

    @staticmethod
    def bytes_needed(data_len: int, save_data_offset: int = _REV1_SIZE) -> int:
        """BytesNeeded for OID_SWITCH_NIC_SAVE: the data's offset + its size.

        With the default offset this is the documentation's NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1
        + data; for a switch-prepared buffer pass its SaveDataOffset (what ``fill`` reports)."""
        if data_len < 0:
            raise ValueError("data_len must be >= 0")
        if not 0 <= save_data_offset <= 0xFFFF:
            raise OverflowError(f"save_data_offset {save_data_offset} does not fit SaveDataOffset (USHORT)")
        return save_data_offset + data_len

    @classmethod
    def build(cls, extension_id: Any, extension_friendly_name: str, save_data: Any, *, port_id: int = 0,
              nic_index: int = 0, feature_class_id: Any = None, into: Any = None) -> Any:
        """A fresh revision-1 structure with the data at offset 568 (tests, tools, restore-side fixtures).

        For OID_SWITCH_NIC_SAVE use ``fill``: the switch's buffer already carries a header, PortId,
        NicIndex and SaveDataOffset that the extension must keep. ``into`` too small raises BufferTooShort."""
        data = _readable_bytes(save_data, "save_data")
        if data.nbytes > 0xFFFF:  # before any copy or BytesNeeded: SaveDataSize is a USHORT
            raise OverflowError(f"save_data: {data.nbytes} bytes do not fit SaveDataSize (USHORT, at most 65535)")
        _check_name(extension_friendly_name)
        if into is not None:  # the BytesNeeded exchange first, before any other work
            need = cls.bytes_needed(data.nbytes)
            have = _writable_bytes(into).nbytes
            if have < need:
                raise BufferTooShort(f"NicSaveState: BytesNeeded = {need}, the buffer has {have}", need)
        return build_view(cls, dict(
            header_type=L.NDIS_OBJECT_TYPE_DEFAULT,
            header_revision=L.NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1,
            header_size=_REV1_SIZE,
            port_id=port_id,
            nic_index=nic_index,
            extension_id=extension_id,
            extension_friendly_name=extension_friendly_name,
            feature_class_id=_uuid_type()(int=0) if feature_class_id is None else feature_class_id,
            save_data=data,
        ), into)

    @classmethod
    def fill(cls: Any, buf: Any, *, extension_id: Any, extension_friendly_name: str, save_data: Any,
             feature_class_id: Any = None) -> Any:
        """The save side of OID_SWITCH_NIC_SAVE, in the buffer the switch prepared.

        Keeps what the switch set (Header, Flags, PortId, NicIndex, SaveDataOffset, and a revision-2
        SaveDataSizeOverflow); writes ExtensionId, ExtensionFriendlyName, FeatureClassId (zero when None),
        SaveDataSize and the data at SaveDataOffset. A buffer that is not a prepared save state raises
        LayoutError naming the failed check; one too small for the data raises BufferTooShort with
        ``bytes_needed`` = its own SaveDataOffset + len(save_data) and is left untouched. Returns the view.
        """
        # The caller's arguments first: nothing is read from save_data before its size is known to fit.
        data = _readable_bytes(save_data, "save_data")
        if data.nbytes > 0xFFFF:
            raise OverflowError(f"save_data: {data.nbytes} bytes do not fit SaveDataSize (USHORT, at most 65535)")
        ext = _guid(extension_id, "extension_id")
        feature = _uuid_type()(int=0) if feature_class_id is None else _guid(feature_class_id, "feature_class_id")
        _check_name(extension_friendly_name)
        # Then the switch's buffer: a valid prepared header, as Microsoft's base library checks it. Read
        # through a memoryview released before any error, so the caller can resize the buffer in its
        # handler (a traceback keeps this frame's locals alive).
        target = _writable_bytes(buf)
        try:
            offset = _prepared_save_offset(target)
            need = offset + data.nbytes  # Microsoft's base library's BytesNeeded (docs: 568 + data; equal at 568)
            if target.nbytes < need:
                raise BufferTooShort(f"NicSaveState: BytesNeeded = {need} (SaveDataOffset {offset} + "
                                     f"{data.nbytes} bytes of data), the buffer has {target.nbytes}", need)
        except BaseException:
            target.release()
            raise
        view: Any = cls(buf)
        view.extension_id = ext
        view.extension_friendly_name = extension_friendly_name
        view.feature_class_id = feature
        view.save_data_size = data.nbytes
        target[offset:need] = data
        target.release()
        return view

    def validate(self: Any, extension_id: Any = None) -> None:
        """The restore-side checks of OID_SWITCH_NIC_RESTORE; raises LayoutError naming the failed one."""
        _check_header(self, L.NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1, _REV1_SIZE,
                      "NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1")
        data = self.save_data  # bounds-checked by the engine: inside the buffer, after the fixed part
        if data.nbytes and self.save_data_offset < self.header_size:
            raise LayoutError(f"save_data_offset {self.save_data_offset} overlaps the {self.header_size}-byte "
                              "structure", "save_data_offset")
        self.extension_friendly_name  # noqa: B018 - decodes and checks the counted string
        if extension_id is not None:
            UUID = _uuid_type()
            want = extension_id if isinstance(extension_id, UUID) else UUID(str(extension_id))
            if self.extension_id != want:
                raise LayoutError(f"extension_id {self.extension_id} is not ours ({want}): forward the restore "
                                  "untouched", "extension_id")


# ---------------------------------------------------------------------------------------------------
# Custom property chain: *_PROPERTY_PARAMETERS -> *_PROPERTY_CUSTOM -> the policy struct

_CUSTOM_SIZE = L.PORT_PROPERTY_CUSTOM.size


def _check_property_buffer(view: Any) -> memoryview:
    """The variable part of a parameters or custom structure: in the buffer, after the declared header."""
    buffer: memoryview = view.property_buffer  # the engine: after the fixed part, inside the buffer
    if buffer.nbytes and view.property_buffer_offset < view.header_size:
        raise LayoutError(f"property_buffer_offset {view.property_buffer_offset} lies inside the "
                          f"{view.header_size}-byte structure the header declares", "property_buffer_offset")
    return buffer


def _check_empty_parts(view: Any) -> None:
    """Drivers check Offset + Count * ElementSize <= Length for every part, empty ones included, where the
    views ignore an empty part's offset: the checked walk applies the drivers' rule."""
    raw = _readable_bytes(view.obj, "buffer")[view.offset:]
    length = raw.nbytes
    fixed = type(view).layout.size
    for spec in type(view).layout.field_specs():
        if spec[0] not in (L.K_OARR, L.K_BLOB):
            continue
        count = int.from_bytes(raw[spec[2]:spec[2] + spec[3]], "little")
        offset = int.from_bytes(raw[spec[4]:spec[4] + spec[5]], "little")
        if count == 0 and not fixed <= offset <= length:
            raise LayoutError(f"{spec[1]}: the empty part's offset {offset} lies outside the structure "
                              f"({fixed}..{length}), which drivers refuse", spec[1])


class _PropertyCustomMethods:
    __slots__ = ()

    def settings(self: Any, view_type: Any) -> Any:
        """The policy structure inside (e.g. FeatureSettings), zero-copy, bounded by PropertyBufferLength."""
        return view_type(self.property_buffer)

    def validate(self: Any) -> None:
        """NDIS_SWITCH_*_PROPERTY_CUSTOM as documented: header type, revision, size; the buffer in bounds."""
        _check_header(self, L.NDIS_SWITCH_PORT_PROPERTY_CUSTOM_REVISION_1, _CUSTOM_SIZE,
                      "NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_CUSTOM_REVISION_1")
        _check_property_buffer(self)

    @classmethod
    def build(cls, payload: Any, *, into: Any = None) -> Any:
        return build_view(cls, dict(
            header_type=L.NDIS_OBJECT_TYPE_DEFAULT,
            header_revision=L.NDIS_SWITCH_PORT_PROPERTY_CUSTOM_REVISION_1,
            header_size=_CUSTOM_SIZE,
            property_buffer=_readable_bytes(payload, "payload"),
        ), into)


class _PropertyParametersMethods:
    __slots__ = ()
    _custom_type: Any
    _revision: int
    _size_name: str
    layout: L.Layout

    def custom(self: Any) -> Any:
        """NDIS_SWITCH_*_PROPERTY_CUSTOM at PropertyBufferOffset, over exactly the property buffer (unchecked:
        ``validate()`` first, or walk with ``validated_settings``)."""
        buffer = self.property_buffer
        if buffer.nbytes < _CUSTOM_SIZE:
            raise LayoutError(f"property_buffer holds {buffer.nbytes} bytes, fewer than the "
                              f"{_CUSTOM_SIZE}-byte PROPERTY_CUSTOM", "property_buffer")
        return self._custom_type(buffer)

    def validate(self: Any, property_id: Any = None, property_version: Any = None) -> None:
        """The checks an extension makes on OID_SWITCH_(PORT_)PROPERTY_ADD/UPDATE before reading the property;
        raises LayoutError naming the failed one. ``property_id``/``property_version``: also require ours."""
        _check_header(self, self._revision, self.layout.size, self._size_name)
        if self.property_type != L.NDIS_SWITCH_PROPERTY_TYPE_CUSTOM:
            raise LayoutError(f"property_type {self.property_type} is not the custom type "
                              f"({L.NDIS_SWITCH_PROPERTY_TYPE_CUSTOM}): the buffer holds no custom property",
                              "property_type")
        if self.serialization_version != L.NDIS_SWITCH_OBJECT_SERIALIZATION_VERSION_1:
            raise LayoutError(f"serialization_version {self.serialization_version} is not "
                              "NDIS_SWITCH_OBJECT_SERIALIZATION_VERSION_1 (1)", "serialization_version")
        buffer = _check_property_buffer(self)
        if buffer.nbytes < _CUSTOM_SIZE:
            raise LayoutError(f"property_buffer holds {buffer.nbytes} bytes, fewer than the "
                              f"{_CUSTOM_SIZE}-byte PROPERTY_CUSTOM", "property_buffer")
        if property_id is not None:
            want = _guid(property_id, "property_id")
            if self.property_id != want:
                raise LayoutError(f"property_id {self.property_id} is not ours ({want})", "property_id")
        if property_version is not None:
            version = encode_version(property_version)
            if self.property_version != version:
                raise LayoutError(f"property_version {self.property_version:#06x} is not ours ({version:#06x})",
                                  "property_version")

    def validated_settings(self: Any, view_type: Any, *, property_id: Any = None, property_version: Any = None) -> Any:
        """The whole chain, each step checked before the next is read: ``validate()`` this structure, then
        the PROPERTY_CUSTOM inside it, then every offset and length of the policy struct (``view_type``).
        Zero-copy; raises LayoutError naming the failed field."""
        self.validate(property_id, property_version)
        custom = self.custom()
        custom.validate()
        _check_empty_parts(custom)
        buffer = custom.property_buffer
        try:
            policy = view_type(buffer)
        except BufferTooShort as exc:
            raise LayoutError(f"property_buffer holds {buffer.nbytes} bytes, fewer than the "
                              f"{exc.bytes_needed}-byte {view_type.__name__}", "property_buffer") from None
        policy.nbytes  # noqa: B018 - reads and bounds-checks every variable part of the policy struct
        _check_empty_parts(policy)
        return policy

    @classmethod
    def _build_chain(cls, values: Dict[str, Any], payload: Any, property_version: Any, into: Any) -> Any:
        data = _readable_bytes(payload, "payload")
        if data.nbytes > 0xFFFFFFFF - _CUSTOM_SIZE:  # PropertyBufferLength (ULONG) holds custom + payload
            raise OverflowError(f"payload: {data.nbytes} bytes do not fit PropertyBufferLength (ULONG) with the "
                                f"{_CUSTOM_SIZE}-byte PROPERTY_CUSTOM")
        version = encode_version(property_version)
        custom = cls._custom_type.build(data)
        values.update(
            header_type=L.NDIS_OBJECT_TYPE_DEFAULT,
            header_revision=cls._revision,
            header_size=cls.layout.size,
            property_version=version,
            serialization_version=L.NDIS_SWITCH_OBJECT_SERIALIZATION_VERSION_1,
            property_buffer=custom,
        )
        return build_view(cls, values, into)


class _PortPropertyParametersMethods(_PropertyParametersMethods):
    __slots__ = ()

    @classmethod
    def build(cls, *, port_id: int, property_id: Any, property_version: Any, property_instance_id: Any,
              payload: Any, property_type: int = L.NDIS_SWITCH_PROPERTY_TYPE_CUSTOM, into: Any = None) -> Any:
        """The whole OID_SWITCH_PORT_PROPERTY_ADD chain: parameters -> custom -> payload bytes."""
        return cls._build_chain(dict(port_id=port_id, property_id=property_id, property_type=property_type,
                                     property_instance_id=property_instance_id), payload, property_version, into)


class _SwitchPropertyParametersMethods(_PropertyParametersMethods):
    __slots__ = ()

    @classmethod
    def build(cls, *, property_id: Any, property_version: Any, property_instance_id: Any, payload: Any,
              property_type: int = L.NDIS_SWITCH_PROPERTY_TYPE_CUSTOM, into: Any = None) -> Any:
        """The whole OID_SWITCH_PROPERTY_ADD chain: parameters -> custom -> payload bytes."""
        return cls._build_chain(dict(property_id=property_id, property_type=property_type,
                                     property_instance_id=property_instance_id), payload, property_version, into)


# ---------------------------------------------------------------------------------------------------


def _module_of(engine: Any) -> str:
    # Users meet the views as vmgen.NicSaveState and vmgen._reference.NicSaveState.
    return "vmgen._reference" if engine.__name__.endswith("._pyfields") else "vmgen"


def view_type_for(engine: Any, layout: L.Layout, name: Optional[str] = None, bases: Iterable[type] = ()) -> Any:
    """A view class for any Layout (used for MOF layouts): generic ``build`` plus ``version``."""
    return engine.make_view_type(name or layout.view_name or layout.struct.name, layout,
                                 tuple(bases) + (_Buildable,), {"version": layout.version,
                                                                 "__module__": _module_of(engine)})


def define_views(engine: Any) -> Dict[str, Any]:
    module = _module_of(engine)

    def make(name: str, layout: L.Layout, bases: Tuple[type, ...], namespace: Optional[Dict[str, Any]] = None) -> Any:
        return engine.make_view_type(name, layout, bases, dict(namespace or {}, __module__=module))

    custom = make("PropertyCustom", L.PROPERTY_CUSTOM_LAYOUT, (_PropertyCustomMethods,))
    return {
        "NicSaveState": make("NicSaveState", L.NIC_SAVE_STATE_LAYOUT, (_NicSaveStateMethods,)),
        "FeatureSettings": view_type_for(engine, L.FEATURE_SETTINGS_LAYOUT),
        "PropertyCustom": custom,
        "PortPropertyParameters": make(
            "PortPropertyParameters", L.PORT_PROPERTY_PARAMETERS_LAYOUT, (_PortPropertyParametersMethods,),
            {"_custom_type": custom, "_revision": L.NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1,
             "_size_name": "NDIS_SIZEOF_NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1"}),
        "SwitchPropertyParameters": make(
            "SwitchPropertyParameters", L.SWITCH_PROPERTY_PARAMETERS_LAYOUT, (_SwitchPropertyParametersMethods,),
            {"_custom_type": custom, "_revision": L.NDIS_SWITCH_PROPERTY_PARAMETERS_REVISION_1,
             "_size_name": "NDIS_SIZEOF_NDIS_SWITCH_PROPERTY_PARAMETERS_REVISION_1"}),
    }
