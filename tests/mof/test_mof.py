"""vmgen.mof (issue 7): the MOF parser, the layouts it computes, their views, headers and CLI.

Every layout is checked three independent ways: against a hand-written ctypes ``_pack_ = 8``
transcription, against gcc/mingw (``_Static_assert`` on every offset in the generated header), and by a
C program that reads a vmgen-built buffer through the generated header and checks every field.
"""
from __future__ import annotations

import ctypes
import glob
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vmgen
from vmgen.switch import layout as L
from vmgen import mof
from vmgen._reference import FeatureSettings as RefFeatureSettings
from vmgen.errors import LayoutError, MofError

ROOT = Path(__file__).resolve().parents[2]
GCC = shutil.which("gcc")
MINGW = shutil.which("x86_64-w64-mingw32-gcc")
WINE = shutil.which("wine")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc not installed")
needs_mingw = pytest.mark.skipif(MINGW is None, reason="x86_64-w64-mingw32-gcc not installed")

# Seed 001's MOF, verbatim (trailing spaces included).
SEED_MOF = r'''#pragma namespace("\\\\.\\root\\virtualization\\v2")

[ Dynamic, 
 UUID("F2F73F23-2B8E-457a-96C4-F541201C9150"),
 ExtensionId("5CBF81BE-5055-47CD-9055-A76B2B4E369E"), 
 Provider("VmmsWmiInstanceAndMethodProvider"), 
 Locale(0x409),
 InterfaceVersion("1"),
 InterfaceRevision("0"),
DisplayName("VendorName Port Settings Friendly Name") : Amended,
Description("VendorName Port Settings detailed description.") : Amended]
class Vendor_SampleFeatureSettingData: Msvm_EthernetSwitchPortFeatureSettingDataMsvm
{
  [WmiDataId(1),
   InterfaceVersion("1"),
   InterfaceRevision("0")]
  uint8  IntValue8 = 0;

  [WmiDataId(2),
   InterfaceVersion("1"),
   InterfaceRevision("0")]
  uint16 IntValue16 = 0;

  [WmiDataId(3),
   InterfaceVersion("1"),
   InterfaceRevision("0")]
  uint32 IntValue32 = 0;

  [WmiDataId(4),
   InterfaceVersion("1"),
   InterfaceRevision("0")]
  uint64 IntValue64 = 0;

  [WmiDataId(5),
   InterfaceVersion("1"),
   InterfaceRevision("0"), 
   MaxLen(255)]
  string FixedLengthString = "";

  [WmiDataId(6),
   InterfaceVersion("1"),
   InterfaceRevision("0")]
  string VariableLengthString = "";

  [WmiDataId(7),
   InterfaceVersion("1"),
   InterfaceRevision("0"),
   Max(8)]
  uint32 FixedLengthArray[] = {};

  [WmiDataId(8),
   InterfaceVersion("1"),
   InterfaceRevision("0")]
  uint32 VariableLengthArray[] = {};

};'''

# ---------------------------------------------------------------------------------------------------
# Our own policy classes: every integer width, sint types, fixed and variable arrays (uint8 and uint64
# included), MaxLen strings, datetime, booleans, char16, WmiDataId declared out of order.

OWN_MOF = r'''
#pragma namespace("\\\\.\\root\\virtualization\\v2")
#pragma classflags("forceupdate")

/* Every scalar type; declared out of WmiDataId order on purpose. */
[Dynamic, Provider("VmmsWmiInstanceAndMethodProvider"),
 UUID("0B5DA41C-7B8B-4A65-9DE4-AD0B8B8C3A71"), InterfaceVersion("2"), InterfaceRevision("3"),
 Description("All scalar widths") : Amended ToSubclass, Vendor_Unknown(42)]
class Test_Scalars : Msvm_EthernetSwitchPortFeatureSettingData
{
  [WmiDataId(3), Key, Read, Write] uint16 U16 = 0xFFFF;
  [WmiDataId(1)] uint8 U8 = 255;
  [WmiDataId(2)] sint8 S8 = -128;
  [WmiDataId(4)] sint16 S16 = -32768;
  [WmiDataId(6)] sint32 S32 = -1;
  [WmiDataId(5)] uint32 U32 = 0x80000000;
  [WmiDataId(7)] boolean Enabled = true;
  [WmiDataId(8)] uint64 U64;
  [WmiDataId(9)] char16 Letter = 'x';
  [WmiDataId(10)] sint64 S64 = -9223372036854775808;
  [WmiDataId(11)] BOOLEAN Disabled = FALSE;
};

// Fixed (Max(n) or [n]) and variable arrays of every element kind.
[InterfaceVersion("1.2")]
class Test_Arrays
{
  [WmiDataId(1), Max(6)] uint8 MacAddress[] = {0, 0x15, 0x5d, 1, 2, 3};
  [WmiDataId(2), Max(3)] uint64 Wide[];
  [WmiDataId(3)] uint8 Bytes[] = {};
  [WmiDataId(4)] uint64 Big[];
  [WmiDataId(5), Max(5)] sint16 Signed[] = {-1, 1};
  [WmiDataId(6)] sint32 SignedVar[];
  [WmiDataId(7), Max(4)] boolean Flags[] = {true, false};
  [WmiDataId(8)] char16 Chars[];
  [WmiDataId(9)] sint64 Fixed[2];
  [WmiDataId(10)] uint16 Shorts[];
  [WmiDataId(11)] sint8 Tiny[3];
};

class Test_Strings
{
  [WmiDataId(1), MaxLen(15)] string Name = "vmgen";
  [WmiDataId(2)] string Notes;
  [WmiDataId(3)] datetime Created = "20240101120000.000000+000";
  [WmiDataId(4)] uint8 Tail;
  [WmiDataId(5), MaxLen(1)] string Flag;
  [WmiDataId(6)] string More = "a\tb\x263A" " concatenated";
};

// Shaped like Microsoft's MAC-address policy sample: uint8 array with Max(6), MaxLen string, boolean.
[Dynamic, UUID("9D4C2A60-5E4B-4F3A-8F8E-0123456789AB"), ExtensionId("5CBF81BE-5055-47CD-9055-A76B2B4E369E"),
 Locale(0x409), InterfaceVersion("1"), InterfaceRevision("1"), SupportsUpdate, ValueMap{"0", "1"}]
class Vendor_MacPolicy : Msvm_EthernetSwitchPortFeatureSettingData
{
    [WmiDataId(4), InterfaceVersion("1"), InterfaceRevision("1")] boolean Audit = false;
    [WmiDataId(1), Max(6)] uint8 AllowedMac[];
    [WmiDataId(3), MaxLen(32)] string Label;
    [WmiDataId(2)] uint64 Cookie;
    [WmiDataId(5)] uint32 Ports[];
};
'''


def _ct(name: str, fields: List[Any]) -> type:
    return type(name, (ctypes.LittleEndianStructure,), {"_pack_": 8, "_fields_": fields})


U8, U16, U32, U64 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64
S8, S16, S32, S64 = ctypes.c_int8, ctypes.c_int16, ctypes.c_int32, ctypes.c_int64

