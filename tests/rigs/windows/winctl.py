"""Windows-side helper for the Wine rig: load/unload vmgentest.sys and drive its control device.

Runs inside the Windows CPython under Wine (ctypes over kernel32/advapi32; no vmgen import), both as a
module the in-Wine tests import and as a command line the Linux-side rig calls:

    python winctl.py load PATH.sys | unload | set COUNT [HIGH] | flags N | stats | wait-loaded
"""
from __future__ import annotations

import ctypes
import json
import struct
import sys
from ctypes import wintypes

SERVICE = "vmgentest"
CTL_PATH = r"\\.\VmGenTestCtl"
COUNTER_PATH = r"\\.\VmGenerationCounter"

IOCTL_VMGENCOUNTER_READ = 0x0032C004


def _ctl(fn: int) -> int:
    return (0x8000 << 16) | (fn << 2)


IOCTL_SET = _ctl(0x801)
IOCTL_FLAGS = _ctl(0x802)
IOCTL_STATS = _ctl(0x803)
IOCTL_SET_SILENT = _ctl(0x804)

FLAG_NO_EVENT = 0x1
FLAG_HIDDEN = 0x2
FLAG_DENY = 0x4   # reads fail with ERROR_ACCESS_DENIED (see vmgentest.h)

STATS_FIELDS = ("count", "count_high", "pending", "flags", "opens", "polls", "events_started", "events_done",
                "cancelled", "reserved")
STATS_FMT = "<QQ8I"

GENERIC_READ = 0x80000000
GENERIC_WRITE = 0x40000000
OPEN_EXISTING = 3
FILE_SHARE_RW = 3
INVALID_HANDLE = ctypes.c_void_p(-1).value

k32 = ctypes.WinDLL("kernel32", use_last_error=True)
adv = ctypes.WinDLL("advapi32", use_last_error=True)

k32.CreateFileW.restype = wintypes.HANDLE
k32.CreateFileW.argtypes = [wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD, ctypes.c_void_p, wintypes.DWORD,
                            wintypes.DWORD, wintypes.HANDLE]
k32.DeviceIoControl.restype = wintypes.BOOL
k32.DeviceIoControl.argtypes = [wintypes.HANDLE, wintypes.DWORD, ctypes.c_void_p, wintypes.DWORD, ctypes.c_void_p,
                                wintypes.DWORD, ctypes.POINTER(wintypes.DWORD), ctypes.c_void_p]
k32.CloseHandle.argtypes = [wintypes.HANDLE]
k32.GetCurrentProcess.restype = wintypes.HANDLE
k32.GetProcessHandleCount.argtypes = [wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD)]

adv.OpenSCManagerW.restype = wintypes.HANDLE
adv.OpenSCManagerW.argtypes = [wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.DWORD]
adv.CreateServiceW.restype = wintypes.HANDLE
adv.CreateServiceW.argtypes = [wintypes.HANDLE, wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD,
                               wintypes.DWORD, wintypes.DWORD, wintypes.LPCWSTR, wintypes.LPCWSTR, ctypes.c_void_p,
                               wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.LPCWSTR]
adv.OpenServiceW.restype = wintypes.HANDLE
adv.OpenServiceW.argtypes = [wintypes.HANDLE, wintypes.LPCWSTR, wintypes.DWORD]
adv.ChangeServiceConfigW.argtypes = [wintypes.HANDLE, wintypes.DWORD, wintypes.DWORD, wintypes.DWORD,
                                     wintypes.LPCWSTR, wintypes.LPCWSTR, ctypes.c_void_p, wintypes.LPCWSTR,
                                     wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.LPCWSTR]
adv.StartServiceW.argtypes = [wintypes.HANDLE, wintypes.DWORD, ctypes.c_void_p]
adv.ControlService.argtypes = [wintypes.HANDLE, wintypes.DWORD, ctypes.c_void_p]
adv.DeleteService.argtypes = [wintypes.HANDLE]
adv.CloseServiceHandle.argtypes = [wintypes.HANDLE]

SC_MANAGER_ALL_ACCESS = 0xF003F
SERVICE_ALL_ACCESS = 0xF01FF
SERVICE_KERNEL_DRIVER = 0x1
SERVICE_DEMAND_START = 0x3
SERVICE_ERROR_NORMAL = 0x1
SERVICE_NO_CHANGE = 0xFFFFFFFF
SERVICE_CONTROL_STOP = 0x1
ERROR_SERVICE_EXISTS = 1073
ERROR_SERVICE_ALREADY_RUNNING = 1056
ERROR_SERVICE_NOT_ACTIVE = 1062


def _err(what: str) -> OSError:
    code = ctypes.get_last_error()
    return ctypes.WinError(code, f"{what}: {ctypes.FormatError(code).strip()}")


