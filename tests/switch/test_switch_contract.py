"""Issue 14: the save and restore sides follow Microsoft's contract, on buffers prepared as a switch prepares
them (headers prefilled, revisions 1 and 2, SaveDataOffset 568, 572 and 576), on both engines.

Expected bytes come from tests/support/switch_prepared.py (struct and LAYOUTS.md offsets), not from vmgen.
"""
from __future__ import annotations

import struct
import uuid
from typing import Any

import pytest

from support.switch_prepared import (CUSTOM_CASES, NIC_INDEX, OVERFLOW, PORT_ID, PORT_PARAM_CASES, SAVE_CASES,
                                     SENTINEL, SWITCH_PARAM_CASES, custom_bytes, expected_after_fill,
                                     header_size_of, port_params, prepared_nic_save, switch_params)
from vmgen import BufferTooShort, LayoutError

EXT = uuid.UUID("5cbf81be-5055-47cd-9055-a76b2b4e369e")
FC = uuid.UUID("f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9")
NAME = "Vendor extension \u2713"
DATA = bytes(range(1, 41))
PID = uuid.UUID("11111111-2222-3333-4444-555555555555")


def _fill(engine: Any, buf: Any, data: bytes = DATA, **kw: Any) -> Any:
    args = dict(extension_id=EXT, extension_friendly_name=NAME, save_data=data, feature_class_id=FC)
    args.update(kw)
    return engine.NicSaveState.fill(buf, **args)


# ---------------------------------------------------------------------------------------------------
# Save side: fill() keeps what the switch set


@pytest.mark.parametrize("revision,offset", SAVE_CASES)
def test_fill_keeps_the_switch_fields(engine: Any, revision: int, offset: int) -> None:
    buf = prepared_nic_save(revision, offset, capacity=len(DATA) + 8)
    before = bytes(buf)
    s = _fill(engine, buf)
    assert bytes(buf) == expected_after_fill(before, EXT, NAME, FC, DATA)
    assert (buf[0], buf[1], struct.unpack_from("<H", buf, 2)[0]) == (0x80, revision, header_size_of(revision))
    assert struct.unpack_from("<IH", buf, 8) == (PORT_ID, NIC_INDEX)
    assert struct.unpack_from("<HH", buf, 564) == (len(DATA), offset)
    assert buf[568:offset] == (struct.pack("<I", OVERFLOW) if revision == 2 else b"") + \
        bytes([SENTINEL]) * (offset - header_size_of(revision)), "the gap before the data is the switch's"
    assert buf[offset + len(DATA):] == bytes([SENTINEL]) * 8
    if revision == 2:
        assert s.save_data_size_overflow == OVERFLOW
    assert bytes(s.save_data) == DATA and s.obj is buf
    s.validate(extension_id=EXT)  # what the restore side will check


@pytest.mark.parametrize("revision,offset", SAVE_CASES)
def test_fill_bytes_needed_is_the_buffers_own_offset_plus_data(engine: Any, revision: int, offset: int) -> None:
    small = prepared_nic_save(revision, offset, capacity=len(DATA) - 1)
    before = bytes(small)
    with pytest.raises(BufferTooShort) as e:
        _fill(engine, small)
    assert e.value.bytes_needed == offset + len(DATA) == engine.NicSaveState.bytes_needed(len(DATA), offset)
    assert bytes(small) == before, "a too-small buffer is left untouched"
    # The switch reissues the OID with BytesNeeded bytes and the same layout: that buffer is enough.
    again = prepared_nic_save(revision, offset, capacity=e.value.bytes_needed - offset)
    assert len(again) == e.value.bytes_needed
    _fill(engine, again)
    # The documentation's 568 + data is too small whenever the switch put the data further on.
    if offset > 568:
        with pytest.raises(BufferTooShort):
            _fill(engine, prepared_nic_save(revision, offset, capacity=0, total=568 + len(DATA)))


def test_fill_with_no_data_and_no_feature_class(engine: Any) -> None:
    buf = prepared_nic_save(2, 576, capacity=0)
    s = _fill(engine, buf, b"", feature_class_id=None)
    assert bytes(buf) == expected_after_fill(prepared_nic_save(2, 576, 0), EXT, NAME, uuid.UUID(int=0), b"")
    assert s.save_data_size == 0 and s.feature_class_id == uuid.UUID(int=0)


