"""Issue 19: MOF v3 (DSP0221 3.0) structures and enumerations: parsed into the model, laid out where a policy
struct can hold them (integer enumerations as their base type, structures inline), refused with the property
and the reason where it cannot."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from vmgen import mof
from vmgen.errors import MofError

GCC, GXX, MINGW = shutil.which("gcc"), shutil.which("g++"), shutil.which("x86_64-w64-mingw32-gcc")

V3 = r'''
[Description("colours")]
enumeration Color : uint8 { Red = 1, [Description("g")] Green = 2, Blue = 0x10 };
enumeration MoreColor : Color { Black = 200 };
enumeration Mode : string { Fast, Slow = "slow-mode" };
enumeration Neg : sint32 { Low = -2147483648, Zero = 0 };
structure Point { sint32 X; sint32 Y; };
structure Point3 : Point { sint32 Z; [MaxLen(4)] string Tag; };
[UUID("0F5B9C2E-3A1D-4E0B-9C8E-111111111111")]
class Shape {
    structure Inner { uint16 A; Color C = Color.Green; Point3 P; };
    enumeration Kind : uint64 { Circle = 1, Square = 18446744073709551615 };
    [WmiDataId(1)] Kind K = Square;
    [WmiDataId(2)] uint8 Pad;
    [WmiDataId(3)] Inner In;
    [WmiDataId(4), Max(4)] Color Palette[] = {Red, Color.Blue};
    [WmiDataId(5)] Neg N;
    [WmiDataId(6)] MoreColor V[];
    Shape REF Parent;
    Point3 Corners[3] = null;
    Mode M = Mode.Slow;
    Point Origin = value of Point { X = 1; Y = -2; };
};
value of Point as $p { X = 3; Y = 4; };
'''


def test_declarations_are_parsed_into_the_model() -> None:
    doc = mof.parse_document(V3)
    color, more, mode, neg = doc.enumerations
    assert (color.name, color.base_type, color.is_integer) == ("Color", "uint8", True)
    assert [(v.name, v.value) for v in color.values] == [("Red", 1), ("Green", 2), ("Blue", 16)]
    assert color.values[1].qualifiers == {"Description": "g"} and color.qualifier("description") == "colours"
    assert more.superenumeration == "Color" and more.base_type == "uint8"
    assert [v.name for v in more.values] == ["Red", "Green", "Blue", "Black"]
    assert [(v.name, v.value) for v in mode.values] == [("Fast", "Fast"), ("Slow", "slow-mode")]  # a string value without '=' is its name
    assert neg.get_value("low").value == -2147483648
    point, point3 = doc.structures
    assert point3.superstructure == "Point" and [p.name for p in point3.all_properties()] == ["X", "Y", "Z", "Tag"]
    [shape] = doc.classes
    assert [s.name for s in shape.structures] == ["Inner"] and [e.name for e in shape.enumerations] == ["Kind"]
    p = {x.name: x for x in shape.properties}
    assert (p["K"].type, p["K"].type_name, p["K"].default) == ("enumeration", "Kind", 18446744073709551615)
    assert p["K"].declaration is shape.enumerations[0]
    assert (p["In"].type, p["In"].type_name, p["In"].declaration) == ("structure", "Inner", shape.structures[0])
    assert (p["Palette"].is_array, p["Palette"].default) == (True, (1, 16))
    assert (p["Corners"].type, p["Corners"].array_size, p["Corners"].has_default) == ("structure", 3, True)
    assert (p["Parent"].type, p["Parent"].ref_class) == ("ref", "Shape")
    assert p["M"].default == "slow-mode"
    origin = p["Origin"].default
    assert isinstance(origin, mof.MofInstance) and origin.kind == "value" and origin.values == {"X": 1, "Y": -2}
    assert shape.structures[0].get_property("C").default == 2
    [value] = doc.instances
    assert (value.kind, value.class_name, value.alias) == ("value", "Point", "p")
    # parse() still returns the classes only
    assert [c.name for c in mof.parse(V3)] == ["Shape"]


def test_an_undeclared_name_stays_an_embedded_object() -> None:
    # negative control: the type lookup is real; `Color x` before any declaration is WMI's embedded object
    [cls] = mof.parse("class A { Color x; };")
    assert (cls.properties[0].type, cls.properties[0].embedded_class, cls.properties[0].type_name) == \
        ("object", "Color", None)
    # and an enumeration nested in another class is not in scope
    doc = mof.parse_document("class A { enumeration E : uint8 { X = 1 }; };\nclass B { E y; };")
    assert doc.classes[1].properties[0].type == "object"
    # a property named like the keywords is still a property
    [cls] = mof.parse("class A { Structure Enumeration; };")
    assert cls.properties[0].embedded_class == "Structure"


def test_a_subclass_sees_its_superclasses_local_types() -> None:
    """A class's local structures and enumerations are in scope in its subclasses (the nearest declaration
    wins), and still not in unrelated classes; before, a subclass got an embedded object of class 'S'."""
    doc = mof.parse_document(
        "[WMI] class A { structure S { uint8 X; }; enumeration E : uint16 { One = 1 }; };\n"
        "[WMI] class B : A { [WmiDataId(1)] S Q; [WmiDataId(2)] E F; };\n"
        "[WMI] class C : B { structure S { uint32 Y; }; [WmiDataId(3)] S R; };\n"
        "[WMI] class D : C { [WmiDataId(4)] S T; };\n"
        "class Other { S U; };")
    q, f = doc.get_class("B").properties
    assert (q.type, q.type_name, f.type, f.type_name) == ("structure", "S", "enumeration", "E")
    assert [p.name for p in q.declaration.properties] == ["X"]
    assert [p.name for p in doc.get_class("D").properties[0].declaration.properties] == ["Y"]   # C's S
    assert doc.get_class("Other").properties[0].type == "object"
    assert mof.layout(doc.get_class("B")).struct.size == 4                  # UINT8 X, pad, UINT16
    with pytest.raises(MofError, match="two different structures are called S"):
        mof.layout(mof.resolve(doc, "D"))   # Q (A's S) and R (C's S) would be two C structs of one name


def test_layout_of_enumerations_and_inline_structures() -> None:
    [shape] = mof.parse_document(V3).classes
    lay = mof.layout(shape)   # the properties without WmiDataId (Parent, Corners, M, Origin) are not serialized
    members = {m.name: (m.offset, m.type.name, m.count) for m in lay.struct.members}
    assert members["K"] == (0, "UINT64", None)                 # enumeration Kind : uint64
    assert members["Pad"] == (8, "UINT8", None)
    inner = lay.struct.member("In")[1].type
    assert members["In"][:2] == (12, "Inner")                     # a nested struct, 4-aligned (INT32 members)
    assert [(m.name, m.offset) for m in inner.members] == [("A", 0), ("C", 2), ("P", 4)]
    assert [(m.name, m.offset) for m in inner.member("P")[1].type.members] == \
        [("X", 0), ("Y", 4), ("Z", 8), ("TagByteCount", 12), ("Tag", 14)]
    assert members["PaletteElementCount"][0] == 40 and members["Palette"] == (44, "UINT8", 4)
    assert members["N"] == (48, "INT32", None)
    assert members["VElementCount"][0] == 52 and lay.struct.size == 64
    view = lay.view_type
    v = view.build(k=2, pad=1, in_a=7, in_c=16, in_p_x=-1, in_p_y=2, in_p_z=3, in_p_tag="ab", palette=[1, 16],
                   n=-5, v=[1, 2, 200])
    assert v.to_dict()["in_p_tag"] == "ab" and v.in_p_x == -1 and v.n == -5 and list(v.v) == [1, 2, 200]
    assert bytes(view(memoryview(v).tobytes()).palette) == b"\x01\x10"
    assert lay.struct.member("In.P.Tag")[0] == 12 + 4 + 14
    header = lay.c_header()
    assert "#define Kind_Square 18446744073709551615ull" in header and "#define Color_Blue 16u" in header
    assert "#define Neg_Low (-2147483647 - 1)" in header and "#define MoreColor_Black 200u" in header
    assert "laid out as its uint64" in header


@pytest.mark.skipif(None in (GCC, GXX, MINGW), reason="gcc, g++ or mingw-w64 missing (scripts/test installs them)")
def test_header_with_enumerations_and_structures_compiles(tmp_path: Path) -> None:
    [shape] = mof.parse_document(V3).classes
    (tmp_path / "shape.h").write_text(mof.layout(shape).c_header())
    # the header's own _Static_asserts check every nested offset; these check the enumeration values
    body = ('#include "shape.h"\n'
            'VMGEN_STATIC_ASSERT(Kind_Square == 0xFFFFFFFFFFFFFFFFull, "u64");\n'
            'VMGEN_STATIC_ASSERT(Neg_Low == -2147483647 - 1 && Neg_Low < 0, "s32 min");\n'
            'VMGEN_STATIC_ASSERT(Color_Blue == 16 && MoreColor_Black == 200, "u8");\n'
            'VMGEN_STATIC_ASSERT(sizeof(Shape) == 64 && offsetof(Shape, In.P.Tag) == 30, "nested");\n'
            'int main(void) { return 0; }\n')
    for cc, name, flags, prefix in ((GCC, "t.c", ["-std=c11"], ""), (GXX, "t.cpp", ["-std=c++11"], ""),
                                    (MINGW, "w.c", ["-std=c11", "-c"], "#include <windows.h>\n")):
        (tmp_path / name).write_text(prefix + body)
        r = subprocess.run([cc, *flags, "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path), str(tmp_path / name),
                            "-o", str(tmp_path / (name + ".out"))], capture_output=True, text=True)
        assert r.returncode == 0, (cc, r.stderr[:2000])
    # negative control: a wrong expectation does not compile
    (tmp_path / "bad.c").write_text('#include "shape.h"\nVMGEN_STATIC_ASSERT(Color_Blue == 17, "x");\n')
    r = subprocess.run([GCC, "-std=c11", "-c", "-I", str(tmp_path), str(tmp_path / "bad.c"), "-o",
                        str(tmp_path / "bad.o")], capture_output=True, text=True)
    assert r.returncode != 0


LAYOUT_REFUSALS = [
    ("enumeration M : string { A }; class C { [WmiDataId(1)] M x; };", "x of C cannot be laid out",
     "string enumeration"),
    ("structure S { uint8 a; }; class C { [WmiDataId(1)] S x[2]; };", "x of C cannot be laid out",
     "array of structures"),
    ("structure S { string a; }; class C { [WmiDataId(1)] S x; };", "x of C cannot be laid out",
     "member a of structure S has a variable-length part"),
    ("structure S { uint8 a[]; }; class C { [WmiDataId(1)] S x; };", "x of C cannot be laid out",
     "fixed-size members only"),
    ("structure S { real64 a; }; class C { [WmiDataId(1)] S x; };", "x of C cannot be laid out",
     "member a of structure S: real64 is floating point"),
    ("structure S { }; class C { [WmiDataId(1)] S x; };", "x of C cannot be laid out", "has no members"),
    ("structure S { uint8 a; }; structure T { S s; S[] t; }; class C { [WmiDataId(1)] T x; };", "", ""),
    ("structure S { uint8 new; }; class C { [WmiDataId(1)] S x; };", "'new'", "C keyword"),
    ("enumeration E : uint8 { RECT = 1 }; class C { [WmiDataId(1)] E x; };", "E_RECT", ""),  # fine: prefixed
]


@pytest.mark.parametrize("text,where,why", LAYOUT_REFUSALS)
def test_layout_refuses_naming_property_and_reason(text: str, where: str, why: str) -> None:
    try:
        [cls] = mof.parse(text)
    except MofError:
        assert where == ""   # `S[] t` is no MOF: the parser says so
        return
    if where == "E_RECT":
        assert "#define E_RECT 1u" in mof.layout(cls).c_header()
        return
    with pytest.raises(MofError) as info:
        mof.layout(cls)
    assert where in str(info.value) and why in str(info.value)


def test_structure_with_wmidataid_members_orders_them() -> None:
    [cls] = mof.parse("structure S { [WmiDataId(2)] uint8 b; [WmiDataId(1)] uint32 a; };"
                      "class C { [WmiDataId(1)] S x; };")
    lay = mof.layout(cls)
    assert [(m.name, m.offset) for m in lay.struct.member("x")[1].type.members] == [("a", 0), ("b", 4)]
    assert [f.attr for f in lay.fields] == ["x_a", "x_b"]


def test_c_types_cannot_retype_a_structure() -> None:
    [cls] = mof.parse("structure S { uint8 a; }; class C { [WmiDataId(1)] S x; };")
    with pytest.raises(MofError, match="inline structure"):
        mof.layout(cls, c_types={"x": "UINT32"})
