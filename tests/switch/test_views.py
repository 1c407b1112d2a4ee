"""API.md section 2, name by name, on both engines (the ``engine`` fixture) and every buffer kind.

Expected values come from hand-written ``struct`` offsets taken from LAYOUTS.md, not from vmgen.layout,
so a wrong computed offset shows up here too.
"""
from __future__ import annotations

import array
import ctypes
import gc
import mmap
import struct
import uuid
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import pytest

import vmgen
from vmgen import BufferTooShort, LayoutError, VmgenError

EXT = uuid.UUID("0c3b5b3e-4a6f-4c1d-9a44-7f2b1c3d5e6f")
FC = uuid.UUID("f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9")
OTHER = uuid.UUID("11111111-2222-3333-4444-555555555555")
NAME = "Fabrikam Switch Ext \u2713 \U0001d11e"  # BMP non-ASCII and a surrogate pair
DATA = bytes(range(37))

NIC_SIZE = 568
FS_SIZE = 592
PPP_SIZE = 64
SPP_SIZE = 56
CUSTOM_SIZE = 16

# ---------------------------------------------------------------------------------------------------
# Hand-made structures (LAYOUTS.md offsets)


def raw_nic(name: str = NAME, data: bytes = DATA, *, htype: int = 0x80, rev: int = 1, size: int = 568,
            flags: int = 0, port_id: int = 7, nic_index: int = 2, ext: uuid.UUID = EXT, fc: uuid.UUID = FC,
            data_size: int = -1, data_off: int = 568, name_len: int = -1, total: int = -1) -> bytearray:
    enc = name.encode("utf-16-le", "surrogatepass")
    n = max(568, data_off + len(data)) if total < 0 else total
    b = bytearray(n)
    struct.pack_into("<BBHIIH", b, 0, htype, rev, size, flags, port_id, nic_index)
    b[16:32] = ext.bytes_le
    struct.pack_into("<H", b, 32, len(enc) if name_len < 0 else name_len)
    b[34:34 + len(enc)] = enc
    b[548:564] = fc.bytes_le
    struct.pack_into("<HH", b, 564, len(data) if data_size < 0 else data_size, data_off)
    if data and 568 <= data_off and data_off + len(data) <= n:
        b[data_off:data_off + len(data)] = data
    return b


def raw_fs(i8: int = 8, i16: int = 16, i32: int = 32, i64: int = 64, fstr: str = "fixed",
           vstr: str = "variable \u00e9", farr: Tuple[int, ...] = (1, 2, 3), varr: Tuple[int, ...] = (10, 20, 30, 40),
           ) -> bytearray:
    """SAMPLE_FEATURE_SETTINGS + VARIABLE_LENGTH_STRING at 592 + VARIABLE_LENGTH_ARRAY 4-aligned after it."""
    fenc = fstr.encode("utf-16-le")
    venc = vstr.encode("utf-16-le")
    soff = FS_SIZE
    aoff = (soff + 2 + len(venc) + 3) // 4 * 4
    b = bytearray(aoff + 4 * len(varr))
    struct.pack_into("<B", b, 0, i8)
    struct.pack_into("<II", b, 4, i16, i32)
    struct.pack_into("<QH", b, 16, i64, len(fenc))
    b[26:26 + len(fenc)] = fenc
    struct.pack_into("<II", b, 540, soff, len(farr))
    struct.pack_into(f"<{len(farr)}I", b, 548, *farr)
    struct.pack_into("<II", b, 580, len(varr), aoff if varr else 0)
    struct.pack_into("<H", b, soff, len(venc))
    b[soff + 2:soff + 2 + len(venc)] = venc
    struct.pack_into(f"<{len(varr)}I", b, aoff, *varr)
    return b


def raw_custom(payload: bytes, *, off: int = 16, length: int = -1) -> bytearray:
    b = bytearray(max(16, off + len(payload)))
    struct.pack_into("<BBHIII", b, 0, 0x80, 1, 16, 0, len(payload) if length < 0 else length, off)
    b[off:off + len(payload)] = payload
    return b


def raw_ppp(inner: bytes, *, port_id: int = 5, version: int = 0x0101, off: int = 64, length: int = -1,
            pid: uuid.UUID = EXT, iid: uuid.UUID = OTHER, extra: int = 0) -> bytearray:
    b = bytearray(max(64, off + len(inner)) + extra)
    struct.pack_into("<BBHIII", b, 0, 0x80, 1, 64, 0, port_id, 1)
    b[16:32] = pid.bytes_le
    struct.pack_into("<HH", b, 32, version, 1)
    b[36:52] = iid.bytes_le
    struct.pack_into("<III", b, 52, len(inner) if length < 0 else length, off, 0)
    b[off:off + len(inner)] = inner
    return b


def raw_spp(inner: bytes, *, version: int = 0x0100, off: int = 56, pid: uuid.UUID = EXT,
            iid: uuid.UUID = OTHER) -> bytearray:
    b = bytearray(max(56, off + len(inner)))
    struct.pack_into("<BBHII", b, 0, 0x80, 1, 56, 0, 1)
    b[12:28] = pid.bytes_le
    struct.pack_into("<HH", b, 28, version, 1)
    b[32:48] = iid.bytes_le
    struct.pack_into("<II", b, 48, len(inner), off)
    b[off:off + len(inner)] = inner
    return b


# ---------------------------------------------------------------------------------------------------
# Buffer kinds: bytes -> an object exporting the buffer protocol


def _pad4(b: bytes) -> bytes:
    return bytes(b) + bytes(-len(b) % 4)


def _mmap(b: bytes) -> mmap.mmap:
    m = mmap.mmap(-1, len(b))
    m[:] = bytes(b)
    return m


def _np_ro(b: bytes) -> np.ndarray:
    a = np.frombuffer(bytearray(b), np.uint8)
    a.flags.writeable = False
    return a


def _array_i(b: bytes) -> array.array:
    a = array.array("I")
    a.frombytes(_pad4(b))
    return a


