"""Which generation-counter backends exist here, and whether each can actually see changes.

The C side (vg_probe) answers "can I open this device"; this module owns discovery (sysfs) and
policy (the vmgenid kernel-version rule), which differ per OS and are easier to read in Python.
"""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # without importing typing: see vmgen/errors.py
if TYPE_CHECKING:
    from typing import Any, Dict, Iterable, List, Optional, Tuple

from . import _core
from ..errors import VmgenError

PRIORITY = ("windows", "vmclock", "vmgenid", "simulated")
VMCLOCK_DEVICE = "/dev/vmclock0"
_ONLY_LINUX = f"only in the Linux build (this build's counter is {_core.PLATFORM!r})"
_VMGENID_DRIVER_DIRS = ("/sys/bus/platform/drivers/vmgenid", "/sys/bus/acpi/drivers/vmgenid")


class BackendInfo(tuple):  # type: ignore[type-arg]
    """(name, available, reason), a named tuple: available is True only if open() would pick it (present AND able
    to see changes). Written out rather than typing.NamedTuple / collections.namedtuple, which `import vmgen`
    would otherwise load (issue 16); same constructor, fields, repr, _asdict, _replace, _make and pickling."""

    __slots__ = ()
    _fields = ("name", "available", "reason")
    __match_args__ = _fields

    def __new__(cls, name: str, available: bool, reason: str) -> BackendInfo:
        return tuple.__new__(cls, (name, available, reason))

    name = property(lambda self: self[0], doc="the backend's name, as open() takes it")
    available = property(lambda self: self[1], doc="True only if open() would pick it")
    reason = property(lambda self: self[2], doc="why (not)")

    @classmethod
    def _make(cls, iterable: Iterable[Any]) -> BackendInfo:
        return cls(*iterable)

    def _replace(self, **changes: Any) -> BackendInfo:
        values = dict(zip(self._fields, self))
        unknown = set(changes) - set(self._fields)
        if unknown:
            raise ValueError(f"got unexpected field names: {sorted(unknown)!r}")
        values.update(changes)
        return type(self)(**values)

    def _asdict(self) -> Dict[str, Any]:
        return dict(zip(self._fields, self))

    def __getnewargs__(self) -> Tuple[Any, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self[0]!r}, available={self[1]!r}, reason={self[2]!r})"


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


# Which Linux kernels send user space a KOBJ_CHANGE uevent when the VM generation id changes: the one table
# the vmgenid policy reads (docs/counter.md shows it too). Rows: [first, end) by the version key below.
#   ad6bcdad2b67 "vmgenid: emit uevent when VMGENID updates": merged for v6.8 (in 6.8-rc1 onwards).
#   3aadf100f93d "Revert ...": mainline v6.9-rc5. In 6.8 stable it is patch 003/158 of the 6.8.8-rc1 review
#     (stable@vger.kernel.org, 2024-04-23), and the Linux 6.8.8 announcement (2024-04-27) lists it in its
#     shortlog (Jason A. Donenfeld, drivers/virt/vmgenid.c | 2): 6.8.0 to 6.8.7 carry the uevent, 6.8.8 on do not.
#   The commit was never backported to older stable series (a feature), so nothing before 6.8 has it.
_RC_RELEASE = 1 << 16   # a final release sorts after all of its release candidates
VMGENID_UEVENT_KERNELS: Tuple[Tuple[Tuple[int, int, int, int], Tuple[int, int, int, int], str], ...] = (
    ((6, 8, 0, 1), (6, 8, 8, 0), "6.8-rc1 to 6.8.7: ad6bcdad2b67 added the uevent; 6.8.8 carries the revert"),
    ((6, 9, 0, 1), (6, 9, 0, 5), "6.9-rc1 to 6.9-rc4: mainline until the revert 3aadf100f93d in 6.9-rc5"),
)


def _kernel_key(version: str) -> Optional[Tuple[int, int, int, int]]:
    """(major, minor, patch, rc) of a release string such as "6.8.7", "6.9.0-rc4", "6.8.0-31-generic"."""
    import re   # here: `import vmgen` does not load re

    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?(?:-rc(\d+))?", version)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), int(m.group(4) or _RC_RELEASE)


