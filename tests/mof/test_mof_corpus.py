"""Issue 19: vmgen.mof reads real MOF files (tests/mof/corpus, licences in its README), agrees class by class
with pywbem's MOF compiler where pywbem is installed, and only layout() refuses what a policy struct cannot
hold; the headers of every class that lays out compile with gcc, g++ and mingw-w64 (with <windows.h>)."""
from __future__ import annotations

import codecs
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any, Dict, List

import pytest

from vmgen import mof
from vmgen.errors import MofError

CORPUS = Path(__file__).resolve().parent / "corpus"
DMTF_TOP = CORPUS / "dmtf-cim-2.32.0" / "cim_core_event.mof"
OWN = CORPUS / "own" / "representative.mof"
WDS = sorted((CORPUS / "windows-driver-samples").glob("*.mof"))
# Every top-level file of the corpus (the DMTF files are reached through cim_core_event.mof's includes).
TOP_FILES = WDS + [DMTF_TOP, OWN]

GCC, GXX, MINGW = shutil.which("gcc"), shutil.which("g++"), shutil.which("x86_64-w64-mingw32-gcc")


def test_corpus_is_there() -> None:
    assert len(WDS) >= 12 and DMTF_TOP.exists() and OWN.exists()
    assert (CORPUS / "README.md").exists()


@pytest.mark.parametrize("path", TOP_FILES, ids=lambda p: p.name)
def test_every_corpus_file_parses(path: Path) -> None:
    doc = mof.parse_file(str(path))
    assert doc.classes or doc.instances
    for cls in doc.classes:   # parse() of the same text gives the same classes (no include in these files)
        assert cls.name and all(p.name for p in cls.properties)


def test_dmtf_schema_through_includes() -> None:
    doc = mof.parse_file(str(DMTF_TOP))
    assert len(doc.files) == 212                                    # the top file and its 211 includes
    assert len(doc.classes) == 209 and len(doc.qualifier_decls) == 71
    kinds = {c.kind for c in doc.classes}
    assert kinds == {"class", "association", "indication"}
    component = doc.get_class("CIM_Component")
    assert component.kind == "association" and [p.ref_class for p in component.references] == \
        ["CIM_ManagedElement", "CIM_ManagedElement"]
    service = doc.get_class("CIM_Service")
    start = next(m for m in service.methods if m.name == "StartService")
    assert start.return_type == "uint32" and start.parameters == []
    key = doc.qualifier_decls[[q.name for q in doc.qualifier_decls].index("Key")]
    assert key.type == "boolean" and key.default is False and set(key.scopes) == {"Property", "Reference"}
    assert all(c.path and c.path.endswith(".mof") for c in doc.classes)


def test_own_representative_file() -> None:
    doc = mof.parse_file(str(OWN))
    base = doc.get_class("Vmgen_Base")
    v = {p.name: p.default for p in base.properties}
    assert v["Big"] == -2**63 and v["Max"] == 2**64 - 1 and v["Ratio"] == 1500.0 and v["Tiny"] == -0.25
    assert v["Letter"] == "x" and v["Escaped"] == "\n" and v["On"] is True and v["Nothing"] is None
    assert v["Names"] == ("a", 'b"c', "") and v["Fixed"] == (1, 2, 3)
    assert base.qualifier("Description") == "A base class.Adjacent strings join."
    assert base.qualifier("VmgenNote") == "tab\there \u263a"
    limits = next(q for q in doc.qualifier_decls if q.name == "VmgenLimits")
    assert limits.default == (-1, 16, 15, 5) and limits.is_array and limits.scopes == ("Property", "Parameter")
    thing = doc.get_class("Vmgen_Thing")
    start = thing.methods[0]
    assert [(p.name, p.type, p.is_array, p.array_size, p.ref_class) for p in start.parameters] == [
        ("TimeoutSeconds", "uint32", False, None, None), ("Messages", "string", True, None, None),
        ("Target", "ref", False, None, "Vmgen_Base"), ("Codes", "uint16", True, 8, None)]
    assert [m.return_type for m in thing.methods] == ["uint32", "string", "boolean"]
    assert doc.get_class("Vmgen_Link").kind == "association" and doc.get_class("Vmgen_Changed").kind == "indication"
    first, second, link = doc.instances
    assert first.alias == "First" and first.value("instanceid") == "first" and first.values["Names"] == ("x",)
    assert link.values == {"Left": mof.MofAliasRef("First"), "Right": mof.MofAliasRef("Second"), "Weight": 7}
    assert [p.name for p in doc.pragmas] == ["locale", "include", "namespace"]
    assert thing.pragmas["namespace"] == "root/cimv2"