KINDS: Dict[str, Tuple[Callable[[bytes], Any], bool]] = {
    "bytes": (bytes, False),
    "bytearray": (bytearray, True),
    "memoryview": (lambda b: memoryview(bytearray(b)), True),
    "memoryview_ro": (lambda b: memoryview(bytes(b)), False),
    "mmap": (_mmap, True),
    "numpy_uint8": (lambda b: np.frombuffer(bytearray(b), np.uint8), True),
    "numpy_uint32": (lambda b: np.frombuffer(bytearray(_pad4(b)), np.uint32), True),
    "numpy_readonly": (_np_ro, False),
    "array_B": (lambda b: array.array("B", bytes(b)), True),
    "array_I": (_array_i, True),
}
WRITABLE = [k for k, (_, w) in KINDS.items() if w]
READONLY = [k for k, (_, w) in KINDS.items() if not w]


def raw_of(obj: Any) -> bytes:
    """The current bytes of a buffer object (read through the buffer protocol, no vmgen involved)."""
    return memoryview(obj).cast("B").tobytes() if memoryview(obj).format != "B" else bytes(memoryview(obj))


# ---------------------------------------------------------------------------------------------------
# Names


def test_public_names() -> None:
    from vmgen import (  # noqa: F401 - the import is the test
        BufferTooShort, FeatureSettings, LayoutError, NicSaveState, PortPropertyParameters, PropertyCustom,
        SwitchPropertyParameters, decode_version, encode_version)
    import vmgen._reference as ref

    for name in ("NicSaveState", "FeatureSettings", "PropertyCustom", "PortPropertyParameters",
                 "SwitchPropertyParameters"):
        assert getattr(ref, name).__name__ == name
        assert getattr(vmgen, name).__name__ == name
    assert issubclass(LayoutError, VmgenError) and issubclass(LayoutError, ValueError)
    assert issubclass(BufferTooShort, LayoutError)
    e = BufferTooShort("x", 600)
    assert e.bytes_needed == 600
    assert LayoutError("x", "port_id").field == "port_id"


def test_default_engine_is_c() -> None:
    import os

    if os.environ.get("VMGEN_PURE"):
        assert vmgen.IMPLEMENTATION.startswith("pure-Python")
    else:
        assert vmgen.IMPLEMENTATION.startswith("C"), vmgen.IMPLEMENTATION
        assert type(vmgen.NicSaveState.port_id).__module__ == "vmgen.switch._fields"


# ---------------------------------------------------------------------------------------------------
# Reads and writes on every buffer kind


def check_nic_fields(s: Any) -> None:
    assert (s.header_type, s.header_revision, s.header_size) == (0x80, 1, 568)
    assert (s.flags, s.port_id, s.nic_index) == (0, 7, 2)
    assert s.extension_id == EXT and isinstance(s.extension_id, uuid.UUID)
    assert s.feature_class_id == FC
    assert s.extension_friendly_name == NAME
    assert (s.save_data_size, s.save_data_offset) == (len(DATA), 568)
    assert isinstance(s.save_data, memoryview) and bytes(s.save_data) == DATA
    assert s.nbytes == 568 + len(DATA)


@pytest.mark.parametrize("kind", list(KINDS))
def test_read_every_buffer_kind(engine: Any, kind: str) -> None:
    make, _ = KINDS[kind]
    obj = make(raw_nic())
    s = engine.NicSaveState(obj)
    check_nic_fields(s)
    assert s.readonly == (kind in READONLY)
    f = engine.FeatureSettings(make(raw_fs()))
    assert (f.int_value8, f.int_value16, f.int_value32, f.int_value64) == (8, 16, 32, 64)
    assert f.fixed_length_string == "fixed" and f.variable_length_string == "variable \u00e9"
    assert f.fixed_length_array.tolist() == [1, 2, 3] and f.fixed_length_array.format == "I"
    assert f.variable_length_array.tolist() == [10, 20, 30, 40] and f.variable_length_array.format == "I"


@pytest.mark.parametrize("kind", WRITABLE)
def test_write_in_place(engine: Any, kind: str) -> None:
    make, _ = KINDS[kind]
    obj = make(raw_nic())
    s = engine.NicSaveState(obj)
    s.port_id = 0xDEADBEEF
    s.nic_index = 0xFFFF
    s.flags = 3
    s.extension_id = OTHER
    s.feature_class_id = str(EXT)  # a GUID string is accepted too
    s.extension_friendly_name = "short"
    s.save_data[0] = 0xEE  # zero-copy memoryview into the original
    raw = raw_of(obj)
    assert struct.unpack_from("<IIH", raw, 4) == (3, 0xDEADBEEF, 0xFFFF)
    assert raw[16:32] == OTHER.bytes_le and raw[548:564] == EXT.bytes_le
    assert struct.unpack_from("<H", raw, 32)[0] == 10
    assert raw[34:44] == "short".encode("utf-16-le")
    assert raw[44:34 + 2 * 257] == bytes(2 * 257 - 10), "the rest of the counted string is cleared"
    assert raw[568] == 0xEE and raw[569:568 + len(DATA)] == DATA[1:]
    check = engine.NicSaveState(obj)
    assert check.port_id == 0xDEADBEEF and check.extension_friendly_name == "short"

    f = engine.FeatureSettings(make(raw_fs()))
    f.int_value8, f.int_value16, f.int_value32, f.int_value64 = 0xFF, 0xFFFFFFFF, 1, 2**64 - 1
    f.fixed_length_string = "x" * 255  # capacity: WCHAR[256] keeps one slot for the NUL
    f.fixed_length_array = range(8)
    f.variable_length_array[3] = 99
    raw = raw_of(f.obj) if not engine.is_c else raw_of(f.obj)
    assert struct.unpack_from("<B", raw, 0)[0] == 0xFF
    assert struct.unpack_from("<II", raw, 4) == (0xFFFFFFFF, 1)
    assert struct.unpack_from("<QH", raw, 16) == (2**64 - 1, 510)
    assert raw[26:26 + 510] == ("x" * 255).encode("utf-16-le") and raw[536:538] == b"\0\0"
    assert struct.unpack_from("<I8I", raw, 544) == (8, *range(8))
    assert f.variable_length_array.tolist() == [10, 20, 30, 99]


