"""Issue 18: a VMClock page without VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT (QEMU 11.1: flags 0,
vm_generation_counter 0, disruption_marker + 1 on every restore and live migration) is followed through
disruption_marker, a conservative restore signal. A page with the flag still follows vm_generation_counter.

Pages are files laid out by tests/support (independently of vmgen's C code) and changed under the seqlock
the way QEMU's post-load changes them. Every test that shows the marker being followed would fail if the
source were still vm_generation_counter (which these pages never move)."""
import asyncio
import json
import mmap
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from support.counter_pages import (GEN_PRESENT, NOTIFY_PRESENT, PAGE, linux_backends, make_page, restore_like_qemu,
                                   write_fields)

pytestmark = linux_backends

import vmgen
from vmgen import Generation, GenerationChanged, LayoutError, VmgenError
from vmgen.counter import _backends, _doctor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def qemu_page(path, **kw):
    """The page QEMU 11.1 presents before any snapshot (QEMU_RIG.md): flags 0, marker 1, generation 0."""
    kw.setdefault("flags", 0)
    kw.setdefault("marker", 1)
    kw.setdefault("seq", 2)
    return str(make_page(path, **kw))


@pytest.fixture
def page(tmp_path):
    p = qemu_page(tmp_path / "vmclock0")
    with open(p, "r+b") as f, mmap.mmap(f.fileno(), PAGE) as mm:
        yield p, mm


def py_env():
    e = dict(os.environ, PYTHONPATH=ROOT)
    e.pop("VMGEN_SIMULATE", None)
    return e


# ---- the page is accepted, and the marker is the source ----

def test_flags_zero_page_is_accepted_and_follows_disruption_marker(page):
    p, mm = page
    with vmgen.open("vmclock", path=p) as c:
        assert c.source == "disruption_marker"
        assert "disruption_marker" in c.describe() and "live migration" in c.describe()
        assert "re-read every 5 ms" in c.describe() and c._poll_interval() == 0.005
        assert c.read() == Generation(1, 0)            # count = disruption_marker
        t = c.token()
        assert not c.changed(t)
        restore_like_qemu(mm)
        assert c.changed(t)                            # vm_generation_counter did not move: the old source saw nothing
        assert c.read() == Generation(2, 0)
        assert not c.changed(c.token())


def test_vm_generation_counter_alone_does_not_move_a_marker_counter(page):
    """The other half of the control: in this mode vm_generation_counter is not the source."""
    p, mm = page
    with vmgen.open("vmclock", path=p) as c:
        t, g = c.token(), c.read()
        write_fields(mm, vm_generation_counter=9)     # flags still 0: the hypervisor does not maintain it
        assert not c.changed(t) and c.read() == g


def test_a_blocked_wait_wakes_on_a_restore(page):
    p, mm = page
    with vmgen.open("vmclock", path=p) as c:
        g = c.read()
        timer = threading.Timer(0.1, restore_like_qemu, (mm,))
        timer.start()
        try:
            assert c.wait(g, timeout=10) == Generation(2, 0)
        finally:
            timer.cancel()
        with pytest.raises(TimeoutError):
            c.wait(Generation(2, 0), timeout=0.05)


def test_wait_async_wakes_on_a_restore(page):
    p, mm = page

    async def main(c):
        g = c.read()
        asyncio.get_running_loop().call_later(0.1, restore_like_qemu, mm)
        return await c.wait_async(g, timeout=10)

    with vmgen.open("vmclock", path=p) as c:
        assert asyncio.run(main(c)) == Generation(2, 0)


def test_guard_raises_when_restored_inside_the_block(page):
    p, mm = page
    with vmgen.open("vmclock", path=p) as c:
        with c.guard():                                  # control: no restore, no exception
            pass
        with pytest.raises(GenerationChanged) as ei:
            with c.guard():
                restore_like_qemu(mm)
        assert (ei.value.before, ei.value.after) == (Generation(1), Generation(2))


def test_subscribers_hear_each_restore(page):
    p, mm = page
    got, ev = [], threading.Event()

    def cb(g):
        got.append(g)
        if len(got) == 2:
            ev.set()

    with vmgen.open("vmclock", path=p) as c:
        c.subscribe(cb)
        restore_like_qemu(mm)
        for _ in range(1000):                            # one delivery per observed change: let it see this one
            if got:
                break
            threading.Event().wait(0.01)
        restore_like_qemu(mm)
        assert ev.wait(10), got
    assert got == [Generation(2), Generation(3)]