# Independent transcriptions: what a C programmer writes from the MOF by hand under #pragma pack(8).
CTYPES = {
    "Test_Scalars": _ct("Test_Scalars", [
        ("U8", U8), ("S8", S8), ("U16", U16), ("S16", S16), ("U32", U32), ("S32", S32), ("Enabled", U8),
        ("U64", U64), ("Letter", U16), ("S64", S64), ("Disabled", U8)]),
    "Test_Arrays": _ct("Test_Arrays", [
        ("MacAddressElementCount", U32), ("MacAddress", U8 * 6),
        ("WideElementCount", U32), ("Wide", U64 * 3),
        ("BytesElementCount", U32), ("BytesOffset", U32),
        ("BigElementCount", U32), ("BigOffset", U32),
        ("SignedElementCount", U32), ("Signed", S16 * 5),
        ("SignedVarElementCount", U32), ("SignedVarOffset", U32),
        ("FlagsElementCount", U32), ("Flags", U8 * 4),
        ("CharsElementCount", U32), ("CharsOffset", U32),
        ("FixedElementCount", U32), ("Fixed", S64 * 2),
        ("ShortsElementCount", U32), ("ShortsOffset", U32),
        ("TinyElementCount", U32), ("Tiny", S8 * 3)]),
    "Test_Strings": _ct("Test_Strings", [
        ("NameByteCount", U16), ("Name", U16 * 16), ("NotesOffset", U32),
        ("CreatedByteCount", U16), ("Created", U16 * 26), ("Tail", U8),
        ("FlagByteCount", U16), ("Flag", U16 * 2), ("MoreOffset", U32)]),
    "Vendor_MacPolicy": _ct("Vendor_MacPolicy", [
        ("AllowedMacElementCount", U32), ("AllowedMac", U8 * 6), ("Cookie", U64),
        ("LabelByteCount", U16), ("Label", U16 * 33), ("Audit", U8),
        ("PortsElementCount", U32), ("PortsOffset", U32)]),
    # Seed 001, natural mapping (IntValue16 a UINT16) and the document's (UINT32).
    "Vendor_SampleFeatureSettingData": _ct("Natural", [
        ("IntValue8", U8), ("IntValue16", U16), ("IntValue32", U32), ("IntValue64", U64),
        ("FixedLengthStringByteCount", U16), ("FixedLengthString", U16 * 256), ("VariableLengthStringOffset", U32),
        ("FixedLengthArrayElementCount", U32), ("FixedLengthArray", U32 * 8),
        ("VariableLengthArrayElementCount", U32), ("VariableLengthArrayOffset", U32)]),
    "SAMPLE_FEATURE_SETTINGS": _ct("SAMPLE_FEATURE_SETTINGS", [
        ("IntValue8", U8), ("IntValue16", U32), ("IntValue32", U32), ("IntValue64", U64),
        ("FixedLengthStringByteCount", U16), ("FixedLengthString", U16 * 256), ("VariableLengthStringOffset", U32),
        ("FixedLengthArrayElementCount", U32), ("FixedLengthArray", U32 * 8),
        ("VariableLengthArrayElementCount", U32), ("VariableLengthArrayOffset", U32)]),
}
EXPECTED_SIZES = {"Test_Scalars": 56, "Test_Arrays": 136, "Test_Strings": 108, "Vendor_MacPolicy": 104,
                  "Vendor_SampleFeatureSettingData": 584, "SAMPLE_FEATURE_SETTINGS": 592}


def own_layouts() -> Dict[str, L.Layout]:
    out = {c.name: mof.layout(c) for c in mof.parse(OWN_MOF)}
    [seed] = mof.parse(SEED_MOF)
    out[seed.name] = mof.layout(seed)
    out["SAMPLE_FEATURE_SETTINGS"] = mof.layout(seed, c_types={"IntValue16": "UINT32"}, name="SAMPLE_FEATURE_SETTINGS")
    return out


LAYOUTS = own_layouts()
NAMES = sorted(LAYOUTS)


# ---------------------------------------------------------------------------------------------------
# Seed 001


def test_seed_parses_with_every_qualifier() -> None:
    [cls] = mof.parse(SEED_MOF)
    assert cls.name == "Vendor_SampleFeatureSettingData"
    assert cls.superclass == "Msvm_EthernetSwitchPortFeatureSettingDataMsvm"  # sic, as the document prints it
    assert cls.pragmas == {"namespace": "\\\\.\\root\\virtualization\\v2"}
    assert cls.qualifiers["Dynamic"] is True
    assert cls.uuid == "F2F73F23-2B8E-457a-96C4-F541201C9150"
    assert cls.extension_id == "5CBF81BE-5055-47CD-9055-A76B2B4E369E"
    assert cls.qualifier("provider") == "VmmsWmiInstanceAndMethodProvider"
    assert cls.qualifiers["Locale"] == 0x409
    assert (cls.qualifiers["InterfaceVersion"], cls.qualifiers["InterfaceRevision"]) == ("1", "0")
    assert cls.flavors == {"DisplayName": ("Amended",), "Description": ("Amended",)}
    assert cls.qualifiers["Description"] == "VendorName Port Settings detailed description."
    props = [(p.name, p.type, p.is_array, p.wmi_data_id, p.max_len, p.max, p.default) for p in cls.properties]
    assert props == [
        ("IntValue8", "uint8", False, 1, None, None, 0),
        ("IntValue16", "uint16", False, 2, None, None, 0),
        ("IntValue32", "uint32", False, 3, None, None, 0),
        ("IntValue64", "uint64", False, 4, None, None, 0),
        ("FixedLengthString", "string", False, 5, 255, None, ""),
        ("VariableLengthString", "string", False, 6, None, None, ""),
        ("FixedLengthArray", "uint32", True, 7, None, 8, ()),
        ("VariableLengthArray", "uint32", True, 8, None, None, ()),
    ]
    assert cls.get_property("intvalue16").qualifier("INTERFACEVERSION") == "1"


def test_seed_file_still_matches_our_copy() -> None:
    seeds = glob.glob(str(ROOT.parent / "shared" / "seeds" / "001_*.txt"))
    if not seeds:
        pytest.skip("seed documents not present next to the repository")
    assert SEED_MOF in Path(seeds[0]).read_text(encoding="utf-8")


def test_seed_with_override_is_feature_settings() -> None:
    [cls] = mof.parse(SEED_MOF)
    lay = mof.layout(cls, c_types={"IntValue16": "UINT32"})
    ref = L.FEATURE_SETTINGS_LAYOUT
    assert [(m.name, m.type.name, m.count, m.offset) for m in lay.struct.members] == \
        [(m.name, m.type.name, m.count, m.offset) for m in ref.struct.members]
    assert lay.struct.size == ref.struct.size == 592
    assert lay.field_specs() == ref.field_specs()
    assert lay.attr_names() == ref.attr_names() == (
        "int_value8", "int_value16", "int_value32", "int_value64", "fixed_length_string", "variable_length_string",
        "fixed_length_array", "variable_length_array")
    assert lay.version == ref.version == vmgen.FeatureSettings.version == 0x0100
    assert [h.name for h in lay.helpers] == ["VARIABLE_LENGTH_STRING", "VARIABLE_LENGTH_ARRAY"]
    # LAYOUTS.md's offsets, restated
    assert [m.offset for m in lay.struct.members] == [0, 4, 8, 16, 24, 26, 540, 544, 548, 580, 584]