@pytest.mark.parametrize("kind", READONLY)
def test_readonly_buffer_refuses_writes(engine: Any, kind: str) -> None:
    make, _ = KINDS[kind]
    obj = make(raw_nic())
    before = raw_of(obj)
    s = engine.NicSaveState(obj)
    assert s.readonly
    for attr, value in [("port_id", 1), ("header_type", 0x80), ("nic_index", 1), ("extension_id", OTHER),
                        ("feature_class_id", OTHER), ("extension_friendly_name", "x"), ("save_data_size", 1),
                        ("save_data", b"x")]:
        with pytest.raises(TypeError):
            setattr(s, attr, value)
    m = engine.mv(s)
    assert m.readonly
    with pytest.raises(TypeError):
        m[0] = 1
    with pytest.raises(TypeError):
        s.save_data[0] = 1
    f = engine.FeatureSettings(make(raw_fs()))
    with pytest.raises(TypeError):
        f.fixed_length_array[0] = 1
    with pytest.raises(TypeError):
        f.fixed_length_array = [1]
    with pytest.raises(TypeError):
        f.int_value64 = 1
    assert raw_of(obj) == before


def test_readonly_writable_export_refused(engine: Any) -> None:
    s = engine.NicSaveState(bytes(raw_nic()))
    if engine.is_c:
        with pytest.raises(TypeError):
            ctypes.c_char.from_buffer(s)  # asks for a writable buffer
        with pytest.raises(TypeError):
            struct.pack_into("<I", s, 8, 1)
        ctypes.c_char.from_buffer(engine.NicSaveState(bytearray(raw_nic())))  # writable: fine
    else:
        with pytest.raises(BufferError):
            s.__buffer__(1)  # inspect.BufferFlags.WRITABLE
        engine.NicSaveState(bytearray(raw_nic())).__buffer__(1)


def test_offset_argument(engine: Any) -> None:
    raw = raw_nic()
    buf = bytearray(b"\xaa" * 40) + raw + bytearray(b"\xbb" * 9)
    for s in (engine.NicSaveState(buf, offset=40), engine.NicSaveState(buf, 40)):
        assert s.offset == 40
        check_nic_fields(s)  # SaveDataOffset counts from the structure start
        assert bytes(engine.mv(s)) == bytes(raw)
    s.port_id = 0x01020304
    assert buf[48:52] == b"\x04\x03\x02\x01" and buf[:40] == b"\xaa" * 40
    with pytest.raises(ValueError):
        engine.NicSaveState(buf, offset=-1)
    with pytest.raises(TypeError):
        engine.NicSaveState(buf, offset="1")
    with pytest.raises(BufferTooShort) as e:
        engine.NicSaveState(buf, offset=len(buf) - 567)
    assert e.value.bytes_needed == len(buf) - 567 + 568
    with pytest.raises(BufferTooShort) as e:
        engine.NicSaveState(buf, offset=10**6)
    assert e.value.bytes_needed == 10**6 + 568
    with pytest.raises(TypeError):
        engine.NicSaveState()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        engine.NicSaveState(buf, 0, 0)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        engine.NicSaveState(buf, offst=0)  # type: ignore[call-arg]
    assert engine.NicSaveState(buf=buf, offset=40).port_id == 0x01020304


@pytest.mark.parametrize("kind", WRITABLE)
def test_export_is_zero_copy(engine: Any, kind: str) -> None:
    make, _ = KINDS[kind]
    obj = make(raw_nic())
    s = engine.NicSaveState(obj)
    m = engine.mv(s)
    assert m.nbytes == s.nbytes == 568 + len(DATA) and m.format == "B" and m.ndim == 1
    assert not m.readonly
    m[8:12] = b"\x11\x22\x33\x44"
    m[568] = 0x77
    raw = raw_of(obj)
    assert raw[8:12] == b"\x11\x22\x33\x44" and raw[568] == 0x77
    assert s.port_id == 0x44332211
    if engine.is_c:  # any buffer consumer works on the view itself
        a = np.frombuffer(s, np.uint8)
        a[4] = 9
        assert s.flags == 9 and raw_of(obj)[4] == 9


def test_fixed_and_variable_arrays_zero_copy(engine: Any) -> None:
    buf = raw_fs()
    f = engine.FeatureSettings(buf)
    fa, va = f.fixed_length_array, f.variable_length_array
    assert fa.itemsize == 4 and va.itemsize == 4 and len(fa) == 3 and len(va) == 4
    fa[1] = 0xCAFEBABE
    va[0] = 7
    assert struct.unpack_from("<I", buf, 548 + 4)[0] == 0xCAFEBABE
    aoff = struct.unpack_from("<I", buf, 584)[0]
    assert struct.unpack_from("<I", buf, aoff)[0] == 7
    arr = np.frombuffer(bytearray(_pad4(raw_fs())), np.uint32)
    g = engine.FeatureSettings(arr)
    g.variable_length_array[2] = 12345
    assert 12345 in arr.tolist()  # written into the numpy array itself


def test_property_buffer_zero_copy(engine: Any) -> None:
    inner = raw_custom(b"payload!")
    buf = raw_ppp(inner)
    p = engine.PortPropertyParameters(buf)
    pb = p.property_buffer
    assert bytes(pb) == bytes(inner)
    pb[16] = ord("P")
    assert buf[64 + 16] == ord("P")
    c = p.custom()
    assert bytes(c.property_buffer) == b"Payload!"
    c.property_buffer[1] = ord("A")
    assert buf[64 + 17] == ord("A")


# ---------------------------------------------------------------------------------------------------
# Values that do not fit, wrong types, read-only attributes

OVERFLOWS = [
    ("NicSaveState", "header_type", 256), ("NicSaveState", "header_type", -1),
    ("NicSaveState", "header_size", 65536), ("NicSaveState", "port_id", 2**32),
    ("NicSaveState", "port_id", -1), ("NicSaveState", "nic_index", 65536),
    ("NicSaveState", "save_data_size", 2**16), ("NicSaveState", "save_data_offset", 2**100),
    ("NicSaveState", "extension_friendly_name", "n" * 257),  # IF_COUNTED_STRING: WCHAR[257], 256 chars
    ("NicSaveState", "extension_friendly_name", "\U0001d11e" * 129),  # 258 UTF-16 code units
    ("FeatureSettings", "int_value8", 256), ("FeatureSettings", "int_value16", 2**32),
    ("FeatureSettings", "int_value64", 2**64), ("FeatureSettings", "int_value64", -(2**63)),
    ("FeatureSettings", "fixed_length_string", "s" * 256),
    ("FeatureSettings", "fixed_length_array", list(range(9))),
    ("FeatureSettings", "fixed_length_array", [1, 2**32]),
    ("FeatureSettings", "fixed_length_array", [-1]),
    ("PortPropertyParameters", "property_version", 0x10000),
    ("PortPropertyParameters", "property_buffer_offset", 2**32),
    ("SwitchPropertyParameters", "property_type", 2**32),
    ("PropertyCustom", "property_buffer_length", -5),
]