# ---------------------------------------------------------------------------------------------------
# Class by class against pywbem's MOF compiler


def _pywbem_repo(path: Path) -> Any:
    pywbem = pytest.importorskip("pywbem", reason="pywbem not installed (requirements-test.txt has it)")
    conn = pywbem.MOFWBEMConnection()
    compiler = pywbem.MOFCompiler(conn, search_paths=[str(path.parent)], verbose=False, log_func=lambda m: None)
    compiler.compile_file(str(path), "root/cimv2")
    return conn


def _plain(value: Any, cimtype: str = "") -> Any:
    """A pywbem value as vmgen gives it."""
    if isinstance(value, list):
        return tuple(_plain(v, cimtype) for v in value)
    if value is None or isinstance(value, (bool, str)) and cimtype != "char16":
        return value
    if cimtype == "char16":   # pywbem keeps a char16 default with its quotes and escapes
        text = value[1:-1] if value[:1] == "'" and value[-1:] == "'" else value
        return codecs.decode(text, "unicode_escape")
    if cimtype == "datetime":
        return str(value)
    if cimtype in ("real32", "real64"):
        return float(value)
    return int(value)


def _shape(p: Any) -> Dict[str, Any]:
    """One property or parameter of either compiler, in common terms."""
    if isinstance(p, mof.MofProperty):
        return {"type": "reference" if p.type == "ref" else p.type, "array": p.is_array, "size": p.array_size,
                "ref": (p.ref_class or "").lower() or None}
    return {"type": p.type, "array": p.is_array, "size": p.array_size,
            "ref": (p.reference_class or "").lower() or None}


@pytest.mark.parametrize("path", [DMTF_TOP, OWN], ids=lambda p: p.name)
def test_classes_agree_with_pywbem(path: Path) -> None:
    conn = _pywbem_repo(path)
    theirs = conn.classes["root/cimv2"]
    doc = mof.parse_file(str(path))
    compared = 0
    for cls in doc.classes:
        other = theirs[cls.name]
        assert (cls.superclass or "").lower() == (other.superclass or "").lower(), cls.name
        # pywbem's repository holds resolved classes: class_origin says where a property was introduced
        # (an override keeps its superclass as origin), so: every vmgen property is there, every property
        # introduced here is in vmgen's list
        mine = {p.name.lower() for p in cls.properties}
        assert mine <= {n.lower() for n in other.properties}, cls.name
        introduced = {n.lower() for n, q in other.properties.items() if (q.class_origin or "").lower() == cls.name.lower()}
        assert introduced <= mine, (cls.name, introduced - mine)
        for p in cls.properties:
            q = other.properties[p.name]
            assert _shape(p) == _shape(q), (cls.name, p.name)
            if p.has_default or p.name.lower() in introduced:
                assert p.default == _plain(q.value, q.type), (cls.name, p.name, p.default, q.value)
            if p.qualifier("Key"):
                assert q.qualifiers["Key"].value is True, (cls.name, p.name)
            compared += 1
        mine = {m.name.lower() for m in cls.methods}
        assert mine <= {n.lower() for n in other.methods}, cls.name
        assert {n.lower() for n, m in other.methods.items() if (m.class_origin or "").lower() == cls.name.lower()} \
            <= mine, cls.name
        for m in cls.methods:
            om = other.methods[m.name]
            assert m.return_type == om.return_type, (cls.name, m.name)
            assert [x.name for x in m.parameters] == list(om.parameters), (cls.name, m.name)
            for x in m.parameters:
                assert _shape(x) == _shape(om.parameters[x.name]), (cls.name, m.name, x.name)
            compared += 1
    assert compared > (800 if path == DMTF_TOP else 20)
    # negative control: the comparison sees a changed type, array size or default
    first = next(c for c in doc.classes if c.properties)
    p0 = first.properties[0]
    q0 = theirs[first.name].properties[p0.name]
    assert _shape(mof.MofProperty(p0.name, "real64" if p0.type != "real64" else "uint8")) != _shape(q0)
    assert _shape(mof.MofProperty(p0.name, p0.type, True, 3)) != _shape(q0)
    quals = conn.qualifiers["root/cimv2"]
    for decl in doc.qualifier_decls:
        other = quals[decl.name]
        assert (decl.type, decl.is_array) == (other.type, other.is_array), decl.name
        assert decl.default == _plain(other.value, other.type), decl.name
        scopes = {k.lower() for k, v in other.scopes.items() if v}
        assert {s.lower() for s in decl.scopes} == scopes or ("any" in scopes and "Any" in decl.scopes), decl.name
    if path == OWN:
        assert len(conn.instances["root/cimv2"]) == len(doc.instances) == 3