@pytest.mark.parametrize("why,field,kw", [
    ("type", "header_type", dict(htype=0x81)),
    ("revision 0", "header_revision", dict(revision=0)),
    ("size 567", "header_size", dict(size=567)),
    ("revision 2, size 571", "header_size", dict(revision=2, size=567)),
    ("size past the buffer", "header_size", dict(size=700)),
    ("data inside a rev-1 header", "save_data_offset", dict(offset=560)),
    ("data over SaveDataSizeOverflow", "save_data_offset", dict(revision=2, offset=568)),
    ("shorter than a header", "header_size", dict(total=300)),
])
def test_fill_refuses_a_buffer_the_switch_did_not_prepare(engine: Any, why: str, field: str, kw: dict) -> None:
    args: dict = dict(revision=1, offset=568, capacity=64)
    args.update(kw)
    revision, offset = args.pop("revision"), args.pop("offset")
    buf = prepared_nic_save(revision, offset, **args)
    before = bytes(buf)
    with pytest.raises(LayoutError) as e:
        _fill(engine, buf)
    assert not isinstance(e.value, BufferTooShort), why
    assert e.value.field == field, (why, e.value.field, str(e.value))
    assert bytes(buf) == before


def test_fill_checks_arguments_before_touching_the_buffer(engine: Any) -> None:
    buf = prepared_nic_save(1, 568, capacity=64)
    before = bytes(buf)
    with pytest.raises(OverflowError):
        _fill(engine, buf, bytes(65536))  # SaveDataSize is a USHORT
    with pytest.raises(OverflowError):
        _fill(engine, buf, extension_friendly_name="x" * 257)
    with pytest.raises(TypeError):
        _fill(engine, buf, extension_id=12)
    with pytest.raises(ValueError):
        _fill(engine, buf, feature_class_id="not a guid")
    with pytest.raises(TypeError):
        _fill(engine, bytes(buf))  # read-only
    assert bytes(buf) == before


def test_build_still_makes_a_fresh_revision_1_structure(engine: Any) -> None:
    s = engine.NicSaveState.build(EXT, NAME, DATA, port_id=7)
    assert (s.header_revision, s.header_size, s.save_data_offset, s.port_id) == (1, 568, 568, 7)
    assert engine.NicSaveState.bytes_needed(len(DATA)) == 568 + len(DATA)


# ---------------------------------------------------------------------------------------------------
# Property OIDs: validate() and the checked walk


def _payload(engine: Any) -> bytes:
    fs = engine.FeatureSettings.build(int_value32=0x1234, variable_length_string="abc",
                                      variable_length_array=[5, 6])
    return bytes(engine.mv(fs))


@pytest.mark.parametrize("kind", ["port", "switch"])
def test_property_parameters_prepared_like_a_switch(engine: Any, kind: str) -> None:
    payload = _payload(engine)
    cls = engine.PortPropertyParameters if kind == "port" else engine.SwitchPropertyParameters
    make = port_params if kind == "port" else switch_params
    for revision, size, offset in (PORT_PARAM_CASES if kind == "port" else SWITCH_PARAM_CASES):
        for crev, csize, coff in CUSTOM_CASES:
            buf = make(custom_bytes(payload, revision=crev, size=csize, offset=coff), revision=revision, size=size,
                       offset=offset, pid=PID, version=0x0101)
            p = cls(buf)
            p.validate()
            p.validate(property_id=PID, property_version="1.1")
            p.custom().validate()
            f = p.validated_settings(engine.FeatureSettings, property_id=str(PID), property_version=(1, 1))
            assert f.int_value32 == 0x1234 and f.variable_length_array.tolist() == [5, 6]
            assert bytes(engine.mv(f)) == payload, (revision, size, offset, crev, csize, coff)


PARAM_FAILURES = [
    ("type", "header_type", dict(htype=0x81)),
    ("revision 0", "header_revision", dict(revision=0)),
    ("size one short", "header_size", dict(size=-1)),
    ("size past the buffer", "header_size", dict(size=4000)),
    ("undefined property type", "property_type", dict(property_type=0)),
    ("a built-in property type", "property_type", dict(property_type=3)),
    ("serialization version 0", "serialization_version", dict(serialization=0)),
    ("serialization version 2", "serialization_version", dict(serialization=2)),
    ("buffer inside the declared header", "property_buffer_offset", dict(size=+8)),
    ("buffer past the end", "property_buffer", dict(length=+1)),
    ("buffer inside the fixed part", "property_buffer", dict(offset=-4)),
    ("buffer smaller than PROPERTY_CUSTOM", "property_buffer", dict(inner=b"\x80\x01\x10\x00abcd")),
]


