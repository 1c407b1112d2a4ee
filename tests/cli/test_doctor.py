"""`vmgen doctor`: on this machine, and on faked /sys, /dev and /proc trees (--root, a hidden test option)."""
import gzip
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

import vmgen
from vmgen.counter import _core, _doctor

from support.counter_pages import make_page

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux") or _core.PLATFORM != "linux",
                                reason="the faked trees are Linux sysfs")


def doctor(*args, env=None, **kw):
    e = dict(os.environ, PYTHONPATH=ROOT)
    e.pop("VMGEN_SIMULATE", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "vmgen", "doctor", *args], env=e, capture_output=True, text=True,
                          timeout=60, **kw)


def test_this_machine_agrees_with_backends():
    r = doctor("--json")
    report = json.loads(r.stdout)
    real = [b for b in vmgen.backends() if b.available and b.name != "simulated"]
    assert report["ok"] == bool(real) and r.returncode == (0 if real else 1)
    assert report["source"] == (real[0].name if real else None)
    by_name = {b["name"]: b for b in report["backends"]}
    assert list(by_name) == ["windows", "vmclock", "vmgenid", "simulated"]
    for b in report["backends"]:
        assert b["usable"] or b["name"] == "simulated" or b["reason"]
        if not b["usable"] and sys.platform.startswith("linux") and b["name"] in ("vmclock", "vmgenid"):
            assert b["remedy"], b                           # every refusal on Linux says what to change
    if os.path.isdir("/sys/devices/platform/AMZNC10C:00") and not os.path.exists("/dev/vmclock0"):
        assert "AMZNC10C:00" in by_name["vmclock"]["reason"]  # this machine: ACPI VMClock, no driver
    text = doctor()
    assert text.returncode == r.returncode and "remedy:" in text.stdout and "Traceback" not in text.stderr


def test_simulate_counts_as_the_source_open_would_use(tmp_path):
    r = doctor("--json", env={"VMGEN_SIMULATE": str(tmp_path / "sim")})
    assert r.returncode == 0 and json.loads(r.stdout)["source"] == "simulated"


class Tree:
    """A faked machine: root/sys/bus/platform/devices/<dev>/..., root/dev, root/proc/config.gz."""

    def __init__(self, root):
        self.root = root
        (root / "sys" / "bus" / "platform" / "devices").mkdir(parents=True)
        (root / "dev").mkdir()
        (root / "proc").mkdir()

    def device(self, name, modalias, driver=None):
        d = self.root / "sys" / "devices" / "platform" / name
        d.mkdir(parents=True)
        (d / "modalias").write_text(modalias + "\n")
        if driver:
            drv = self.root / "sys" / "bus" / "platform" / "drivers" / driver
            drv.mkdir(parents=True, exist_ok=True)
            (d / "driver").symlink_to(drv)
        (self.root / "sys" / "bus" / "platform" / "devices" / name).symlink_to(d)
        return d

    def config(self, text):
        with gzip.open(self.root / "proc" / "config.gz", "wt") as f:
            f.write(text)

    def diagnose(self, release="6.18.1"):
        return _doctor.diagnose(root=str(self.root), release=release, system="linux", environ={})


def finding(report, name):
    return next(f for f in report.findings if f.name == name)


@linux_only
def test_acpi_vmclock_without_a_driver(tmp_path):
    t = Tree(tmp_path)
    t.device("AMZNC10C:00", "acpi:AMZNC10C:VMCLOCK:")
    t.config("CONFIG_VMGENID=y\n# CONFIG_PTP_1588_CLOCK_VMCLOCK is not set\n")
    r = t.diagnose()
    f = finding(r, "vmclock")
    assert not r.ok and not f.usable
    assert "AMZNC10C:00" in f.reason and "CONFIG_PTP_1588_CLOCK_VMCLOCK is not set" in f.reason
    assert "CONFIG_PTP_1588_CLOCK_VMCLOCK=y" in f.remedy and "6.13" in f.remedy
    t.config("CONFIG_PTP_1588_CLOCK_VMCLOCK=m\n")
    assert finding(t.diagnose(), "vmclock").remedy == "modprobe ptp_vmclock"
    t.config("# CONFIG_PTP_1588_CLOCK_VMCLOCK is not set\n")
    assert "predates the ptp_vmclock driver" in finding(t.diagnose(release="6.6.30"), "vmclock").reason
    os.unlink(tmp_path / "proc" / "config.gz")
    assert "kernel config unreadable" in finding(t.diagnose(), "vmclock").reason