# ---------------------------------------------------------------------------------------------------
# layout(): the only refusals, and headers that compile everywhere


def _laid_out(path: Path) -> List[mof.CompiledLayout]:
    out = []
    for cls in mof.parse_file(str(path)).classes:
        try:
            out.append(mof.layout(cls))
        except MofError as exc:
            # a refusal names the class or a property and says why; never a parse-level complaint
            text = str(exc)
            assert cls.name in text or any(p.name in text for p in cls.properties), text
            assert "cannot be laid out" in text or "WmiDataId" in text or "no properties" in text \
                or "keyword" in text or "view attribute" in text, text
    return out


def test_layout_refuses_with_property_and_reason() -> None:
    msdsm = next(p for p in WDS if p.name.endswith("msdsm.mof"))
    doc = mof.parse_file(str(msdsm))
    embedded = [(c, p) for c in doc.classes for p in c.properties if p.type == "object"]
    assert embedded
    cls, prop = embedded[0]
    with pytest.raises(MofError, match=rf"property {prop.name} of {cls.name} cannot be laid out in a policy "
                                       rf"struct: it is an embedded object \(class {prop.embedded_class}\)"):
        mof.layout(cls)


def test_refusals_of_every_corpus_class_name_property_and_reason() -> None:
    laid = {p.name: len(_laid_out(p)) for p in WDS + [OWN]}
    assert sum(laid.values()) >= 20 and laid["storage_msdsm_src_dsmtrace.mof"] == 0   # its class: no WmiDataId


# files with at least one class that lays out (the others are covered by the refusal test above)
LAYABLE = [p for p in WDS if any(p.name.endswith(s) for s in (
    "PCIDRV.mof", "busenum.mof", "toaster.mof", "firefly.mof", "MSForwardExtPolicy.mof",
    "MSForwardExtPolicyStatus.mof", "classlog.mof", "iscsiprf.mof", "msdsm.mof", "msdsmdsm.mof",
    "acpimof.mof", "wmisamp.mof"))]


@pytest.mark.parametrize("path", LAYABLE, ids=lambda p: p.name)
def test_headers_of_corpus_classes_compile(tmp_path: Path, path: Path) -> None:
    layouts = _laid_out(path)
    assert layouts, path.name
    includes = []
    for i, lay in enumerate(layouts):
        (tmp_path / f"h{i}.h").write_text(lay.c_header())
        includes.append(f'#include "h{i}.h"\n')
    body = "".join(includes) + "int main(void) { return 0; }\n"
    compilers = [(GCC, "t.c", ["-std=c11"], ""), (GXX, "t.cpp", ["-std=c++11"], ""),
                 (MINGW, "w.c", ["-std=c11", "-c"], "#include <windows.h>\n")]
    ran = 0
    for cc, name, flags, prefix in compilers:
        if cc is None:
            continue
        (tmp_path / name).write_text(prefix + body)
        r = subprocess.run([cc, *flags, "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path), str(tmp_path / name),
                            "-o", str(tmp_path / (name + ".out"))], capture_output=True, text=True)
        assert r.returncode == 0, (cc, r.stderr[:2000])
        ran += 1
    if ran < 3:
        pytest.skip("gcc, g++ or x86_64-w64-mingw32-gcc missing (scripts/test installs them)")


@pytest.mark.parametrize("name", ["new", "class", "template", "this", "operator", "RECT", "POINT", "UNALIGNED",
                                  "HANDLE", "DWORD"])
def test_keywords_and_windows_names_are_refused(name: str) -> None:
    [cls] = mof.parse(f"class A {{ [WmiDataId(1)] uint8 {name}; }};")
    with pytest.raises(MofError, match="C keyword|windows.h"):
        mof.layout(cls)
    [cls] = mof.parse(f"class {name}_ok {{ [WmiDataId(1)] uint8 x; }};")
    mof.layout(cls)      # negative control: the same word inside a longer name is fine


