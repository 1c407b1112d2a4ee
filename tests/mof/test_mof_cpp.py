"""Issue 19: C-preprocessed driver-kit MOF. The iSCSI sample's def/config/mgmt.mof, preprocessed by vmgen
(cpp=True) or by the system cpp (cpp="system"), give exactly the classes of iscsihba.mof, the preprocessed
output Microsoft ships beside them; preprocessor output (linemarkers) is read without asking; the built-in
subset (includes, object-like macros, conditionals) and its errors."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

from vmgen import mof
from vmgen.errors import MofError
from vmgen.mof._parser import _signature

ISCSI = Path(__file__).resolve().parent / "corpus" / "windows-driver-samples" / "iscsi"
STANDIN = str(ISCSI / "standin")
ROOT = Path(__file__).resolve().parents[2]


def _classes(doc: mof.MofDocument) -> Dict[str, tuple]:
    return {c.name: _signature(c) for c in doc.classes}


def _preprocessed(cpp: object) -> Dict[str, tuple]:
    """def, config and mgmt.mof in the order iscsihba.mof holds them (a later declaration replaces)."""
    merged: Dict[str, tuple] = {}
    for name in ("def", "config", "mgmt"):
        merged.update(_classes(mof.parse_file(str(ISCSI / f"{name}.mof"), cpp=cpp, include_dirs=[STANDIN])))
    return merged


@pytest.fixture(scope="module")
def shipped() -> Dict[str, tuple]:
    with pytest.warns(UserWarning, match="declared again, differently"):  # WmiGenerateHeader(TRUE) then (FALSE)
        return _classes(mof.parse_file(str(ISCSI / "iscsihba.mof")))


def test_builtin_preprocessor_gives_microsofts_preprocessed_classes(shipped: Dict[str, tuple]) -> None:
    mine = _preprocessed(True)
    assert len(shipped) == 30 and set(mine) == set(shipped)
    assert [n for n in shipped if mine[n] != shipped[n]] == []
    # negative control: the comparison sees a difference (def.mof alone says WmiGenerateHeader(TRUE))
    alone = _classes(mof.parse_file(str(ISCSI / "def.mof"), cpp=True, include_dirs=[STANDIN]))
    assert any(alone[n] != shipped[n] for n in alone)
    lo = mof.parse_file(str(ISCSI / "def.mof"), cpp=True, include_dirs=[STANDIN]).get_class("ISCSI_LoginOptions")
    assert lo.get_property("LoginFlags").type == "uint32"            # ISCSI_LOGIN_FLAGS, a macro for uint32
    assert lo.get_property("HeaderDigest").qualifier("ValueMap") == ("0", "1")
    assert "ISCSI_DIGEST_TYPE_CRC32C = 1" in lo.qualifier("cpp_quote")   # a macro of string literals, joined


@pytest.mark.skipif(shutil.which("cpp") is None and shutil.which("gcc") is None, reason="no C preprocessor")
def test_system_cpp_gives_the_same_classes(shipped: Dict[str, tuple]) -> None:
    assert _preprocessed("system") == shipped


def test_preprocessed_mof_needs_no_option_and_raw_driver_mof_says_what_to_do() -> None:
    with pytest.warns(UserWarning):
        doc = mof.parse_file(str(ISCSI / "iscsihba.mof"))      # linemarker-free cpp output, '\' splices kept
    assert len(doc.classes) == 30
    with pytest.raises(MofError) as info:
        mof.parse_file(str(ISCSI / "def.mof"))
    assert (info.value.line, info.value.column) == (16, 1) and "--cpp" in str(info.value) and "cpp=True" in str(info.value)


def test_missing_include_names_the_file_and_the_folders() -> None:
    with pytest.raises(MofError) as info:
        mof.parse_file(str(ISCSI / "def.mof"), cpp=True)
    text = str(info.value)
    assert "common.mof: line 17, column 1" in text and '#include "iscsidsc.h": not found' in text
    assert "include_dirs" in text and info.value.line == 17


def test_errors_point_into_the_file_they_are_in(tmp_path: Path) -> None:
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "types.h").write_text("#define MYTYPE uint16\n#define BAD uint33\n")
    (tmp_path / "part.mof").write_text("class P {\n  MYTYPE a;\n  BAD b;\n};\n")
    (tmp_path / "top.mof").write_text('#include <types.h>\n// line 2\n#include "part.mof"\n')
    with pytest.raises(MofError) as info:
        mof.parse_file(str(tmp_path / "top.mof"), cpp=True, include_dirs=[str(tmp_path / "inc")])
    assert str(info.value).startswith(f"{tmp_path / 'part.mof'}: line 3, column 3: unknown type 'uint33'")
    (tmp_path / "part.mof").write_text("class P {\n  MYTYPE a;\n};\n")
    doc = mof.parse_file(str(tmp_path / "top.mof"), cpp=True, include_dirs=[str(tmp_path / "inc")])
    assert doc.classes[0].properties[0].type == "uint16"
    assert str(tmp_path / "part.mof") in doc.files and str(tmp_path / "inc" / "types.h") in doc.files
    # <x> does not search the including file's folder, "x" does
    (tmp_path / "top2.mof").write_text("#include <part.mof>\n")
    with pytest.raises(MofError, match="not found"):
        mof.parse_file(str(tmp_path / "top2.mof"), cpp=True, include_dirs=[str(tmp_path / "inc")])


def test_linemarkers_move_the_reported_positions() -> None:
    text = '# 1 "policy.mof"\nclass A {\n# 40 "policy.mof"\n  uint8 x\n};\n'
    with pytest.raises(MofError) as info:
        mof.parse(text)
    assert (info.value.line, info.value.column) == (41, 1) and "expected ';' after property x" in str(info.value)
    text = '#line 7\nclass A { uint8 x };\n'
    with pytest.raises(MofError) as info:
        mof.parse(text)
    assert info.value.line == 7
    # the parse itself is unchanged by the markers
    assert mof.parse('# 1 "a.mof" 1\nclass A { uint8 x; };\n# 3 "b.mof" 2\n')[0].name == "A"


SUBSET = r'''
#define T uint32   /* a type */
#define Q Description("not a " "T") // qualifiers
#if 0
class Never { };
#elif defined(T) && (1 + 2 * 3 == 7) && !defined(NOPE)
[Q] class Yes { T a; [Description("T stays in strings")] uint8 b; /* T */ };
#else
class Never2 { };
#endif
#ifdef NOPE
class Never3 { };
#endif
#ifndef NOPE
#  if EXTRA >= 2
class Extra { };
#  endif
#endif
#undef T
#define T uint8
class After { T c; };
#define LOOP LOOP
class Self { [Description("x")] uint8 LOOP; };
'''


def test_builtin_subset() -> None:
    doc = mof.parse_document(SUBSET, cpp=True)
    assert [c.name for c in doc.classes] == ["Yes", "After", "Self"]
    yes = doc.classes[0]
    assert yes.qualifier("Description") == "not a T"
    assert yes.get_property("a").type == "uint32" and yes.get_property("b").qualifier("Description") == \
        "T stays in strings"
    assert doc.classes[1].properties[0].type == "uint8"            # #undef then #define again
    assert doc.classes[2].properties[0].name == "LOOP"             # a macro does not expand itself
    doc = mof.parse_document(SUBSET, cpp=True, defines={"EXTRA": "2"})
    assert [c.name for c in doc.classes] == ["Yes", "Extra", "After", "Self"]
    # negative control: without the preprocessor the same text is refused
    with pytest.raises(MofError, match="#define"):
        mof.parse(SUBSET)


CPP_ERRORS = [
    ("#if 1\nclass A { };\n", 1, "#if without #endif"),
    ("#endif\n", 1, "#endif without #if"),
    ("#if 1\n#else\n#else\n#endif\n", 3, "#else after #else"),
    ("#define F(x) x\n", 1, "function-like macro F(...)"),
    ("#error stop here\n", 1, "#error stop here"),
    ("#if 1 +\n#endif\n", 1, "#if expression"),
    ("#if 1 / 0\n#endif\n", 1, "division by zero"),
    ("#include x.mof\n", 1, '#include needs "file" or <file>'),
    ("#bogus\n", 1, "unsupported preprocessor directive '#bogus'"),
    ("\n#include \"nothere.mof\"\n", 2, "not found"),
]


@pytest.mark.parametrize("text,line,needle", CPP_ERRORS)
def test_preprocessor_errors(text: str, line: int, needle: str) -> None:
    with pytest.raises(MofError) as info:
        mof.parse_document(text, cpp=True)
    assert info.value.line == line and needle in str(info.value), str(info.value)


def test_mofcomp_include_form_needs_no_option(tmp_path: Path) -> None:
    # mofcomp documents #include ("file"); it reads the file like #pragma include
    (tmp_path / "b.mof").write_text("class B { uint8 x; };\n")
    (tmp_path / "a.mof").write_text('#include ("b.mof")\nclass A : B { uint8 y; };\n')
    doc = mof.parse_file(str(tmp_path / "a.mof"))
    assert [c.name for c in doc.classes] == ["B", "A"]


def test_cli_cpp_options(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "vmgen", *args], capture_output=True, text=True,
                              cwd=str(ROOT), timeout=120)
    r = run("mof2h", str(ISCSI / "def.mof"), "--cpp", "-I", STANDIN, "--class", "ISCSI_LoginOptions")
    assert r.returncode == 0, r.stderr
    assert "UINT32 LoginFlags;" in r.stdout and "UINT32 AuthType;" in r.stdout
    r = run("mof2h", str(ISCSI / "def.mof"), "--class", "ISCSI_LoginOptions")
    assert r.returncode == 1 and "--cpp" in r.stderr and r.stderr.count("\n") == 1
    r = run("mof2h", str(ISCSI / "def.mof"), "-I", STANDIN)
    assert r.returncode == 2 and "-I and -D go with --cpp" in r.stderr
    r = run("mof2h", str(ISCSI / "def.mof"), "--cpp", "-D", "1X")
    assert r.returncode == 2 and "NAME or NAME=VALUE" in r.stderr


@pytest.mark.skipif(None in (shutil.which("gcc"), shutil.which("x86_64-w64-mingw32-gcc")),
                    reason="gcc or mingw-w64 missing (scripts/test installs them)")
def test_headers_of_the_iscsi_classes_compile(tmp_path: Path) -> None:
    doc = mof.parse_file(str(ISCSI / "mgmt.mof"), cpp=True, include_dirs=[STANDIN])
    includes, refused = [], []
    for i, cls in enumerate(doc.classes):
        try:
            lay = mof.layout(cls)
        except MofError as exc:
            refused.append(str(exc))   # e.g. embedded objects (ISCSI_IP_Address Address)
            continue
        (tmp_path / f"h{i}.h").write_text(lay.c_header())
        includes.append(f'#include "h{i}.h"\n')
    assert len(includes) >= 8 and all("cannot be laid out" in r or "WmiDataId" in r for r in refused), refused
    body = "".join(includes) + "int main(void) { return 0; }\n"
    for cc, prefix, flags in ((shutil.which("gcc"), "", []), (shutil.which("x86_64-w64-mingw32-gcc"),
                                                             "#include <windows.h>\n", ["-c"])):
        (tmp_path / "t.c").write_text(prefix + body)
        r = subprocess.run([str(cc), "-std=c11", "-Wall", "-Wextra", "-Werror", *flags, "-I", str(tmp_path),
                            str(tmp_path / "t.c"), "-o", str(tmp_path / "t.out")], capture_output=True, text=True)
        assert r.returncode == 0, (cc, r.stderr[:2000])