def test_seed_without_override_is_natural() -> None:
    [cls] = mof.parse(SEED_MOF)
    lay = mof.layout(cls)
    off, m = lay.struct.member("IntValue16")
    assert (off, m.type.name) == (2, "UINT16")
    assert lay.struct.member("IntValue32")[0] == 4 and lay.struct.size == 584


@pytest.mark.parametrize("engine", ["c", "reference"])
def test_seed_view_reads_feature_settings_buffers_byte_for_byte(engine: str) -> None:
    [cls] = mof.parse(SEED_MOF)
    lay = mof.layout(cls, c_types={"IntValue16": "UINT32"})
    V = lay.view_type if engine == "c" else lay.reference_view_type
    FS = vmgen.FeatureSettings if engine == "c" else RefFeatureSettings
    values = dict(int_value8=0xAB, int_value16=0xFFFFFFFF, int_value32=7, int_value64=2**64 - 1,
                  fixed_length_string="Ünïcode ☃", variable_length_string="variable part",
                  fixed_length_array=[1, 2, 3, 8], variable_length_array=[10, 20, 2**32 - 1])
    built_fs = FS.build(**values)
    built_mof = V.build(**values)
    assert bytes(_mv(built_fs)) == bytes(_mv(built_mof))
    through = V(bytes(_mv(built_fs)))
    assert _plain(through.to_dict()) == _plain(built_fs.to_dict())
    assert through.fixed_length_array.tolist() == [1, 2, 3, 8] and through.int_value16 == 0xFFFFFFFF
    assert V.version == 0x0100 and V.__name__ == "Vendor_SampleFeatureSettingData"
    assert V.layout is lay
    # same API: writes, bounds checks, buffer export
    buf = bytearray(_mv(built_mof))
    w = V(buf)
    w.int_value8 = 5
    assert buf[0] == 5
    with pytest.raises(OverflowError):
        w.int_value8 = 256
    with pytest.raises(TypeError):
        V(bytes(buf)).int_value8 = 1
    bad = bytearray(buf)
    bad[584:588] = (10**6).to_bytes(4, "little")  # VariableLengthArrayOffset past the end
    with pytest.raises(LayoutError, match="variable_length_array"):
        V(bad).variable_length_array
    with pytest.raises(vmgen.BufferTooShort):
        V(bytearray(100))


def _mv(view: Any) -> memoryview:
    try:
        return memoryview(view)
    except TypeError:
        return view.__buffer__(0)


def _plain(d: Dict[str, Any]) -> Dict[str, Any]:
    return {k: (v.tolist() if isinstance(v, memoryview) else v) for k, v in d.items()}


# ---------------------------------------------------------------------------------------------------
# Our classes: parse details, ctypes transcriptions


def test_own_mof_parses() -> None:
    classes = mof.parse(OWN_MOF)
    assert [c.name for c in classes] == ["Test_Scalars", "Test_Arrays", "Test_Strings", "Vendor_MacPolicy"]
    scalars, arrays, strings, mac = classes
    assert scalars.pragmas == {"namespace": "\\\\.\\root\\virtualization\\v2", "classflags": "forceupdate"}
    assert scalars.flavors["Description"] == ("Amended", "ToSubclass")
    assert scalars.qualifiers["Vendor_Unknown"] == 42  # unknown qualifiers are kept
    u16 = scalars.get_property("U16")
    assert u16.qualifiers == {"WmiDataId": 3, "Key": True, "Read": True, "Write": True} and u16.default == 0xFFFF
    assert scalars.get_property("S64").default == -2**63
    assert scalars.get_property("Letter").default == "x" and scalars.get_property("Letter").type == "char16"
    assert scalars.get_property("Disabled").type == "boolean" and scalars.get_property("Disabled").default is False
    assert arrays.get_property("Fixed").array_size == 2 and arrays.get_property("Fixed").is_array
    assert arrays.get_property("MacAddress").default == (0, 0x15, 0x5D, 1, 2, 3)
    assert strings.get_property("More").default == "a\tb\u263a concatenated"
    assert strings.get_property("Notes").has_default is False
    assert mac.qualifiers["ValueMap"] == ("0", "1") and mac.qualifiers["SupportsUpdate"] is True
    assert [p.name for p in mac.properties] == ["Audit", "AllowedMac", "Label", "Cookie", "Ports"]


def test_versions() -> None:
    assert LAYOUTS["Test_Scalars"].version == 0x0203
    assert LAYOUTS["Test_Arrays"].version == 0x0102  # InterfaceVersion("1.2")
    assert LAYOUTS["Test_Strings"].version is None
    assert LAYOUTS["Vendor_MacPolicy"].version == 0x0101


@pytest.mark.parametrize("name", NAMES)
def test_layout_matches_ctypes_transcription(name: str) -> None:
    lay = LAYOUTS[name]
    ct = CTYPES[name]
    assert lay.struct.size == ctypes.sizeof(ct) == EXPECTED_SIZES[name]
    assert [m.name for m in lay.struct.members] == [f[0] for f in ct._fields_]
    for m in lay.struct.members:
        assert m.offset == getattr(ct, m.name).offset, m.name
        assert m.size == getattr(ct, m.name).size, m.name


def test_wmidataid_order_and_attr_names() -> None:
    lay = LAYOUTS["Vendor_MacPolicy"]
    assert lay.attr_names() == ("allowed_mac", "cookie", "label", "audit", "ports")
    assert LAYOUTS["Test_Scalars"].attr_names()[:3] == ("u8", "s8", "u16")
    assert mof.snake_case("MACAddress") == "mac_address" and mof.snake_case("IntValue8") == "int_value8"
    kinds = {s[1]: s[0] for s in LAYOUTS["Test_Arrays"].field_specs()}
    assert kinds["mac_address"] == L.K_FARR and kinds["bytes"] == L.K_OARR and kinds["fixed"] == L.K_FARR
    specs = {s[1]: s for s in LAYOUTS["Test_Arrays"].field_specs()}
    assert specs["big"][6:] == (8, "Q", False) and specs["signed_var"][6:] == (4, "i", True)
    assert specs["tiny"][6:] == (1, "b", True) and specs["flags"][6:] == (1, "B", False)
    assert LAYOUTS["Test_Strings"].field_specs()[2] == (L.K_CSTR, "created", 40, 2, 42, 25)


