"""The VM generation counter: ``vmgen.open()``, ``vmgen.backends()``, ``Counter``, ``Generation``.

A thin layer over the C extension ``vmgen.counter._core``: the hot path (``token``/``changed``) and the
blocking waits are C methods of ``CounterBase``; this module adds the Python conveniences
(asyncio, guard, subscriptions, the context manager) and backend selection.

The rooms, each depending only on those above it:
  _core         the Cython core over csrc/counter/ (one C file per platform behind vg_counter.h)
  _generation   the Generation value
  _backends     discovery and policy: which backends exist here and whether each can see changes
  _aio_win      asyncio on Windows' proactor (one overlapped IOCTL per wait)
  _aio          asyncio everywhere else (the backend's fd or a re-read timer), defers to _aio_win
  (this file)   Counter, Subscription, open()
"""
from __future__ import annotations

import builtins
import os
import sys
from _thread import allocate_lock as _new_lock   # threading.Lock, without importing threading
from _weakref import ref as _weak_ref           # weakref.ref, without importing weakref
from sys import exc_info as _exc_info

# threading, contextlib, warnings and typing are not imported here: `import vmgen` runs this module, and
# they were a large part of its cost (issue 16). threading loads when a subscription starts a thread.
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import threading
    from types import TracebackType
    from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Type, Union

from . import _backends, _core
from ._backends import PRIORITY, BackendInfo, backends, vmgenid_devpath, vmgenid_kernel_notifies
from ._generation import Generation, coerce
from ..errors import CounterClosed, DeviceNotFound, GenerationChanged

__all__ = ["open", "backends", "BackendInfo", "Generation", "Counter", "Subscription"]

_builtin_open = builtins.open


class Subscription:
    """Returned by Counter.subscribe(); cancel() stops further callbacks (idempotent)."""

    def __init__(self, counter: "Counter", callback: Callable[[Generation], Any]) -> None:
        self._counter = counter
        self._active = True
        self.callback = callback

    def cancel(self) -> None:
        """No call of this callback starts after cancel() returns (one in progress in another thread
        finishes first when this was the last subscription). Idempotent; bounded; callable from a callback."""
        self._counter._unsubscribe(self)


class _Delivery:
    """One delivery thread and its stop flag. A stopped delivery is detached from the counter at once,
    so a subscribe() racing with the cancel() that stopped it starts a fresh thread instead of relying
    on one that is ending (the race that made cancel() spin forever)."""

    def __init__(self) -> None:
        self.stopped = False
        self.thread: Optional[threading.Thread] = None


def _report_callback_error() -> None:
    """A callback raised: report it as an uncaught exception in a thread would be (threading.excepthook:
    SystemExit is silent there), then carry on delivering to the others."""
    import threading

    exc_type, exc, tb = _exc_info()
    try:
        threading.excepthook(threading.ExceptHookArgs((exc_type, exc, tb, threading.current_thread())))
    except BaseException:
        import traceback   # not at import time: it pulls in linecache, textwrap, re

        traceback.print_exc()
    finally:
        del exc, tb


# Every open Counter, so that a forked child can forget its parent's threads and asyncio watchers.
# (A dict of weak references rather than a weakref.WeakSet: _weakrefset would load types with `import vmgen`.)
_live: Dict[int, Any] = {}   # id(counter) -> weak reference to it, dropped when the counter dies