def _fresh(engine: Any, cls_name: str) -> Any:
    raw = {"NicSaveState": raw_nic, "FeatureSettings": raw_fs,
           "PortPropertyParameters": lambda: raw_ppp(raw_custom(b"abc")),
           "SwitchPropertyParameters": lambda: raw_spp(raw_custom(b"abc")),
           "PropertyCustom": lambda: raw_custom(b"abc")}[cls_name]()
    return getattr(engine, cls_name)(raw)


@pytest.mark.parametrize("cls_name,attr,value", OVERFLOWS, ids=[f"{c}.{a}" for c, a, _ in OVERFLOWS])
def test_overflow(engine: Any, cls_name: str, attr: str, value: Any) -> None:
    v = _fresh(engine, cls_name)
    before = bytes(engine.mv(v))
    with pytest.raises(OverflowError):
        setattr(v, attr, value)
    assert bytes(engine.mv(v)) == before, "a failed set leaves the buffer untouched"


def test_capacity_edges(engine: Any) -> None:
    s = _fresh(engine, "NicSaveState")
    s.extension_friendly_name = "n" * 256
    assert s.extension_friendly_name == "n" * 256
    f = _fresh(engine, "FeatureSettings")
    f.fixed_length_string = "\U0001d11e" * 127 + "a"  # 255 code units
    assert f.fixed_length_string == "\U0001d11e" * 127 + "a"
    f.fixed_length_array = [2**32 - 1] * 8
    assert f.fixed_length_array.tolist() == [2**32 - 1] * 8
    f.fixed_length_array = []
    assert f.fixed_length_array.tolist() == []
    f.int_value8 = True  # __index__ types are accepted
    f.int_value64 = np.uint64(2**64 - 1)
    assert (f.int_value8, f.int_value64) == (1, 2**64 - 1)


BAD_TYPES = [
    ("NicSaveState", "port_id", "1"), ("NicSaveState", "port_id", 1.5), ("NicSaveState", "port_id", None),
    ("NicSaveState", "extension_id", b"\0" * 16), ("NicSaveState", "extension_id", 5),
    ("NicSaveState", "extension_friendly_name", b"bytes"),
    ("FeatureSettings", "fixed_length_array", ["x"]), ("FeatureSettings", "fixed_length_array", 5),
    ("FeatureSettings", "fixed_length_string", 5),
]


@pytest.mark.parametrize("cls_name,attr,value", BAD_TYPES, ids=[f"{c}.{a}-{v!r}" for c, a, v in BAD_TYPES])
def test_wrong_type(engine: Any, cls_name: str, attr: str, value: Any) -> None:
    v = _fresh(engine, cls_name)
    before = bytes(engine.mv(v))
    with pytest.raises(TypeError):
        setattr(v, attr, value)
    assert bytes(engine.mv(v)) == before


def test_bad_guid_string(engine: Any) -> None:
    s = _fresh(engine, "NicSaveState")
    with pytest.raises(ValueError):
        s.extension_id = "not-a-guid"


@pytest.mark.parametrize("cls_name,attr", [
    ("NicSaveState", "save_data"), ("FeatureSettings", "variable_length_string"),
    ("FeatureSettings", "variable_length_array"), ("PortPropertyParameters", "property_buffer"),
    ("SwitchPropertyParameters", "property_buffer"), ("PropertyCustom", "property_buffer")])
def test_variable_parts_are_read_only_attributes(engine: Any, cls_name: str, attr: str) -> None:
    v = _fresh(engine, cls_name)
    with pytest.raises(AttributeError):
        setattr(v, attr, getattr(v, attr))
    with pytest.raises(AttributeError):
        delattr(v, attr)
    with pytest.raises(AttributeError):
        delattr(v, "int_value8" if cls_name == "FeatureSettings" else "header_type")
    with pytest.raises(AttributeError):
        v.not_a_field = 1  # views have no __dict__


def test_unbound_view_does_not_crash(engine: Any) -> None:
    # Found by these tests: Type.__new__(Type) gave a view with a NULL pointer that segfaulted on read.
    for name in ("NicSaveState", "FeatureSettings", "PortPropertyParameters"):
        cls = getattr(engine, name)
        v = cls.__new__(cls)
        for attr in cls.layout.attr_names():
            with pytest.raises(ValueError):
                getattr(v, attr)
        with pytest.raises(ValueError):
            setattr(v, cls.layout.attr_names()[0], 1)
        for method in (v.to_dict, lambda: v.nbytes, lambda: bytes(engine.mv(v))):
            with pytest.raises(ValueError):
                method()
        v.__init__(raw_nic() if name == "NicSaveState" else raw_fs() if name == "FeatureSettings"
                   else raw_ppp(raw_custom(b"")))
        assert v.header_type == 0x80 if name != "FeatureSettings" else v.int_value8 == 8
        with pytest.raises(TypeError):
            v.__init__(bytearray(1000))  # bound once


def test_field_of_another_view_type(engine: Any) -> None:
    s = _fresh(engine, "NicSaveState")
    f = _fresh(engine, "FeatureSettings")
    with pytest.raises(TypeError):
        type(f).__dict__["int_value8"].__get__(s, type(s))
    with pytest.raises(TypeError):
        type(f).__dict__["int_value8"].__set__(s, 1)


# ---------------------------------------------------------------------------------------------------
# Malformed buffers: LayoutError naming the field


def _nic_with(**kw: Any) -> bytearray:
    return raw_nic(**kw)


def _fs_patch(fmt: str, off: int, *values: int, grow: int = 0) -> bytearray:
    b = raw_fs() + bytearray(grow)
    struct.pack_into(fmt, b, off, *values)
    return b