def test_c_types_overrides() -> None:
    [cls] = [c for c in mof.parse(OWN_MOF) if c.name == "Test_Arrays"]
    lay = mof.layout(cls, c_types={"Wide": "UINT32", "BytesElementCount": "UINT16", "Big": "UINT16"})
    assert lay.struct.member("Wide")[1].type is L.UINT32 and lay.struct.member("Wide")[1].count == 3
    assert lay.struct.member("BytesElementCount")[1].type is L.UINT16
    assert {s[1]: s for s in lay.field_specs()}["big"][6:] == (2, "H", False)
    with pytest.raises(MofError, match="neither a property nor a member"):
        mof.layout(cls, c_types={"Nope": "UINT32"})
    with pytest.raises(MofError, match="unknown C type"):
        mof.layout(cls, c_types={"Wide": "float"})
    with pytest.raises(MofError, match="must be unsigned"):
        mof.layout(cls, c_types={"BigOffset": "INT32"})
    [strings] = [c for c in mof.parse(OWN_MOF) if c.name == "Test_Strings"]
    with pytest.raises(MofError, match="must stay WCHAR|retype its members"):
        mof.layout(strings, c_types={"Name": "UINT8"})
    assert mof.layout(strings, c_types={"NameByteCount": "UINT32"}).struct.member("Name")[0] == 4


# ---------------------------------------------------------------------------------------------------
# Views: build, read back, C engine vs reference


def _values_strategy(lay: L.Layout) -> st.SearchStrategy[Dict[str, Any]]:
    chars = st.characters(min_codepoint=1, max_codepoint=0xFFFF, blacklist_categories=("Cs",))
    out: Dict[str, st.SearchStrategy[Any]] = {}
    for s in lay.field_specs():
        kind, attr = s[0], s[1]
        if kind == L.K_INT:
            size, signed = s[3], s[4]
            lo, hi = (-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1) if signed else (0, (1 << (8 * size)) - 1)
            out[attr] = st.integers(lo, hi)
        elif kind == L.K_CSTR:
            out[attr] = st.text(chars, max_size=s[5])
        elif kind == L.K_OSTR:
            out[attr] = st.text(chars, max_size=40)
        elif kind in (L.K_FARR, L.K_OARR):
            size, signed = s[6], s[8]
            lo, hi = (-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1) if signed else (0, (1 << (8 * size)) - 1)
            out[attr] = st.lists(st.integers(lo, hi), max_size=s[5] if kind == L.K_FARR else 12)
    return st.fixed_dictionaries({}, optional=out)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_engines_agree_on_random_builds(name: str, data: st.DataObject) -> None:
    lay = LAYOUTS[name]
    values = data.draw(_values_strategy(lay))
    c = lay.view_type.build(**values)
    r = lay.reference_view_type.build(**values)
    raw = bytes(_mv(c))
    assert raw == bytes(_mv(r))
    assert c.nbytes == r.nbytes == len(raw)
    got_c, got_r = _plain(c.to_dict()), _plain(r.to_dict())
    assert got_c == got_r
    for k, v in values.items():
        assert got_c[k] == (list(v) if isinstance(v, list) else v), k
    # and the other way round: each engine reads the other's bytes
    assert _plain(lay.view_type(raw).to_dict()) == _plain(lay.reference_view_type(bytearray(raw)).to_dict())


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_engines_agree_on_random_bytes(name: str, data: st.DataObject) -> None:
    lay = LAYOUTS[name]
    base = bytearray(_mv(lay.view_type.build()))
    raw = bytearray(data.draw(st.binary(min_size=len(base), max_size=len(base) + 64)))
    results = []
    for V in (lay.view_type, lay.reference_view_type):
        try:
            results.append(("ok", _plain(V(bytes(raw)).to_dict())))
        except (LayoutError, UnicodeDecodeError, ValueError) as exc:
            results.append(("error", type(exc).__name__))
    assert results[0] == results[1]


def test_view_api_on_own_layout() -> None:
    V = LAYOUTS["Test_Arrays"].view_type
    v = V.build(mac_address=[0, 0x15, 0x5D, 1, 2, 3], big=[2**64 - 1], signed=[-1, 1], tiny=[-128, 127, 0])
    assert v.mac_address.tolist() == [0, 0x15, 0x5D, 1, 2, 3] and v.big.tolist() == [2**64 - 1]
    assert v.signed.tolist() == [-1, 1] and v.tiny.tolist() == [-128, 127, 0]
    assert _mv(v).nbytes == v.nbytes == 136 + 8
    assert V.version == 0x0102 and type(v).__module__ == ("vmgen._reference" if os.environ.get("VMGEN_PURE") else "vmgen")
    with pytest.raises((OverflowError, ValueError)):
        V.build(mac_address=list(range(7)))
    with pytest.raises(OverflowError):
        V.build(tiny=[128])
    buf = bytearray(200)
    assert V.build(into=buf, wide=[1, 2, 3]).wide.tolist() == [1, 2, 3]
    with pytest.raises(vmgen.BufferTooShort):
        V.build(into=bytearray(140), big=[1, 2])
    S = LAYOUTS["Test_Scalars"].view_type
    s = S.build(enabled=1, letter=ord("é"), s64=-(2**63))
    assert (s.enabled, s.letter, s.s64) == (1, 0xE9, -(2**63))
    st_ = LAYOUTS["Test_Strings"].view_type.build(name="x" * 15, created="20240101120000.000000+000")
    assert st_.name == "x" * 15 and st_.created == "20240101120000.000000+000"
    with pytest.raises((OverflowError, ValueError)):
        LAYOUTS["Test_Strings"].view_type.build(name="x" * 16)


# ---------------------------------------------------------------------------------------------------
# Headers and a C reader


def _compile(cc: str, source: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", str(source.parent), str(source),
                           "-o", str(out), *extra], capture_output=True, text=True)


def _write_headers(tmp: Path) -> List[str]:
    names = []
    for name in NAMES:
        (tmp / f"{name}.h").write_text(LAYOUTS[name].c_header())
        names.append(f"{name}.h")
    return names


@needs_gcc
@pytest.mark.parametrize("cc", ["gcc", "mingw"])
def test_headers_compile_together(tmp_path: Path, cc: str) -> None:
    compiler = GCC if cc == "gcc" else MINGW
    if compiler is None:
        pytest.skip("x86_64-w64-mingw32-gcc not installed")
    includes = _write_headers(tmp_path)
    shutil.copy(ROOT / "csrc" / "switch" / "vmgen_layouts.h", tmp_path / "vmgen_layouts.h")
    src = tmp_path / "all.c"
    # every MOF header, twice, plus the shipped one: helpers are defined once (SAMPLE_FEATURE_SETTINGS.h is
    # left out: the shipped header defines a struct of that name itself)
    includes = [h for h in includes if h != "SAMPLE_FEATURE_SETTINGS.h"]
    src.write_text("".join(f'#include "{h}"\n' for h in includes + includes + ["vmgen_layouts.h"])
                   + "int main(void) { return 0; }\n")
    r = _compile(compiler, src, tmp_path / "all.exe")
    assert r.returncode == 0, r.stderr
    for name in NAMES:
        assert LAYOUTS[name].c_header().count("VMGEN_STATIC_ASSERT(offsetof(") >= len(LAYOUTS[name].struct.members)


