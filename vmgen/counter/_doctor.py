"""``vmgen doctor``'s findings: which generation source this machine would use, why each other one is not
usable, and what would make it usable.

Every path is under ``root`` (default "/"), and the kernel release and OS can be given, so the tests run
the same code on faked sysfs/dev/proc trees. Devices are opened through the C core's probe, as
``vmgen.open()`` would open them.
"""
from __future__ import annotations

import gzip
import os
import platform
import re
import sys
from typing import Dict, List, NamedTuple, Optional, Tuple

from . import _core
from ._backends import VMCLOCK_SOURCES, vmclock_probe

VMCLOCK_IDS = ("AMZNC10C", "VMCLOCK")                          # ACPI ids ptp_vmclock binds to
VMGENID_IDS = ("VMGENCTR", "VM_GEN_COUNTER", "QEMUVGID")      # ACPI HID/CIDs of a VM generation ID device
UDEV_RULE = ('KERNEL=="vmclock[0-9]*", GROUP="vmclock", MODE="0640"')
FORK_RESEED_LINE = "crng reseeded due to virtual machine fork"


class Finding(NamedTuple):
    name: str            # windows, vmclock, vmgenid, simulated
    usable: bool         # vmgen.open() could pick it (simulated: only on request)
    reason: str
    remedy: str          # "" when there is nothing to do (or nothing that can be done here)


class Report(NamedTuple):
    source: Optional[str]     # what vmgen.open() would use, None if it raises DeviceNotFound
    why: str
    findings: List[Finding]
    kernel_rng: str           # does the kernel reseed its RNG on a restore, and how we know
    hooks: str                # what that means for after-restore hooks

    @property
    def ok(self) -> bool:
        return self.source is not None