_FS_TOTAL = len(raw_fs())
MALFORMED: List[Tuple[str, str, Callable[[], bytearray], str]] = [
    ("save_data offset inside the fixed part", "NicSaveState", lambda: _nic_with(data_off=100), "save_data"),
    ("save_data offset 0", "NicSaveState", lambda: _nic_with(data_off=0), "save_data"),
    ("save_data past the end", "NicSaveState", lambda: _nic_with(data_size=200, total=600), "save_data"),
    ("save_data offset+size wraps 16 bits", "NicSaveState",
     lambda: _nic_with(data=b"", data_size=0xFFFF, data_off=0xFFFF), "save_data"),
    ("friendly name length odd", "NicSaveState", lambda: _nic_with(name_len=5), "extension_friendly_name"),
    ("friendly name length > 512", "NicSaveState", lambda: _nic_with(name_len=514), "extension_friendly_name"),
    ("friendly name length 0xFFFE", "NicSaveState", lambda: _nic_with(name_len=0xFFFE), "extension_friendly_name"),
    ("fixed string count odd", "FeatureSettings", lambda: _fs_patch("<H", 24, 3), "fixed_length_string"),
    ("fixed string count > 510", "FeatureSettings", lambda: _fs_patch("<H", 24, 512), "fixed_length_string"),
    ("var string offset inside the fixed part", "FeatureSettings", lambda: _fs_patch("<I", 540, 100),
     "variable_length_string"),
    ("var string offset 0", "FeatureSettings", lambda: _fs_patch("<I", 540, 0), "variable_length_string"),
    ("var string header past the end", "FeatureSettings", lambda: _fs_patch("<I", 540, _FS_TOTAL - 1),
     "variable_length_string"),
    ("var string offset 2**32-1", "FeatureSettings", lambda: _fs_patch("<I", 540, 2**32 - 1),
     "variable_length_string"),
    ("var string length odd", "FeatureSettings", lambda: _fs_patch("<H", 592, 7), "variable_length_string"),
    ("var string length overruns", "FeatureSettings", lambda: _fs_patch("<H", 592, 0xFFFE),
     "variable_length_string"),
    ("fixed array count > 8", "FeatureSettings", lambda: _fs_patch("<I", 544, 9), "fixed_length_array"),
    ("fixed array count 2**32-1", "FeatureSettings", lambda: _fs_patch("<I", 544, 2**32 - 1),
     "fixed_length_array"),
    ("var array offset inside the fixed part", "FeatureSettings", lambda: _fs_patch("<I", 584, 4),
     "variable_length_array"),
    ("var array count overruns", "FeatureSettings", lambda: _fs_patch("<I", 580, 2**32 - 1),
     "variable_length_array"),
    ("var array count*4 wraps 32 bits", "FeatureSettings", lambda: _fs_patch("<I", 580, 2**30 + 1),
     "variable_length_array"),
    ("var array offset past the end", "FeatureSettings", lambda: _fs_patch("<I", 584, 2**32 - 4),
     "variable_length_array"),
    ("property buffer offset inside", "PortPropertyParameters",
     lambda: raw_ppp(raw_custom(b"abc"), off=8, extra=0), "property_buffer"),
    ("property buffer past the end", "PortPropertyParameters",
     lambda: raw_ppp(raw_custom(b"abc"), length=1000), "property_buffer"),
    ("property buffer offset 2**32-1", "PortPropertyParameters",
     lambda: _patched_ppp(), "property_buffer"),
    ("switch property buffer past the end", "SwitchPropertyParameters",
     lambda: raw_spp(raw_custom(b"abc"))[:-1], "property_buffer"),
    ("custom property buffer past the end", "PropertyCustom", lambda: raw_custom(b"abc", length=4),
     "property_buffer"),
    ("custom property buffer inside the header", "PropertyCustom", lambda: raw_custom(b"abc", off=15),
     "property_buffer"),
]


def _patched_ppp() -> bytearray:
    b = raw_ppp(raw_custom(b"abc"))
    struct.pack_into("<II", b, 52, 1, 2**32 - 1)
    return b


