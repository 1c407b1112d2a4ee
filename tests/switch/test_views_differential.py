"""Differential tests: the C views and the pure-Python reference must agree on everything.

On random bytes, on valid structures with fuzzed offsets/lengths/counts, and on random field values
through the builders and through in-place writes, both engines give the same values, the same
``to_dict``, ``nbytes``, exported bytes and ``validate`` result, or raise the same exception type (and,
for LayoutError, name the same field). Bounded so the file runs in a few seconds.
"""
from __future__ import annotations

import struct
import uuid
from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vmgen.switch import layout as L
from vmgen.errors import LayoutError

from support.view_engines import as_memoryview

SETTINGS = settings(max_examples=300, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

NAMES = ("NicSaveState", "FeatureSettings", "PortPropertyParameters", "SwitchPropertyParameters", "PropertyCustom")


@pytest.fixture(scope="module")
def pair() -> Tuple[Any, Any]:
    from support.view_engines import _c_engine, _ref_engine

    return _c_engine(), _ref_engine()


# ---------------------------------------------------------------------------------------------------
# Observation: everything a user can see, normalized so the two engines compare


def _norm(value: Any) -> Any:
    if isinstance(value, memoryview):
        return ("memoryview", value.format, value.itemsize, value.readonly, value.tolist())
    return value


def _exc(e: BaseException) -> Tuple[str, Any]:
    return (type(e).__name__, getattr(e, "field", None), getattr(e, "bytes_needed", None))


def _try(fn: Any) -> Any:
    try:
        return ("ok", _norm(fn()))
    except Exception as e:  # noqa: BLE001 - the exception *type* is what we compare
        return ("raised", _exc(e))


def observe(engine: Any, name: str, buf: Any, offset: int = 0, deep: bool = True) -> Dict[str, Any]:
    cls = getattr(engine, name)
    out: Dict[str, Any] = {}
    try:
        v = cls(buf, offset=offset)
    except Exception as e:  # noqa: BLE001
        return {"construct": _exc(e)}
    for attr in cls.layout.attr_names():
        out[attr] = _try(lambda: getattr(v, attr))
    out["to_dict"] = _try(lambda: {k: _norm(x) for k, x in v.to_dict().items()})
    out["nbytes"] = _try(lambda: v.nbytes)
    out["export"] = _try(lambda: bytes(as_memoryview(v)))
    out["eq_self"] = _try(lambda: v == v)
    if out["to_dict"][0] == "ok":
        out["repr"] = _try(lambda: repr(v))
    if name == "NicSaveState":
        out["validate"] = _try(lambda: v.validate())
        out["validate_ext"] = _try(lambda: v.validate(extension_id=uuid.UUID(int=0x1234)))
    if deep and name in ("PortPropertyParameters", "SwitchPropertyParameters"):
        out["custom"] = _try(lambda: bytes(as_memoryview(v.custom())))
        out["custom_pb"] = _try(lambda: v.custom().property_buffer)
        out["settings"] = _try(lambda: v.custom().settings(engine.FeatureSettings).to_dict())
    return out


def assert_same(pair: Tuple[Any, Any], name: str, raw: bytes, offset: int = 0) -> Dict[str, Any]:
    c, r = pair
    oc = observe(c, name, bytearray(raw), offset)
    orf = observe(r, name, bytearray(raw), offset)
    assert oc == orf
    ro_c = observe(c, name, bytes(raw), offset, deep=False)  # read-only buffers: same reads
    ro_r = observe(r, name, bytes(raw), offset, deep=False)
    assert ro_c == ro_r
    return oc


# ---------------------------------------------------------------------------------------------------
# Strategies

SIZES = {"NicSaveState": 568, "FeatureSettings": 592, "PortPropertyParameters": 64,
         "SwitchPropertyParameters": 56, "PropertyCustom": 16}

# the members that hold offsets, lengths and counts, per view (offset, size)
HOT = {
    "NicSaveState": [(0, 1), (1, 1), (2, 2), (32, 2), (564, 2), (566, 2), (568, 4)],
    "FeatureSettings": [(24, 2), (540, 4), (544, 4), (580, 4), (584, 4)],
    "PortPropertyParameters": [(52, 4), (56, 4), (64 + 8, 4), (64 + 12, 4)],
    "SwitchPropertyParameters": [(48, 4), (52, 4), (56 + 8, 4), (56 + 12, 4)],
    "PropertyCustom": [(8, 4), (12, 4)],
}


def interesting(size: int, buflen: int, fixed: int) -> st.SearchStrategy[int]:
    top = (1 << (8 * size)) - 1
    cands = sorted({0, 1, 2, 3, 4, fixed - 2, fixed - 1, fixed, fixed + 1, fixed + 2, buflen - 3, buflen - 2,
                    buflen - 1, buflen, buflen + 1, top, top - 1, top - 3, top // 2, top // 4 + 1} - {-1, -2, -3})
    cands = [c for c in cands if 0 <= c <= top]
    return st.one_of(st.sampled_from(cands), st.integers(0, top))


@st.composite
def valid_structure(draw: Any, pair: Tuple[Any, Any], name: str) -> bytes:
    c = pair[0]
    text = st.text(st.characters(codec="utf-16", exclude_categories=("Cs",)), max_size=40)
    u32 = st.integers(0, 2**32 - 1)
    if name == "NicSaveState":
        v = c.NicSaveState.build(uuid.UUID(int=draw(st.integers(0, 2**128 - 1))), draw(text),
                                 draw(st.binary(max_size=64)), port_id=draw(u32), nic_index=draw(st.integers(0, 65535)))
        raw = bytes(v.obj)
        if draw(st.booleans()):  # revision 2 with room for SaveDataSizeOverflow
            b = bytearray(raw[:568]) + bytearray(4) + bytearray(raw[568:])
            struct.pack_into("<BHH", b, 1, 2, 572, 0)
            struct.pack_into("<H", b, 566, 572 if len(raw) > 568 else 0)
            struct.pack_into("<I", b, 568, draw(u32))
            raw = bytes(b)
        return raw
    if name == "FeatureSettings":
        return bytes(as_memoryview(fs_build(c, draw)))
    policy = draw(st.sampled_from([True, True, True, False]))  # mostly a FeatureSettings: reach settings()
    payload = bytes(as_memoryview(fs_build(c, draw))) if policy else draw(st.binary(max_size=40))
    if name == "PropertyCustom":
        return bytes(c.PropertyCustom.build(payload).obj)
    kw: Dict[str, Any] = dict(property_id=uuid.UUID(int=draw(st.integers(0, 2**128 - 1))),
                              property_version=draw(st.integers(0, 0xFFFF)),
                              property_instance_id=uuid.UUID(int=draw(st.integers(0, 2**128 - 1))), payload=payload)
    if name == "PortPropertyParameters":
        kw["port_id"] = draw(u32)
    return bytes(getattr(c, name).build(**kw).obj)


def fs_build(c: Any, draw: Any) -> Any:
    text = st.text(st.characters(codec="utf-16", exclude_categories=("Cs",)), max_size=30)
    u32 = st.integers(0, 2**32 - 1)
    return c.FeatureSettings.build(
        int_value8=draw(st.integers(0, 255)), int_value16=draw(u32), int_value32=draw(u32),
        int_value64=draw(st.integers(0, 2**64 - 1)), fixed_length_string=draw(text),
        variable_length_string=draw(text), fixed_length_array=draw(st.lists(u32, max_size=8)),
        variable_length_array=draw(st.lists(u32, max_size=12)))


@st.composite
def mutated(draw: Any, pair: Tuple[Any, Any], name: str) -> Tuple[bytes, int]:
    b = bytearray(draw(valid_structure(pair, name)))
    fixed = SIZES[name]
    for off, size in draw(st.lists(st.sampled_from(HOT[name]), min_size=0, max_size=4)):
        if off + size <= len(b):
            struct.pack_into({1: "<B", 2: "<H", 4: "<I"}[size], b, off, draw(interesting(size, len(b), fixed)))
    for _ in range(draw(st.integers(0, 3))):  # a few random byte flips anywhere
        if b:
            b[draw(st.integers(0, len(b) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.sampled_from(["none", "none", "trim", "grow"]))
    if cut == "trim" and len(b) > fixed - 4:
        b = b[:draw(st.integers(max(0, fixed - 4), len(b)))]
    elif cut == "grow":
        b += bytes(draw(st.integers(1, 16)))
    prefix = draw(st.sampled_from([0, 0, 0, 1, 3, 8]))
    return bytes(prefix) + bytes(b), prefix


# ---------------------------------------------------------------------------------------------------
# Reads


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_random_bytes(pair: Tuple[Any, Any], name: str, data: Any) -> None:
    size = SIZES[name]
    raw = data.draw(st.binary(min_size=max(0, size - 2), max_size=size + 96))
    offset = data.draw(st.sampled_from([0, 0, 0, 1, 2]))
    assert_same(pair, name, raw, offset)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_mutated_structures(pair: Tuple[Any, Any], name: str, data: Any) -> None:
    raw, offset = data.draw(mutated(pair, name))
    assert_same(pair, name, raw, offset)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_valid_structures_decode_cleanly(pair: Tuple[Any, Any], name: str, data: Any) -> None:
    raw = data.draw(valid_structure(pair, name))
    out = assert_same(pair, name, raw)
    assert out["to_dict"][0] == "ok" and out["nbytes"] == ("ok", len(raw))
    assert out["export"] == ("ok", raw)
    if name == "NicSaveState":
        assert out["validate"] == ("ok", None)
    if name in ("PortPropertyParameters", "SwitchPropertyParameters"):
        assert out["custom"][0] == "ok"
        if len(raw) >= SIZES[name] + 16 + 592:
            assert out["settings"][0] == "ok"


# ---------------------------------------------------------------------------------------------------
# Writes and builders

WRITABLE_ATTRS = {
    "NicSaveState": ["header_type", "header_revision", "header_size", "flags", "port_id", "nic_index",
                     "extension_id", "extension_friendly_name", "feature_class_id", "save_data_size",
                     "save_data_offset", "save_data_size_overflow", "save_data"],
    "FeatureSettings": ["int_value8", "int_value16", "int_value32", "int_value64", "fixed_length_string",
                        "variable_length_string", "fixed_length_array", "variable_length_array"],
    "PortPropertyParameters": ["port_id", "property_type", "property_id", "property_version", "property_buffer_length",
                               "property_buffer_offset", "reserved", "property_buffer"],
}

ANY_VALUE = st.one_of(
    st.integers(-(2**65), 2**65), st.sampled_from([0, 1, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1, 2**64, -1]),
    st.text(max_size=300), st.text(max_size=3).map(lambda t: t * 100),
    st.lists(st.integers(-1, 2**33), max_size=10), st.none(), st.floats(allow_nan=False), st.booleans(),
    st.binary(max_size=20), st.builds(lambda i: uuid.UUID(int=i), st.integers(0, 2**128 - 1)),
    st.builds(lambda i: str(uuid.UUID(int=i)), st.integers(0, 2**128 - 1)),
)


@pytest.mark.parametrize("name", list(WRITABLE_ATTRS))
@SETTINGS
@given(data=st.data())
def test_writes(pair: Tuple[Any, Any], name: str, data: Any) -> None:
    raw = data.draw(valid_structure(pair, name))
    bc, br = bytearray(raw), bytearray(raw)
    vc, vr = getattr(pair[0], name)(bc), getattr(pair[1], name)(br)
    for _ in range(data.draw(st.integers(1, 4))):
        attr = data.draw(st.sampled_from(WRITABLE_ATTRS[name]))
        value = data.draw(ANY_VALUE)
        rc = _try(lambda: setattr(vc, attr, value))
        rr = _try(lambda: setattr(vr, attr, value))
        assert rc == rr, (attr, value)
        assert bc == br, (attr, value)
        assert _try(lambda: getattr(vc, attr)) == _try(lambda: getattr(vr, attr))


@SETTINGS
@given(data=st.data())
def test_builders(pair: Tuple[Any, Any], data: Any) -> None:
    c, r = pair
    which = data.draw(st.sampled_from(["nic", "fs", "port", "switch", "custom"]))
    into_len = data.draw(st.one_of(st.none(), st.integers(0, 1400)))
    intolist: List[Any] = []

    def into() -> Any:
        if into_len is None:
            return None
        intolist.append(bytearray(b"\xa5" * into_len))
        return intolist[-1]

    def run(e: Any) -> Any:
        if which == "nic":
            return e.NicSaveState.build(kw["ext"], kw["name"], kw["data"], port_id=kw["port"], nic_index=kw["nic"],
                                        feature_class_id=kw["fc"], into=into())
        if which == "fs":
            return e.FeatureSettings.build(**kw, into=into())
        if which == "custom":
            return e.PropertyCustom.build(kw["payload"], into=into())
        args = dict(property_id=kw["pid"], property_version=kw["ver"], property_instance_id=kw["iid"],
                    payload=kw["payload"], property_type=kw["ptype"], into=into())
        if which == "port":
            return e.PortPropertyParameters.build(port_id=kw["port"], **args)
        return e.SwitchPropertyParameters.build(**args)

    ints = st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([-1, 2**32, 2**64, 2**64 - 1, 256, 65536]))
    if which == "nic":
        kw = dict(ext=data.draw(ANY_VALUE), name=data.draw(st.one_of(st.text(max_size=300), ANY_VALUE)),
                  data=data.draw(st.one_of(st.binary(max_size=200), st.just(b"\0" * 65536), ANY_VALUE)),
                  port=data.draw(ints), nic=data.draw(ints), fc=data.draw(st.one_of(st.none(), ANY_VALUE)))
    elif which == "fs":
        keys = ["int_value8", "int_value16", "int_value32", "int_value64", "fixed_length_string",
                "variable_length_string", "fixed_length_array", "variable_length_array"]
        kw = {k: data.draw(ANY_VALUE) for k in data.draw(st.lists(st.sampled_from(keys), unique=True))}
    else:
        kw = dict(pid=data.draw(ANY_VALUE), iid=data.draw(ANY_VALUE),
                  ver=data.draw(st.one_of(st.sampled_from(["1", "1.1", "255.255", "256", "x", (1, 2)]), ints)),
                  payload=data.draw(st.one_of(st.binary(max_size=100), ANY_VALUE)), port=data.draw(ints),
                  ptype=data.draw(ints))
    out_c = _try(lambda: bytes(as_memoryview(run(c))))
    into_c = [bytes(b) for b in intolist]
    intolist.clear()
    out_r = _try(lambda: bytes(as_memoryview(run(r))))
    into_r = [bytes(b) for b in intolist]
    assert out_c == out_r
    assert into_c == into_r
    if out_c[0] == "raised" and into_len is not None:
        assert into_c[0] == b"\xa5" * into_len, "a failed build leaves the target untouched"


# ---------------------------------------------------------------------------------------------------
# A run-time layout with every field kind and the widths the built-ins lack (signed, 64-bit counts and
# offsets): the engine's generic paths. 64-bit offset/count arithmetic once wrapped around in C.

GENERIC = L.Struct("GENERIC", [
    ("A8", L.INT8), ("A16", L.INT16), ("A32", L.INT32), ("A64", L.INT64), ("U64", L.UINT64),
    ("Id", L.GUID),
    ("NameLen", L.UINT64), ("Name", L.WCHAR, 5),
    ("StrOff", L.UINT64),
    ("FixCount", L.UINT8), ("Fix", L.INT16, 3),
    ("VarCount", L.UINT64), ("VarOff", L.UINT64),
    ("BlobSize", L.UINT64), ("BlobOff", L.UINT64),
    ("Rev", L.UINT8), ("Extra", L.INT16),
])
GENERIC_LAYOUT = L.Layout(GENERIC, (
    L.Int("a8", "A8"), L.Int("a16", "A16"), L.Int("a32", "A32"), L.Int("a64", "A64"), L.Int("u64", "U64"),
    L.Guid("id", "Id"), L.CountedString("name", "NameLen", "Name"), L.OffsetString("text", "StrOff"),
    L.FixedArray("fix", "FixCount", "Fix"), L.OffsetArray("var", "VarCount", "VarOff", L.INT64),
    L.Blob("blob", "BlobSize", "BlobOff"), L.Int("rev", "Rev"), L.Int("extra", "Extra", present_if=("Rev", 2)),
), view_name="Generic")


@pytest.fixture(scope="module")
def generic_pair() -> Tuple[Any, Any]:
    from vmgen.switch import _fields
    from vmgen.switch import _pyfields as ref  # the reference engine (moved in the issue-12 reorganisation)

    return (_fields.make_view_type("Generic", GENERIC_LAYOUT), ref.make_view_type("Generic", GENERIC_LAYOUT))


def _observe_generic(cls: Any, buf: Any) -> Dict[str, Any]:
    try:
        v = cls(buf)
    except Exception as e:  # noqa: BLE001
        return {"construct": _exc(e)}
    out = {a: _try(lambda: getattr(v, a)) for a in GENERIC_LAYOUT.attr_names()}
    out["to_dict"] = _try(lambda: {k: _norm(x) for k, x in v.to_dict().items()})
    out["nbytes"] = _try(lambda: v.nbytes)
    out["export"] = _try(lambda: bytes(as_memoryview(v)))
    return out


GENERIC_HOT = [(GENERIC.member(m)[0], GENERIC.member(m)[1].size) for m in
               ("NameLen", "StrOff", "FixCount", "VarCount", "VarOff", "BlobSize", "BlobOff", "Rev")]


@SETTINGS
@given(data=st.data())
def test_generic_layout_reads(generic_pair: Tuple[Any, Any], data: Any) -> None:
    size = GENERIC.size
    b = bytearray(data.draw(st.binary(min_size=size - 1, max_size=size + 80)))
    for off, width in data.draw(st.lists(st.sampled_from(GENERIC_HOT), max_size=5)):
        if off + width <= len(b):
            top = (1 << (8 * width)) - 1
            val = data.draw(st.one_of(st.integers(0, top), st.sampled_from(
                [0, 1, 2, size, size + 1, len(b) - 2, len(b), top, top - 7, top // 8 + 1, 1 << 62, 1 << 61])))
            b[off:off + width] = (val & top).to_bytes(width, "little")
    assert _observe_generic(generic_pair[0], bytearray(b)) == _observe_generic(generic_pair[1], bytearray(b))


@SETTINGS
@given(data=st.data())
def test_generic_layout_writes(generic_pair: Tuple[Any, Any], data: Any) -> None:
    raw = bytearray(data.draw(st.binary(min_size=GENERIC.size, max_size=GENERIC.size + 16)))
    bc, br = bytearray(raw), bytearray(raw)
    vc, vr = generic_pair[0](bc), generic_pair[1](br)
    for _ in range(data.draw(st.integers(1, 4))):
        attr = data.draw(st.sampled_from(GENERIC_LAYOUT.attr_names()))
        value = data.draw(st.one_of(ANY_VALUE, st.integers(-(2**64), 2**64),
                                    st.lists(st.integers(-(2**16), 2**16), max_size=4)))
        assert _try(lambda: setattr(vc, attr, value)) == _try(lambda: setattr(vr, attr, value)), (attr, value)
        assert bc == br


def test_generic_layout_64bit_wraparound(generic_pair: Tuple[Any, Any]) -> None:
    """The concrete cases the C engine once got wrong (uint64 wrap-around in the bounds check)."""
    for cls in generic_pair:
        b = bytearray(GENERIC.size + 64)
        voff = GENERIC.member("VarCount")[0]
        struct.pack_into("<QQ", b, voff, 1 << 61, GENERIC.size)  # 2**61 * 8 bytes wraps to 0
        with pytest.raises(LayoutError) as e:
            cls(b).var
        assert e.value.field == "var"
        struct.pack_into("<QQ", b, voff + 16, 20, 2**64 - 10)  # offset + size wraps to 10
        with pytest.raises(LayoutError) as e:
            cls(b).blob
        assert e.value.field == "blob"
        struct.pack_into("<Q", b, GENERIC.member("StrOff")[0], 2**64 - 1)
        with pytest.raises(LayoutError) as e:
            cls(b).text
        assert e.value.field == "text"