@needs_gcc
def test_header_asserts_catch_a_wrong_offset(tmp_path: Path) -> None:
    header = LAYOUTS["Test_Arrays"].c_header()
    bad = header.replace("offsetof(Test_Arrays, Wide) == 16", "offsetof(Test_Arrays, Wide) == 12")
    assert bad != header
    (tmp_path / "bad.h").write_text(bad)
    src = tmp_path / "bad.c"
    src.write_text('#include "bad.h"\nint main(void) { return 0; }\n')
    r = _compile(GCC, src, tmp_path / "bad")
    assert r.returncode != 0 and "offsetof(Test_Arrays, Wide) == 12" in r.stderr and "static assertion failed" in r.stderr


def _c_int(value: int, signed: bool) -> str:
    if signed:
        return f"(INT64)({value}LL)" if value != -(2**63) else "(INT64)(-9223372036854775807LL - 1)"
    return f"(UINT64){value}ULL"


def _c_checks(lay: L.Layout, values: Dict[str, Any]) -> str:
    """C statements checking every field of the struct at ``s`` (byte base ``b``) against ``values``."""
    st_ = lay.struct
    lines: List[str] = [f"CHECK(sizeof({st_.name}) == {st_.size});"]
    for acc, spec in zip(lay.fields, lay.field_specs()):
        v = values[acc.attr]
        if isinstance(acc, L.Int):
            signed = spec[4]
            cast = "INT64" if signed else "UINT64"
            lines.append(f"CHECK(({cast})s->{acc.member} == {_c_int(v, signed)});")
        elif isinstance(acc, L.CountedString):
            units = list(v.encode("utf-16-le").decode("utf-16-le").encode("utf-16-le"))
            codes = [int.from_bytes(bytes(units[i:i + 2]), "little") for i in range(0, len(units), 2)]
            lines.append(f"CHECK(s->{acc.length} == {2 * len(codes)});")
            for i, code in enumerate(codes):
                lines.append(f"CHECK(s->{acc.chars}[{i}] == {code});")
            lines.append(f"CHECK(s->{acc.chars}[{len(codes)}] == 0);")
        elif isinstance(acc, L.OffsetString):
            raw = v.encode("utf-16-le")
            codes = [int.from_bytes(raw[i:i + 2], "little") for i in range(0, len(raw), 2)]
            lines += ["{", f"    const VARIABLE_LENGTH_STRING *vs = (const VARIABLE_LENGTH_STRING *)(b + s->{acc.offset});",
                      f"    CHECK(s->{acc.offset} >= sizeof(*s) && s->{acc.offset} + 2u + {len(raw)}u <= n);",
                      f"    CHECK(vs->StringLength == {len(raw)});"]
            for i, code in enumerate(codes):
                lines.append(f"    CHECK(vs->StringBuffer[{i}] == {code});")
            lines.append("}")
        elif isinstance(acc, L.FixedArray):
            signed = spec[8]
            cast = "INT64" if signed else "UINT64"
            lines.append(f"CHECK(s->{acc.count} == {len(v)});")
            for i, item in enumerate(v):
                lines.append(f"CHECK(({cast})s->{acc.array}[{i}] == {_c_int(item, signed)});")
        elif isinstance(acc, L.OffsetArray):
            e = acc.element
            cast = "INT64" if e.signed else "UINT64"
            lines += ["{", f"    CHECK(s->{acc.count} == {len(v)});",
                      f"    CHECK({len(v)} == 0 || (s->{acc.offset} >= sizeof(*s) && "
                      f"s->{acc.offset} + {len(v) * e.size}u <= n && s->{acc.offset} % {e.size} == 0));",
                      f"    const {e.name} *a = (const {e.name} *)(b + s->{acc.offset});"]
            for i, item in enumerate(v):
                lines.append(f"    CHECK(({cast})a[{i}] == {_c_int(item, e.signed)});")
            lines += ["    (void)a;", "}"]
    return "\n".join("    " + ln for ln in lines)


def _sample_values(lay: L.Layout, rng: random.Random) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for s in lay.field_specs():
        kind, attr = s[0], s[1]
        if kind == L.K_INT:
            size, signed = s[3], s[4]
            pick = [0, 1, (1 << (8 * size)) - 1, rng.randrange(1 << (8 * size))]
            v = rng.choice(pick[1:])
            out[attr] = v - (1 << (8 * size)) if signed and v >= 1 << (8 * size - 1) else v
        elif kind == L.K_CSTR:
            out[attr] = "".join(rng.choice("aZ09 éß☃\u4e2d") for _ in range(rng.randint(0, s[5])))
        elif kind == L.K_OSTR:
            out[attr] = "".join(rng.choice("aZ09 éß☃\u4e2d") for _ in range(rng.randint(0, 30)))
        else:
            size, signed = s[6], s[8]
            n = rng.randint(1, s[5] if kind == L.K_FARR else 9)
            lo, hi = (-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1) if signed else (0, (1 << (8 * size)) - 1)
            out[attr] = [rng.choice([lo, hi, rng.randint(lo, hi)]) for _ in range(n)]
    return out


_C_MAIN = r'''
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "@HEADER@"

static int failures;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 2;
    static _Alignas(16) unsigned char storage[1 << 16];
    size_t n = fread(storage, 1, sizeof storage, f);
    fclose(f);
    const unsigned char *b = storage;
    const @STRUCT@ *s = (const @STRUCT@ *)b;
    CHECK(n >= sizeof(*s));
@CHECKS@
    (void)b;
    if (failures) return 1;
    printf("ok %zu bytes\n", n);
    return 0;
}
'''


@needs_gcc
@pytest.mark.parametrize("name", NAMES)
def test_c_program_reads_vmgen_buffer(tmp_path: Path, name: str) -> None:
    lay = LAYOUTS[name]
    rng = random.Random(name)
    for round_ in range(3):
        values = _sample_values(lay, rng)
        view = lay.view_type.build(**values)
        data = tmp_path / f"buf{round_}.bin"
        data.write_bytes(bytes(_mv(view)))
        (tmp_path / f"{name}.h").write_text(lay.c_header())
        src = tmp_path / f"reader{round_}.c"
        src.write_text(_C_MAIN.replace("@HEADER@", f"{name}.h").replace("@STRUCT@", lay.struct.name)
                       .replace("@CHECKS@", _c_checks(lay, values)))
        exe = tmp_path / f"reader{round_}"
        r = _compile(GCC, src, exe)
        assert r.returncode == 0, r.stderr
        run = subprocess.run([str(exe), str(data)], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("ok")
    # negative control: a flipped byte inside a field is noticed by the C reader
    raw = bytearray(data.read_bytes())
    raw[0] ^= 0xFF
    data.write_bytes(bytes(raw))
    assert subprocess.run([str(exe), str(data)], capture_output=True).returncode == 1


@needs_mingw
def test_mingw_reader_compiles_and_runs_under_wine(tmp_path: Path) -> None:
    lay = LAYOUTS["Test_Arrays"]
    values = _sample_values(lay, random.Random(7))
    data = tmp_path / "buf.bin"
    data.write_bytes(bytes(_mv(lay.view_type.build(**values))))
    (tmp_path / "Test_Arrays.h").write_text(lay.c_header())
    src = tmp_path / "reader.c"
    src.write_text(_C_MAIN.replace("@HEADER@", "Test_Arrays.h").replace("@STRUCT@", "Test_Arrays")
                   .replace("@CHECKS@", _c_checks(lay, values)).replace("%zu", "%lu").replace(", n);", ", (unsigned long)n);"))
    exe = tmp_path / "reader.exe"
    r = _compile(MINGW, src, exe)  # type: ignore[arg-type]
    assert r.returncode == 0, r.stderr
    if WINE is None or os.environ.get("VMGEN_SKIP_WINE"):
        pytest.skip("compiled with mingw; wine not available to run it")
    try:
        run = subprocess.run([WINE, str(exe), str(data)], capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, WINEDEBUG="-all"))
    except subprocess.TimeoutExpired:
        pytest.skip("wine did not start within 120 s")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("ok")


