"""Every binary fact in vmgen.layout checked against independent definitions.

Oracles: the numbers LAYOUTS.md gathered from Microsoft's headers and the seeds (typed here as tables),
ctypes transcriptions of the structs (the seed's SAMPLE_FEATURE_SETTINGS text under ``_pack_ = 8``),
gcc re-deriving every offset through the generated header's _Static_asserts, and mingw-w64's own
ntddndis.h, against which the same header asserts every NDIS offset, size and constant.
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from vmgen.switch import codegen
from vmgen.switch import layout as L

ROOT = Path(__file__).resolve().parents[2]
MINGW = shutil.which("x86_64-w64-mingw32-gcc")
needs_mingw = pytest.mark.skipif(MINGW is None, reason="x86_64-w64-mingw32-gcc not installed (scripts/test installs it)")

# --- LAYOUTS.md, transcribed -------------------------------------------------------------------------------
EXPECTED = {
    L.NIC_SAVE_STATE: ({"Header.Type": 0, "Header.Revision": 1, "Header.Size": 2, "Flags": 4, "PortId": 8,
                        "NicIndex": 12, "ExtensionId": 16, "ExtensionFriendlyName": 32,
                        "ExtensionFriendlyName.Length": 32, "ExtensionFriendlyName.String": 34,
                        "FeatureClassId": 548, "SaveDataSize": 564, "SaveDataOffset": 566,
                        "SaveDataSizeOverflow": 568}, 572),
    L.PORT_PROPERTY_PARAMETERS: ({"Header": 0, "Flags": 4, "PortId": 8, "PropertyType": 12, "PropertyId": 16,
                                  "PropertyVersion": 32, "SerializationVersion": 34, "PropertyInstanceId": 36,
                                  "PropertyBufferLength": 52, "PropertyBufferOffset": 56, "Reserved": 60}, 64),
    L.SWITCH_PROPERTY_PARAMETERS: ({"Header": 0, "Flags": 4, "PropertyType": 8, "PropertyId": 12,
                                    "PropertyVersion": 28, "SerializationVersion": 30, "PropertyInstanceId": 32,
                                    "PropertyBufferLength": 48, "PropertyBufferOffset": 52}, 56),
    L.PORT_PROPERTY_CUSTOM: ({"Header": 0, "Flags": 4, "PropertyBufferLength": 8, "PropertyBufferOffset": 12}, 16),
    L.SWITCH_PROPERTY_CUSTOM: ({"Header": 0, "Flags": 4, "PropertyBufferLength": 8, "PropertyBufferOffset": 12}, 16),
    L.SAMPLE_FEATURE_SETTINGS: ({"IntValue8": 0, "IntValue16": 4, "IntValue32": 8, "IntValue64": 16,
                                 "FixedLengthStringByteCount": 24, "FixedLengthString": 26,
                                 "VariableLengthStringOffset": 540, "FixedLengthArrayElementCount": 544,
                                 "FixedLengthArray": 548, "VariableLengthArrayElementCount": 580,
                                 "VariableLengthArrayOffset": 584}, 592),
}


@pytest.mark.parametrize("struct", list(EXPECTED), ids=lambda s: s.name)
def test_offsets_match_layouts_md(struct: L.Struct) -> None:
    offsets, size = EXPECTED[struct]
    for path, offset in offsets.items():
        assert struct.member(path)[0] == offset, path
    assert struct.size == size


def test_derived_sizes_and_constants() -> None:
    assert L.NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1 == 568
    assert L.NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_2 == 572
    assert L.NIC_SAVE_STATE_LAYOUT.size == 568  # a view needs revision 1's bytes, not revision 2's
    assert (L.OID_SWITCH_PROPERTY_ADD, L.OID_SWITCH_PORT_PROPERTY_ADD) == (0x00010263, 0x00010271)
    assert (L.OID_SWITCH_NIC_SAVE, L.OID_SWITCH_NIC_SAVE_COMPLETE) == (0x00010290, 0x00010291)
    assert (L.OID_SWITCH_NIC_RESTORE, L.OID_SWITCH_NIC_RESTORE_COMPLETE) == (0x00010292, 0x00010293)
    assert L.NDIS_STATUS_BUFFER_TOO_SHORT == 0xC0010016
    assert L.NDIS_OBJECT_TYPE_DEFAULT == 0x80
    assert L.FEATURE_SETTINGS_LAYOUT.version == (1 << 8) + 0


# --- ctypes transcriptions -----------------------------------------------------------------------------------
class _GUID(ctypes.Structure):
    _fields_ = [("Data1", ctypes.c_uint32), ("Data2", ctypes.c_uint16), ("Data3", ctypes.c_uint16),
                ("Data4", ctypes.c_uint8 * 8)]


class _HEADER(ctypes.Structure):
    _fields_ = [("Type", ctypes.c_uint8), ("Revision", ctypes.c_uint8), ("Size", ctypes.c_uint16)]


class _COUNTED(ctypes.Structure):
    _fields_ = [("Length", ctypes.c_uint16), ("String", ctypes.c_uint16 * 257)]


class _NIC_SAVE_STATE(ctypes.Structure):  # revision 2 (NDIS 6.50), natural alignment
    _fields_ = [("Header", _HEADER), ("Flags", ctypes.c_uint32), ("PortId", ctypes.c_uint32),
                ("NicIndex", ctypes.c_uint16), ("ExtensionId", _GUID), ("ExtensionFriendlyName", _COUNTED),
                ("FeatureClassId", _GUID), ("SaveDataSize", ctypes.c_uint16), ("SaveDataOffset", ctypes.c_uint16),
                ("SaveDataSizeOverflow", ctypes.c_uint32)]


class _PORT_PROPERTY_PARAMETERS(ctypes.Structure):
    _fields_ = [("Header", _HEADER), ("Flags", ctypes.c_uint32), ("PortId", ctypes.c_uint32),
                ("PropertyType", ctypes.c_int), ("PropertyId", _GUID), ("PropertyVersion", ctypes.c_uint16),
                ("SerializationVersion", ctypes.c_uint16), ("PropertyInstanceId", _GUID),
                ("PropertyBufferLength", ctypes.c_uint32), ("PropertyBufferOffset", ctypes.c_uint32),
                ("Reserved", ctypes.c_uint32)]


class _SWITCH_PROPERTY_PARAMETERS(ctypes.Structure):
    _fields_ = [("Header", _HEADER), ("Flags", ctypes.c_uint32), ("PropertyType", ctypes.c_int),
                ("PropertyId", _GUID), ("PropertyVersion", ctypes.c_uint16), ("SerializationVersion", ctypes.c_uint16),
                ("PropertyInstanceId", _GUID), ("PropertyBufferLength", ctypes.c_uint32),
                ("PropertyBufferOffset", ctypes.c_uint32)]


class _PROPERTY_CUSTOM(ctypes.Structure):
    _fields_ = [("Header", _HEADER), ("Flags", ctypes.c_uint32), ("PropertyBufferLength", ctypes.c_uint32),
                ("PropertyBufferOffset", ctypes.c_uint32)]


class _SAMPLE_FEATURE_SETTINGS(ctypes.Structure):  # seed 001's struct text, verbatim order, #pragma pack(8)
    _pack_ = 8
    _fields_ = [("IntValue8", ctypes.c_uint8), ("IntValue16", ctypes.c_uint32), ("IntValue32", ctypes.c_uint32),
                ("IntValue64", ctypes.c_uint64), ("FixedLengthStringByteCount", ctypes.c_uint16),
                ("FixedLengthString", ctypes.c_uint16 * 256), ("VariableLengthStringOffset", ctypes.c_uint32),
                ("FixedLengthArrayElementCount", ctypes.c_uint32), ("FixedLengthArray", ctypes.c_uint32 * 8),
                ("VariableLengthArrayElementCount", ctypes.c_uint32), ("VariableLengthArrayOffset", ctypes.c_uint32)]


CTYPES = {
    L.NIC_SAVE_STATE: _NIC_SAVE_STATE, L.PORT_PROPERTY_PARAMETERS: _PORT_PROPERTY_PARAMETERS,
    L.SWITCH_PROPERTY_PARAMETERS: _SWITCH_PROPERTY_PARAMETERS, L.PORT_PROPERTY_CUSTOM: _PROPERTY_CUSTOM,
    L.SWITCH_PROPERTY_CUSTOM: _PROPERTY_CUSTOM, L.SAMPLE_FEATURE_SETTINGS: _SAMPLE_FEATURE_SETTINGS,
}


def _ctypes_offset(ct: type, path: str) -> int:
    offset = 0
    for part in path.split("."):
        field = getattr(ct, part)
        offset += field.offset
        ct = dict(ct._fields_)[part]  # type: ignore[attr-defined]
    return offset


@pytest.mark.parametrize("struct", list(CTYPES), ids=lambda s: s.name)
def test_offsets_match_ctypes(struct: L.Struct) -> None:
    ct = CTYPES[struct]
    for path, offset, _ in struct.leaves():
        assert _ctypes_offset(ct, path) == offset, path
    assert ctypes.sizeof(ct) == struct.size


def test_views_read_what_ctypes_wrote() -> None:
    """A structure filled through ctypes reads back the same through the views (and vice versa)."""
    import vmgen

    buf = bytearray(ctypes.sizeof(_SAMPLE_FEATURE_SETTINGS))
    c = _SAMPLE_FEATURE_SETTINGS.from_buffer(buf)
    c.IntValue8, c.IntValue16, c.IntValue32, c.IntValue64 = 0xAB, 0x1234, 0xDEADBEEF, 2**63 + 5
    text = "héllo"
    c.FixedLengthStringByteCount = 2 * len(text)
    for i, ch in enumerate(text):
        c.FixedLengthString[i] = ord(ch)
    c.FixedLengthArrayElementCount = 3
    c.FixedLengthArray[0], c.FixedLengthArray[1], c.FixedLengthArray[2] = 7, 8, 9
    f = vmgen.FeatureSettings(buf)
    assert (f.int_value8, f.int_value16, f.int_value32, f.int_value64) == (0xAB, 0x1234, 0xDEADBEEF, 2**63 + 5)
    assert f.fixed_length_string == text
    assert f.fixed_length_array.tolist() == [7, 8, 9]
    f.int_value32 = 42
    assert c.IntValue32 == 42
    del f, c


# --- the generated C header -------------------------------------------------------------------------------
def test_shipped_header_is_fresh() -> None:
    shipped = ROOT / "csrc" / "switch" / "vmgen_layouts.h"  # scripts/build-wheels copies it beside the tests it runs
    assert shipped.read_text() == codegen.builtin_header(), \
        "csrc/switch/vmgen_layouts.h is stale: python -m vmgen.switch.codegen > csrc/switch/vmgen_layouts.h"


def test_header_compiles_with_gcc(tmp_path: Path) -> None:
    header = tmp_path / "vmgen_layouts.h"
    header.write_text(codegen.builtin_header())
    subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-pedantic", "-Werror", "-fsyntax-only", "-x", "c",
                    str(header)], check=True)


def _mingw_compile(tmp_path: Path, header_text: str) -> subprocess.CompletedProcess:
    (tmp_path / "vmgen_layouts.h").write_text(header_text)
    src = tmp_path / "check.c"
    src.write_text('#include <winsock2.h>\n#include <windows.h>\n#include <ntddndis.h>\n'
                   '#ifndef _NTDDNDIS_\n#error ntddndis.h did not define _NTDDNDIS_\n#endif\n'
                   '#include "vmgen_layouts.h"\nint main(void) { return 0; }\n')
    return subprocess.run([MINGW or "false", "-DUM_NDIS630", "-std=c11", "-Wall", "-Werror", "-I", str(tmp_path),
                           "-c", str(src), "-o", str(tmp_path / "check.o")], capture_output=True, text=True)


@needs_mingw
def test_header_matches_mingw_ntddndis(tmp_path: Path) -> None:
    result = _mingw_compile(tmp_path, codegen.builtin_header())
    assert result.returncode == 0, result.stderr
    # the check really covers Microsoft's types: one assert per NDIS member path plus sizes and constants
    text = codegen.builtin_header()
    ms_part = text[text.index("#ifdef _NTDDNDIS_"):]
    for struct in (L.NIC_SAVE_STATE, L.PORT_PROPERTY_PARAMETERS, L.SWITCH_PROPERTY_PARAMETERS,
                   L.PORT_PROPERTY_CUSTOM, L.SWITCH_PROPERTY_CUSTOM):
        for path, offset, _ in struct.leaves():
            assert f"offsetof({struct.name}, {path}) == {offset}" in ms_part


@needs_mingw
def test_mingw_check_rejects_a_wrong_offset(tmp_path: Path) -> None:
    """Negative control: shift one NDIS member and Microsoft's header must refuse it."""
    wrong = L.Struct("NDIS_SWITCH_PORT_PROPERTY_PARAMETERS",
                     [(m.name, m.type, m.count) for m in L.PORT_PROPERTY_PARAMETERS.members[:3]]
                     + [("Pad", L.USHORT)]
                     + [(m.name, m.type, m.count) for m in L.PORT_PROPERTY_PARAMETERS.members[3:]],
                     ms_header="ntddndis.h")
    result = _mingw_compile(tmp_path, codegen.c_header([wrong]))
    assert result.returncode != 0
    assert "PropertyType" in result.stderr