@linux_only
def test_devicetree_vmclock_is_recognised_and_a_bound_driver_without_a_node_is_explained(tmp_path):
    t = Tree(tmp_path)
    d = t.device("vmclock@0", "of:NvmclockT(null)Camazon,vmclock", driver="vmclock")
    (d / "of_node").mkdir()
    (d / "of_node" / "compatible").write_bytes(b"amazon,vmclock\0")
    f = finding(t.diagnose(), "vmclock")
    assert "bound to driver 'vmclock'" in f.reason and "at least a page" in f.reason


@linux_only
def test_usable_vmclock_page_makes_doctor_exit_0(tmp_path):
    t = Tree(tmp_path)
    make_page(str(tmp_path / "dev" / "vmclock0"), gen=5)
    r = t.diagnose()
    assert r.ok and r.source == "vmclock" and "re-read the page every 5 ms" in r.why
    cli = doctor("--json", "--root", str(tmp_path), "--release", "7.0.0")
    assert cli.returncode == 0 and json.loads(cli.stdout)["source"] == "vmclock"


@linux_only
def test_vmclock_page_without_a_generation_counter_uses_disruption_marker(tmp_path):
    """Issue 18: QEMU's page (flags 0) is usable through disruption_marker, and doctor says what that costs and
    which hypervisor feature would make it exact. (Before: not usable, exit 1.)"""
    t = Tree(tmp_path)
    make_page(str(tmp_path / "dev" / "vmclock0"), flags=0)
    r = t.diagnose()
    f = finding(r, "vmclock")
    assert f.usable and r.source == "vmclock" and "disruption_marker" in f.reason and "live migration" in f.reason
    assert "Firecracker 1.15" in f.remedy
    cli = doctor("--root", str(tmp_path))
    assert cli.returncode == 0 and "disruption_marker" in cli.stdout.splitlines()[0]


@linux_only
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to become another user")
def test_unreadable_device_gets_the_udev_rule():
    root = tempfile.mkdtemp(prefix="vmgen-doctor-")     # not under pytest's 0700 tmp dir: nobody must get in
    try:
        os.chmod(root, 0o755)
        t = Tree(pathlib.Path(root))
        make_page(os.path.join(root, "dev", "vmclock0"))
        os.chmod(os.path.join(root, "dev", "vmclock0"), 0o600)
        assert t.diagnose().source == "vmclock"        # control: root reads it
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                                    # the same diagnosis as user nobody
            try:
                os.setgid(65534)
                os.setuid(65534)
                f = finding(t.diagnose(), "vmclock")
                os.write(w, json.dumps(f._asdict()).encode())
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            got = json.loads(f.read())
        os.waitpid(pid, 0)
        assert not got["usable"] and "cannot read" in got["reason"]
        assert 'KERNEL=="vmclock[0-9]*"' in got["remedy"] and "GROUP=" in got["remedy"]
    finally:
        shutil.rmtree(root)


@linux_only
def test_vmgenid_bound_but_silent_and_kernel_rng_reseeds(tmp_path):
    t = Tree(tmp_path)
    t.device("VMGENCTR:00", "acpi:VMGENCTR:VM_GEN_COUNTER:", driver="vmgenid")
    (tmp_path / "dev" / "kmsg").write_text("6,1,1,-;random: crng reseeded due to virtual machine fork\n" * 2)
    r = t.diagnose()
    f = finding(r, "vmgenid")
    assert not f.usable and "sends no uevent" in f.reason
    assert "bound to vmgenid" in r.kernel_rng and 'kernel log: 2 "crng reseeded' in r.kernel_rng
    assert finding(t.diagnose(release="6.8.0"), "vmgenid").usable   # the one kernel that sent the uevent


@linux_only
def test_unbound_vmgenid_and_an_empty_machine(tmp_path):
    t = Tree(tmp_path)
    r = t.diagnose()
    assert not r.ok and r.source is None
    assert "Firecracker 1.15" in finding(r, "vmclock").remedy
    assert "-device vmgenid" in finding(r, "vmgenid").remedy
    assert "not reseeded on restore" in r.kernel_rng and "never run" in r.hooks
    t.device("QEMUVGID:00", "acpi:QEMUVGID:VM_GEN_COUNTER:")
    t.config("# CONFIG_VMGENID is not set\n")
    f = finding(t.diagnose(), "vmgenid")
    assert "not bound" in f.reason and "CONFIG_VMGENID=n" in f.reason and "CONFIG_VMGENID=y" in f.remedy


def test_windows_finding_off_windows():
    r = _doctor.diagnose(system="darwin", environ={})
    assert [f.name for f in r.findings] == ["windows", "vmclock", "vmgenid", "simulated"]
    assert not r.ok and all(not f.usable for f in r.findings[:3])