@pytest.mark.parametrize("kind", ["port", "switch"])
@pytest.mark.parametrize("why,field,kw", PARAM_FAILURES, ids=[w for w, _, _ in PARAM_FAILURES])
def test_property_parameters_validate_names_the_failed_check(engine: Any, kind: str, why: str, field: str,
                                                             kw: dict) -> None:
    cls = engine.PortPropertyParameters if kind == "port" else engine.SwitchPropertyParameters
    make = port_params if kind == "port" else switch_params
    fixed = 64 if kind == "port" else 56
    kw = dict(kw)  # the parametrized dict is shared by every run
    inner = kw.pop("inner", custom_bytes(_payload(engine)))
    if "size" in kw and kw["size"] in (-1, 8):
        kw["size"] = fixed + kw["size"]  # 63 and 55: what Microsoft's base library rejected
    if "offset" in kw:
        kw["offset"] = fixed + kw["offset"]
    if "length" in kw:
        kw["length"] = len(inner) + kw["length"]
    p = cls(make(inner, **kw))
    for call in (p.validate, lambda: p.validated_settings(engine.FeatureSettings)):
        with pytest.raises(LayoutError) as e:
            call()
        assert e.value.field == field, (why, e.value.field, str(e.value))


def test_property_validate_ours(engine: Any) -> None:
    p = engine.PortPropertyParameters(port_params(custom_bytes(_payload(engine)), pid=PID, version=0x0100))
    for kw, field in [(dict(property_id=EXT), "property_id"), (dict(property_version="1.1"), "property_version")]:
        with pytest.raises(LayoutError) as e:
            p.validate(**kw)
        assert e.value.field == field
    p.validate(property_id=PID, property_version="1")


CUSTOM_FAILURES = [
    ("type", "header_type", dict(htype=0)),
    ("revision 0", "header_revision", dict(revision=0)),
    ("size 15", "header_size", dict(size=15)),
    ("size past the property buffer", "header_size", dict(size=4000)),
    ("buffer inside the declared header", "property_buffer_offset", dict(size=24)),
    ("buffer past the end", "property_buffer", dict(length=10**6)),
]


@pytest.mark.parametrize("why,field,kw", CUSTOM_FAILURES, ids=[w for w, _, _ in CUSTOM_FAILURES])
def test_property_custom_validate_names_the_failed_check(engine: Any, why: str, field: str, kw: dict) -> None:
    inner = custom_bytes(_payload(engine), **kw)
    c = engine.PropertyCustom(inner)
    with pytest.raises(LayoutError) as e:
        c.validate()
    assert e.value.field == field, (why, e.value.field, str(e.value))
    p = engine.PortPropertyParameters(port_params(inner))
    p.validate()  # the parameters themselves are fine...
    with pytest.raises(LayoutError) as e:
        p.validated_settings(engine.FeatureSettings)  # ...the walk stops at the custom property
    assert e.value.field == field


def test_walk_checks_the_policy_struct_before_handing_it_out(engine: Any) -> None:
    payload = bytearray(_payload(engine))
    struct.pack_into("<I", payload, 584, 10**6)  # VariableLengthArrayOffset past the end
    p = engine.PortPropertyParameters(port_params(custom_bytes(bytes(payload))))
    f = p.custom().settings(engine.FeatureSettings)  # the unchecked steps hand out the view...
    with pytest.raises(LayoutError):
        f.variable_length_array  # ...whose bad part shows only when read
    with pytest.raises(LayoutError) as e:
        p.validated_settings(engine.FeatureSettings)
    assert e.value.field == "variable_length_array"
    short = engine.PortPropertyParameters(port_params(custom_bytes(bytes(100))))
    with pytest.raises(LayoutError) as e:
        short.validated_settings(engine.FeatureSettings)
    assert e.value.field == "property_buffer" and not isinstance(e.value, BufferTooShort)


# ---------------------------------------------------------------------------------------------------
# Empty variable parts: Offset + Count * ElementSize <= Length, as drivers check