def _after_fork_in_child() -> None:
    """The parent's subscription thread and event loops are not in this process: a counter's
    subscriptions stay with the process that made them, and wait_async calls pending at the fork (only
    possible in the forking thread's own loop) fail with VmgenError instead of hanging. The C state
    rebuilds its own fds on first use (csrc/counter/vg_fork.h). Never touch the parent's fds here:
    removing a reader from an inherited epoll would unregister it in the parent too."""
    for r in list(_live.values()):
        c = r()
        if c is None:
            continue
        c._sub_lock = _new_lock()   # a parent thread may have held it at the fork
        c._subs = []
        c._delivery = None
        watchers, c._watchers = c._watchers, {}
        c._after_fork_child()
        for w in watchers.values():
            w.forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Counter(_core.CounterBase):
    """An open generation counter. Get one from vmgen.open(); close it (or use ``with``)."""

    # No instance __dict__: on CPython 3.12+ a dict on the instance keeps `c.changed` off the specialised
    # method-load path (issue 16). A new instance attribute needs its name here.
    __slots__ = ("backend", "path", "_watchers", "_subs", "_delivery", "_sub_lock", "__weakref__")

    backend: str
    # `source` (CounterBase): where Generation.count and changed()'s word come from: "vm_generation_counter" or
    # "disruption_marker" (vmclock; the latter on a hypervisor without a generation counter, and it also changes
    # on live migration), "uevents" (vmgenid), "GenerationCount" (windows), "simulated". docs/counter.md.

    def __init__(self, backend_id: int, path: Optional[str] = None, flags: int = 0, *, name: str = "",
                 path_shown: Optional[str] = None) -> None:
        self.backend = name
        self.path = path_shown
        self._watchers: Dict[Any, Any] = {}
        self._subs: List[Subscription] = []
        self._delivery: Optional[_Delivery] = None
        self._sub_lock = _new_lock()
        key = id(self)
        _live[key] = _weak_ref(self, lambda r, key=key: _live.pop(key) if _live.get(key) is r else None)

    # token() and changed(token) are inherited from CounterBase (C, no system call).

    def read(self) -> Generation:
        """The current generation, read exactly (seqlock / device read)."""
        return Generation(*self._read())

    def wait(self, generation: Union[Generation, int], timeout: Optional[float] = None) -> Generation:
        """Block until the generation differs from `generation`; return the new one.
        The GIL is released; TimeoutError after `timeout` seconds; Ctrl-C raises KeyboardInterrupt."""
        seen = coerce(generation)
        deadline = _deadline(timeout)
        while True:
            got = self._wait(seen.count, seen.count_high, deadline)
            if got is not None:
                return Generation(*got)
            # woken by a subscription change: not for us, wait on

    async def wait_async(self, generation: Union[Generation, int], timeout: Optional[float] = None) -> Generation:
        """Like wait(), without blocking the event loop; cancelling the task cancels the wait."""
        if self.closed:
            raise CounterClosed("the counter is closed")
        from . import _aio  # asyncio loads on first use, not with `import vmgen`

        return await _aio.wait_async(self, coerce(generation), _check_timeout(timeout))

    async def changes(self) -> AsyncIterator[Generation]:
        """Yield each new generation as it is observed; ends when the counter is closed."""
        g = self.read()
        while True:
            try:
                g = await self.wait_async(g)
            except CounterClosed:
                return
            yield g

    def guard(self) -> _Guard:
        """Check before commit: raise GenerationChanged if the generation moved inside the block
        (both ends are exact reads)."""
        return _Guard(self)

    # ---- subscriptions: one vmgen thread per counter delivers callbacks ----

    def subscribe(self, callback: Callable[[Generation], Any]) -> Subscription:
        """Call callback(new_generation) after each change, from a vmgen thread, until cancel()."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        import threading   # here, not under the lock: the first subscription loads it

        sub = Subscription(self, callback)
        with self._sub_lock:
            if self.closed:
                raise CounterClosed("the counter is closed")
            d = self._delivery
            if d is None or d.thread is None or not d.thread.is_alive():   # none yet, or it died: replace it
                start = self.read()
                d = _Delivery()
                d.thread = threading.Thread(target=self._deliver, args=(d, start),
                                            name=f"vmgen-{self.backend}-subscribe", daemon=True)
                self._delivery = d
                d.thread.start()
            self._subs.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._sub_lock:
            sub._active = False
            if sub in self._subs:
                self._subs.remove(sub)
            d = self._delivery if not self._subs else None
            if d is not None:
                d.stopped = True         # for good: whatever subscribes next gets a new thread
                self._delivery = None
        if d is not None and d.thread is not None:
            import threading   # loaded: subscribe() started d.thread

            self._wake()                 # the thread sees its stop flag and ends
            if d.thread is not threading.current_thread():
                # vg_wake wakes only waits already in progress: if the thread was between its stop check and
                # its next wait, that wake is lost, so repeat it. Bounded: the flag never clears.
                while not _join(d.thread, 0.05):
                    self._wake()

    def _deliver(self, d: _Delivery, seen: Generation) -> None:
        try:
            while True:
                with self._sub_lock:
                    if d.stopped or self.closed:
                        return
                try:
                    got = self._wait(seen.count, seen.count_high, -1)
                except CounterClosed:
                    return
                if got is None:
                    continue             # woken: re-check the stop flag
                seen = Generation(*got)
                with self._sub_lock:
                    subs = list(self._subs) if not d.stopped else []
                for sub in subs:
                    if not sub._active:
                        continue
                    try:
                        sub.callback(seen)
                    except BaseException:   # even SystemExit: one callback must not end delivery to the others
                        _report_callback_error()
        except BaseException:            # the counter itself failed (a wedged page): report, let a later
            _report_callback_error()     # subscribe() start a new thread
        finally:
            with self._sub_lock:
                if self._delivery is d:
                    self._delivery = None

    # ---- lifetime ----

    def close(self) -> None:
        """Idempotent. Waits in flight raise CounterClosed; later calls raise CounterClosed."""
        if self.closed:
            return
        with self._sub_lock:
            d, self._delivery = self._delivery, None
            for sub in self._subs:
                sub._active = False
            self._subs.clear()
            if d is not None:
                d.stopped = True
        self._close()
        if self._watchers:  # only wait_async (which imported _aio) adds watchers
            from . import _aio

            _aio.close_watchers(self)
        if d is not None and d.thread is not None:
            import threading   # loaded: subscribe() started d.thread

            if d.thread is not threading.current_thread():
                d.thread.join()

    def __enter__(self) -> "Counter":
        if self.closed:
            raise CounterClosed("the counter is closed")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def describe(self) -> str:
        """One line about how this counter learns of changes (for `vmgen status`)."""
        return self._describe()

    # ---- simulated ----

    def advance(self) -> Generation:
        """Simulated only: bump the generation by one and wake every waiter (all processes)."""
        return Generation(*self._store(0, 0, True))

    def set(self, generation: Union[Generation, int]) -> Generation:
        """Simulated only: store `generation` (a Generation or an int); waiters wake if it differs."""
        g = coerce(generation)
        return Generation(*self._store(g.count, g.count_high, False))

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.describe()
        return f"<vmgen.Counter {self.backend}: {state}>"


# Counter's own changed()/token() descriptors: CPython specialises `c.changed(t)` only when the descriptor's type
# is the instance's exact type (inherited from CounterBase, every call would de-optimise).
_core.bind_hot_methods(Counter)


class _Guard:
    """What ``Counter.guard()`` returns: reads the generation on entry, re-reads it at a clean exit and raises
    GenerationChanged if it moved (an exception from the block propagates unchecked)."""

    __slots__ = ("_counter", "_before")

    def __init__(self, counter: Counter) -> None:
        self._counter = counter

    def __enter__(self) -> Generation:
        self._before = self._counter.read()
        return self._before

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        if exc_type is None:
            after = self._counter.read()
            if after != self._before:
                raise GenerationChanged(self._before, after)


def _join(t: threading.Thread, timeout: float) -> bool:
    t.join(timeout)
    return not t.is_alive()


# Timeouts at least this long (2**62 ns, about 146 years) mean "no deadline": a deadline that far out
# cannot pass, and converting it to the C clock's int64 nanoseconds would overflow.
_NO_DEADLINE_S = 2.0 ** 62 / 1e9


def _check_timeout(timeout: Optional[float]) -> Optional[float]:
    """None (no deadline) or seconds >= 0. Numbers only: a str or bytes is a TypeError, not parsed."""
    if timeout is None:
        return None
    if isinstance(timeout, (str, bytes, bytearray)) or not (
            hasattr(type(timeout), "__float__") or hasattr(type(timeout), "__index__")):
        raise TypeError(f"timeout must be a number or None, not {type(timeout).__name__}")
    try:
        t = float(timeout)
    except OverflowError:        # an int beyond float's range: no deadline (negative ones: none left)
        return None if timeout > 0 else 0.0
    if t != t:
        raise ValueError("timeout must be a number, not NaN")
    if t >= _NO_DEADLINE_S:
        return None
    return max(0.0, t)


def _deadline(timeout: Optional[float]) -> int:
    t = _check_timeout(timeout)
    if t is None:
        return -1
    return int(_core.now_ns() + t * 1e9)


def _file_flags(mode: Optional[int], shared_write: bool) -> int:
    """vg_open flags for a counter file (csrc/counter/vg_counter.h), from open()'s keywords, checked."""
    if not isinstance(shared_write, bool):
        raise TypeError(f"shared_write must be True or False, not {type(shared_write).__name__}")
    flags = _core.OPEN_SHARED_WRITE if shared_write else 0
    if mode is None:
        return flags
    if isinstance(mode, bool) or not isinstance(mode, int):
        raise TypeError(f"mode must be an int such as 0o644, not {type(mode).__name__}")
    if not 0 <= mode <= 0o777:
        raise ValueError(f"mode must be permission bits between 0o000 and 0o777, not {oct(mode)}")
    if mode & 0o022 and not shared_write:
        raise ValueError(f"mode {mode:#o} lets group or others write the counter file (they could forge a restore "
                         "or wedge the counter): pass shared_write=True if that is what you want")
    return flags | _core.OPEN_MODE_SET | (mode << 8)