# ---------------------------------------------------------------------------------------------------
# Encodings and includes


SMALL = "class A { [WmiDataId(1)] uint8 x; };\n"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom(tmp_path: Path, encoding: str) -> None:
    f = tmp_path / "a.mof"
    f.write_bytes(SMALL.encode(encoding))
    assert [c.name for c in mof.parse_file(str(f)).classes] == ["A"]


def test_windows_1252_is_read_with_a_warning(tmp_path: Path) -> None:
    f = tmp_path / "a.mof"
    f.write_bytes('[Description("caf\u00e9 \u2013 \u20ac")] class A { [WmiDataId(1)] uint8 x; };'.encode("cp1252"))
    with pytest.warns(UnicodeWarning, match="read as Windows-1252"):
        doc = mof.parse_file(str(f))
    assert doc.classes[0].qualifier("Description") == "caf\u00e9 \u2013 \u20ac"
    f.write_bytes(SMALL.encode())                    # negative control: UTF-8 warns about nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mof.parse_file(str(f))
    f.write_bytes(b"class A { \x81 };")              # 0x81 is undefined in Windows-1252 too
    with pytest.raises(MofError, match="neither UTF-8"):
        mof.parse_file(str(f))


def test_include_is_relative_to_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.mof").write_text('#pragma include ("c.mof")\nclass B { [WmiDataId(1)] uint8 y; };\n')
    (tmp_path / "sub" / "c.mof").write_bytes(b"\xff\xfe" + "class C { };\n".encode("utf-16-le"))
    (tmp_path / "a.mof").write_text('#pragma include ("sub/b.mof")\n' + SMALL)
    doc = mof.parse_file(str(tmp_path / "a.mof"))
    assert [c.name for c in doc.classes] == ["C", "B", "A"]
    assert doc.classes[0].path == str(tmp_path / "sub" / "c.mof")
    with pytest.raises(MofError, match="needs the including file's path"):
        mof.parse('#pragma include ("sub/b.mof")\n')
    (tmp_path / "loop.mof").write_text('#pragma include ("loop.mof")\n')
    with pytest.raises(MofError, match="includes itself"):
        mof.parse_file(str(tmp_path / "loop.mof"))
    (tmp_path / "missing.mof").write_text('\n#pragma include ("nope.mof")\n')
    with pytest.raises(MofError, match=r"line 2, column 9: #pragma include\('nope.mof'\): No such file"):
        mof.parse_file(str(tmp_path / "missing.mof"))
    (tmp_path / "sub" / "bad.mof").write_text("class X {\n oops\n};\n")
    (tmp_path / "top.mof").write_text('#pragma include ("sub/bad.mof")\n')
    with pytest.raises(MofError) as info:
        mof.parse_file(str(tmp_path / "top.mof"))
    assert "bad.mof" in str(info.value) and info.value.line == 3


def test_parse_keeps_returning_classes_and_new_types_beside() -> None:
    text = SMALL + "instance of A { x = 1; };\nqualifier Q : boolean = true, scope(any);\n"
    classes = mof.parse(text)
    assert [type(c) for c in classes] == [mof.MofClass]
    doc = mof.parse_document(text)
    assert [i.class_name for i in doc.instances] == ["A"] and doc.qualifier_decls[0].name == "Q"
    [cls] = mof.parse("class A { [WmiDataId(1)] uint8 x; string F([IN] real64 D = 0.5); };")
    assert cls.methods[0].parameters[0].default == 0.5      # MOF v3 parameter default
    assert mof.layout(cls).struct.size == 1                 # methods take no room in the struct


def test_pragmas_without_parentheses() -> None:
    doc = mof.parse_document('#PRAGMA AUTORECOVER\n#pragma classflags("forceupdate", "updateonly")\n'
                             '#pragma deleteclass("X", NOFAIL)\n' + SMALL)
    assert [(p.name, p.values) for p in doc.pragmas] == [
        ("AUTORECOVER", ()), ("classflags", ("forceupdate", "updateonly")), ("deleteclass", ("X", "NOFAIL"))]
    assert doc.classes[0].pragmas["autorecover"] is True