def _parts_within(view: Any, length: int) -> None:
    for spec in type(view).layout.field_specs():
        kind = spec[0]
        if kind == 3:  # K_OSTR: offset to StringLength + the string
            off = int.from_bytes(bytes(view.obj)[spec[2]:spec[2] + spec[3]], "little")
            n = int.from_bytes(bytes(view.obj)[off:off + 2], "little")
            assert off + 2 + n <= length, spec[1]
        elif kind in (5, 6):  # K_OARR, K_BLOB: count/size, offset
            raw = bytes(view.obj)
            count = int.from_bytes(raw[spec[2]:spec[2] + spec[3]], "little")
            off = int.from_bytes(raw[spec[4]:spec[4] + spec[5]], "little")
            elem = spec[6] if kind == 5 else 1
            assert view.layout.size <= off and off + count * elem <= length, (spec[1], off, count, length)


@pytest.mark.parametrize("text", ["", "a", "ab"])
def test_empty_parts_lie_within_the_structure(engine: Any, text: str) -> None:
    f = engine.FeatureSettings.build(variable_length_string=text)
    assert len(f.obj) == f.nbytes == 592 + 2 + 2 * len(text)
    _parts_within(f, len(f.obj))
    assert f.variable_length_array.tolist() == []
    s = engine.NicSaveState.build(EXT, "", b"")
    _parts_within(s, len(s.obj))
    c = engine.PropertyCustom.build(b"")
    _parts_within(c, len(c.obj))
    p = engine.PortPropertyParameters.build(port_id=1, property_id=PID, property_version="1",
                                            property_instance_id=PID, payload=f)
    _parts_within(p, len(p.obj))
    _parts_within(p.custom(), p.property_buffer_length)
    _parts_within(p.validated_settings(engine.FeatureSettings), p.custom().property_buffer_length)


def test_non_empty_parts_stay_aligned(engine: Any) -> None:
    f = engine.FeatureSettings.build(variable_length_string="a", variable_length_array=[7])
    assert struct.unpack_from("<I", f.obj, 584)[0] == 596  # 592 + 2 + 2, a multiple of 4


def test_walk_applies_the_drivers_rule_to_empty_parts(engine: Any) -> None:
    policy = bytearray(engine.mv(engine.FeatureSettings.build()))  # 594 bytes, no array elements
    struct.pack_into("<I", policy, 584, 596)  # where the old builder put the empty array
    p = engine.PortPropertyParameters(port_params(custom_bytes(bytes(policy))))
    assert p.custom().settings(engine.FeatureSettings).variable_length_array.tolist() == []  # views: ignored
    with pytest.raises(LayoutError) as e:
        p.validated_settings(engine.FeatureSettings)  # the walk: Offset + 0 > Length is refused
    assert e.value.field == "variable_length_array"
    struct.pack_into("<I", policy, 584, 594)
    engine.PortPropertyParameters(port_params(custom_bytes(bytes(policy)))).validated_settings(engine.FeatureSettings)
    empty = bytearray(custom_bytes(b""))
    struct.pack_into("<I", empty, 12, 40)  # an empty custom buffer whose offset lies past its 16 bytes
    with pytest.raises(LayoutError) as e:
        engine.PortPropertyParameters(port_params(bytes(empty))).validated_settings(engine.FeatureSettings)
    assert e.value.field == "property_buffer" and "empty part" in str(e.value)


@pytest.mark.parametrize("revision,offset", SAVE_CASES)
def test_the_buffer_can_grow_in_the_handler(engine: Any, revision: int, offset: int) -> None:
    """The README's pattern: extend the bytearray inside ``except BufferTooShort`` (the traceback keeps
    fill's frame alive, so nothing in it may still export the buffer)."""
    buf = prepared_nic_save(revision, offset, capacity=4)
    try:
        _fill(engine, buf)
    except BufferTooShort as exc:
        buf += bytes(exc.bytes_needed - len(buf))  # BufferError if the buffer were still exported
        s = _fill(engine, buf)
    assert bytes(s.save_data) == DATA
    into = bytearray(10)
    try:
        engine.FeatureSettings.build(int_value8=1, into=into)
    except BufferTooShort as exc:
        into += bytes(exc.bytes_needed - len(into))
        assert engine.FeatureSettings.build(int_value8=1, into=into).int_value8 == 1
