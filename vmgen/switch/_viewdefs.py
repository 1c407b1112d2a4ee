"""The view classes, defined once over any field engine.

``define_views(engine)`` makes NicSaveState, FeatureSettings, ... on ``engine.make_view_type``: the
Cython engine (``vmgen.switch._fields``) for ``vmgen`` and the pure-Python one (``vmgen.switch._pyfields``)
for ``vmgen._reference``. Fields come from ``vmgen.switch.layout``; the methods below (builders, restore-side
checks, the property chain) are the only hand-written behaviour, and both engines share it.
"""
from __future__ import annotations

import operator
import struct
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


def _pack_part(spec: Tuple[Any, ...], value: Any) -> Tuple[bytes, int, int]:
    """A variable part's bytes, its alignment and the count/size stored beside its offset."""
    kind, attr = spec[0], spec[1]
    if kind == L.K_OSTR:
        if not isinstance(value, str):
            raise TypeError(f"{attr} must be a str, not {type(value).__name__}")
        chars = value.encode("utf-16-le", "surrogatepass")
        if len(chars) > 0xFFFF:
            raise OverflowError(f"{attr}: {len(chars)} bytes do not fit VARIABLE_LENGTH_STRING.StringLength")
        return struct.pack("<H", len(chars)) + chars, 2, 0
    if kind == L.K_OARR:
        elem_size, fmt, signed = spec[6], spec[7], spec[8]
        items = list(value)
        lo, hi = (-(1 << (8 * elem_size - 1)), (1 << (8 * elem_size - 1)) - 1) if signed else (0, (1 << (8 * elem_size)) - 1)
        for item in items:
            i = operator.index(item)  # TypeError (not AttributeError) for non-integers
            if not lo <= i <= hi:
                raise OverflowError(f"{attr}: {item} does not fit a {'signed' if signed else 'unsigned'} "
                                    f"{8 * elem_size}-bit element")
        return struct.pack(f"<{len(items)}{fmt}", *items), elem_size, len(items)
    if kind == L.K_BLOB:
        data = _readable_bytes(value, attr)
        return bytes(data), 1, data.nbytes
    raise AssertionError(kind)


def _store_member(buf: bytearray, offset: int, size: int, value: int, what: str) -> None:
    if not 0 <= value < (1 << (8 * size)):
        raise OverflowError(f"{what}: {value} does not fit its {8 * size}-bit field")
    buf[offset:offset + size] = value.to_bytes(size, "little")