def _open_one(name: str, path: Optional[str], flags: int = 0) -> Counter:
    if name == "simulated":
        if path is None:   # in-process: no file for the file rules to apply to
            flags = 0
        return Counter(_core.BACKEND_IDS[name], path, flags | _core.OPEN_CREATE, name=name, path_shown=path)
    if name == "vmgenid":
        devpath = path
        if devpath is None:
            devpath = vmgenid_devpath()
            if devpath is None:
                raise DeviceNotFound("no device is bound to the vmgenid driver in /sys")
        elif devpath.startswith("/sys/"):
            devpath = os.path.realpath(devpath)[len("/sys"):]
        return Counter(_core.BACKEND_IDS[name], devpath, 0, name=name, path_shown=devpath)
    if name == "vmclock" and path is None:
        path = _backends.VMCLOCK_DEVICE   # the device backends() probed (read at call time: tests point it at a page file)
    return Counter(_core.BACKEND_IDS[name], path, flags if name == "vmclock" else 0, name=name, path_shown=path)


def open(backend: Optional[str] = None, *, path: Optional[str] = None,  # noqa: A001 (the API's name)
         mode: Optional[int] = None, shared_write: bool = False) -> Counter:
    """Open a generation counter.

    open(): the best backend that can actually see changes ("windows" > "vmclock" > "vmgenid"),
    or the simulated counter named by VMGEN_SIMULATE=FILE; DeviceNotFound says why each was unusable.
    open(name, path=...): that backend (path: vmclock page file, simulated file, vmgenid DEVPATH).

    A counter file (simulated with a path, VMGEN_SIMULATE, vmclock with a regular file) is opened safely for a
    directory others can write (POSIX): never through a symlink at the end of the path, only a regular file,
    owned by you or root, created new with mode 0644 less the umask (mode=: exactly these bits instead), and
    refused if its group or others may write it, unless shared_write=True. See docs/counter.md.
    """
    flags = _file_flags(mode, shared_write)
    if mode is not None and backend not in (None, "simulated"):
        raise ValueError("mode= applies only to a simulated counter's file (the one backend that creates files)")
    if backend is None:
        if path is not None:
            raise ValueError("path= needs a backend name")
        sim = os.environ.get("VMGEN_SIMULATE")
        if sim:
            return _open_one("simulated", sim, flags)
        tried = []
        for info in backends():
            if info.name == "simulated":
                continue
            if info.available:
                try:
                    return _open_one(info.name, None)
                except OSError as exc:
                    tried.append(f"{info.name}: {exc}")
            else:
                tried.append(f"{info.name}: {info.reason}")
        raise DeviceNotFound("no generation counter that can see changes: " + "; ".join(tried)
                             + " (vmgen.open('simulated') or VMGEN_SIMULATE=FILE for testing)")
    if backend not in PRIORITY:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(PRIORITY)}")
    if path is not None and not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, not {type(path).__name__}")
    if path is not None:
        path = os.fsdecode(path)
    if mode is not None and path is None:
        raise ValueError("mode= needs path=: an in-process simulated counter has no file")
    c = _open_one(backend, path, flags)
    if backend == "vmgenid":
        notifies, why = vmgenid_kernel_notifies()
        if not notifies:
            import warnings

            warnings.warn(f"vmgen: {why}: this counter sees only synthetic uevents (e.g. 'change' written "
                          "to the device's uevent file), not real VM generation changes", RuntimeWarning,
                          stacklevel=2)
    return c


del sys
