"""Buffers prepared the way the Hyper-V extensible switch prepares them, written with ``struct`` from the
offsets in LAYOUTS.md (never from vmgen.switch.layout), for the save/restore and property-chain tests.

OID_SWITCH_NIC_SAVE: the switch allocates the buffer and fills Header, PortId, NicIndex, SaveDataSize and
SaveDataOffset; the rest is the extension's. Every byte the switch does not set is SENTINEL here, so a
test sees any byte an operation writes that it should not.
"""
from __future__ import annotations

import struct
import uuid
from typing import List, Tuple

SENTINEL = 0xEE
REV1_SIZE = 568  # NDIS_SIZEOF_NDIS_SWITCH_NIC_SAVE_STATE_REVISION_1
REV2_SIZE = 572  # through SaveDataSizeOverflow (NDIS 6.50)
PORT_ID = 0x01020304
NIC_INDEX = 3
FLAGS = 0x00000011
OVERFLOW = 0xA5A5A5A5  # what our "switch" leaves in a revision-2 SaveDataSizeOverflow

# (revision, SaveDataOffset): revisions 1 and 2, data right after the header and further on.
SAVE_CASES: List[Tuple[int, int]] = [(1, 568), (1, 572), (1, 576), (2, 572), (2, 576)]


def header_size_of(revision: int) -> int:
    return REV1_SIZE if revision == 1 else REV2_SIZE


def prepared_nic_save(revision: int, save_data_offset: int, capacity: int, *, htype: int = 0x80,
                      size: int = -1, total: int = -1) -> bytearray:
    """The InformationBuffer of an OID_SWITCH_NIC_SAVE: header and switch fields set, the rest SENTINEL."""
    size = header_size_of(revision) if size < 0 else size
    n = save_data_offset + capacity if total < 0 else total
    b = bytearray([SENTINEL]) * n
    if n >= 4:
        struct.pack_into("<BBH", b, 0, htype, revision, size)
    if n >= 568:
        struct.pack_into("<IIH", b, 4, FLAGS, PORT_ID, NIC_INDEX)
        struct.pack_into("<HH", b, 564, capacity & 0xFFFF, save_data_offset)  # SaveDataSize: the room given
    if revision >= 2 and n >= 572:
        struct.pack_into("<I", b, 568, OVERFLOW)
    return b


def expected_after_fill(prepared: bytes, ext: uuid.UUID, name: str, fc: uuid.UUID, data: bytes) -> bytes:
    """What the extension's writes leave: ExtensionId, the counted name (NUL-padded), FeatureClassId,
    SaveDataSize and the data at SaveDataOffset; every other byte as the switch left it."""
    b = bytearray(prepared)
    enc = name.encode("utf-16-le", "surrogatepass")
    b[16:32] = ext.bytes_le
    struct.pack_into("<H", b, 32, len(enc))
    b[34:34 + 514] = enc.ljust(514, b"\0")
    b[548:564] = fc.bytes_le
    struct.pack_into("<H", b, 564, len(data))
    off = struct.unpack_from("<H", b, 566)[0]
    b[off:off + len(data)] = data
    return bytes(b)


# (revision, header size, PropertyBufferOffset) of a port property's parameters: revision 1 as documented,
# and a later revision that declares a longer header, with the custom property further on.
PORT_PARAM_CASES: List[Tuple[int, int, int]] = [(1, 64, 64), (1, 64, 72), (2, 72, 72), (2, 72, 80)]
SWITCH_PARAM_CASES: List[Tuple[int, int, int]] = [(1, 56, 56), (1, 56, 64), (2, 64, 64), (2, 64, 72)]
CUSTOM_CASES: List[Tuple[int, int, int]] = [(1, 16, 16), (1, 16, 24), (2, 24, 24)]


def custom_bytes(payload: bytes, *, revision: int = 1, size: int = 16, offset: int = 16, htype: int = 0x80,
                 length: int = -1) -> bytes:
    b = bytearray(max(offset + len(payload), 16))  # a header Size may claim more than there is
    struct.pack_into("<BBHIII", b, 0, htype, revision, size, 0, len(payload) if length < 0 else length, offset)
    b[offset:offset + len(payload)] = payload
    return bytes(b)


def port_params(inner: bytes, *, revision: int = 1, size: int = 64, offset: int = 64, htype: int = 0x80,
                property_type: int = 1, serialization: int = 1, version: int = 0x0100,
                pid: uuid.UUID = uuid.UUID(int=1), iid: uuid.UUID = uuid.UUID(int=2), length: int = -1,
                port_id: int = PORT_ID) -> bytearray:
    b = bytearray([SENTINEL]) * max(offset + len(inner), 64)
    struct.pack_into("<BBHIII", b, 0, htype, revision, size, 0, port_id, property_type)
    b[16:32] = pid.bytes_le
    struct.pack_into("<HH", b, 32, version, serialization)
    b[36:52] = iid.bytes_le
    struct.pack_into("<III", b, 52, len(inner) if length < 0 else length, offset, 0)
    b[offset:offset + len(inner)] = inner
    return b


def switch_params(inner: bytes, *, revision: int = 1, size: int = 56, offset: int = 56, htype: int = 0x80,
                  property_type: int = 1, serialization: int = 1, version: int = 0x0100,
                  pid: uuid.UUID = uuid.UUID(int=1), iid: uuid.UUID = uuid.UUID(int=2),
                  length: int = -1) -> bytearray:
    b = bytearray([SENTINEL]) * max(offset + len(inner), 56)
    struct.pack_into("<BBHII", b, 0, htype, revision, size, 0, property_type)
    b[12:28] = pid.bytes_le
    struct.pack_into("<HH", b, 28, version, serialization)
    b[32:48] = iid.bytes_le
    struct.pack_into("<II", b, 48, len(inner) if length < 0 else length, offset)
    b[offset:offset + len(inner)] = inner
    return b
