"""vmgen views vs ctypes, struct, numpy and construct, side by side (pytest-benchmark groups).

    python3 -m pytest benchmarks/ --benchmark-group-by=group        # the table
    python3 benchmarks/ratios.py                                    # the issue's ratios

Every benchmarked function performs its operation OPS times (unrolled 20x inside a loop, all names
local), so the harness's per-call overhead does not dilute the comparison; ``extra_info["ops"]`` records
OPS and benchmarks/ratios.py divides by it. All contenders work on the same bytearray holding the same
NDIS_SWITCH_NIC_SAVE_STATE (568 bytes + 64 bytes of save data), read PortId (offset 8) for "read",
write it for "write", wrap the buffer for "wrap", and produce the same fields as Python values for
"decode" (UUIDs, the friendly name as str, the save data as a zero-copy memoryview).
"""
from __future__ import annotations

import ctypes
import struct
import uuid
from typing import Any, Callable, Dict

import construct as cs
import numpy as np
import pytest

import vmgen
from vmgen import NicSaveState

EXT = uuid.UUID("0c3b5b3e-4a6f-4c1d-9a44-7f2b1c3d5e6f")
FC = uuid.UUID("f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9")
BUF = bytearray(NicSaveState.build(EXT, "Fabrikam Switch Extension", bytes(range(64)), port_id=7, nic_index=2,
                                   feature_class_id=FC).obj)
assert vmgen.IMPLEMENTATION.startswith("C"), "benchmark the C views (unset VMGEN_PURE, build the extension)"

# ---------------------------------------------------------------------------------------------------
# The same layout in each contender's own terms


class GUID(ctypes.LittleEndianStructure):
    _fields_ = [("Data1", ctypes.c_uint32), ("Data2", ctypes.c_uint16), ("Data3", ctypes.c_uint16),
                ("Data4", ctypes.c_uint8 * 8)]


class NicSaveStateCT(ctypes.LittleEndianStructure):
    _fields_ = [
        ("Type", ctypes.c_uint8), ("Revision", ctypes.c_uint8), ("Size", ctypes.c_uint16),
        ("Flags", ctypes.c_uint32), ("PortId", ctypes.c_uint32), ("NicIndex", ctypes.c_uint16),
        ("ExtensionId", GUID),
        ("NameLength", ctypes.c_uint16), ("NameString", ctypes.c_uint16 * 257),  # c_wchar is 4 bytes on Linux
        ("FeatureClassId", GUID),
        ("SaveDataSize", ctypes.c_uint16), ("SaveDataOffset", ctypes.c_uint16),
    ]


assert ctypes.sizeof(NicSaveStateCT) == 568 and NicSaveStateCT.PortId.offset == 8
assert NicSaveStateCT.FeatureClassId.offset == 548 and NicSaveStateCT.SaveDataOffset.offset == 566

NP_DTYPE = np.dtype({
    "names": ["Type", "Revision", "Size", "Flags", "PortId", "NicIndex", "ExtensionId", "NameLength", "NameString",
              "FeatureClassId", "SaveDataSize", "SaveDataOffset"],
    "formats": ["u1", "u1", "<u2", "<u4", "<u4", "<u2", "V16", "<u2", ("<u2", 257), "V16", "<u2", "<u2"],
    "offsets": [0, 1, 2, 4, 8, 12, 16, 32, 34, 548, 564, 566],
    "itemsize": 568,
})

_GuidCS = cs.ExprAdapter(cs.Bytes(16), lambda obj, ctx: uuid.UUID(bytes_le=obj), lambda obj, ctx: obj.bytes_le)
NIC_CS = cs.Struct(
    "Type" / cs.Int8ul, "Revision" / cs.Int8ul, "Size" / cs.Int16ul,
    "Flags" / cs.Int32ul, "PortId" / cs.Int32ul, "NicIndex" / cs.Int16ul, cs.Padding(2),
    "ExtensionId" / _GuidCS,
    "NameLength" / cs.Int16ul, "NameString" / cs.Bytes(514),
    "FeatureClassId" / _GuidCS,
    "SaveDataSize" / cs.Int16ul, "SaveDataOffset" / cs.Int16ul,
    "SaveData" / cs.Pointer(cs.this.SaveDataOffset, cs.Bytes(cs.this.SaveDataSize)),
)
PORT_ID_CS = cs.Pointer(8, cs.Int32ul)

