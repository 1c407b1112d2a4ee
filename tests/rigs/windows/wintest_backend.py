"""The windows backend against vmgentest.sys: runs INSIDE the Windows CPython under Wine (scripts/wine-rig test).

Every test ends by checking, through the driver's own statistics, that no event-driven read is left pending
beyond the background watcher of each counter still open, and no handle to the device is left open.
"""
import asyncio
import gc
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

import vmgen
from vmgen import CounterClosed, DeviceNotFound, Generation, GenerationChanged, NotSupported

pytestmark = pytest.mark.skipif(sys.platform != "win32", reason="runs inside the Windows CPython (scripts/wine-rig)")

if sys.platform == "win32":
    import winctl

HERE = os.path.dirname(os.path.abspath(__file__))


def until(pred, timeout=5.0, step=0.002):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


@pytest.fixture
def drv():
    """The driver, reset: no switches, a fresh random generation. Afterwards: nothing pending, nothing open."""
    winctl.set_flags(0)
    winctl.set_generation(random.getrandbits(63) | 1, random.getrandbits(16))
    yield winctl
    winctl.set_flags(0)
    assert until(lambda: winctl.stats()["pending"] == 0 and winctl.stats()["opens"] == 0, 30), winctl.stats()


def bump(drv, delta=1):
    s = drv.stats()
    g = Generation(s["count"] + delta, s["count_high"])
    drv.set_generation(g.count, g.count_high)
    return g


def test_backends_lists_windows_first_and_open_picks_it(drv):
    infos = vmgen.backends()
    assert [i.name for i in infos] == ["windows", "vmclock", "vmgenid", "simulated"]
    assert infos[0].available, infos[0].reason
    assert not infos[1].available and not infos[2].available
    with vmgen.open() as c:
        assert c.backend == "windows"
        assert "event-driven" in c.describe()
        assert until(lambda: drv.stats()["pending"] == 1)   # the background watcher's read is armed (on its pool thread)
    assert drv.stats()["pending"] == 0


def test_read_is_a_polling_ioctl(drv):
    drv.set_generation(0x1234, 5)
    with vmgen.open("windows") as c:
        p0 = drv.stats()["polls"]
        g = c.read()
        assert g == Generation(0x1234, 5) and str(g) == "1234:5" and g.count_high == 5
        assert drv.stats()["polls"] == p0 + 1
        assert bytes(g) == (0x1234).to_bytes(8, "little") + (5).to_bytes(8, "little")
        drv.set_generation(0x1235, 5)
        assert c.read() == Generation(0x1235, 5)     # exact: no caching


def test_wait_with_value_completes_on_change(drv):
    with vmgen.open("windows") as c:
        g = c.read()
        new = Generation(g.count + 7, g.count_high)
        threading.Timer(0.2, drv.set_generation, (new.count, new.count_high)).start()
        t0 = time.monotonic()
        assert c.wait(g, timeout=10) == new
        assert 0.15 < time.monotonic() - t0 < 5
        # input already differs: the driver completes at once
        assert c.wait(Generation(1, 1), timeout=0) == new
        # setting the same value again does not complete a read whose input equals it
        with pytest.raises(TimeoutError):
            threading.Timer(0.05, drv.set_generation, (new.count, new.count_high)).start()
            c.wait(new, timeout=0.3)


def test_timeout_cancels_and_reaps(drv):
    with vmgen.open("windows") as c:
        g = c.read()
        assert until(lambda: drv.stats()["pending"] == 1)      # the watcher is armed
        s0 = drv.stats()
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            c.wait(g, timeout=0.3)
        assert 0.28 < time.monotonic() - t0 < 20
        s1 = drv.stats()
        assert s1["events_started"] == s0["events_started"] + 1
        assert s1["cancelled"] == s0["cancelled"] + 1          # CancelIoEx reached the driver
        assert s1["pending"] == 1                               # only the watcher's read is left
        with pytest.raises(TimeoutError):
            c.wait(g, timeout=0)


