"""Helpers for the counter tests: build VMClock pages in files, independently of vmgen's C code."""
from __future__ import annotations

import ctypes
import os
import struct
import subprocess
import sys

import pytest

from vmgen.counter import _core

# vmclock and vmgenid exist only in the Linux C backend; the portable POSIX one (macOS, or Linux built
# with VMGEN_COUNTER_BACKEND=posix) has the simulated counter only.
linux_backends = pytest.mark.skipif(
    _core.PLATFORM != "linux",
    reason=f"vmclock and vmgenid are Linux backends; this build's counter is {_core.PLATFORM!r} (simulated only)")


def posix_only(why: str):
    """Skip on Windows: the test uses a POSIX facility; its Windows counterpart is named in `why`."""
    return pytest.mark.skipif(sys.platform == "win32", reason=f"POSIX only ({why})")

PAGE = 4096
MAGIC = 0x4B4C4356
GEN_PRESENT = 1 << 8
NOTIFY_PRESENT = 1 << 9


class VmclockAbi(ctypes.LittleEndianStructure):
    """struct vmclock_abi (include/uapi/linux/vmclock-abi.h), written out independently."""
    _fields_ = [
        ("magic", ctypes.c_uint32), ("size", ctypes.c_uint32), ("version", ctypes.c_uint16),
        ("counter_id", ctypes.c_uint8), ("time_type", ctypes.c_uint8), ("seq_count", ctypes.c_uint32),
        ("disruption_marker", ctypes.c_uint64), ("flags", ctypes.c_uint64),
        ("pad", ctypes.c_uint8 * 2), ("clock_status", ctypes.c_uint8), ("leap_second_smearing_hint", ctypes.c_uint8),
        ("tai_offset_sec", ctypes.c_int16), ("leap_indicator", ctypes.c_uint8), ("counter_period_shift", ctypes.c_uint8),
        ("counter_value", ctypes.c_uint64), ("counter_period_frac_sec", ctypes.c_uint64),
        ("counter_period_esterror_rate_frac_sec", ctypes.c_uint64),
        ("counter_period_maxerror_rate_frac_sec", ctypes.c_uint64),
        ("time_sec", ctypes.c_uint64), ("time_frac_sec", ctypes.c_uint64),
        ("time_esterror_nanosec", ctypes.c_uint64), ("time_maxerror_nanosec", ctypes.c_uint64),
        ("vm_generation_counter", ctypes.c_uint64),
    ]


SEQ_OFF = VmclockAbi.seq_count.offset
GEN_OFF = VmclockAbi.vm_generation_counter.offset
MARKER_OFF = VmclockAbi.disruption_marker.offset
FLAGS_OFF = VmclockAbi.flags.offset


def make_page(path, *, magic=MAGIC, size=PAGE, version=1, flags=GEN_PRESENT, seq=0, gen=0, marker=0, length=PAGE):
    abi = VmclockAbi(magic=magic, size=size, version=version, flags=flags, seq_count=seq,
                     vm_generation_counter=gen, disruption_marker=marker)
    data = bytes(abi).ljust(length, b"\0")[:length]
    with open(path, "wb") as f:
        f.write(data)
    return path


def write_gen(mm, value, *, split=False):
    """Update vm_generation_counter under the seqlock the way a hypervisor does (seq odd, store, seq even).
    split: store the two halves separately, so a reader that ignored the seqlock could see a torn value."""
    seq = struct.unpack_from("<I", mm, SEQ_OFF)[0]
    struct.pack_into("<I", mm, SEQ_OFF, (seq + 1) & 0xFFFFFFFF)
    if split:
        struct.pack_into("<I", mm, GEN_OFF, value & 0xFFFFFFFF)
        struct.pack_into("<I", mm, GEN_OFF + 4, value >> 32)
    else:
        struct.pack_into("<Q", mm, GEN_OFF, value)
    struct.pack_into("<I", mm, SEQ_OFF, (seq + 2) & 0xFFFFFFFF)


def write_fields(mm, **fields):
    """Update 64-bit page fields (disruption_marker=, flags=, vm_generation_counter=) in one seqlock write, as
    QEMU's post-load does for a restored or migrated guest (seq odd, stores, seq even)."""
    seq = struct.unpack_from("<I", mm, SEQ_OFF)[0]
    struct.pack_into("<I", mm, SEQ_OFF, (seq + 1) & 0xFFFFFFFF)
    for name, value in fields.items():
        struct.pack_into("<Q", mm, getattr(VmclockAbi, name).offset, value)
    struct.pack_into("<I", mm, SEQ_OFF, (seq + 2) & 0xFFFFFFFF)


def restore_like_qemu(mm):
    """What QEMU 11.1 does to the page of a restored (or live-migrated) guest: disruption_marker + 1, nothing else
    (flags 0, vm_generation_counter stays 0; /work/shared/reference/QEMU_RIG.md)."""
    write_fields(mm, disruption_marker=struct.unpack_from("<Q", mm, MARKER_OFF)[0] + 1)


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"))


def task_count() -> int:
    """OS threads of this process: /proc on Linux, `ps -M` (one line per thread) on macOS."""
    if os.path.isdir("/proc/self/task"):
        return len(os.listdir("/proc/self/task"))
    if sys.platform == "darwin":
        out = subprocess.run(["ps", "-M", "-p", str(os.getpid())], capture_output=True, text=True, check=True).stdout
        return len(out.splitlines()) - 1
    raise RuntimeError(f"no way to count threads on {sys.platform}")