@pytest.mark.parametrize("why,cls_name,make,field", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_raises_layout_error_naming_the_field(engine: Any, why: str, cls_name: str,
                                                        make: Callable[[], bytearray], field: str) -> None:
    buf = make()
    v = getattr(engine, cls_name)(buf)  # the fixed part is fine: construction succeeds
    with pytest.raises(LayoutError) as e:
        getattr(v, field)
    assert e.value.field == field and field in str(e.value)
    assert not isinstance(e.value, BufferTooShort)
    with pytest.raises(LayoutError) as e:
        v.to_dict()
    assert e.value.field == field
    if field not in ("fixed_length_string", "fixed_length_array", "extension_friendly_name"):
        # a variable part: nbytes (and so the buffer export and ==) needs it
        with pytest.raises(LayoutError) as e:
            v.nbytes
        assert e.value.field == field
        with pytest.raises(LayoutError):
            engine.mv(v)
        assert v == v and v != getattr(engine, cls_name)(bytearray(buf)), \
            "a structure without well-defined bytes equals only itself"
    text = repr(v)  # repr never raises on a malformed structure; it says what is wrong
    assert cls_name in text and field in text


def test_zero_length_parts_ignore_their_offset(engine: Any) -> None:
    s = engine.NicSaveState(_nic_with(data=b"", data_off=0xFFFF))
    assert bytes(s.save_data) == b"" and s.nbytes == 568
    f = engine.FeatureSettings(_fs_patch("<II", 580, 0, 0xFFFFFFFF))
    assert f.variable_length_array.tolist() == []
    c = engine.PropertyCustom(raw_custom(b"", off=3))
    assert bytes(c.property_buffer) == b"" and c.nbytes == 16


def test_part_may_end_exactly_at_the_buffer_end(engine: Any) -> None:
    s = engine.NicSaveState(bytes(raw_nic(data=b"\x01" * 32)))
    assert s.nbytes == 600 and bytes(s.save_data) == b"\x01" * 32
    s2 = engine.NicSaveState(bytes(raw_nic(data=b"\x01" * 32))[:-1])
    with pytest.raises(LayoutError):
        s2.save_data


@pytest.mark.parametrize("cls_name,size", [("NicSaveState", 568), ("FeatureSettings", 592),
                                           ("PortPropertyParameters", 64), ("SwitchPropertyParameters", 56),
                                           ("PropertyCustom", 16)])
def test_buffer_too_short(engine: Any, cls_name: str, size: int) -> None:
    cls = getattr(engine, cls_name)
    for n in (0, 1, size - 1):
        with pytest.raises(BufferTooShort) as e:
            cls(bytearray(n))
        assert e.value.bytes_needed == size
        assert isinstance(e.value, LayoutError) and isinstance(e.value, ValueError)
    with pytest.raises(BufferTooShort) as e:
        cls(bytearray(size + 3), offset=4)
    assert e.value.bytes_needed == size + 4
    cls(bytearray(size))  # exactly enough
    cls(bytearray(size + 3), offset=3)


# ---------------------------------------------------------------------------------------------------
# Builders and the BytesNeeded exchange


def test_nic_build_matches_hand_layout(engine: Any) -> None:
    s = engine.NicSaveState.build(EXT, NAME, DATA, port_id=7, nic_index=2, feature_class_id=FC)
    assert isinstance(s.obj, bytearray) and len(s.obj) == 568 + len(DATA)
    assert bytes(s.obj) == bytes(raw_nic())
    s.validate(EXT)
    s.validate(str(EXT))
    s2 = engine.NicSaveState.build(str(EXT), "", memoryview(b""))
    assert s2.feature_class_id == uuid.UUID(int=0) and s2.nbytes == 568 and s2.save_data_offset == 568
    big = engine.NicSaveState.build(EXT, "x", np.arange(1000, dtype=np.uint32))  # any buffer as data
    assert bytes(big.save_data) == np.arange(1000, dtype=np.uint32).tobytes()
    with pytest.raises(OverflowError):
        engine.NicSaveState.build(EXT, "x", bytes(65536))  # SaveDataSize is a USHORT
    with pytest.raises(OverflowError):
        engine.NicSaveState.build(EXT, "x" * 257, b"")
    with pytest.raises(TypeError):
        engine.NicSaveState.build(EXT, "x", 12)


def test_bytes_needed(engine: Any) -> None:
    assert engine.NicSaveState.bytes_needed(0) == 568
    assert engine.NicSaveState.bytes_needed(1000) == 1568
    with pytest.raises(ValueError):
        engine.NicSaveState.bytes_needed(-1)


@pytest.mark.parametrize("kind", WRITABLE)
def test_nic_build_into(engine: Any, kind: str) -> None:
    data = b"\x5a" * 100
    need = 568 + len(data)
    small = KINDS[kind][0](b"\xab" * 600)
    before = raw_of(small)
    with pytest.raises(BufferTooShort) as e:
        engine.NicSaveState.build(EXT, NAME, data, into=small)
    assert e.value.bytes_needed == need == engine.NicSaveState.bytes_needed(len(data))
    assert raw_of(small) == before, "the too-small target is left untouched"
    target = KINDS[kind][0](b"\xab" * (need + 8))
    s = engine.NicSaveState.build(EXT, NAME, data, port_id=9, into=target)
    raw = raw_of(target)
    assert raw[:need] == bytes(raw_nic(data=data, port_id=9, nic_index=0, fc=uuid.UUID(int=0)))
    assert raw[need:need + 8] == b"\xab" * 8
    assert s.port_id == 9 and bytes(s.save_data) == data
    s.port_id = 10
    assert raw_of(target)[8] == 10, "the returned view wraps the target"


def test_build_into_readonly_or_wrong(engine: Any) -> None:
    with pytest.raises(TypeError):
        engine.NicSaveState.build(EXT, NAME, DATA, into=bytes(2000))
    with pytest.raises(TypeError):
        engine.FeatureSettings.build(int_value8=1, into=bytes(2000))


def test_feature_settings_build(engine: Any) -> None:
    f = engine.FeatureSettings.build(int_value8=8, int_value16=16, int_value32=32, int_value64=64,
                                     fixed_length_string="fixed", variable_length_string="variable \u00e9",
                                     fixed_length_array=(1, 2, 3), variable_length_array=[10, 20, 30, 40])
    assert bytes(f.obj) == bytes(raw_fs())
    assert f.nbytes == len(raw_fs())
    empty = engine.FeatureSettings.build()
    assert empty.variable_length_string == "" and empty.variable_length_array.tolist() == []
    assert empty.nbytes == 594  # the VARIABLE_LENGTH_STRING header is always there
    assert engine.FeatureSettings.version == 0x0100
    with pytest.raises(OverflowError):
        engine.FeatureSettings.build(variable_length_array=[2**32])
    with pytest.raises(TypeError):
        engine.FeatureSettings.build(variable_length_array=["x"])
    with pytest.raises(OverflowError):
        engine.FeatureSettings.build(variable_length_string="x" * 40000)  # StringLength is a USHORT
    with pytest.raises(TypeError):
        engine.FeatureSettings.build(no_such_field=1)
    small = bytearray(b"\xcd" * 600)
    with pytest.raises(BufferTooShort) as e:
        engine.FeatureSettings.build(variable_length_array=range(10), into=small)
    assert e.value.bytes_needed == 596 + 40 and small == bytearray(b"\xcd" * 600)


def test_property_chain_port(engine: Any) -> None:
    fs = engine.FeatureSettings.build(int_value32=0x1234, fixed_length_string="policy",
                                      variable_length_array=[5, 6])
    payload = bytes(engine.mv(fs))
    p = engine.PortPropertyParameters.build(port_id=3, property_id=EXT, property_version="1.1",
                                            property_instance_id=OTHER, payload=fs)
    assert bytes(p.obj) == bytes(raw_ppp(raw_custom(payload), port_id=3, version=0x0101))
    assert (p.header_type, p.header_revision, p.header_size) == (0x80, 1, 64)
    assert (p.port_id, p.property_type, p.property_version, p.serialization_version) == (3, 1, 0x0101, 1)
    assert (p.property_id, p.property_instance_id) == (EXT, OTHER)
    assert (p.property_buffer_length, p.property_buffer_offset) == (16 + len(payload), 64)
    assert p.nbytes == 64 + 16 + len(payload) and p.reserved == 0
    c = p.custom()
    assert type(c).__name__ == "PropertyCustom"
    assert (c.header_type, c.header_revision, c.header_size) == (0x80, 1, 16)
    assert (c.property_buffer_length, c.property_buffer_offset) == (len(payload), 16)
    settings = p.custom().settings(engine.FeatureSettings)
    assert settings.int_value32 == 0x1234 and settings.fixed_length_string == "policy"
    assert settings.variable_length_array.tolist() == [5, 6]
    assert settings == fs
    settings.int_value32 = 0xBEEF  # zero-copy all the way down
    assert struct.unpack_from("<I", p.obj, 64 + 16 + 8)[0] == 0xBEEF
    q = engine.PortPropertyParameters.build(port_id=1, property_id=str(EXT), property_version=(2, 3),
                                            property_instance_id=OTHER, payload=b"", property_type=7)
    assert q.property_version == 0x0203 and q.property_type == 7 and bytes(q.custom().property_buffer) == b""
    with pytest.raises(TypeError):
        engine.PortPropertyParameters.build(port_id=1, property_id=EXT, property_version="1",
                                            payload=b"")  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        engine.PortPropertyParameters.build(port_id=1, property_id=EXT, property_version="x.y",
                                            property_instance_id=OTHER, payload=b"")


def test_property_chain_switch(engine: Any) -> None:
    fs = engine.FeatureSettings.build(int_value8=0x42)
    payload = bytes(engine.mv(fs))
    p = engine.SwitchPropertyParameters.build(property_id=EXT, property_version="1",
                                              property_instance_id=OTHER, payload=payload)
    assert bytes(p.obj) == bytes(raw_spp(raw_custom(payload)))
    assert (p.property_version, p.property_buffer_offset, p.header_size) == (0x0100, 56, 56)
    assert p.custom().settings(engine.FeatureSettings).int_value8 == 0x42
    small = bytearray(100)
    with pytest.raises(BufferTooShort) as e:
        engine.SwitchPropertyParameters.build(property_id=EXT, property_version="1",
                                              property_instance_id=OTHER, payload=payload, into=small)
    assert e.value.bytes_needed == 56 + 16 + len(payload) and small == bytearray(100)


def test_property_chain_bounds(engine: Any) -> None:
    # custom() is bounded by the parameters' PropertyBufferLength, not by the whole buffer
    inner = raw_custom(b"abcdef")
    buf = raw_ppp(inner, extra=64)
    struct.pack_into("<I", buf, 64 + 8, 6 + 32)  # custom claims more than the property buffer holds
    p = engine.PortPropertyParameters(buf)
    with pytest.raises(LayoutError) as e:
        p.custom().property_buffer
    assert e.value.field == "property_buffer"
    with pytest.raises(LayoutError):
        p.custom().settings(engine.FeatureSettings)
    short = raw_ppp(b"\x80\x01\x10\x00abcd")  # property buffer of 8 bytes < 16
    with pytest.raises(LayoutError) as e:
        engine.PortPropertyParameters(short).custom()
    assert e.value.field == "property_buffer"
    tiny = engine.PortPropertyParameters(raw_ppp(raw_custom(b"abc"))).custom()
    with pytest.raises(BufferTooShort):
        tiny.settings(engine.FeatureSettings)


def test_encode_decode_version() -> None:
    assert vmgen.encode_version("1") == 0x0100
    assert vmgen.encode_version("1.1") == 0x0101
    assert vmgen.encode_version((1, 1)) == 0x0101
    assert vmgen.encode_version(0x0203) == 0x0203
    assert vmgen.encode_version("255.255") == 0xFFFF
    assert vmgen.decode_version(0x0101) == (1, 1)
    assert vmgen.decode_version(0xFF00) == (255, 0)
    for v in range(0, 0x10000, 97):
        assert vmgen.encode_version(vmgen.decode_version(v)) == v
    for bad, exc in [("1.2.3", ValueError), ("a", ValueError), ("", ValueError), ("256", OverflowError),
                     ((1, 256), OverflowError), (0x10000, OverflowError), (-1, OverflowError),
                     (1.5, TypeError), (True, TypeError)]:
        with pytest.raises(exc):
            vmgen.encode_version(bad)  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        vmgen.decode_version(0x10000)


# ---------------------------------------------------------------------------------------------------
# Restore side


def _validate_fails(engine: Any, buf: Any, field: str, extension_id: Any = None) -> None:
    with pytest.raises(LayoutError) as e:
        engine.NicSaveState(buf).validate(extension_id)
    assert e.value.field == field, (e.value.field, str(e.value))


def test_validate(engine: Any) -> None:
    engine.NicSaveState(raw_nic()).validate()
    engine.NicSaveState(raw_nic()).validate(extension_id=EXT)
    engine.NicSaveState(raw_nic()).validate(extension_id=str(EXT).upper())
    _validate_fails(engine, raw_nic(htype=0x81), "header_type")
    _validate_fails(engine, raw_nic(rev=0), "header_revision")
    _validate_fails(engine, raw_nic(size=567), "header_size")
    _validate_fails(engine, raw_nic(size=2000), "header_size")  # larger than the buffer
    _validate_fails(engine, raw_nic(data_off=500), "save_data")
    _validate_fails(engine, raw_nic(data_size=100, total=600), "save_data")
    _validate_fails(engine, raw_nic(rev=2, size=572, data_off=568), "save_data_offset")  # overlaps rev-2 part
    _validate_fails(engine, raw_nic(name_len=3), "extension_friendly_name")
    _validate_fails(engine, raw_nic(), "extension_id", OTHER)
    engine.NicSaveState(raw_nic(rev=2, size=572, data_off=572)).validate(EXT)
    engine.NicSaveState(raw_nic(data=b"", data_off=0)).validate()  # no data: offset ignored


def test_revision_2_overflow_field(engine: Any) -> None:
    rev1 = engine.NicSaveState(raw_nic(data=b"", total=572))
    assert "save_data_size_overflow" not in rev1.to_dict()
    with pytest.raises(LayoutError) as e:
        rev1.save_data_size_overflow
    assert e.value.field == "save_data_size_overflow"
    with pytest.raises(LayoutError):
        rev1.save_data_size_overflow = 1
    assert rev1.nbytes == 568
    short = engine.NicSaveState(raw_nic(rev=2, size=572, data=b""))  # revision 2 but only 568 bytes
    assert "save_data_size_overflow" not in short.to_dict() and short.nbytes == 568
    with pytest.raises(LayoutError):
        short.save_data_size_overflow
    buf = raw_nic(rev=2, size=572, data=b"", total=572)
    struct.pack_into("<I", buf, 568, 0x10000)
    rev2 = engine.NicSaveState(buf)
    assert rev2.save_data_size_overflow == 0x10000
    assert rev2.to_dict()["save_data_size_overflow"] == 0x10000 and rev2.nbytes == 572
    rev2.save_data_size_overflow = 7
    assert struct.unpack_from("<I", buf, 568)[0] == 7
    with pytest.raises(OverflowError):
        rev2.save_data_size_overflow = 2**32
    assert len(engine.mv(rev2)) == 572
    rev3 = engine.NicSaveState(raw_nic(rev=3, size=572, data=b"", total=572))
    assert "save_data_size_overflow" in rev3.to_dict()


# ---------------------------------------------------------------------------------------------------
# to_dict, repr, ==, nbytes, hash


def test_to_dict(engine: Any) -> None:
    s = engine.NicSaveState(raw_nic())
    d = s.to_dict()
    assert list(d) == ["header_type", "header_revision", "header_size", "flags", "port_id", "nic_index",
                       "extension_id", "extension_friendly_name", "feature_class_id", "save_data_size",
                       "save_data_offset", "save_data"]
    assert d["extension_id"] == EXT and d["extension_friendly_name"] == NAME and bytes(d["save_data"]) == DATA
    d["save_data"][0] = 0xFE  # still zero-copy
    assert s.save_data[0] == 0xFE
    f = engine.FeatureSettings(raw_fs()).to_dict()
    assert list(f) == ["int_value8", "int_value16", "int_value32", "int_value64", "fixed_length_string",
                       "variable_length_string", "fixed_length_array", "variable_length_array"]
    assert f["variable_length_array"].tolist() == [10, 20, 30, 40]
    p = engine.PortPropertyParameters(raw_ppp(raw_custom(b"abc"))).to_dict()
    assert p["property_version"] == 0x0101 and bytes(p["property_buffer"])[16:] == b"abc"


def test_repr_like_construct(engine: Any) -> None:
    text = repr(engine.NicSaveState(raw_nic()))
    lines = text.splitlines()
    assert lines[0].rstrip() == "NicSaveState:"
    assert "    port_id = 7" in lines
    assert "    header_type = 128 (0x80)" in lines
    assert f"    extension_id = {EXT!r}" in lines
    assert f"    extension_friendly_name = {NAME!r}" in lines
    assert any(line.startswith("    save_data = ") and "total 37" in line for line in lines)
    f = repr(engine.FeatureSettings(raw_fs()))
    assert "    variable_length_array = [10, 20, 30, 40]" in f.splitlines()


def test_repr_same_on_both_engines(both_engines: Any) -> None:
    c, r = both_engines
    for name, raw in [("NicSaveState", raw_nic()), ("FeatureSettings", raw_fs()),
                      ("PortPropertyParameters", raw_ppp(raw_custom(b"abc")))]:
        assert repr(getattr(c, name)(raw)) == repr(getattr(r, name)(raw))
    bad = raw_nic(name_len=3)  # malformed: both say which field, in their own words
    for e in (c, r):
        assert repr(e.NicSaveState(bad)).startswith("<NicSaveState at offset 0: extension_friendly_name: ")


def test_equality_and_hash(engine: Any) -> None:
    a = engine.NicSaveState(raw_nic())
    b = engine.NicSaveState(bytes(raw_nic()) + b"trailing bytes are not part of the structure")
    c = engine.NicSaveState(np.frombuffer(bytearray(raw_nic()), np.uint8))
    assert a == b == c and not (a != b)
    b2 = engine.NicSaveState(bytearray(raw_nic()))
    b2.port_id = 8
    assert a != b2
    assert a != engine.FeatureSettings(raw_fs())
    assert a != bytes(raw_nic()), "a view is not equal to raw bytes"
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(TypeError):
        {a}
    x = engine.FeatureSettings(raw_fs())
    y = engine.FeatureSettings(raw_fs() + bytearray(16))
    assert x == y and x.nbytes == y.nbytes == len(raw_fs())


def test_nbytes(engine: Any) -> None:
    assert engine.NicSaveState(raw_nic(data=b"", total=1000)).nbytes == 568
    assert engine.NicSaveState(raw_nic(data=b"x" * 10, data_off=900)).nbytes == 910
    assert engine.FeatureSettings(raw_fs()).nbytes == len(raw_fs())
    # a part before another one: nbytes is the furthest end, not the sum
    buf = raw_fs() + bytearray(8)
    struct.pack_into("<I", buf, 540, len(buf) - 2)  # empty string at the very end
    struct.pack_into("<H", buf, len(buf) - 2, 0)
    assert engine.FeatureSettings(buf).nbytes == len(buf)
    p = engine.PortPropertyParameters(raw_ppp(raw_custom(b"abc")))
    assert p.nbytes == 64 + 16 + 3 == len(engine.mv(p))


def test_cross_engine_views_are_not_equal(both_engines: Any) -> None:
    c, r = both_engines
    assert c.NicSaveState(raw_nic()) != r.NicSaveState(raw_nic())


# ---------------------------------------------------------------------------------------------------
# The buffer stays locked while a view lives


def test_bytearray_locked_while_view_lives(engine: Any) -> None:
    buf = raw_nic()
    s = engine.NicSaveState(buf)
    with pytest.raises(BufferError):
        buf.extend(b"x")
    with pytest.raises(BufferError):
        del buf[0:10]
    data = s.save_data
    del s
    gc.collect()
    with pytest.raises(BufferError):
        buf.append(0)  # the save_data memoryview still holds it
    data.release() if hasattr(data, "release") else None
    del data
    gc.collect()
    buf.extend(b"x")  # released
    assert len(buf) == 568 + len(DATA) + 1


def test_mmap_locked_while_view_lives(engine: Any) -> None:
    m = _mmap(raw_nic())
    s = engine.NicSaveState(m)
    assert s.port_id == 7
    with pytest.raises(BufferError):
        m.close()
    assert s.port_id == 7  # still mapped
    del s
    gc.collect()
    m.close()
    assert m.closed


def test_numpy_array_kept_alive(engine: Any) -> None:
    a = np.frombuffer(bytearray(raw_nic()), np.uint8).copy()
    s = engine.NicSaveState(a)
    del a
    gc.collect()
    check_nic_fields(s)  # the view keeps its exporter alive


def test_subclass_of_a_view(engine: Any) -> None:
    class MyNic(engine.NicSaveState):  # type: ignore[name-defined,misc]
        def describe(self) -> str:
            return f"port {self.port_id}"

    s = MyNic(raw_nic())
    assert s.describe() == "port 7" and s.extension_friendly_name == NAME
    s.port_id = 9
    assert s.port_id == 9
    assert s.to_dict()["port_id"] == 9