def test_close_wakes_waiters_and_cancels_every_ioctl(drv):
    c = vmgen.open("windows")
    g = c.read()
    errors = []

    def waiter():
        try:
            c.wait(g)
        except CounterClosed as exc:
            errors.append(exc)

    threads = [threading.Thread(target=waiter) for _ in range(3)]
    for t in threads:
        t.start()
    assert until(lambda: drv.stats()["pending"] == 4)        # 3 waits + the watcher
    c0 = drv.stats()["cancelled"]
    c.close()
    c.close()
    for t in threads:
        t.join(5)
    assert len(errors) == 3 and not any(t.is_alive() for t in threads)
    s = drv.stats()
    assert s["pending"] == 0 and s["opens"] == 0 and s["cancelled"] >= c0 + 4
    for call in (c.read, c.token, lambda: c.changed(0), lambda: c.wait(g)):
        with pytest.raises(CounterClosed):
            call()


def test_ctrl_c_interrupts_a_blocking_wait(drv):
    """SIGINT as Windows delivers it to Python: the CRT handler runs and sets the interpreter's SIGINT event."""
    with vmgen.open("windows") as c:
        g = c.read()
        threading.Timer(0.3, signal.raise_signal, (signal.SIGINT,)).start()
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            c.wait(g, timeout=20)
        assert time.monotonic() - t0 < 5
        assert until(lambda: drv.stats()["pending"] == 1)
        # the wait after a handled Ctrl-C works normally
        threading.Timer(0.1, bump, (drv,)).start()
        assert c.wait(g, timeout=10) != g


def test_ctrl_c_with_a_counter_opened_on_another_thread(drv):
    box = []
    th = threading.Thread(target=lambda: box.append(vmgen.open("windows")))
    th.start()
    th.join()
    with box[0] as c:
        threading.Timer(0.3, signal.raise_signal, (signal.SIGINT,)).start()
        with pytest.raises(KeyboardInterrupt):
            c.wait(c.read(), timeout=20)


