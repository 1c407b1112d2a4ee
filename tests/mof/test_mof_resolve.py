"""Issue 19: superclass resolution across files (resolve(), parse_files(), vmgen mof2h with several files or
#pragma include), and what it means for layout(): WMI serializes the WmiDataId properties, so a Hyper-V policy
class keeps the struct of seed 001 even when its CIM superclass is read (its properties carry no WmiDataId)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vmgen import mof
from vmgen.errors import MofError
from vmgen.switch import layout as L

ROOT = Path(__file__).resolve().parents[2]
DMTF_TOP = Path(__file__).resolve().parent / "corpus" / "dmtf-cim-2.32.0" / "cim_core_event.mof"
from test_mof import SEED_MOF  # noqa: E402  (seed 001's MOF, verbatim)

BASE = '''qualifier Key : boolean = false, scope(property, reference), flavor(DisableOverride, ToSubclass);
qualifier Abstract : boolean = false, scope(class, association, indication), flavor(Restricted);
qualifier Description : string = null, scope(any), flavor(Translatable);
qualifier Secret : string = null, scope(any), flavor(NotToSubclass);
qualifier WmiDataId : uint32 = null, scope(property);
[Abstract, Description("base")]
class Vendor_Base {
    [Key, Description("id")] string InstanceID;
    [Secret("s")] string ElementName;
    [WmiDataId(1)] uint32 Common;
    uint32 Ping([In] uint8 x);
};
'''
DERIVED = '''#pragma include("base.mof")
[UUID("F2F73F23-2B8E-457a-96C4-F541201C9150")]
class Vendor_Derived : Vendor_Base {
    [Description("the override")] string InstanceID;
    [WmiDataId(2)] uint8 Own;
};
'''


def _files(tmp_path: Path) -> Path:
    (tmp_path / "base.mof").write_text(BASE)
    (tmp_path / "derived.mof").write_text(DERIVED)
    return tmp_path / "derived.mof"


def test_resolve_across_an_include(tmp_path: Path) -> None:
    doc = mof.parse_file(str(_files(tmp_path)))
    declared = doc.get_class("Vendor_Derived")
    assert [p.name for p in declared.properties] == ["InstanceID", "Own"] and not declared.resolved
    r = mof.resolve(doc, "vendor_derived")
    assert r.resolved and r.name == "Vendor_Derived" and r.superclass == "Vendor_Base"
    assert [(p.name, p.class_origin) for p in r.properties] == [
        ("InstanceID", "Vendor_Base"), ("ElementName", "Vendor_Base"), ("Common", "Vendor_Base"),
        ("Own", "Vendor_Derived")]
    iid = r.get_property("InstanceID")
    assert iid.qualifiers == {"Key": True, "Description": "the override"}   # Key inherited, Description overridden
    assert r.get_property("ElementName").qualifiers == {}                    # NotToSubclass stays in the base
    assert r.qualifiers == {"Description": "base", "UUID": "F2F73F23-2B8E-457a-96C4-F541201C9150"}  # Abstract: Restricted
    assert [m.name for m in r.methods] == ["Ping"]
    # the parsed classes are not changed
    assert [p.name for p in declared.properties] == ["InstanceID", "Own"]
    assert doc.get_class("Vendor_Base").get_property("ElementName").qualifiers == {"Secret": "s"}


def test_parse_files_reads_several_files_as_one(tmp_path: Path) -> None:
    _files(tmp_path)
    (tmp_path / "derived_only.mof").write_text(DERIVED.replace('#pragma include("base.mof")\n', ""))
    doc = mof.parse_files([str(tmp_path / "base.mof"), str(tmp_path / "derived_only.mof")])
    assert [c.name for c in doc.classes] == ["Vendor_Base", "Vendor_Derived"]
    assert [p.name for p in mof.resolve(doc, "Vendor_Derived").properties][:3] == ["InstanceID", "ElementName", "Common"]
    with pytest.raises(TypeError):
        mof.parse_files(str(tmp_path / "base.mof"))  # type: ignore[arg-type]


def test_unknown_superclass_is_an_error_only_where_resolution_is_asked(tmp_path: Path) -> None:
    [seed] = mof.parse(SEED_MOF)            # derives from a Msvm class no file here declares
    assert mof.layout(seed).struct.size == 584
    assert not mof.can_resolve([seed], seed.name)
    with pytest.raises(MofError) as info:
        mof.resolve([seed], seed.name)
    text = str(info.value)
    assert "cannot resolve class Vendor_SampleFeatureSettingData" in text
    assert "superclass Msvm_EthernetSwitchPortFeatureSettingDataMsvm" in text and info.value.line == 12
    with pytest.raises(MofError, match="cycle"):
        mof.resolve(mof.parse("class A : B { }; class B : A { };"), "A")
    (tmp_path / "seed.mof").write_text(SEED_MOF)
    r = subprocess.run([sys.executable, "-m", "vmgen", "mof2h", str(tmp_path / "seed.mof")], capture_output=True,
                       text=True, cwd=str(ROOT), timeout=120)
    assert r.returncode == 0 and "UINT16 IntValue16;" in r.stdout
    r = subprocess.run([sys.executable, "-m", "vmgen", "mof2h", str(tmp_path / "seed.mof"), "--resolve"],
                       capture_output=True, text=True, cwd=str(ROOT), timeout=120)
    assert r.returncode == 1 and "cannot resolve class" in r.stderr and r.stderr.count("\n") == 1


def test_hyper_v_policy_struct_keeps_only_the_wmidataid_properties() -> None:
    """Seed 001: SAMPLE_FEATURE_SETTINGS holds exactly the 8 properties the policy class declares. Read with a
    real CIM superclass (CIM_SettingData of the DMTF schema, whose properties carry no WmiDataId, like the CIM
    properties Msvm_EthernetSwitchPortFeatureSettingData inherits), the resolved class has InstanceID and the
    rest, and lays out to the same struct: WMI serializes only WmiDataId properties."""
    text = SEED_MOF.replace("Msvm_EthernetSwitchPortFeatureSettingDataMsvm", "CIM_SettingData")
    [own] = mof.parse(text)
    doc = mof.parse_document(f'#pragma include("{DMTF_TOP.name}")\n' + text, path=str(DMTF_TOP.parent / "x.mof"))
    resolved = mof.resolve(doc, own.name)
    names = [p.name for p in resolved.properties]
    assert names[:4] == ["InstanceID", "Caption", "Description", "ElementName"] and len(names) == 12
    assert resolved.get_property("InstanceID").qualifier("Key") is True
    for c_types in ({}, {"IntValue16": "UINT32"}):
        a, b = mof.layout(own, c_types=c_types), mof.layout(resolved, c_types=c_types)
        assert [(m.name, m.offset) for m in a.struct.members] == [(m.name, m.offset) for m in b.struct.members]
        assert a.field_specs() == b.field_specs() and a.version == b.version
    assert mof.layout(resolved, c_types={"IntValue16": "UINT32"}).field_specs() == L.FEATURE_SETTINGS_LAYOUT.field_specs()


def test_inherited_wmidataid_properties_are_laid_out(tmp_path: Path) -> None:
    doc = mof.parse_file(str(_files(tmp_path)))
    with pytest.raises(MofError) as info:   # negative control: unresolved, the ids start at 2
        mof.layout(doc.get_class("Vendor_Derived"))
    assert "1 is missing" in str(info.value) and "resolve" in str(info.value)
    lay = mof.layout(mof.resolve(doc, "Vendor_Derived"))
    assert [(m.name, m.offset) for m in lay.struct.members] == [("Common", 0), ("Own", 4)]
    r = subprocess.run([sys.executable, "-m", "vmgen", "mof2h", str(tmp_path / "derived.mof"), "--class",
                        "Vendor_Derived"], capture_output=True, text=True, cwd=str(ROOT), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "UINT32 Common;" in r.stdout and "UINT8 Own;" in r.stdout and "InstanceID" not in r.stdout


def test_dmtf_schema_resolves_as_dsp0004_and_pywbem_say() -> None:
    doc = mof.parse_file(str(DMTF_TOP))
    resolved = {c.name: mof.resolve(doc, c.name) for c in doc.classes}
    # Key propagates through an override (DisableOverride, ToSubclass); Abstract and Version do not
    comp = resolved["CIM_ConcreteComponent"].get_property("GroupComponent")
    assert comp.qualifier("Key") is True and comp.class_origin == "CIM_Component" and comp.type == "ref"
    assert resolved["CIM_ManagedSystemElement"].qualifier("Abstract") is True
    assert resolved["CIM_LogicalElement"].qualifier("Abstract") is True     # declared on itself
    # Version is Restricted: CIM_System says 2.15.0 itself, its superclass CIM_EnabledLogicalElement 2.22.0
    assert resolved["CIM_System"].qualifier("Version") == "2.15.0"
    assert resolved["CIM_System"].get_property("Name").qualifier("Key") is True
    assert resolved["CIM_System"].get_property("Caption").class_origin == "CIM_ManagedElement"
    pywbem = pytest.importorskip("pywbem", reason="pywbem not installed (requirements-test.txt has it)")
    conn = pywbem.MOFWBEMConnection()
    compiler = pywbem.MOFCompiler(conn, search_paths=[str(DMTF_TOP.parent)], verbose=False, log_func=lambda m: None)
    compiler.compile_file(str(DMTF_TOP), "root/cimv2")
    theirs = conn.classes["root/cimv2"]
    same = 0
    for name, r in resolved.items():
        mine = {p.name.lower(): p for p in r.properties}
        other = {n.lower() for n in theirs[name].properties}
        # pywbem's in-memory repository resolves about half of these classes fully; in the others it lacks
        # some inherited properties. So: every property it has is ours, and what it lacks is inherited.
        assert other <= set(mine), (name, other - set(mine))
        assert all(mine[n].class_origin != name for n in set(mine) - other), name
        assert {m.name.lower() for m in r.methods} >= {n.lower() for n in theirs[name].methods}, name
        same += set(mine) == other
    assert same >= 100


def test_v3_types_of_an_earlier_file_type_a_later_files_properties(tmp_path: Path) -> None:
    """parse_files / mof2h compile files in order, as mofcomp does: a structure or enumeration declared in an
    earlier file types a later file's property (before: it was read as an embedded object of class 'Pt')."""
    (tmp_path / "types.mof").write_text("structure Pt { uint32 X; uint16 Y; };\n"
                                        "enumeration Color : uint8 { Red = 1, Blue = 2 };\n")
    (tmp_path / "policy.mof").write_text("[WMI] class Pol { [WmiDataId(1)] Pt Where; [WmiDataId(2)] Color C; };\n")
    files = [str(tmp_path / "types.mof"), str(tmp_path / "policy.mof")]
    doc = mof.parse_files(files)
    where, color = doc.get_class("Pol").properties
    assert (where.type, where.type_name, where.embedded_class) == ("structure", "Pt", None)
    assert (color.type, color.type_name) == ("enumeration", "Color")
    lay = mof.layout(doc.get_class("Pol"))
    assert [(m.name, m.offset) for m in lay.struct.members][:1] == [("Where", 0)] and lay.struct.size == 12
    r = subprocess.run([sys.executable, "-m", "vmgen", "mof2h", *files], capture_output=True, text=True,
                       cwd=str(ROOT), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "#define Color_Blue 2u" in r.stdout and r.stderr == ""
    # the order matters, as for mofcomp: a type used before any file declares it is an embedded object
    with pytest.raises(MofError, match="embedded object"):
        mof.layout(mof.parse_files(files[::-1]).get_class("Pol"))


def test_v3_types_included_by_two_files_are_one_declaration(tmp_path: Path) -> None:
    (tmp_path / "common.mof").write_text("structure Pt { uint32 X; };\n")
    for name in ("a", "b"):
        (tmp_path / f"{name}.mof").write_text(f'#pragma include("common.mof")\n'
                                              f"[WMI] class {name.upper()} {{ [WmiDataId(1)] Pt P; }};\n")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # the same declaration twice says nothing
        doc = mof.parse_files([str(tmp_path / "a.mof"), str(tmp_path / "b.mof")])
    assert [s.name for s in doc.structures] == ["Pt"] and not doc.warnings
    # a different declaration in a later file replaces the earlier one, with a warning, as classes do
    (tmp_path / "c.mof").write_text("structure Pt { uint32 X; uint32 Z; };\n"
                                    "[WMI] class C { [WmiDataId(1)] Pt P; };\n")
    with pytest.warns(UserWarning, match="structure Pt is declared again"):
        doc = mof.parse_files([str(tmp_path / "a.mof"), str(tmp_path / "c.mof")])
    assert [p.name for p in doc.structures[0].properties] == ["X", "Z"]
    assert mof.layout(doc.get_class("C")).struct.size == 8 and mof.layout(doc.get_class("A")).struct.size == 4
