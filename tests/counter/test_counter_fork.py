"""fork() and several event loops on one counter (issue 13).

A forked child's counter must work and must never disturb the parent's (csrc/counter/vg_fork.h: the child's
first use rebuilds its own fds and listener thread, the parent's are closed unsignalled); every event loop
waiting on a counter must wake (one fd per loop, vg_listen). The vmgenid cases use the real VMGENCTR:00
device: root writes "change" to its uevent file and the kernel sends the uevent.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

import vmgen
from vmgen.counter import _core
from vmgen.counter._backends import vmgenid_devpath

from support.counter_pages import fd_count, posix_only, task_count

pytestmark = posix_only("fork() and add_reader; Windows has neither")

ROOT = Path(__file__).resolve().parents[2]
DEVPATH = vmgenid_devpath() if _core.PLATFORM == "linux" else None
VMGENID_SKIP = ("vmclock and vmgenid are Linux backends; this build's counter is "
                f"{_core.PLATFORM!r} (simulated only)" if _core.PLATFORM != "linux" else
                "no device bound to the vmgenid driver" if DEVPATH is None else
                "writing the sysfs uevent file needs root" if os.geteuid() != 0 else None)
BACKENDS = ["inproc", "file", pytest.param("vmgenid", marks=pytest.mark.skipif(VMGENID_SKIP is not None,
                                                                                 reason=VMGENID_SKIP or ""))]


def open_counter(backend: str, tmp_path: Path) -> vmgen.Counter:
    if backend == "inproc":
        return vmgen.open("simulated")
    if backend == "file":
        return vmgen.open("simulated", path=str(tmp_path / "gen"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return vmgen.open("vmgenid")


def change(c: vmgen.Counter, backend: str) -> None:
    if backend == "vmgenid":
        with open(f"/sys{DEVPATH}/uevent", "w") as f:
            f.write("change")
    else:
        c.advance()


# ---------- a child's life never reaches the parent; the child's copy works ----------

@pytest.mark.parametrize("end", ["sys.exit", "close", "os._exit"])
@pytest.mark.parametrize("how", ["os.fork", "mp-fork"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_child_works_and_parent_is_unaffected(backend, how, end, tmp_path):
    _run_fork_child(backend, how, end, tmp_path)


@pytest.mark.parametrize("end", ["sys.exit", "close", "os._exit"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_an_idle_childs_end_never_reaches_the_parent(backend, end, tmp_path):
    """The child only ends (its copy freed by finalisation or close(), never used): before issue 13 a
    vmgenid child's free signalled the parent's stop eventfd and the parent's listener thread ended."""
    _run_fork_child(backend, "os.fork", end, tmp_path, "idle")


def _run_fork_child(backend, how, end, tmp_path, *extra):
    path = str(tmp_path / "gen") if backend == "file" else "-"
    tree = Path(vmgen.__file__).resolve().parents[1]   # the vmgen under test (this tree, or another build)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tree), str(ROOT / "tests")]))
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "support" / "fork_child.py"), backend, path, how, end,
                        *extra],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert ("child ok" in r.stdout or extra) and "parent ok" in r.stdout, r.stdout


def _loop_thread():
    loop = asyncio.new_event_loop()
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    return loop, t


def _stop_loop(loop, t):
    loop.call_soon_threadsafe(loop.stop)
    t.join(10)
    loop.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_child_waiting_async_cannot_steal_the_parents_wakeup(backend, tmp_path):
    """The parent's loop is busy when the change comes; a forked child is waiting with its own loop at that
    moment. Before issue 13 both watched one inherited eventfd/inotify fd and the child drained it."""
    c = open_counter(backend, tmp_path)
    loop, lt = _loop_thread()
    try:
        g = c.read()
        fut = asyncio.run_coroutine_threadsafe(c.wait_async(g, timeout=20), loop)
        time.sleep(0.1)                                                # the parent's watcher is registered
        loop.call_soon_threadsafe(time.sleep, 1.0)                     # ... and its loop busy for a second
        time.sleep(0.05)
        pid = os.fork()
        if pid == 0:
            try:
                async def child():
                    try:
                        await c.wait_async(g, timeout=0.6)             # reads whatever its fd delivers
                    except TimeoutError:
                        pass
                asyncio.run(child())
            finally:
                os._exit(0)
        time.sleep(0.2)                                                # the child's loop is waiting
        change(c, backend)
        os.waitpid(pid, 0)
        assert fut.result(timeout=10) != g
    finally:
        _stop_loop(loop, lt)
        c.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_fork_cycles_leak_nothing(backend, tmp_path):
    """300 open/fork/close cycles (the child adopts its copy, hears its own change and exits): the parent ends
    with the fds and threads it started with. scripts/bench-fork-cycles runs 10,000 and reports RSS."""
    if backend == "vmgenid":
        cycles = 100           # each child starts a listener thread and a netlink socket
    else:
        cycles = 300
    fds, tasks = fd_count(), task_count()
    for i in range(cycles):
        c = open_counter(backend, tmp_path)
        g = c.read()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                c.token()                                              # adopts: the child's own fds/thread
                if backend != "vmgenid":
                    c.advance()
                    code = 0 if c.read() != g else 2
                else:
                    code = 0
                c.close()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, i
        c.close()
    assert fd_count() == fds
    assert task_count() == tasks


# ---------- every event loop wakes ----------

@pytest.mark.parametrize("backend", BACKENDS)
def test_two_loops_one_busy_both_wake(backend, tmp_path):
    """Two event loops in two threads wait on one counter; loop A is busy (a blocking callback) at the moment
    of the change. Both must see it, 100 times out of 100."""
    c = open_counter(backend, tmp_path)
    (la, ta), (lb, tb) = _loop_thread(), _loop_thread()
    try:
        missed = []
        for trial in range(100):
            g = c.read()
            fa = asyncio.run_coroutine_threadsafe(c.wait_async(g, timeout=3), la)
            fb = asyncio.run_coroutine_threadsafe(c.wait_async(g, timeout=3), lb)
            deadline = time.monotonic() + 5
            while not (la in c._watchers and lb in c._watchers) and time.monotonic() < deadline:
                time.sleep(0.001)                                      # both waits registered
            busy = threading.Event()
            la.call_soon_threadsafe(lambda: (busy.set(), time.sleep(0.03)))
            assert busy.wait(5)
            change(c, backend)                                         # A is asleep in its callback
            for name, f in (("A", fa), ("B", fb)):
                try:
                    assert f.result(timeout=10) != g
                except (TimeoutError, asyncio.TimeoutError, Exception) as e:   # noqa: B014 (report, go on)
                    missed.append((trial, name, repr(e)))
            if len(missed) >= 3:
                break
        assert not missed, missed[:5]
    finally:
        _stop_loop(la, ta)
        _stop_loop(lb, tb)
        c.close()