def _mainline_version(release: str, signature: Optional[str]) -> str:
    """The upstream version a distribution kernel is built from. Ubuntu keeps "6.8.0-NN" in the release string
    while it takes in stable updates, and names the mainline version last in /proc/version_signature
    ("Ubuntu 6.8.0-31.31-generic 6.8.1", https://ubuntu.com/kernel). Other kernels: the release itself."""
    if signature:
        last = signature.split()[-1:]
        key, base = _kernel_key(last[0]) if last else None, _kernel_key(release)
        if key and base and key[:2] == base[:2]:
            return last[0]
    return release


def _version_signature() -> Optional[str]:
    try:
        with open("/proc/version_signature", encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def vmgenid_kernel_notifies(release: Optional[str] = None, signature: Optional[str] = None) -> Tuple[bool, str]:
    """Does this kernel send a uevent when the VM generation id changes? Only the kernels in
    VMGENID_UEVENT_KERNELS do. release: as platform.release(); signature: as /proc/version_signature (read
    from the system when release is not given)."""
    if release is None:
        if hasattr(os, "uname"):
            release = os.uname().release   # what platform.release() returns on POSIX, without loading platform
        else:
            import platform

            release = platform.release()
        signature = _version_signature()
    version = _mainline_version(release, signature)
    shown = release if version == release else f"{release} (mainline {version})"
    key = _kernel_key(version)
    for first, end, why in VMGENID_UEVENT_KERNELS:
        if key is not None and first <= key < end:
            return True, f"Linux {shown} carries the vmgenid change uevent ({why})"
    return False, (f"Linux {shown} sends no uevent when the VM generation id changes "
                   "(only 6.8.0-6.8.7 and 6.9-rc1-rc4 did: ad6bcdad2b67, reverted by 3aadf100f93d in 6.9-rc5 "
                   "and 6.8.8)")


def _probe_windows() -> BackendInfo:
    if sys.platform != "win32":
        return BackendInfo("windows", False, "only on Windows (\\\\.\\VmGenerationCounter)")
    ok, why = _core.probe("windows")
    return BackendInfo("windows", ok, "\\\\.\\VmGenerationCounter" if ok else why)


# What each vmclock source means, for backends(), `vmgen doctor` and the docs (issue 18).
VMCLOCK_SOURCES = {
    "vm_generation_counter": "vm_generation_counter (the hypervisor's VM generation counter: changes on each "
                             "restore and clone)",
    "disruption_marker": "no generation counter on this hypervisor: using disruption_marker, which also changes "
                         "on live migration (a conservative restore signal: every restore and clone, plus "
                         "migrations)",
}


def vmclock_probe(path: str) -> Tuple[bool, str, Optional[str]]:
    """(usable, why not, source): can the vmclock backend open `path`, and which word of the page would it follow
    ("vm_generation_counter", or "disruption_marker" when the page lacks VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT)?
    The C core decides, as vmgen.open() would."""
    ok, why = _core.probe("vmclock", path)
    if not ok:
        return False, why, None
    try:
        c = _core.CounterBase(_core.BACKEND_IDS["vmclock"], path)
    except (OSError, VmgenError) as exc:   # gone or changed between the two opens: report what this one saw
        return False, str(exc), None
    try:
        return True, "", c.source
    finally:
        c._close()


def _probe_vmclock() -> BackendInfo:
    if _core.PLATFORM != "linux":
        return BackendInfo("vmclock", False, _ONLY_LINUX)
    if not os.path.exists(VMCLOCK_DEVICE):
        return BackendInfo("vmclock", False, f"no {VMCLOCK_DEVICE} (needs the vmclock driver, Linux 6.13+, "
                                             "and a hypervisor exposing VMClock)")
    ok, why, source = vmclock_probe(VMCLOCK_DEVICE)
    return BackendInfo("vmclock", ok, f"{VMCLOCK_DEVICE}: {VMCLOCK_SOURCES[source]}" if ok and source else why)


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
