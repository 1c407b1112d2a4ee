"""Which generation-counter backends exist here, and whether each can actually see changes.

The C side (vg_probe) answers "can I open this device"; this module owns discovery (sysfs) and
policy (the vmgenid kernel-version rule), which differ per OS and are easier to read in Python.
"""
from __future__ import annotations

import os
import platform
import re
import sys
from typing import List, NamedTuple, Optional, Tuple

from . import _core

PRIORITY = ("windows", "vmclock", "vmgenid", "simulated")
VMCLOCK_DEVICE = "/dev/vmclock0"
_ONLY_LINUX = f"only in the Linux build (this build's counter is {_core.PLATFORM!r})"
_VMGENID_DRIVER_DIRS = ("/sys/bus/platform/drivers/vmgenid", "/sys/bus/acpi/drivers/vmgenid")


class BackendInfo(NamedTuple):
    name: str
    available: bool   # True only if open() would pick it: present AND able to see changes
    reason: str


def vmgenid_devpath() -> Optional[str]:
    """DEVPATH (as in uevents) of the device bound to the vmgenid driver, or None."""
    for d in _VMGENID_DRIVER_DIRS:
        try:
            entries = sorted(os.listdir(d))
        except OSError:
            continue
        for name in entries:
            link = os.path.join(d, name)
            if name in ("bind", "unbind", "uevent", "module", "new_id", "remove_id") or not os.path.islink(link):
                continue
            real = os.path.realpath(link)
            if real.startswith("/sys/devices/"):
                return real[len("/sys"):]
    return None


def vmgenid_kernel_notifies(release: Optional[str] = None) -> Tuple[bool, str]:
    """Does this kernel send a uevent when the VM generation id changes? Only 6.8 did:
    commit ad6bcdad2b67 (v6.8) added it, 3aadf100f93d reverted it in v6.9-rc5 and 6.8 stable."""
    release = platform.release() if release is None else release
    m = re.match(r"(\d+)\.(\d+)", release)
    if m and (int(m.group(1)), int(m.group(2))) == (6, 8):
        return True, f"Linux {release} carries the vmgenid change uevent (6.8 only)"
    return False, (f"Linux {release} sends no uevent when the VM generation id changes "
                   "(only 6.8 did: ad6bcdad2b67, reverted by 3aadf100f93d)")


def _probe_windows() -> BackendInfo:
    if sys.platform != "win32":
        return BackendInfo("windows", False, "only on Windows (\\\\.\\VmGenerationCounter)")
    ok, why = _core.probe("windows")
    return BackendInfo("windows", ok, "\\\\.\\VmGenerationCounter" if ok else why)


def _probe_vmclock() -> BackendInfo:
    if _core.PLATFORM != "linux":
        return BackendInfo("vmclock", False, _ONLY_LINUX)
    if not os.path.exists(VMCLOCK_DEVICE):
        return BackendInfo("vmclock", False, f"no {VMCLOCK_DEVICE} (needs the vmclock driver, Linux 6.13+, "
                                             "and a hypervisor exposing VMClock with vm_generation_counter)")
    ok, why = _core.probe("vmclock", VMCLOCK_DEVICE)
    return BackendInfo("vmclock", ok, VMCLOCK_DEVICE if ok else why)


def _probe_vmgenid() -> BackendInfo:
    if _core.PLATFORM != "linux":
        return BackendInfo("vmgenid", False, _ONLY_LINUX)
    devpath = vmgenid_devpath()
    if devpath is None:
        return BackendInfo("vmgenid", False, "no device bound to the vmgenid driver in /sys (not a VM, "
                                             "or no ACPI VMGENCTR device)")
    notifies, why = vmgenid_kernel_notifies()
    if not notifies:
        return BackendInfo("vmgenid", False, f"device {devpath} is present, but {why}; "
                                             "vmgen.open('vmgenid') still works, with a warning")
    ok, err = _core.probe("vmgenid", devpath)
    return BackendInfo("vmgenid", ok, f"{devpath}: {why}" if ok else err)


def _probe_simulated() -> BackendInfo:
    sim = os.environ.get("VMGEN_SIMULATE")
    if sim:
        return BackendInfo("simulated", True, f"VMGEN_SIMULATE={sim}: vmgen.open() uses this file")
    return BackendInfo("simulated", True, "always available; only on request (or VMGEN_SIMULATE=FILE)")


def backends() -> List[BackendInfo]:
    """Every backend in priority order, each with whether open() can use it and why (not)."""
    return [_probe_windows(), _probe_vmclock(), _probe_vmgenid(), _probe_simulated()]
