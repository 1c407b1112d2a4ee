"""The vmgenid backend: the device found in sysfs, the kernel policy, and REAL uevents sent by the
kernel when root writes "change" to the device's uevent file."""
import asyncio
import os
import threading
import time
import warnings

import pytest

import vmgen
from vmgen import Generation
from vmgen.counter._backends import vmgenid_devpath, vmgenid_kernel_notifies

from support.counter_pages import linux_backends

pytestmark = linux_backends

DEVPATH = vmgenid_devpath()
needs_device = pytest.mark.skipif(DEVPATH is None, reason="no device bound to the vmgenid driver (not a VM with vmgenid)")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="writing the sysfs uevent file needs root")


def kick(action="change"):
    with open(f"/sys{DEVPATH}/uevent", "w") as f:
        f.write(action)


def open_vmgenid():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return vmgen.open("vmgenid")


@pytest.mark.parametrize("release,notifies", [("6.8.0-31-generic", True), ("6.8.7", True), ("6.8.0-rc1", True),
                                              ("6.8.8", False), ("6.8.12", False), ("6.7.9", False),
                                              ("6.9.0-rc4", True), ("6.9.0-rc5", False), ("6.9.0", False),
                                              ("6.18.44-fc-v669", False), ("5.10.1", False), ("weird", False)])
def test_kernel_policy(release, notifies):
    """6.8.8 carries the revert (stable review 6.8.8-rc1, patch 003/158; the 6.8.8 shortlog).
    Failed before for 6.8.8 and 6.8.12 (every 6.8.y counted) and 6.9-rc4."""
    assert vmgenid_kernel_notifies(release)[0] is notifies


@pytest.mark.parametrize("signature,notifies", [("Ubuntu 6.8.0-31.31-generic 6.8.1", True),
                                                ("Ubuntu 6.8.0-45.45-generic 6.8.12", False),
                                                ("Ubuntu 6.8.0-45.45-generic 5.4.8", True),   # not this kernel's
                                                ("", True)])
def test_kernel_policy_reads_ubuntus_mainline_version(signature, notifies):
    """Ubuntu keeps "6.8.0-NN" while it takes in stable updates; /proc/version_signature names the mainline
    version last (https://ubuntu.com/kernel)."""
    notifies_, why = vmgenid_kernel_notifies("6.8.0-45-generic", signature)
    assert notifies_ is notifies, why


@needs_device
def test_backends_reports_present_but_unable_and_open_skips_it():
    info = {i.name: i for i in vmgen.backends()}["vmgenid"]
    notifies, _ = vmgenid_kernel_notifies()
    assert info.available is notifies
    assert DEVPATH in info.reason
    if not notifies:
        assert "sends no uevent" in info.reason
        env = os.environ.pop("VMGEN_SIMULATE", None)
        try:
            try:
                c = vmgen.open()
            except vmgen.DeviceNotFound as exc:
                assert "vmgenid" in str(exc)
            else:
                assert c.backend != "vmgenid"
                c.close()
        finally:
            if env is not None:
                os.environ["VMGEN_SIMULATE"] = env


@needs_device
def test_explicit_open_warns_on_kernels_without_the_uevent():
    notifies, _ = vmgenid_kernel_notifies()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        c = vmgen.open("vmgenid")
    assert c.backend == "vmgenid" and c.path == DEVPATH
    assert any(issubclass(x.category, RuntimeWarning) and "synthetic" in str(x.message) for x in w) is (not notifies)
    assert c.read() == Generation(0, 0)   # count = changes this process has seen
    c.close()


def test_bad_devpath():
    with pytest.raises(ValueError, match="DEVPATH"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vmgen.open("vmgenid", path="relative/path")


@needs_device
@needs_root
def test_real_uevent_counts_as_a_change():
    c = open_vmgenid()
    t = c.token()
    g = c.read()
    threading.Timer(0.05, kick).start()
    assert c.wait(g, timeout=5) == Generation(1, 0)
    assert c.changed(t)                      # the listener thread moved the hot word, no Python involved
    kick("online")                           # not a change event: ignored
    with pytest.raises(TimeoutError):
        c.wait(Generation(1), timeout=0.3)
    kick("change 11111111-2222-3333-4444-555555555555 VMGENID=1")  # adds SYNTH_UUID, SYNTH_ARG_VMGENID
    assert c.wait(Generation(1), timeout=5) == Generation(2)
    c.close()


@needs_device
@needs_root
def test_real_uevent_wakes_async_waiters():
    async def main():
        c = open_vmgenid()
        t = asyncio.create_task(c.wait_async(c.read(), timeout=5))
        await asyncio.sleep(0.05)
        kick()
        assert await t == Generation(1)
        c.close()

    asyncio.run(main())


@needs_device
@needs_root
def test_counters_count_independently():
    a = open_vmgenid()
    kick()
    b = open_vmgenid()
    a.wait(Generation(0), timeout=5)
    kick()
    assert b.wait(Generation(0), timeout=5) == Generation(1)
    assert a.wait(Generation(1), timeout=5) == Generation(2)
    a.close(), b.close()
