"""asyncio waits on a counter without a thread per wait.

One _Watcher per (counter, event loop) registers an fd of its own (CounterBase._listen: a shared fd would be
drained by whichever loop read it first, and the other loops would miss the change) with loop.add_reader and, for a
backend that also (or only) learns of changes by re-reading, re-checks on loop.call_later at its
re-read interval, while at least one wait_async is pending; it resolves every pending wait whose
generation moved. (The portable POSIX backend has both: a pipe for this process's changes, and a
re-read for other processes sharing a file.)
The watcher holds the counter's C state (CounterBase._hold) so close() cannot close the fd under
a registered reader; it lets go when its last wait ends.
"""
from __future__ import annotations

import asyncio
import sys
from typing import Any, Dict, Optional

from ..errors import CounterClosed, VmgenError
from ._generation import Generation

_FALLBACK_INTERVAL = 0.005   # backends with neither an fd nor an interval of their own


class _Watcher:
    def __init__(self, counter: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.counter = counter
        self.loop = loop
        self.waits: Dict["asyncio.Future[Generation]", Generation] = {}
        self.timer: Optional[asyncio.TimerHandle] = None
        self.forgotten = False
        counter._hold()
        try:
            self.fd = counter._listen()
        except BaseException:
            counter._release()
            raise
        self.interval = counter._poll_interval()
        if self.fd >= 0:
            loop.add_reader(self.fd, self._check)
        if self.fd < 0 or self.interval:
            self.interval = self.interval or _FALLBACK_INTERVAL
            self._schedule()

    def _schedule(self) -> None:
        self.timer = self.loop.call_later(self.interval, self._tick)

    def _tick(self) -> None:
        self.timer = None
        self._check()
        if self.waits:
            self._schedule()

    def _check(self) -> None:
        c = self.counter
        if c.closed:
            self.fail_all()
            return
        if self.fd >= 0:
            c._listen_drain(self.fd)   # consume the readiness before reading, so a later change re-arms it
        try:
            current = c.read()
        except Exception as exc:   # a wedged page, a vanished device: every waiter hears it
            for fut in list(self.waits):
                if not fut.done():
                    fut.set_exception(exc)
            return
        for fut, seen in list(self.waits.items()):
            if current != seen and not fut.done():
                fut.set_result(current)

    def fail_all(self) -> None:
        for fut in list(self.waits):
            if not fut.done():
                fut.set_exception(CounterClosed("the counter was closed"))

    def stop(self) -> None:
        """Unregister from the loop and release the counter (the loop's thread only)."""
        if self.forgotten:
            return
        if self.fd >= 0:
            self.loop.remove_reader(self.fd)
            self.counter._unlisten(self.fd)
            self.fd = -1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.counter._release()

    def forget_after_fork(self) -> None:
        """In a forked child: the loop's selector (an epoll shared with the parent) and the fd belong to the
        parent, so touch neither; fail the pending waits (only the forking thread's loop can run them)."""
        self.forgotten = True   # the child's counter no longer counts this watcher as holding it
        self.fd = -1
        self.timer = None
        for fut in list(self.waits):
            if not fut.done():
                try:
                    fut.set_exception(VmgenError("the process forked while this wait_async was pending: "
                                                 "wait again in the child"))
                except RuntimeError:   # its loop is closed
                    pass
        self.waits.clear()


async def wait_async(counter: Any, seen: Generation, timeout: Optional[float]) -> Generation:
    loop = asyncio.get_running_loop()
    current = counter.read()
    if current != seen:
        return current
    if sys.platform == "win32":   # one overlapped IOCTL per wait through the proactor (vmgen/_aio_win.py)
        from . import _aio_win
        got = await _aio_win.wait_async(counter, seen, timeout)
        if got is not NotImplemented:
            return got
    watchers = counter._watchers
    w = watchers.get(loop)
    if w is None:
        w = watchers[loop] = _Watcher(counter, loop)
    fut: "asyncio.Future[Generation]" = loop.create_future()
    w.waits[fut] = seen
    timer = None
    if timeout is not None:
        timer = loop.call_later(max(0.0, timeout), _expire, fut)
    try:
        return await fut
    finally:   # every exit (result, timeout, cancellation, close) unregisters
        if timer is not None:
            timer.cancel()
        w.waits.pop(fut, None)
        if not w.waits and watchers.get(loop) is w:
            del watchers[loop]
            w.stop()


def _expire(fut: "asyncio.Future[Generation]") -> None:
    if not fut.done():
        fut.set_exception(TimeoutError("the VM generation did not change before the timeout"))


def close_watchers(counter: Any) -> None:
    """On close(): fail every pending async wait, from whichever thread close() runs in."""
    for loop, w in list(counter._watchers.items()):
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            w.fail_all()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(w.fail_all)