def test_ctrl_c_in_a_child_process(drv):
    code = ("import signal, threading, vmgen\n"
            "c = vmgen.open('windows')\n"
            "threading.Timer(0.3, signal.raise_signal, (signal.SIGINT,)).start()\n"
            "try:\n    c.wait(c.read())\nexcept KeyboardInterrupt:\n    print('interrupted', flush=True)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "interrupted"


def test_wait_async_starts_no_thread_and_completes(drv):
    async def main():
        with vmgen.open("windows") as c:
            g = c.read()
            threads = threading.active_count()
            loop = asyncio.get_running_loop()
            assert type(loop).__name__ == "ProactorEventLoop"
            new = Generation(g.count + 1, g.count_high)
            task = asyncio.ensure_future(c.wait_async(g, timeout=60))
            ticks = 0
            while not task.done():             # the loop keeps running while the wait is pending
                await asyncio.sleep(0.01)
                ticks += 1
                assert threading.active_count() == threads
                if ticks == 10:                # the change, only after the loop has ticked (load-independent)
                    drv.set_generation(new.count, new.count_high)
                assert ticks < 10000, "the change did not complete the wait"
            assert task.result() == new and ticks >= 10
            assert await c.wait_async(g) == new             # already different
    asyncio.run(main())


def test_wait_async_timeout_and_cancellation_cancel_the_ioctl(drv):
    async def main():
        with vmgen.open("windows") as c:
            g = c.read()
            s0 = drv.stats()
            with pytest.raises(TimeoutError):
                await c.wait_async(g, timeout=0.2)
            task = asyncio.ensure_future(c.wait_async(g))
            await asyncio.sleep(0.2)
            assert until(lambda: drv.stats()["pending"] == 2)   # the async IOCTL + the watcher
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            s1 = drv.stats()
            assert s1["pending"] == 1 and s1["cancelled"] >= s0["cancelled"] + 2
    asyncio.run(main())


def test_close_fails_pending_async_waits(drv):
    async def main():
        c = vmgen.open("windows")
        g = c.read()
        tasks = [asyncio.ensure_future(c.wait_async(g)) for _ in range(3)]
        await asyncio.sleep(0.2)
        c.close()
        for t in tasks:
            with pytest.raises(CounterClosed):
                await asyncio.wait_for(t, 5)
    asyncio.run(main())


def test_changes_async_iterator(drv):
    async def main():
        with vmgen.open("windows") as c:
            seen = []
            loop = asyncio.get_running_loop()
            loop.call_later(0.1, bump, drv)
            async for g in c.changes():
                seen.append(g)
                if len(seen) == 2:
                    break
                loop.call_later(0.1, bump, drv)
            assert seen[1].count == seen[0].count + 1
    asyncio.run(main())


def test_subscribe(drv):
    with vmgen.open("windows") as c:
        got, ev = [], threading.Event()

        def cb(g):
            got.append(g)
            if len(got) == 2:
                ev.set()

        h = c.subscribe(cb)
        time.sleep(0.1)
        bump(drv)
        time.sleep(0.1)
        last = bump(drv)
        assert ev.wait(5) and got[-1] == last
        h.cancel()


def test_guard_is_exact(drv):
    with vmgen.open("windows") as c:
        with c.guard() as g:
            assert g == c.read()
        with pytest.raises(GenerationChanged) as ei:
            with c.guard():
                bump(drv)
        assert ei.value.after.count == ei.value.before.count + 1
        # a change that the watcher has not published yet is still caught: guard() re-reads exactly
        with pytest.raises(GenerationChanged):
            with c.guard():
                s = drv.stats()
                drv.set_generation(s["count"] + 1, s["count_high"], silent=True)   # no IRP completes


def test_hot_path_makes_no_system_call_and_sees_a_change(drv):
    with vmgen.open("windows") as c:
        assert until(lambda: drv.stats()["pending"] == 1)   # the watcher is armed (on its pool thread)
        t = c.token()
        s0 = drv.stats()
        assert not any(c.changed(t) for _ in range(10000))
        s1 = drv.stats()
        assert (s1["polls"], s1["events_started"]) == (s0["polls"], s0["events_started"])   # no IOCTL at all
        bump(drv)
        assert until(lambda: c.changed(t), 2)
        t2 = c.token()
        assert t2 != t and not c.changed(t2)


def test_hot_path_sees_a_change_made_by_another_wine_process(drv):
    with vmgen.open("windows") as c:
        t = c.token()
        s = drv.stats()
        subprocess.run([sys.executable, os.path.join(HERE, "winctl.py"), "set", str(s["count"] + 5),
                        str(s["count_high"])], check=True, timeout=60, capture_output=True)
        assert until(lambda: c.changed(t), 2)
        assert c.read() == Generation(s["count"] + 5, s["count_high"])


def test_wait_sees_a_change_made_by_another_wine_process(drv):
    with vmgen.open("windows") as c:
        g = c.read()
        p = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(0.3); sys.path.insert(0, %r); "
                              "import winctl; winctl.set_generation(%d, %d)" % (HERE, g.count + 9, g.count_high)])
        assert c.wait(g, timeout=30) == Generation(g.count + 9, g.count_high)
        assert p.wait(30) == 0


def test_event_driven_not_supported_falls_back_to_polling(drv):
    drv.set_flags(drv.FLAG_NO_EVENT)
    # the driver switch really answers ERROR_NOT_SUPPORTED to an event-driven read ...
    import ctypes
    h = drv._open(drv.COUNTER_PATH)
    try:
        buf = ctypes.create_string_buffer(16)
        n = ctypes.c_ulong()
        assert not drv.k32.DeviceIoControl(h, drv.IOCTL_VMGENCOUNTER_READ, buf, 16, buf, 16, ctypes.byref(n), None)
        assert ctypes.get_last_error() == 50
    finally:
        drv.k32.CloseHandle(h)
    # ... and vmgen maps it to NotSupported (keeping winerror) where it must report it ...
    from vmgen.counter import _core as _counter
    with vmgen.open("windows") as c:
        g = c.read()
        with pytest.raises(NotSupported) as ei:
            _counter.async_start(c, g.count, g.count_high, True)
        assert ei.value.winerror == 50
        # ... while waits, async waits and the hot path fall back to polling every 10 ms
        assert "polling every 10 ms" in c.describe()
        t = c.token()
        threading.Timer(0.2, bump, (drv,)).start()
        t0 = time.monotonic()
        new = c.wait(g, timeout=10)
        assert new != g and time.monotonic() - t0 < 3
        assert until(lambda: c.changed(t), 2)

        async def main():
            asyncio.get_running_loop().call_later(0.1, bump, drv)
            return await c.wait_async(new, timeout=10)
        assert asyncio.run(main()) != new


