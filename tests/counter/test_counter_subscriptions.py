"""Subscriptions under hostile callbacks and racing threads (issue 13)."""
from __future__ import annotations

import os
import random
import threading
import time

import pytest

import vmgen
from vmgen import Generation

from support.counter_pages import SEQ_OFF


@pytest.fixture()
def hooked(monkeypatch):
    """Record what reaches threading.excepthook instead of printing it."""
    seen = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_type))
    return seen


@pytest.mark.parametrize("exc", [SystemExit, KeyboardInterrupt, GeneratorExit, ValueError])
def test_a_raising_callback_never_stops_delivery(exc, hooked):
    c = vmgen.open("simulated")
    got, ev = [], threading.Event()

    def bad(g):
        raise exc("from a callback")

    def good(g):
        got.append(g)
        if g == Generation(3):
            ev.set()

    c.subscribe(bad)
    c.subscribe(good)
    for _ in range(3):
        c.advance()
        time.sleep(0.02)
    assert ev.wait(5), got
    assert Generation(3) in got
    assert hooked.count(exc) >= 1                       # reported as threading.excepthook would
    late = threading.Event()
    c.subscribe(lambda g: late.set())                   # the thread still runs: a later subscriber is served
    c.advance()
    assert late.wait(5)
    c.close()


def test_a_dead_delivery_thread_is_replaced(tmp_path, hooked):
    """The counter itself fails under the delivery thread (a file page whose seqlock a dead writer left odd):
    the thread reports it and ends; the next subscribe() starts a new one."""
    path = tmp_path / "gen"
    c = vmgen.open("simulated", path=str(path))
    other = vmgen.open("simulated", path=str(path))
    c.subscribe(lambda g: None)
    fd = os.open(path, os.O_RDWR)
    try:
        seq = int.from_bytes(os.pread(fd, 4, SEQ_OFF), "little")
        os.pwrite(fd, (seq + 1).to_bytes(4, "little"), SEQ_OFF)   # odd: a writer "died" holding the seqlock
        deadline = time.monotonic() + 10
        while not hooked and time.monotonic() < deadline:   # woken, the thread re-reads the wedged page
            c._wake()
            time.sleep(0.05)
        assert hooked and issubclass(hooked[0], vmgen.VmgenError), hooked
        os.pwrite(fd, (seq + 2).to_bytes(4, "little"), SEQ_OFF)   # released
    finally:
        os.close(fd)
    got = threading.Event()
    c.subscribe(lambda g: got.set())
    other.advance()
    assert got.wait(5)
    other.close()
    c.close()


def test_cancel_racing_subscribe_is_bounded():
    """cancel() of the last subscription while another thread subscribes used to spin forever (the old
    thread served the newcomer and never ended). 200 races, each cancel() must return."""
    c = vmgen.open("simulated")
    stuck = 0
    for _ in range(200):
        first = c.subscribe(lambda g: None)
        barrier = threading.Barrier(2)
        subs = []

        def cancel():
            barrier.wait()
            first.cancel()

        def subscribe():
            barrier.wait()
            time.sleep(random.uniform(0, 0.003))        # land anywhere in cancel()'s window
            subs.append(c.subscribe(lambda g: None))

        t1, t2 = threading.Thread(target=cancel, daemon=True), threading.Thread(target=subscribe, daemon=True)
        t1.start(), t2.start()
        t1.join(5), t2.join(5)
        if t1.is_alive() or t2.is_alive():
            stuck += 1
            break
        for s in subs:
            s.cancel()
    assert stuck == 0
    got = threading.Event()
    c.subscribe(lambda g: got.set())                    # delivery still works after the races
    c.advance()
    assert got.wait(5)
    c.close()


def test_no_callback_after_cancel_returns():
    c = vmgen.open("simulated")
    calls = []
    s = c.subscribe(lambda g: (calls.append(g), time.sleep(0.05)))
    c.advance()
    time.sleep(0.01)                                    # the callback is running
    s.cancel()                                          # waits for it (last subscription)
    n = len(calls)
    c.advance()
    time.sleep(0.1)
    assert len(calls) == n
    c.close()