def _version(release: str) -> Tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _read(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as f:
            return f.read(65536).decode("utf-8", "replace")
    except OSError:
        return None


class _Machine:
    def __init__(self, root: str, release: str) -> None:
        self.root = root
        self.release = release

    def p(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def platform_devices(self, ids: Tuple[str, ...], of_compatible: str) -> List[Tuple[str, str]]:
        """(name, sysfs dir) of platform devices whose ACPI modalias or devicetree compatible matches."""
        base = self.p("sys", "bus", "platform", "devices")
        try:
            names = sorted(os.listdir(base))
        except OSError:
            return []
        found = []
        for name in names:
            d = os.path.join(base, name)
            alias = (_read(os.path.join(d, "modalias")) or "").strip()
            tokens = alias.split(":")[1:] if alias.startswith("acpi:") else []
            compat = _read(os.path.join(d, "of_node", "compatible")) or ""
            if any(t.upper() in ids for t in tokens) or of_compatible in compat.split("\0"):
                found.append((name, d))
        return found

    @staticmethod
    def driver(devdir: str) -> Optional[str]:
        link = os.path.join(devdir, "driver")
        return os.path.basename(os.path.realpath(link)) if os.path.islink(link) else None

    def kernel_config(self) -> Optional[Dict[str, str]]:
        """CONFIG_* -> "y"/"m"/"n" from /proc/config.gz or /boot/config-RELEASE; None if neither is readable."""
        text = None
        try:
            with gzip.open(self.p("proc", "config.gz"), "rt", errors="replace") as f:
                text = f.read()
        except OSError:
            text = _read(self.p("boot", f"config-{self.release}"))
        if text is None:
            return None
        cfg: Dict[str, str] = {}
        for line in text.splitlines():
            m = re.match(r"(CONFIG_\w+)=(\S+)", line) or re.match(r"# (CONFIG_\w+) is not set", line)
            if m:
                cfg[m.group(1)] = m.group(2) if m.lastindex == 2 else "n"
        return cfg

    def fork_reseeds_logged(self) -> Optional[int]:
        """How many times the kernel log says the RNG was reseeded for a VM fork; None if unreadable."""
        try:
            fd = os.open(self.p("dev", "kmsg"), os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            return None
        count, chunks = 0, 0
        try:
            while chunks < 100000:   # /dev/kmsg gives one record per read; a file gives chunks
                try:
                    data = os.read(fd, 8192)
                except BlockingIOError:
                    break
                except BrokenPipeError:   # records overwritten while reading: go on from the next one
                    continue
                except OSError:
                    return None
                if not data:
                    break
                chunks += 1
                count += data.count(FORK_RESEED_LINE.encode())
        finally:
            os.close(fd)
        return count


def _config_says(cfg: Optional[Dict[str, str]], key: str) -> str:
    if cfg is None:
        return "unknown"
    return cfg.get(key, "n")


def _vmclock(m: _Machine) -> Finding:
    dev = m.p("dev", "vmclock0")
    if os.path.exists(dev):
        if not os.access(dev, os.R_OK):
            st = os.stat(dev)
            return Finding("vmclock", False, f"{dev} exists but this user cannot read it (owner {st.st_uid}:"
                           f"{st.st_gid}, mode {st.st_mode & 0o777:o})",
                           f"give a group read access with a udev rule, e.g. /etc/udev/rules.d/70-vmclock.rules: "
                           f"{UDEV_RULE}; then `groupadd -r vmclock; usermod -aG vmclock USER; udevadm control "
                           f"--reload; udevadm trigger` (or run as root)")
        ok, why, source = vmclock_probe(dev)
        if ok:
            flags = _vmclock_flags(dev)
            how = ("the hypervisor notifies changes (poll)" if flags is not None and flags & (1 << 9)
                   else "no notifications: waits re-read the page every 5 ms")
            if source == "disruption_marker":   # issue 18: usable, conservatively
                return Finding("vmclock", True, f"{dev}: {VMCLOCK_SOURCES[source]}; {how}",
                               "optional: a hypervisor that fills VMClock's vm_generation_counter (Firecracker "
                               "1.15 and later) stops live migrations from counting as restores")
            return Finding("vmclock", True, f"{dev}: VM generation counter present (vm_generation_counter); {how}",
                           "")
        if "ermission" in why:
            return Finding("vmclock", False, why, f"a udev rule giving a group read access: {UDEV_RULE}")
        return Finding("vmclock", False, why, "see the kernel log (dmesg | grep -i vmclock)")
    devices = m.platform_devices(VMCLOCK_IDS, "amazon,vmclock")
    if not devices:
        return Finding("vmclock", False, f"no {dev} and no VMClock device in {m.p('sys')}: the hypervisor "
                       "exposes none",
                       "a hypervisor that exposes VMClock (QEMU's `-device vmclock`: disruption_marker only; "
                       "Firecracker 1.15 and later: with its VM generation counter)")
    name, d = devices[0]
    drv = m.driver(d)
    if drv is not None:
        return Finding("vmclock", False, f"VMClock device {name} is bound to driver {drv!r} but there is no "
                       f"{dev}: the driver makes one only when the VMClock region is at least a page",
                       "a hypervisor whose VMClock region is a whole page (then the driver creates /dev/vmclock0)")
    rel, ver = m.release, _version(m.release)
    cfg = _config_says(m.kernel_config(), "CONFIG_PTP_1588_CLOCK_VMCLOCK")
    needs = ("a kernel with the ptp_vmclock driver: Linux 6.13 or later built with "
             "CONFIG_PTP_1588_CLOCK_VMCLOCK=y (or =m), and Linux 7.0 or later (or an Amazon Linux microvm "
             "kernel) for the generation counter and its notifications")
    if cfg == "m":
        return Finding("vmclock", False, f"VMClock device {name} is present and ptp_vmclock is built as a module "
                       f"for Linux {rel}, but it is not loaded", "modprobe ptp_vmclock")
    if ver < (6, 13):
        why = f"Linux {rel} predates the ptp_vmclock driver (6.13)"
    elif cfg == "n":
        why = f"Linux {rel} was built without it (CONFIG_PTP_1588_CLOCK_VMCLOCK is not set)"
    elif cfg == "unknown":
        why = f"no driver is bound to it on Linux {rel} (kernel config unreadable: no /proc/config.gz or /boot/config-{rel})"
    else:
        why = f"no driver is bound to it although CONFIG_PTP_1588_CLOCK_VMCLOCK={cfg} (see dmesg | grep -i vmclock)"
    return Finding("vmclock", False, f"ACPI VMClock device {name} is present but this kernel has no ptp_vmclock "
                   f"driver for it: {why}", needs)


def _vmclock_flags(dev: str) -> Optional[int]:
    """The page's flags word (offset 24; 16 is disruption_marker), as the driver's read() returns it."""
    try:
        with open(dev, "rb") as f:
            head = f.read(32)
        return int.from_bytes(head[24:32], "little") if len(head) == 32 else None
    except OSError:
        return None


def _vmgenid(m: _Machine) -> Tuple[Finding, Optional[str]]:
    """The finding, and the name of a device bound to the vmgenid driver (the kernel RNG's reseed source)."""
    devices = m.platform_devices(VMGENID_IDS, "microsoft,vmgenid")
    bound = [(n, d) for n, d in devices if m.driver(d) == "vmgenid"]
    if bound:
        name, d = bound[0]
        ver = _version(m.release)
        if ver != (6, 8):
            return Finding("vmgenid", False, f"device {name} is bound to the vmgenid driver, but Linux {m.release} "
                           "sends no uevent when the VM generation id changes (only 6.8 did: ad6bcdad2b67, "
                           "reverted by 3aadf100f93d), so user space cannot see its changes",
                           "nothing to turn on for this device on this kernel: use vmclock (above)"), name
        devpath = os.path.realpath(d)
        sysroot = os.path.realpath(m.p("sys"))
        devpath = devpath[len(sysroot):] if devpath.startswith(sysroot) else devpath
        ok, why = _core.probe("vmgenid", devpath)
        if ok:
            return Finding("vmgenid", True, f"{devpath}: Linux {m.release} sends a change uevent", ""), name
        return Finding("vmgenid", False, why, "see the kernel log (dmesg | grep -i vmgenid)"), name
    if devices:
        name = devices[0][0]
        cfg = _config_says(m.kernel_config(), "CONFIG_VMGENID")
        return Finding("vmgenid", False, f"VM generation ID device {name} is present but not bound to the vmgenid "
                       f"driver (CONFIG_VMGENID={cfg})",
                       "a kernel built with CONFIG_VMGENID=y (Linux 5.18 or later); it only reseeds the kernel "
                       "RNG, user space sees changes only on Linux 6.8"), None
    return Finding("vmgenid", False, "no VM generation ID device: the hypervisor exposes none",
                   "turn on vmgenid in the hypervisor (QEMU: `-device vmgenid,guid=auto`; Hyper-V and Firecracker "
                   "expose one); on Linux it reseeds the kernel RNG, user space sees changes only on 6.8"), None


def _windows(system: str) -> Finding:
    if system != "win32":
        return Finding("windows", False, "only on Windows (\\\\.\\VmGenerationCounter)", "")
    ok, why = _core.probe("windows")
    if ok:
        return Finding("windows", True, "\\\\.\\VmGenerationCounter", "")
    if "administrator" in why.lower() or "denied" in why.lower():
        return Finding("windows", False, why, "run as Administrator: the device admits administrators only")
    return Finding("windows", False, why, "run inside a Hyper-V (or compatible) VM whose generation ID device is "
                   "on (Hyper-V: always; QEMU: `-device vmgenid`)")


def diagnose(root: str = "/", release: Optional[str] = None, system: Optional[str] = None,
             environ: Optional[Dict[str, str]] = None) -> Report:
    env = os.environ if environ is None else environ
    system = sys.platform if system is None else system
    m = _Machine(root, platform.release() if release is None else release)
    findings = [_windows(system)]
    fork_dev: Optional[str] = None
    if system.startswith("linux") and _core.PLATFORM == "linux":
        vmgenid, fork_dev = _vmgenid(m)
        findings += [_vmclock(m), vmgenid]
    elif system != "win32":
        only = (f"only in the Linux build (this build's counter is {_core.PLATFORM!r})" if system.startswith("linux")
                else f"only on Linux (this is {system})")
        findings += [Finding("vmclock", False, only, ""), Finding("vmgenid", False, only, "")]
    else:
        findings += [Finding("vmclock", False, "only on Linux", ""), Finding("vmgenid", False, "only on Linux", "")]
    sim = env.get("VMGEN_SIMULATE")
    findings.append(Finding("simulated", True, f"VMGEN_SIMULATE={sim}: vmgen.open() uses this file" if sim else
                            "always available; only on request (vmgen.open('simulated') or VMGEN_SIMULATE=FILE)",
                            ""))
    if sim:
        source, why = "simulated", f"VMGEN_SIMULATE={sim} (sees only simulated restores: `vmgen simulate advance`)"
    else:
        usable = [f for f in findings if f.usable and f.name != "simulated"]
        source, why = (usable[0].name, usable[0].reason) if usable else (None, "no source here can see a restore")
    kernel_rng = _kernel_rng(m, system, fork_dev)
    hooks = ("after-restore hooks run on each restore this source sees" if source else
             "after-restore hooks can be registered but never run here (vmgen warns once when the first is)")
    return Report(source, why, findings, kernel_rng, hooks)


def _kernel_rng(m: _Machine, system: str, fork_dev: Optional[str]) -> str:
    if system == "win32":
        return "Windows' kernel RNG: vmgen cannot tell when it reseeds after a restore"
    if not system.startswith("linux"):
        return f"{system}: no VM generation device"
    if fork_dev is None:
        return ("not reseeded on restore: no device is bound to the vmgenid driver (ptp_vmclock does not reseed "
                "the RNG); give the VM a vmgenid device and CONFIG_VMGENID")
    n = m.fork_reseeds_logged()
    seen = ("kernel log unreadable (needs root or kernel.dmesg_restrict=0)" if n is None else
            f"kernel log: {n} \"{FORK_RESEED_LINE}\"")
    return f"reseeded on each VM generation change: {fork_dev} is bound to vmgenid (add_vmfork_randomness); {seen}"