def test_restore_hooks_run_on_a_marker_page(page):
    """vmgen.register_after_restore on the source vmgen.open() picks: here a QEMU-like page standing in for
    /dev/vmclock0 (a fresh interpreter, so this process's hook watcher stays out of it)."""
    p, mm = page
    code = """
        import sys, threading, vmgen
        from vmgen.counter import _backends
        _backends.VMCLOCK_DEVICE = sys.argv[1]             # the page file stands in for /dev/vmclock0
        ran = threading.Event()
        def hook():
            print("hook", vmgen.open().read(), flush=True)
            ran.set()
        vmgen.register_after_restore(hook)
        with vmgen.open() as c:
            print("armed", c.backend, c.source, flush=True)
        print("ran" if ran.wait(30) else "timeout", flush=True)
    """
    w = subprocess.Popen([sys.executable, "-u", "-c", textwrap.dedent(code), p], env=py_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert w.stdout.readline().split() == ["armed", "vmclock", "disruption_marker"]
        restore_like_qemu(mm)
        out, err = w.communicate(timeout=60)
    finally:
        w.kill()
    assert out.split("\n")[:2] == ["hook 2:0", "ran"], (out, err)
    assert "RuntimeWarning" not in err, err


# ---- a page with the flag: unchanged behaviour ----

def test_flagged_page_follows_vm_generation_counter_and_ignores_the_marker(tmp_path):
    p = qemu_page(tmp_path / "page", flags=GEN_PRESENT, gen=5)
    with vmgen.open("vmclock", path=p) as c, open(p, "r+b") as f, mmap.mmap(f.fileno(), PAGE) as mm:
        assert c.source == "vm_generation_counter" and "disruption_marker" not in c.describe()
        assert c.read() == Generation(5)
        t = c.token()
        restore_like_qemu(mm)                            # a live migration: the generation counter stays
        assert not c.changed(t) and c.read() == Generation(5)
        with pytest.raises(TimeoutError):
            c.wait(Generation(5), timeout=0.05)
        write_fields(mm, vm_generation_counter=6)
        assert c.changed(t) and c.read() == Generation(6)


def test_simulated_pages_still_need_the_flag_and_their_extension(tmp_path):
    """Only a hypervisor's page may lack the flag: a simulated counter's file (vmgen writes it, always with the
    flag) without it, or without VGSM, is not one of vmgen's pages."""
    p = str(tmp_path / "sim")
    vmgen.open("simulated", path=p).close()
    with open(p, "r+b") as f, mmap.mmap(f.fileno(), PAGE) as mm:
        write_fields(mm, flags=0)
    with pytest.raises(LayoutError, match="VM_GEN_COUNTER_PRESENT"):
        vmgen.open("simulated", path=p)
    with pytest.raises(LayoutError, match="VGSM"):
        vmgen.open("simulated", path=make_page(tmp_path / "plain"))
    assert vmgen.open("vmclock", path=p).source == "disruption_marker"   # as a hypervisor's page: accepted


# ---- the flags change after open (a migration to another hypervisor) ----

def test_gaining_the_flag_is_a_change_and_the_counter_then_follows_the_generation_counter(page):
    p, mm = page
    with vmgen.open("vmclock", path=p) as c:
        g, t = c.read(), c.token()
        with pytest.raises(GenerationChanged):
            with c.guard():
                write_fields(mm, flags=GEN_PRESENT, disruption_marker=2)   # migrated to a hypervisor with one
        assert c.changed(t)
        assert c.read() == Generation(0, 1)            # count = vm_generation_counter, count_high 1: flags moved
        assert c.wait(g, timeout=5) == Generation(0, 1)
        assert c.source == "vm_generation_counter"      # re-targeted by the exact reads above
        assert "has been set since open" in c.describe()
        t = c.token()
        restore_like_qemu(mm)                            # a live migration there: no longer a change
        assert not c.changed(t) and c.read() == Generation(0, 1)
        write_fields(mm, vm_generation_counter=1)      # a restore there
        assert c.changed(t) and c.read() == Generation(1, 1)


def test_losing_the_flag_is_a_change_and_the_counter_then_follows_the_marker(tmp_path):
    """The case a fixed hot word would get wrong: on a hypervisor that stopped maintaining vm_generation_counter,
    a restore moves only the marker. Before the re-targeting, changed(t) below stayed False."""
    p = qemu_page(tmp_path / "page", flags=GEN_PRESENT, gen=5)
    with vmgen.open("vmclock", path=p) as c, open(p, "r+b") as f, mmap.mmap(f.fileno(), PAGE) as mm:
        assert c.source == "vm_generation_counter"
        g = c.read()
        threading.Timer(0.1, write_fields, (mm,), dict(flags=0)).start()
        assert c.wait(g, timeout=10) == Generation(1, 1)   # the marker, count_high 1
        assert c.source == "disruption_marker" and "has been cleared since open" in c.describe()
        t = c.token()
        restore_like_qemu(mm)                           # a restore on the new hypervisor
        assert c.changed(t) and c.read() == Generation(2, 1)
        write_fields(mm, flags=GEN_PRESENT)             # and back: a change again, on vm_generation_counter
        assert c.read() == Generation(5, 0) and c.source == "vm_generation_counter"
        assert "since open" not in c.describe()


# ---- the hot word of a truncated page file ----

def test_truncated_marker_page_file_makes_changed_true(tmp_path):
    """The SIGBUS guard's sentinel page must set the marker too. Marker 0, so a sentinel that left it 0 would
    make changed(token) False (this failed before the guard set disruption_marker)."""
    p = qemu_page(tmp_path / "page", marker=0)
    code = """
        import os, sys, vmgen
        c = vmgen.open("vmclock", path=sys.argv[1])
        t = c.token()
        assert t == 0 and not c.changed(t)
        os.truncate(sys.argv[1], 0)
        print("changed", c.changed(t))
        try:
            c.read()
        except vmgen.VmgenError as e:
            print("read", "truncated" in str(e))
    """
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code), p], env=py_env(), capture_output=True,
                       text=True, timeout=60)
    assert (r.returncode, r.stdout.split()) == (0, ["changed", "True", "read", "True"]), r