# ---------------------------------------------------------------------------------------------------
# Errors: line and column


ERRORS = [
    ("class A { uint8 x }", 1, 19, "expected ';'"),
    ("class A {\n  [WmiDataId(1)]\n  uint8 x = 300;\n};", 3, 13, "out of range for uint8"),
    ("structure S { uint8 a; };\n\nstructure s { uint8 b; };", 3, 11, "declared twice in this scope"),
    ("class A { [WmiDataId(\"1\")] uint8 x; };", 1, 12, "WmiDataId"),
    ("class A { [Max(0)] uint8 x[]; };", 1, 12, "Max"),
    ('class A { [WmiDataId(1)] string x = "abc\\q"; };', 1, 41, "unknown escape"),
    ('class A { [WmiDataId(1)] string x = "abc', 1, 37, "unterminated string"),
    ("\n  /* never closed", 2, 3, "unterminated /* comment"),
    ("class A { [D : Amended Bogus] uint8 x; };", 1, 24, "unknown qualifier flavor"),
    ("#include <x.mof>", 1, 1, "#include"),
    ("#pragma include(\"x.mof\")", 1, 9, "#pragma include"),
    ("class A { [WmiDataId(1)] uint8 x = $a; };", 1, 36, "does not suit"),
    ("class A { [WmiDataId(1)] uint33 x; };", 1, 26, "unknown type 'uint33'"),   # not "embedded object"
    ("class A { [WmiDataId(1)] Foo ref x = 5; };", 1, 38, "object path"),
    ("enumeration E : uint8 { A };", 1, 27, "needs '= <integer>'"),
    ("enumeration E : real32 { A = 1 };", 1, 17, "neither an integer type"),
    ("enumeration E : uint8 { A = 256 };", 1, 29, "must be a uint8 (0..255)"),
    ("enumeration E : uint8 { A = 1, a = 2 };", 1, 32, "declared twice in enumeration E"),
    ("enumeration E : string { A = 1 };", 1, 30, "must be a string"),
    ("enumeration E : uint8 { A = 1 };\nclass C { E x = B; };", 2, 17, "has no value 'B'"),
    ("enumeration E : uint8 { A = 1 };\nclass C { E x = F.A; };", 2, 17, "not F"),
    ("structure S : Nope { uint8 a; };", 1, 15, "not a structure declared before it"),
    ("structure S { uint8 f(); };", 1, 15, "cannot declare a method"),
    ("structure S { uint8 a; };\nclass C { S x = 1; };", 2, 17, "must be 'value of S"),
    ("instance of Foo { a = 1; a = 2; };", 1, 26, "given twice"),
    ("#pragma include(\"a.mof\", \"b.mof\")", 1, 9, "one file name"),
    ("class A { [WmiDataId(1), WMIDATAID(2)] uint8 x; };", 1, 26, "given twice"),
    ("class A { [WmiDataId(1)] uint8 x; [WmiDataId(2)] uint16 X; };", 1, 50, "declared twice"),
    ("class A { [WmiDataId(1)] uint8 x = {1}; };", 1, 36, "array initializer"),
    ("class A { [WmiDataId(1)] uint8 x[] = 1; };", 1, 38, "needs an array initializer"),
    ("class A { [WmiDataId(1), Max(2)] uint8 x[] = {1, 2, 3}; };", 1, 46, "more than 2"),
    ("class A { [WmiDataId(1), MaxLen(2)] string x = \"abc\"; };", 1, 48, "MaxLen(2)"),
    ("class A { [WmiDataId(1)] boolean x = 1; };", 1, 38, "does not suit boolean"),
    ("class A { [WmiDataId(1)] datetime x = \"2024\"; };", 1, 39, "CIM datetime"),
    ("class A { [WmiDataId(1)] uint8 x = 08; };", 1, 36, "octal"),
    ("class A { [WmiDataId(1)] uint8 x = 12ab; };", 1, 36, "malformed number"),
    ("class A { [WmiDataId(1)] uint8 x; }", 1, 36, "expected ';' after the closing"),
    ("class A : { };", 1, 11, "superclass name"),
    ("class A { [WmiDataId(1)] uint8 x = -; };", 1, 37, "expected a number"),
    ("class A { [WmiDataId(1)] uint8 x; } ; @", 1, 39, "unexpected character '@'"),
    ("qualifier Foo : boolean = false;", 1, 32, "needs a scope"),
    ("qualifier Foo : boolean = false, scope(klass);", 1, 40, "unknown scope"),
    ("qualifier Foo : uint33, scope(any);", 1, 17, "not a MOF data type"),
    ("[Abstract] uint8 x;", 1, 12, "expected 'class'"),
    ("class A { [WmiDataId(1)", 1, 24, "expected ']'"),
]


@pytest.mark.parametrize("text,line,column,needle", ERRORS)
def test_syntax_and_unsupported_errors(text: str, line: int, column: int, needle: str) -> None:
    with pytest.raises(MofError) as info:
        mof.parse(text)
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    assert needle in str(err)
    assert str(err).startswith(f"line {line}, column {column}: ")
    assert isinstance(err, LayoutError) and isinstance(err, ValueError)


