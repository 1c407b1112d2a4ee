"""Issue 14: a C reader built with mingw-w64 against its own ntddndis.h (structures, NDIS_SIZEOF_* sizes,
revision constants, *_GET_PROPERTY / *_GET_BUFFER macros) and run under Wine reads what vmgen writes in
every case: fill() on switch-prepared buffers (revisions 1 and 2, SaveDataOffset 568/572/576), build()
of fresh save states and of both property chains (full and empty variable parts), on both engines. It
checks as a careful driver does (Microsoft's base library's header checks, Offset + Length <= the
containing length at each step), and on prepared property buffers its verdict matches vmgen's
``validated_settings``. Negative controls: buffers it must refuse (one per check), among them an empty
array placed past the structure's end the way vmgen's builder used to place it.
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import uuid
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from support.switch_prepared import (FLAGS, NIC_INDEX, OVERFLOW, PORT_ID, SAVE_CASES, custom_bytes,
                                     header_size_of, port_params, prepared_nic_save, switch_params)
from support.view_engines import ENGINES
from vmgen import LayoutError

HERE = Path(__file__).resolve().parent
MINGW = shutil.which("x86_64-w64-mingw32-gcc")
WINE = shutil.which("wine")
pytestmark = pytest.mark.skipif(MINGW is None or WINE is None,
                                reason="x86_64-w64-mingw32-gcc and wine are needed (scripts/test installs "
                                       "gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev wine wine64)")

EXT = uuid.UUID("5cbf81be-5055-47cd-9055-a76b2b4e369e")
FC = uuid.UUID("f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9")
PID = uuid.UUID("11111111-2222-3333-4444-555555555555")
IID = uuid.UUID("66666666-7777-8888-9999-aaaaaaaaaaaa")
NAME = "Vendor extension \u2713"
DATA = bytes(range(1, 41))
FULL = dict(int_value8=200, int_value16=0x10001, int_value32=3, int_value64=2**40, fixed_length_string="fixed",
            variable_length_string="var \u00e9", fixed_length_array=[1, 2, 3], variable_length_array=[5, 6, 7])
EMPTY: Dict[str, Any] = {}
ODD = dict(variable_length_string="a")  # the string ends at 596: an empty array right there


def _hex(b: bytes) -> str:
    return b.hex() or "-"


def _name_hex(s: str) -> str:
    return _hex(s.encode("utf-16-le", "surrogatepass"))


def _policy_line(v: Dict[str, Any]) -> str:
    return (f" i8={v.get('int_value8', 0)} i16={v.get('int_value16', 0)} i32={v.get('int_value32', 0)}"
            f" i64={v.get('int_value64', 0)} fstr={_name_hex(v.get('fixed_length_string', ''))}"
            f" vstr={_name_hex(v.get('variable_length_string', ''))}"
            f" farr={','.join(map(str, v.get('fixed_length_array', [])))}"
            f" varr={','.join(map(str, v.get('variable_length_array', [])))}")


def _cases(engine: Any) -> List[Tuple[str, str, bytes, str]]:
    """(case id, kind, bytes vmgen wrote, the line the C reader must print)."""
    out: List[Tuple[str, str, bytes, str]] = []
    for rev, off in SAVE_CASES:
        buf = prepared_nic_save(rev, off, capacity=len(DATA) + 4)
        engine.NicSaveState.fill(buf, extension_id=EXT, extension_friendly_name=NAME, save_data=DATA,
                                 feature_class_id=FC)
        out.append((f"fill-rev{rev}-{off}", "nic", bytes(buf),
                    f"nic ok rev={rev} size={header_size_of(rev)} flags={FLAGS:08x} port={PORT_ID} nic={NIC_INDEX}"
                    f" ext={EXT} name={_name_hex(NAME)} fc={FC} dsize={len(DATA)} doff={off}"
                    f" overflow={f'{OVERFLOW:08x}' if rev == 2 else '-'} data={DATA.hex()}"))
    buf = prepared_nic_save(2, 576, capacity=0)
    engine.NicSaveState.fill(buf, extension_id=EXT, extension_friendly_name="", save_data=b"")
    out.append(("fill-empty", "nic", bytes(buf),
                f"nic ok rev=2 size=572 flags={FLAGS:08x} port={PORT_ID} nic={NIC_INDEX} ext={EXT} name=-"
                f" fc={uuid.UUID(int=0)} dsize=0 doff=576 overflow={OVERFLOW:08x} data=-"))
    for name, data in (("build", DATA), ("build-empty", b"")):
        s = engine.NicSaveState.build(EXT, NAME, data, port_id=7, nic_index=2, feature_class_id=FC)
        out.append((name, "nic", bytes(engine.mv(s)),
                    f"nic ok rev=1 size=568 flags=00000000 port=7 nic=2 ext={EXT} name={_name_hex(NAME)} fc={FC}"
                    f" dsize={len(data)} doff=568 overflow=- data={_hex(data)}"))
    for label, values in (("full", FULL), ("empty", EMPTY), ("odd", ODD)):
        policy = engine.FeatureSettings.build(**values)
        n = policy.nbytes
        p = engine.PortPropertyParameters.build(port_id=9, property_id=PID, property_version="1.1",
                                                property_instance_id=IID, payload=policy)
        out.append((f"port-{label}", "port", bytes(engine.mv(p)),
                    f"port ok port=9 ver=0101 id={PID} inst={IID} plen={16 + n} poff=64 clen={n} coff=16"
                    + _policy_line(values)))
        q = engine.SwitchPropertyParameters.build(property_id=PID, property_version="2", property_instance_id=IID,
                                                  payload=policy)
        out.append((f"switch-{label}", "switch", bytes(engine.mv(q)),
                    f"switch ok ver=0200 id={PID} inst={IID} plen={16 + n} poff=56 clen={n} coff=16"
                    + _policy_line(values)))
    return out


def _refusals(engine: Any) -> List[Tuple[str, str, bytes, str]]:
    """Prepared buffers the reader must refuse, with the reason it prints (and vmgen must refuse too)."""
    policy = bytes(engine.mv(engine.FeatureSettings.build(**FULL)))
    inner = custom_bytes(policy)
    old_empty = bytearray(engine.mv(engine.FeatureSettings.build()))
    struct.pack_into("<I", old_empty, 584, 596)  # where the old builder put an empty array in 594 bytes
    cases = [
        ("nic-type", "nic", prepared_nic_save(1, 568, 8, htype=0x81), "header"),
        ("nic-rev0", "nic", prepared_nic_save(0, 568, 8), "header"),
        ("nic-size", "nic", prepared_nic_save(1, 568, 8, size=567), "header"),
        ("nic-rev2-offset", "nic", prepared_nic_save(2, 568, 8), "offset"),
        ("port-type", "port", port_params(inner, htype=0x81), "header"),
        ("port-rev0", "port", port_params(inner, revision=0), "header"),
        ("port-size63", "port", port_params(inner, size=63), "header"),
        ("port-vlan", "port", port_params(inner, property_type=3), "type"),
        ("port-serialization", "port", port_params(inner, serialization=2), "serialization"),
        ("port-offset", "port", port_params(inner, size=72, offset=64), "offset"),
        ("port-bounds", "port", port_params(inner, length=len(inner) + 1), "bounds"),
        ("port-custom-rev0", "port", port_params(custom_bytes(policy, revision=0)), "custom-header"),
        ("port-custom-offset", "port", port_params(custom_bytes(policy, size=24)), "custom-offset"),
        ("port-old-empty-array", "port", port_params(custom_bytes(bytes(old_empty))), "varr-bounds"),
        ("switch-size55", "switch", switch_params(inner, size=55), "header"),
        ("switch-serialization", "switch", switch_params(inner, serialization=0), "serialization"),
    ]
    return [(name, kind, bytes(buf), f"{kind} refused {why}") for name, kind, buf, why in cases]


@pytest.fixture(scope="module")
def reader(tmp_path_factory: Any) -> Any:
    work = tmp_path_factory.mktemp("ndis_reader")
    exe = work / "ndis_reader.exe"
    subprocess.run([MINGW or "false", "-DUM_NDIS630", "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror",
                    str(HERE / "c" / "ndis_reader.c"), "-o", str(exe)], check=True, capture_output=True, text=True)
    prefix = work / "wineprefix"  # our own, never the Wine rig's cache
    prefix.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(WINEPREFIX=str(prefix), WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml=")

    def run(cases: List[Tuple[str, str, bytes, str]]) -> List[str]:
        args: List[str] = []
        for i, (_, kind, data, _) in enumerate(cases):
            path = work / f"case{i}.bin"
            path.write_bytes(data)
            args += [kind, str(path)]
        r = subprocess.run([WINE or "false", str(exe)] + args, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, env=env, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        lines = [line.rstrip("\r") for line in r.stdout.splitlines()]
        assert len(lines) == len(cases), r.stdout + r.stderr
        return lines
    yield run
    # stop the wineserver of our own prefix now rather than leave it lingering past the test
    wineserver = shutil.which("wineserver") or "/usr/lib/wine/wineserver"
    if os.path.exists(wineserver):
        subprocess.run([wineserver, "-k"], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


@pytest.mark.parametrize("engine_name", ["c", "ref"])
def test_c_reader_reads_what_vmgen_writes(reader: Any, engine_name: str) -> None:
    engine = ENGINES[engine_name]()
    cases = _cases(engine)
    refusals = _refusals(engine)
    lines = reader(cases + refusals)
    for (case, _, _, want), got in zip(cases + refusals, lines):
        assert got == want, f"{case}:\n got  {got}\n want {want}"
    # vmgen's own checks agree with the reader's on every prepared buffer it refuses
    for case, kind, data, _ in refusals:
        with pytest.raises(LayoutError):
            if kind == "nic":
                engine.NicSaveState(data).validate()
            else:
                cls = engine.PortPropertyParameters if kind == "port" else engine.SwitchPropertyParameters
                cls(data).validated_settings(engine.FeatureSettings)