# ---- backends(), open(), doctor, status: the same truth ----

def test_backends_and_open_pick_a_marker_page(page, monkeypatch):
    p, mm = page
    monkeypatch.setattr(_backends, "VMCLOCK_DEVICE", p)
    monkeypatch.delenv("VMGEN_SIMULATE", raising=False)
    info = {b.name: b for b in vmgen.backends()}["vmclock"]
    assert info.available
    assert "no generation counter on this hypervisor: using disruption_marker, which also changes on live " \
           "migration" in info.reason and p in info.reason
    with vmgen.open() as c:
        assert (c.backend, c.source, c.path) == ("vmclock", "disruption_marker", p)
    make_page(p, flags=GEN_PRESENT, gen=3)             # control: a page with the counter says so instead
    info = {b.name: b for b in vmgen.backends()}["vmclock"]
    assert info.available and "vm_generation_counter" in info.reason and "disruption_marker" not in info.reason


def test_doctor_reports_the_marker_source(tmp_path):
    (tmp_path / "dev").mkdir()
    qemu_page(tmp_path / "dev" / "vmclock0", marker=0x200)   # marker bit 9: doctor once read it as the flags
    r = _doctor.diagnose(root=str(tmp_path), release="7.2.13", system="linux", environ={})
    f = next(f for f in r.findings if f.name == "vmclock")
    assert r.ok and r.source == "vmclock" and f.usable
    assert "disruption_marker" in f.reason and "live migration" in f.reason and "disruption_marker" in r.why
    assert "no notifications: waits re-read the page every 5 ms" in f.reason
    assert "vm_generation_counter" in f.remedy
    cli = subprocess.run([sys.executable, "-m", "vmgen", "doctor", "--json", "--root", str(tmp_path)],
                         env=py_env(), capture_output=True, text=True, timeout=60)
    got = json.loads(cli.stdout)
    assert cli.returncode == 0 and got["source"] == "vmclock" and "disruption_marker" in got["why"]
    make_page(tmp_path / "dev" / "vmclock0", flags=GEN_PRESENT | NOTIFY_PRESENT)   # control
    f = next(f for f in _doctor.diagnose(root=str(tmp_path), release="7.2.13", system="linux",
                                         environ={}).findings if f.name == "vmclock")
    assert "vm_generation_counter" in f.reason and "disruption_marker" not in f.reason
    assert "notifies changes (poll)" in f.reason and f.remedy == ""


def test_status_and_watch_name_the_source(page):
    p, mm = page
    r = subprocess.run([sys.executable, "-m", "vmgen", "status", "--backend", "vmclock", "--path", p],
                       env=py_env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "backend: vmclock (" in r.stdout and "disruption_marker" in r.stdout, r
    assert "generation: 1:0" in r.stdout
    w = subprocess.Popen([sys.executable, "-u", "-m", "vmgen", "watch", "--backend", "vmclock", "--path", p],
                         env=py_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = w.stdout.readline()
        assert "watching vmclock" in first and "disruption_marker" in first and "generation 1:0" in first, first
        restore_like_qemu(mm)
        assert w.stdout.readline().rstrip().endswith("changed: 2:0")
    finally:
        w.kill()
        w.communicate(timeout=30)