LAYOUT_ERRORS = [
    # issue 19: valid MOF that a policy struct cannot hold: parse() reads it, layout() names property and reason
    ("class A { [WmiDataId(1)] real32 x; };", 1, 26, "x of A cannot be laid out in a policy struct: real32 is "
                                                     "floating point"),
    ("class A { [WmiDataId(1)] Foo REF x; };", 1, 26, "x of A cannot be laid out in a policy struct: it is a "
                                                      "reference (Foo REF)"),
    ("class A { [WmiDataId(1)] Msvm_Thing x; };", 1, 26, "embedded object (class Msvm_Thing)"),
    ("class A { [WmiDataId(1)] object x; };", 1, 26, "embedded object (any class)"),
    ("class A { [WmiDataId(1)] string x[]; };", 1, 26, "x of A cannot be laid out in a policy struct: an array "
                                                      "of string"),
    ("class A { [WmiDataId(1)] datetime x[4]; };", 1, 26, "an array of datetime"),
    ("class A { [WmiDataId(1)] uint8 new; };", 1, 26, "C keyword"),          # C++
    ("class A { [WmiDataId(1)] uint8 template; };", 1, 26, "C keyword"),
    ("class A { [WmiDataId(1)] uint8 UNALIGNED; };", 1, 26, "<windows.h> macro"),
    ("class RECT { [WmiDataId(1)] uint8 x; };", 1, 1, "<windows.h> macro"),
    ("class POINT { [WmiDataId(1)] uint8 x; };", 1, 1, "<windows.h> macro"),
    ("class A { uint8 x; };", 1, 11, "no WmiDataId"),
    ("class A {\n [WmiDataId(1)] uint8 x;\n [WmiDataId(1)] uint8 y;\n};", 3, 17, "both have WmiDataId(1)"),
    ("class A { [WmiDataId(1)] uint8 x; [WmiDataId(3)] uint8 y; };", 1, 50, "2 is missing"),
    ("class A { };", 1, 1, "no properties"),
    ("class A { [WmiDataId(1), MaxLen(3)] uint8 x; };", 1, 37, "MaxLen applies to string"),
    ("class A { [WmiDataId(1), Max(3)] uint8 x; };", 1, 34, "Max(n) sizes an array"),
    ("class A { [WmiDataId(1), Max(3)] uint8 x[4]; };", 1, 34, "disagrees"),
    ("class A { [WmiDataId(1)] uint8 int; };", 1, 26, "C keyword"),
    ("class A { [WmiDataId(1)] uint8 interface; };", 1, 26, "<windows.h> macro"),  # mingw: #define interface struct
    ("class ERROR { [WmiDataId(1)] uint8 x; };", 1, 1, "<windows.h> macro"),
    ("class A { [WmiDataId(1)] uint8 Layout; };", 1, 26, "reserve"),
    ("class A { [WmiDataId(1)] string Y; [WmiDataId(2)] uint32 YOffset; };", 1, 51, "collides"),
    ("class A { [WmiDataId(1), Max(1000000000)] uint64 X[]; };", 1, 1, "2 GiB"),
    ("class A { [WmiDataId(1), MaxLen(40000)] string X; };", 1, 41, "UINT16"),
    ("[InterfaceVersion(\"1.2\"), InterfaceRevision(\"3\")] class A { [WmiDataId(1)] uint8 x; };", 1, 51, "disagree"),
    ("[InterfaceVersion(\"300\")] class A { [WmiDataId(1)] uint8 x; };", 1, 27, "8 bits"),
    ("[InterfaceRevision(\"1\")] class A { [WmiDataId(1)] uint8 x; };", 1, 26, "without InterfaceVersion"),
]


@pytest.mark.parametrize("text,line,column,needle", LAYOUT_ERRORS)
def test_layout_errors(text: str, line: int, column: int, needle: str) -> None:
    classes = mof.parse(text)
    with pytest.raises(MofError) as info:
        for c in classes:
            mof.layout(c)
    assert (info.value.line, info.value.column) == (line, column), str(info.value)
    assert needle in str(info.value)


def test_layout_rejects_bad_arguments() -> None:
    [cls] = mof.parse(SEED_MOF)
    with pytest.raises(TypeError):
        mof.layout("class A {};")  # type: ignore[arg-type]
    with pytest.raises(MofError, match="not a C identifier"):
        mof.layout(cls, name="not a name")
    assert mof.layout(cls, name="MY_SETTINGS").view_type.__name__ == "MY_SETTINGS"
    with pytest.raises(MofError, match="declares 4 classes"):
        mof.select(mof.parse(OWN_MOF))
    assert mof.select(mof.parse(OWN_MOF), "test_strings").name == "Test_Strings"


def test_lexical_details() -> None:
    text = ("// line comment\n#PRAGMA Locale(\"en_US\")\n[Q1(-0x10), Q2(+1.5e3), Q3('\\x41'), Q4(0101b), "
            "Q5(017), Q6(null), Q7{}, Q8(TRUE)]\nCLASS Z\r\n{ [WMIDATAID(1)] UINT8 y = .5e0 ; };")
    with pytest.raises(MofError, match="does not suit uint8"):
        mof.parse(text)
    [cls] = mof.parse(text.replace(" = .5e0", ""))
    assert cls.qualifiers == {"Q1": -16, "Q2": 1500.0, "Q3": "A", "Q4": 5, "Q5": 15, "Q6": None, "Q7": (),
                              "Q8": True}
    assert cls.pragmas == {"locale": "en_US"} and cls.line == 4
    assert cls.properties[0].type == "uint8" and cls.properties[0].wmi_data_id == 1
    assert mof.parse("") == [] and mof.parse("  // nothing\n/* at all */") == []
    assert mof.parse("\ufeffclass A { };")[0].name == "A"
    with pytest.raises(TypeError):
        mof.parse(b"class A { };")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------
# Fuzz (bounded): any text yields MofClass objects or a MofError, never another exception

_CORPUS = [SEED_MOF, OWN_MOF] + [t for t, *_ in ERRORS] + [t for t, *_ in LAYOUT_ERRORS]
_ATOMS = ["class", "[", "]", "{", "}", "(", ")", ";", ",", ":", "=", "WmiDataId(1)", "MaxLen(3)", "Max(2)",
          "uint8", "string", "datetime", "char16", "\"s\"", "'c'", "0x10", "-", "/*", "*/", "//", "\n", "#pragma",
          "ref", "$", "\\", "\"", "1e", "0b", "Amended", "[]", "x", "true", "null", "\x00", "\ud800", "é"]


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(_CORPUS))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "dup"]))
        atom = draw(st.one_of(st.sampled_from(_ATOMS), st.text(max_size=3)))
        j = min(len(text), i + draw(st.integers(0, 12)))
        if op == "insert":
            text = text[:i] + atom + text[i:]
        elif op == "delete":
            text = text[:i] + text[j:]
        elif op == "replace":
            text = text[:i] + atom + text[j:]
        else:
            text = text[:i] + text[i:j] + text[i:]
    return text


def check_any_text(text: str) -> int:
    """The fuzz property: MofClass objects (each laid out or refused with MofError) or a MofError."""
    try:
        classes = mof.parse(text)
    except MofError as exc:
        assert exc.line >= 1 and exc.column >= 1, exc
        return 0
    for cls in classes:
        assert isinstance(cls, mof.MofClass)
        try:
            lay = mof.layout(cls)
        except MofError:
            continue
        assert lay.struct.size >= 1
        lay.c_header()
    return len(classes)


@settings(max_examples=4000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_mutated(), st.text(max_size=200)))
def test_fuzz_parser_never_raises_anything_else(text: str) -> None:
    check_any_text(text)


# ---------------------------------------------------------------------------------------------------
# CLI


def cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vmgen", *args], input=stdin, capture_output=True, cwd=ROOT)


@pytest.fixture()
def seed_file(tmp_path: Path) -> Path:
    f = tmp_path / "seed.mof"
    f.write_text(SEED_MOF, encoding="utf-8")
    return f