def load(sys_path: str) -> None:
    """Register (or re-point) the kernel-driver service at sys_path and start it."""
    scm = adv.OpenSCManagerW(None, None, SC_MANAGER_ALL_ACCESS)
    if not scm:
        raise _err("OpenSCManagerW")
    try:
        svc = adv.CreateServiceW(scm, SERVICE, SERVICE, SERVICE_ALL_ACCESS, SERVICE_KERNEL_DRIVER,
                                 SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL, sys_path, None, None, None, None, None)
        if not svc:
            if ctypes.get_last_error() != ERROR_SERVICE_EXISTS:
                raise _err("CreateServiceW")
            svc = adv.OpenServiceW(scm, SERVICE, SERVICE_ALL_ACCESS)
            if not svc:
                raise _err("OpenServiceW")
            if not adv.ChangeServiceConfigW(svc, SERVICE_KERNEL_DRIVER, SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL,
                                            sys_path, None, None, None, None, None, None):
                raise _err("ChangeServiceConfigW")
        try:
            if not adv.StartServiceW(svc, 0, None) and ctypes.get_last_error() != ERROR_SERVICE_ALREADY_RUNNING:
                raise _err("StartServiceW")
        finally:
            adv.CloseServiceHandle(svc)
    finally:
        adv.CloseServiceHandle(scm)


def unload() -> None:
    scm = adv.OpenSCManagerW(None, None, SC_MANAGER_ALL_ACCESS)
    if not scm:
        raise _err("OpenSCManagerW")
    try:
        svc = adv.OpenServiceW(scm, SERVICE, SERVICE_ALL_ACCESS)
        if not svc:
            return
        status = (ctypes.c_byte * 64)()
        if not adv.ControlService(svc, SERVICE_CONTROL_STOP, status) and \
                ctypes.get_last_error() != ERROR_SERVICE_NOT_ACTIVE:
            err = _err("ControlService(STOP)")
            adv.CloseServiceHandle(svc)
            raise err
        adv.CloseServiceHandle(svc)
    finally:
        adv.CloseServiceHandle(scm)


def _open(path: str, access: int = GENERIC_READ | GENERIC_WRITE) -> int:
    h = k32.CreateFileW(path, access, FILE_SHARE_RW, None, OPEN_EXISTING, 0, None)
    if h == INVALID_HANDLE or h is None:
        raise _err(f"CreateFileW({path})")
    return h


def _ioctl(path: str, code: int, inp: bytes, out_len: int) -> bytes:
    h = _open(path)
    try:
        ib = ctypes.create_string_buffer(inp, len(inp)) if inp else None
        ob = ctypes.create_string_buffer(out_len) if out_len else None
        n = wintypes.DWORD(0)
        if not k32.DeviceIoControl(h, code, ib, len(inp), ob, out_len, ctypes.byref(n), None):
            raise _err(f"DeviceIoControl({code:#x})")
        return ob.raw[: n.value] if ob is not None else b""
    finally:
        k32.CloseHandle(h)


def set_generation(count: int, high: int = 0, *, silent: bool = False) -> None:
    """Set the driver's generation; unless silent, complete every pending read whose input differs."""
    _ioctl(CTL_PATH, IOCTL_SET_SILENT if silent else IOCTL_SET, struct.pack("<QQ", count, high), 0)


def set_flags(flags: int) -> int:
    """Set the failure switches (FLAG_*); returns the previous ones."""
    return struct.unpack("<I", _ioctl(CTL_PATH, IOCTL_FLAGS, struct.pack("<I", flags), 4))[0]


def stats() -> dict:
    return dict(zip(STATS_FIELDS, struct.unpack(STATS_FMT, _ioctl(CTL_PATH, IOCTL_STATS, b"", 48))))


def poll_raw() -> bytes:
    """One polling IOCTL_VMGENCOUNTER_READ through ctypes (the benchmark's 'IOCTL per check' baseline)."""
    return _ioctl(COUNTER_PATH, IOCTL_VMGENCOUNTER_READ, b"", 16)


def handle_count() -> int:
    n = wintypes.DWORD(0)
    if not k32.GetProcessHandleCount(k32.GetCurrentProcess(), ctypes.byref(n)):
        raise _err("GetProcessHandleCount")
    return n.value


def main(argv: list[str]) -> int:
    cmd, args = argv[0], argv[1:]
    if cmd == "load":
        load(args[0])
    elif cmd == "unload":
        unload()
    elif cmd == "set":
        set_generation(int(args[0], 0), int(args[1], 0) if len(args) > 1 else 0)
    elif cmd == "flags":
        print(set_flags(int(args[0], 0)))
    elif cmd == "stats":
        print(json.dumps(stats()))
    else:
        print(f"unknown command {cmd!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