def build_view(cls: Any, values: Dict[str, Any], into: Any = None) -> Any:
    """Serialize ``values`` (field name -> value) into a new bytearray or into ``into``.

    Variable parts follow the fixed part in field order, each aligned to its element size. ``into``
    too small raises BufferTooShort(bytes_needed) and is left untouched: everything is checked and
    laid out in a scratch buffer first.
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
            data, align, count = _pack_part(spec, values.get(attr, default))
            pos = (pos + align - 1) // align * align
            parts.append((spec, pos, data, count))
            pos += len(data)
    scratch = bytearray(pos)
    view = cls(scratch)
    for attr, value in values.items():
        if specs[attr][0] not in (L.K_OSTR, L.K_OARR, L.K_BLOB):
            setattr(view, attr, value)
    for spec, offset, data, count in parts:
        kind, attr = spec[0], spec[1]
        if kind == L.K_OSTR:
            _store_member(scratch, spec[2], spec[3], offset, attr + " offset")
        else:  # OARR: (count_off, count_size, off_off, off_size); BLOB: (size_off, size_size, off_off, off_size)
            _store_member(scratch, spec[2], spec[3], count, attr + (" count" if kind == L.K_OARR else " size"))
            _store_member(scratch, spec[4], spec[5], offset, attr + " offset")
        scratch[offset:offset + len(data)] = data
    del view  # release our export of scratch before handing it out
    if into is None:
        return cls(scratch)
    target = _writable_bytes(into)
    if target.nbytes < len(scratch):
        raise BufferTooShort(
            f"{cls.__name__}: {len(scratch)} bytes needed, the buffer has {target.nbytes}", len(scratch))
    target[:len(scratch)] = scratch
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


class _NicSaveStateMethods:
    __slots__ = ()

    @staticmethod
    def bytes_needed(data_len: int) -> int:
        """BytesNeeded for OID_SWITCH_NIC_SAVE: NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1 + data."""
        if data_len < 0:
            raise ValueError("data_len must be >= 0")
        return _REV1_SIZE + data_len

    @classmethod
    def build(cls, extension_id: Any, extension_friendly_name: str, save_data: Any, *, port_id: int = 0,
              nic_index: int = 0, feature_class_id: Any = None, into: Any = None) -> Any:
        """The save side of OID_SWITCH_NIC_SAVE: a revision-1 structure with the data at offset 568.

        ``into`` too small raises BufferTooShort with ``bytes_needed`` (NDIS_STATUS_BUFFER_TOO_SHORT)."""
        data = _readable_bytes(save_data, "save_data")
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
            feature_class_id=uuid.UUID(int=0) if feature_class_id is None else feature_class_id,
            save_data=data,
        ), into)

    def validate(self: Any, extension_id: Any = None) -> None:
        """The restore-side checks of OID_SWITCH_NIC_RESTORE; raises LayoutError naming the failed one."""
        if self.header_type != L.NDIS_OBJECT_TYPE_DEFAULT:
            raise LayoutError(f"header_type is {self.header_type:#x}, not NDIS_OBJECT_TYPE_DEFAULT (0x80)",
                              "header_type")
        if self.header_revision < L.NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1:
            raise LayoutError(f"header_revision {self.header_revision} < 1", "header_revision")
        if self.header_size < _REV1_SIZE:
            raise LayoutError(f"header_size {self.header_size} < NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1"
                              f" ({_REV1_SIZE})", "header_size")
        avail = len(_readable_bytes(self.obj, "buffer")) - self.offset
        if self.header_size > avail:
            raise LayoutError(f"header_size {self.header_size} exceeds the {avail} bytes in the buffer", "header_size")
        data = self.save_data  # bounds-checked by the engine: inside the buffer, after the fixed part
        if data.nbytes and self.save_data_offset < self.header_size:
            raise LayoutError(f"save_data_offset {self.save_data_offset} overlaps the {self.header_size}-byte "
                              "structure", "save_data_offset")
        self.extension_friendly_name  # noqa: B018 - decodes and checks the counted string
        if extension_id is not None:
            want = extension_id if isinstance(extension_id, uuid.UUID) else uuid.UUID(str(extension_id))
            if self.extension_id != want:
                raise LayoutError(f"extension_id {self.extension_id} is not ours ({want}): forward the restore "
                                  "untouched", "extension_id")


# ---------------------------------------------------------------------------------------------------
# Custom property chain: *_PROPERTY_PARAMETERS -> *_PROPERTY_CUSTOM -> the policy struct


class _PropertyCustomMethods:
    __slots__ = ()

    def settings(self: Any, view_type: Any) -> Any:
        """The policy structure inside (e.g. FeatureSettings), zero-copy, bounded by PropertyBufferLength."""
        return view_type(self.property_buffer)

    @classmethod
    def build(cls, payload: Any, *, into: Any = None) -> Any:
        return build_view(cls, dict(
            header_type=L.NDIS_OBJECT_TYPE_DEFAULT,
            header_revision=L.NDIS_SWITCH_PORT_PROPERTY_CUSTOM_REVISION_1,
            header_size=L.PORT_PROPERTY_CUSTOM.size,
            property_buffer=_readable_bytes(payload, "payload"),
        ), into)


class _PropertyParametersMethods:
    __slots__ = ()
    _custom_type: Any
    _revision: int
    layout: L.Layout

    def custom(self: Any) -> Any:
        """NDIS_SWITCH_*_PROPERTY_CUSTOM at PropertyBufferOffset, over exactly the property buffer."""
        buffer = self.property_buffer
        if buffer.nbytes < L.PORT_PROPERTY_CUSTOM.size:
            raise LayoutError(f"property_buffer holds {buffer.nbytes} bytes, fewer than the "
                              f"{L.PORT_PROPERTY_CUSTOM.size}-byte PROPERTY_CUSTOM", "property_buffer")
        return self._custom_type(buffer)

    @classmethod
    def _build_chain(cls, values: Dict[str, Any], payload: Any, property_version: Any, into: Any) -> Any:
        custom = cls._custom_type.build(payload)
        values.update(
            header_type=L.NDIS_OBJECT_TYPE_DEFAULT,
            header_revision=cls._revision,
            header_size=cls.layout.size,
            property_version=encode_version(property_version),
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
            {"_custom_type": custom, "_revision": L.NDIS_SWITCH_PORT_PROPERTY_PARAMETERS_REVISION_1}),
        "SwitchPropertyParameters": make(
            "SwitchPropertyParameters", L.SWITCH_PROPERTY_PARAMETERS_LAYOUT, (_SwitchPropertyParametersMethods,),
            {"_custom_type": custom, "_revision": L.NDIS_SWITCH_PROPERTY_PARAMETERS_REVISION_1}),
    }