@needs_gcc
def test_cli_mof2h_stdout_and_output(tmp_path: Path, seed_file: Path) -> None:
    r = cli("mof2h", str(seed_file), "--c-type", "IntValue16=UINT32")
    assert r.returncode == 0, r.stderr
    header = r.stdout.decode()
    assert header == mof.layout(mof.parse(SEED_MOF)[0], c_types={"IntValue16": "UINT32"}).c_header()
    assert "UINT32 IntValue16;" in header and "== 592" in header and "0x0100u" in header
    out = tmp_path / "out" / "seed.h"
    out.parent.mkdir()
    r = cli("mof2h", str(seed_file), "-o", str(out), "--name", "SAMPLE_FEATURE_SETTINGS")
    assert r.returncode == 0 and r.stdout == b""
    src = tmp_path / "t.c"
    src.write_text('#include "out/seed.h"\nint main(void) { return (int)sizeof(SAMPLE_FEATURE_SETTINGS) - 584; }\n')
    c = _compile(GCC, src, tmp_path / "t")  # type: ignore[arg-type]
    assert c.returncode == 0, c.stderr
    assert subprocess.run([str(tmp_path / "t")]).returncode == 0


def test_cli_mof2h_utf16_and_class_choice(tmp_path: Path) -> None:
    f = tmp_path / "own.mof"
    f.write_bytes(b"\xff\xfe" + OWN_MOF.encode("utf-16-le"))  # mofcomp's usual encoding
    r = cli("mof2h", str(f), "--class", "vendor_macpolicy")
    assert r.returncode == 0, r.stderr
    assert b"typedef struct _Vendor_MacPolicy {" in r.stdout
    r = cli("mof2h", str(f))
    assert r.returncode == 1 and b"declares 4 classes" in r.stderr and r.stderr.count(b"\n") == 1


@pytest.mark.parametrize("args,stdin,needle", [
    (("mof2h", "-"), b"class A {\n  uint8 x\n};", b"<stdin>: line 3, column 1: expected ';'"),
    (("mof2h", "-"), b"instance of X {};", b"the MOF declares no class"),
    (("mof2h", "/nonexistent/x.mof"), b"", b"No such file"),
    (("mof2h", "-", "--class", "Nope"), SEED_MOF.encode(), b"no class 'Nope'"),
    (("mof2h", "-"), b"\xff\xfe\x00\xd8", b"not utf-16"),
])
def test_cli_mof2h_errors_are_one_line(args: Any, stdin: bytes, needle: bytes) -> None:
    r = cli(*args, stdin=stdin)
    assert r.returncode == 1, r
    assert needle in r.stderr and b"Traceback" not in r.stderr and r.stderr.count(b"\n") == 1, r.stderr


def test_cli_decode_mof(tmp_path: Path, seed_file: Path) -> None:
    fs = vmgen.FeatureSettings.build(int_value16=0x12345678, variable_length_string="hi", variable_length_array=[4])
    buf = tmp_path / "fs.hex"
    buf.write_text(bytes(_mv(fs)).hex())
    r = cli("decode", "--mof", str(seed_file), "--c-type", "IntValue16=UINT32", str(buf), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)["Vendor_SampleFeatureSettingData"]
    assert doc["int_value16"] == 0x12345678 and doc["variable_length_string"] == "hi"
    assert doc["variable_length_array"] == [4]
    # without the override the same bytes are read with the natural layout: the string offset is wrong
    r = cli("decode", "--mof", str(seed_file), str(buf))
    assert r.returncode == 1 and b"Traceback" not in r.stderr and r.stderr.count(b"\n") == 1
    # the property chain with a MOF payload
    params = vmgen.PortPropertyParameters.build(port_id=1, property_id=vmgen.NicSaveState.build(
        "5cbf81be-5055-47cd-9055-a76b2b4e369e", "x", b"").extension_id, property_version="1.0",
        property_instance_id="f2f73f23-2b8e-457a-96c4-f541201c9150", payload=fs)
    chain = tmp_path / "chain.bin"
    chain.write_bytes(bytes(_mv(params)))
    r = cli("decode", "port-property", str(chain), "--mof", str(seed_file), "--c-type", "IntValue16=UINT32")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "PropertyCustom:" in out and "Vendor_SampleFeatureSettingData:" in out and "'hi'" in out
    # own class with --class, from stdin
    own = tmp_path / "own.mof"
    own.write_text(OWN_MOF)
    v = LAYOUTS["Test_Scalars"].view_type.build(s8=-5, letter=0x263A)
    r = cli("decode", "--mof", str(own), "--class", "Test_Scalars", "-", stdin=bytes(_mv(v)))
    assert r.returncode == 0, r.stderr
    assert b"s8 = -5" in r.stdout and b"letter = 9786 (0x263a)" in r.stdout


def test_cli_decode_usage_errors(tmp_path: Path, seed_file: Path) -> None:
    assert cli("decode", "-").returncode == 2  # neither KIND nor --mof
    assert cli("decode", "nic-save-state", "-", "--mof", str(seed_file)).returncode == 2
    assert cli("decode", "nic-save-state", "-", "--class", "X").returncode == 2
    r = cli("mof2h", "-", "--c-type", "IntValue16", stdin=SEED_MOF.encode())   # issue 13: usage, exit 2
    assert r.returncode == 2 and b"expected PROPERTY=CTYPE" in r.stderr
    r = cli("decode", "--mof", str(tmp_path / "missing.mof"), "-")
    assert r.returncode == 1 and b"No such file" in r.stderr


# ---------------------------------------------------------------------------------------------------
# Stubs


def test_mof_stub_is_mypy_strict_clean(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy not installed (requirements-test.txt has it)")
    usage = tmp_path / "usage_mof.py"
    usage.write_text(textwrap.dedent("""\
        from typing import Optional
        from vmgen import mof

        classes: list[mof.MofClass] = mof.parse("class A { [WmiDataId(1)] uint8 X; };")
        lay: mof.CompiledLayout = mof.layout(classes[0], c_types={"X": "UINT16"}, name="A_T")
        wid: Optional[int] = classes[0].properties[0].wmi_data_id
        header: str = lay.c_header()
        doc: mof.MofDocument = mof.parse_document("instance of A { X = 1; };", path=None)
        inst: mof.MofInstance = doc.instances[0]
        methods: list[mof.MofMethod] = classes[0].methods
        params: list[mof.MofParameter] = methods[0].parameters if methods else []
        ref: Optional[str] = classes[0].properties[0].ref_class
        scopes: tuple[str, ...] = doc.qualifier_decls[0].scopes if doc.qualifier_decls else ()
        try:
            mof.parse("class")
        except mof.MofError as exc:
            where: int = exc.line + exc.column
        """))
    import vmgen.mof

    stub = Path(vmgen.mof.__file__).with_suffix(".pyi")  # the source tree's, or the installed wheel's
    in_tree = stub.parents[2] == ROOT
    r = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                        *([str(stub)] if in_tree else []), str(usage)],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    bad = tmp_path / "bad_mof.py"
    bad.write_text("from vmgen import mof\nx: str = mof.parse('')[0].properties[0].wmi_data_id\n")
    r = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(bad)],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1 and "incompatible types" in r.stdout.lower()