_S_HDR = struct.Struct("<BBHIIH")
_S_TAIL = struct.Struct("<HH")
_S_U16 = struct.Struct("<H")
_S_U32 = struct.Struct("<I")


def decode_struct(buf: Any) -> Dict[str, Any]:
    """The hand-written full decode the issue compares to_dict() against."""
    htype, rev, size, flags, port_id, nic_index = _S_HDR.unpack_from(buf, 0)
    name_len = _S_U16.unpack_from(buf, 32)[0]
    data_size, data_off = _S_TAIL.unpack_from(buf, 564)
    return {
        "header_type": htype, "header_revision": rev, "header_size": size, "flags": flags, "port_id": port_id,
        "nic_index": nic_index, "extension_id": uuid.UUID(bytes_le=bytes(buf[16:32])),
        "extension_friendly_name": buf[34:34 + name_len].decode("utf-16-le", "surrogatepass"),
        "feature_class_id": uuid.UUID(bytes_le=bytes(buf[548:564])), "save_data_size": data_size,
        "save_data_offset": data_off, "save_data": memoryview(buf)[data_off:data_off + data_size],
    }


def decode_construct(buf: Any) -> Dict[str, Any]:
    c = NIC_CS.parse(buf)
    return {
        "header_type": c.Type, "header_revision": c.Revision, "header_size": c.Size, "flags": c.Flags,
        "port_id": c.PortId, "nic_index": c.NicIndex, "extension_id": c.ExtensionId,
        "extension_friendly_name": c.NameString[:c.NameLength].decode("utf-16-le", "surrogatepass"),
        "feature_class_id": c.FeatureClassId, "save_data_size": c.SaveDataSize,
        "save_data_offset": c.SaveDataOffset, "save_data": c.SaveData,
    }


def _same_values() -> None:
    want = NicSaveState(BUF).to_dict()
    for got in (decode_struct(BUF), decode_construct(BUF)):
        assert {k: bytes(v) if isinstance(v, (memoryview, bytes)) else v for k, v in got.items()} == \
            {k: bytes(v) if isinstance(v, memoryview) else v for k, v in want.items()}
    assert NicSaveStateCT.from_buffer(BUF).PortId == np.frombuffer(BUF, NP_DTYPE, count=1)[0]["PortId"] == 7


_same_values()

# ---------------------------------------------------------------------------------------------------
# Unrolled runners


UNROLL, LOOPS = 20, 50
OPS = UNROLL * LOOPS


def unrolled(stmt: str, **local: Any) -> Callable[[], None]:
    """def run(<locals as defaults>): for _ in range(LOOPS): stmt x UNROLL."""
    args = ", ".join(f"{k}={k}" for k in local)
    src = f"def make({', '.join(local)}):\n    def run({args}):\n        for _ in range({LOOPS}):\n"
    src += (f"            {stmt}\n") * UNROLL
    src += "    return run\n"
    ns: Dict[str, Any] = {}
    exec(src, ns)  # noqa: S102 - generated benchmark loop
    return ns["make"](**local)  # type: ignore[no-any-return]


def bench(benchmark: Any, fn: Callable[[], None]) -> None:
    benchmark.extra_info["ops"] = OPS
    benchmark(fn)


# --- read one field ---------------------------------------------------------------------------------


@pytest.mark.benchmark(group="read")
def test_read_vmgen(benchmark: Any) -> None:
    bench(benchmark, unrolled("v.port_id", v=NicSaveState(BUF)))


@pytest.mark.benchmark(group="read")
def test_read_ctypes(benchmark: Any) -> None:
    bench(benchmark, unrolled("c.PortId", c=NicSaveStateCT.from_buffer(BUF)))