def test_c_program_reads_a_vmgen_buffer(tmp_path: Path) -> None:
    """A C program reads buffers that vmgen built through the generated header: every field agrees."""
    import vmgen

    ext = uuid.UUID("5cbf81be-5055-47cd-9055-a76b2b4e369e")
    state = vmgen.NicSaveState.build(ext, "Vendor ext", b"\x01\x02\x03", port_id=77, nic_index=2)
    settings = vmgen.FeatureSettings.build(int_value8=200, int_value16=0x10001, int_value32=3, int_value64=2**40,
                                           fixed_length_string="fixed", variable_length_string="var",
                                           fixed_length_array=[1, 2], variable_length_array=[5, 6, 7])
    (tmp_path / "state.bin").write_bytes(bytes(memoryview(state)))
    (tmp_path / "settings.bin").write_bytes(bytes(memoryview(settings)))
    (tmp_path / "vmgen_layouts.h").write_text(codegen.builtin_header())
    (tmp_path / "read.c").write_text(r'''
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vmgen_layouts.h"
static unsigned char *slurp(const char *path) {
    static unsigned char buf[2][4096]; static int n; FILE *f = fopen(path, "rb");
    if (!f) exit(2); fread(buf[n], 1, sizeof buf[n], f); fclose(f); return buf[n++];
}
int main(int argc, char **argv) {
    const VMGEN_NDIS_SWITCH_NIC_SAVE_STATE *s = (const void *)slurp(argv[1]);
    const SAMPLE_FEATURE_SETTINGS *f = (const void *)slurp(argv[2]);
    const VARIABLE_LENGTH_STRING *vs = (const void *)((const char *)f + f->VariableLengthStringOffset);
    const UINT32 *va = (const UINT32 *)((const char *)f + f->VariableLengthArrayOffset);
    printf("%u %u %u %u %u %u %u %08x\n", s->Header.Type, s->Header.Revision, s->Header.Size, s->PortId,
           s->NicIndex, s->SaveDataSize, s->SaveDataOffset, s->ExtensionId.Data1);
    printf("%u %u %u %llu %u %u %u %u %u %u\n", f->IntValue8, f->IntValue16, f->IntValue32,
           (unsigned long long)f->IntValue64, f->FixedLengthStringByteCount, f->FixedLengthArrayElementCount,
           f->FixedLengthArray[1], vs->StringLength, f->VariableLengthArrayElementCount, va[2]);
    return 0;
}
''')
    exe = tmp_path / "read"
    subprocess.run(["gcc", "-std=c11", "-Wall", "-I", str(tmp_path), str(tmp_path / "read.c"), "-o", str(exe)],
                   check=True)
    out = subprocess.run([str(exe), str(tmp_path / "state.bin"), str(tmp_path / "settings.bin")], check=True,
                         capture_output=True, text=True).stdout.split("\n")
    assert out[0] == f"128 1 568 77 2 3 568 {ext.fields[0]:08x}"
    assert out[1] == f"200 65537 3 {2**40} 10 2 2 6 3 7"