def test_device_not_found(drv):
    drv.set_flags(drv.FLAG_HIDDEN)
    with pytest.raises(DeviceNotFound) as ei:
        vmgen.open("windows")
    assert isinstance(ei.value, FileNotFoundError) and ei.value.winerror == 2
    assert "VmGenerationCounter" in str(ei.value)
    assert "{3ff2c92b-6598-4e60-8e1c-0ccf4927e319}" in str(ei.value)   # the device-interface fallback was asked
    info = vmgen.backends()[0]
    assert info.name == "windows" and not info.available and "VmGenerationCounter" in info.reason
    with pytest.raises(DeviceNotFound) as ei:
        vmgen.open()
    assert "windows:" in str(ei.value)
    drv.set_flags(0)
    with vmgen.open() as c:
        assert c.backend == "windows"


def test_access_denied_is_permission_error(drv):
    drv.set_flags(drv.FLAG_DENY)
    with pytest.raises(PermissionError) as ei:
        vmgen.open("windows")
    assert ei.value.winerror == 5 and "administrator" in str(ei.value)
    info = vmgen.backends()[0]
    assert not info.available and "administrator" in info.reason


def _live_handles():
    """Handles open in this process. GetProcessHandleCount when it works (Windows); Wine 8 stubs it to 0, so
    there we count the slots of the handle table that GetHandleInformation accepts."""
    n = winctl.handle_count()
    if n:
        return n
    import ctypes
    flags = ctypes.c_ulong()
    k = winctl.k32
    return sum(1 for v in range(4, 0x8000, 4) if k.GetHandleInformation(ctypes.c_void_p(v), ctypes.byref(flags)))


def test_leak_check_1000_wait_cancel_close_cycles(drv):
    # the measure itself sees handles come and go
    # (Wine's idle thread-pool workers exit and close their handles at any moment: allow a few either way.)
    base = _live_handles()
    extra = [winctl._open(winctl.CTL_PATH) for _ in range(50)]
    assert 45 <= _live_handles() - base <= 55
    for h in extra:
        winctl.k32.CloseHandle(h)
    assert abs(_live_handles() - base) <= 5

    async def async_cycle(c, g):
        with pytest.raises(TimeoutError):
            await c.wait_async(g, timeout=0)
        task = asyncio.ensure_future(c.wait_async(g))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    def cycle(i, loop):
        c = vmgen.open("windows")
        g = c.read()
        with pytest.raises(TimeoutError):               # timeout path: CancelIoEx + reap
            c.wait(g, timeout=0.001 if i % 2 else 0)
        if i % 10 == 0:
            loop.run_until_complete(async_cycle(c, g))  # async: timeout + task cancellation
        if i % 50 == 0:                                 # close while a wait is pending
            th = threading.Thread(target=lambda: pytest.raises(CounterClosed, c.wait, g))
            th.start()
            until(lambda: winctl.stats()["pending"] >= 2, 2)
        else:
            th = None
        c.close()
        if th is not None:
            th.join(5)

    loop = asyncio.new_event_loop()
    try:
        for i in range(0, 60, 10):                      # warm-up: thread pool, event-loop internals
            cycle(i, loop)
        gc.collect()
        s0 = winctl.stats()
        base = _live_handles()
        t0 = time.monotonic()
        for i in range(1, 1001):
            cycle(i, loop)
        elapsed = time.monotonic() - t0
    finally:
        loop.close()
    gc.collect()
    # Not one handle more than before (a leak would be >= 1000: every cycle creates a device handle, events and
    # a thread-pool wait). It may be a few less: Wine's idle thread-pool workers exit and close their handles.
    after = _live_handles()
    assert after <= base, (base, after)
    s1 = winctl.stats()
    assert s1["pending"] == 0 and s1["opens"] == 0
    # each cycle's wait issues an event-driven IOCTL (and the watcher one more, unless close beats its arming)
    assert s1["events_started"] - s0["events_started"] >= 1000
    print(f"1000 cycles in {elapsed:.1f} s, handles {base} -> {after}")