@pytest.mark.benchmark(group="read")
def test_read_struct(benchmark: Any) -> None:
    bench(benchmark, unrolled("unpack(buf, 8)[0]", unpack=_S_U32.unpack_from, buf=BUF))


@pytest.mark.benchmark(group="read")
def test_read_numpy(benchmark: Any) -> None:
    bench(benchmark, unrolled("r['PortId']", r=np.frombuffer(BUF, NP_DTYPE, count=1)[0]))


@pytest.mark.benchmark(group="read")
def test_read_construct(benchmark: Any) -> None:
    bench(benchmark, unrolled("parse(buf)", parse=PORT_ID_CS.parse, buf=BUF))


# --- write one field --------------------------------------------------------------------------------


@pytest.mark.benchmark(group="write")
def test_write_vmgen(benchmark: Any) -> None:
    v = NicSaveState(BUF)
    bench(benchmark, unrolled("v.port_id = 12345", v=v))
    assert v.port_id == 12345


@pytest.mark.benchmark(group="write")
def test_write_ctypes(benchmark: Any) -> None:
    bench(benchmark, unrolled("c.PortId = 12345", c=NicSaveStateCT.from_buffer(BUF)))


@pytest.mark.benchmark(group="write")
def test_write_struct(benchmark: Any) -> None:
    bench(benchmark, unrolled("pack(buf, 8, 12345)", pack=_S_U32.pack_into, buf=BUF))


@pytest.mark.benchmark(group="write")
def test_write_numpy(benchmark: Any) -> None:
    bench(benchmark, unrolled("r['PortId'] = 12345", r=np.frombuffer(BUF, NP_DTYPE, count=1)[0]))


@pytest.mark.benchmark(group="write")
def test_write_construct(benchmark: Any) -> None:  # construct has no in-place write: build + splice
    bench(benchmark, unrolled("buf[8:12] = build(12345)", build=cs.Int32ul.build, buf=BUF))


# --- wrap an existing buffer ------------------------------------------------------------------------


@pytest.mark.benchmark(group="wrap")
def test_wrap_vmgen(benchmark: Any) -> None:
    bench(benchmark, unrolled("V(buf)", V=NicSaveState, buf=BUF))


@pytest.mark.benchmark(group="wrap")
def test_wrap_ctypes(benchmark: Any) -> None:
    bench(benchmark, unrolled("from_buffer(buf)", from_buffer=NicSaveStateCT.from_buffer, buf=BUF))


@pytest.mark.benchmark(group="wrap")
def test_wrap_numpy(benchmark: Any) -> None:
    bench(benchmark, unrolled("frombuffer(buf, dt, 1)", frombuffer=np.frombuffer, buf=BUF, dt=NP_DTYPE))


@pytest.mark.benchmark(group="wrap")
def test_wrap_construct(benchmark: Any) -> None:  # construct's only way in: parse the whole structure
    bench(benchmark, unrolled("parse(buf)", parse=NIC_CS.parse, buf=BUF))


# --- full decode to Python values -------------------------------------------------------------------


@pytest.mark.benchmark(group="decode")
def test_decode_vmgen(benchmark: Any) -> None:  # from the buffer: wrap + to_dict()
    bench(benchmark, unrolled("V(buf).to_dict()", V=NicSaveState, buf=BUF))


@pytest.mark.benchmark(group="decode")
def test_decode_vmgen_wrapped(benchmark: Any) -> None:  # an existing view: to_dict() alone
    bench(benchmark, unrolled("v.to_dict()", v=NicSaveState(BUF)))


@pytest.mark.benchmark(group="decode")
def test_decode_struct(benchmark: Any) -> None:
    bench(benchmark, unrolled("decode(buf)", decode=decode_struct, buf=BUF))


@pytest.mark.benchmark(group="decode")
def test_decode_construct(benchmark: Any) -> None:
    bench(benchmark, unrolled("decode(buf)", decode=decode_construct, buf=BUF))
