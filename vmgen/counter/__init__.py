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
import contextlib
import os
import sys
import threading
import warnings
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Optional, Union

from . import _core
from ._backends import PRIORITY, BackendInfo, backends, vmgenid_devpath, vmgenid_kernel_notifies
from ._generation import Generation, coerce
from ..errors import CounterClosed, DeviceNotFound, GenerationChanged

__all__ = ["open", "backends", "BackendInfo", "Generation", "Counter", "Subscription"]

_builtin_open = builtins.open


class Subscription:
    """Returned by Counter.subscribe(); cancel() stops further callbacks (idempotent)."""

    def __init__(self, counter: "Counter", callback: Callable[[Generation], Any]) -> None:
        self._counter = counter
        self.callback = callback

    def cancel(self) -> None:
        self._core._unsubscribe(self)


class Counter(_core.CounterBase):
    """An open generation counter. Get one from vmgen.open(); close it (or use ``with``)."""

    # No instance __dict__: on CPython 3.12+ a dict on the instance keeps `c.changed` off the specialised
    # method-load path (issue 16). A new instance attribute needs its name here.
    __slots__ = ("backend", "path", "_watchers", "_subs", "_sub_thread", "_sub_lock", "__weakref__")

    backend: str

    def __init__(self, backend_id: int, path: Optional[str] = None, flags: int = 0, *, name: str = "",
                 path_shown: Optional[str] = None) -> None:
        self.backend = name
        self.path = path_shown
        self._watchers: Dict[Any, Any] = {}
        self._subs: List[Subscription] = []
        self._sub_thread: Optional[threading.Thread] = None
        self._sub_lock = threading.Lock()

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

    @contextlib.contextmanager
    def guard(self) -> Iterator[Generation]:
        """Check before commit: raise GenerationChanged if the generation moved inside the block
        (both ends are exact reads)."""
        before = self.read()
        yield before
        after = self.read()
        if after != before:
            raise GenerationChanged(before, after)

    # ---- subscriptions: one vmgen thread per counter delivers callbacks ----

    def subscribe(self, callback: Callable[[Generation], Any]) -> Subscription:
        """Call callback(new_generation) after each change, from a vmgen thread, until cancel()."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        if self.closed:
            raise CounterClosed("the counter is closed")
        sub = Subscription(self, callback)
        with self._sub_lock:
            self._subs.append(sub)
            if self._sub_thread is None:
                start = self.read()
                t = threading.Thread(target=self._deliver, args=(start,), name=f"vmgen-{self.backend}-subscribe",
                                     daemon=True)
                self._sub_thread = t
                t.start()
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._sub_lock:
            if sub in self._subs:
                self._subs.remove(sub)
            t = self._sub_thread if not self._subs else None
        if t is not None:
            self._wake()                 # the thread sees no subscribers and ends
            if t is not threading.current_thread():
                # vg_wake wakes only waits already in progress: if the thread was between its subs check and
                # its next wait, that wake is lost, so repeat it until the thread has gone
                while not _join(t, 0.05):
                    self._wake()

    def _deliver(self, seen: Generation) -> None:
        while True:
            with self._sub_lock:
                if not self._subs or self.closed:
                    self._sub_thread = None
                    return
            try:
                got = self._wait(seen.count, seen.count_high, -1)
            except CounterClosed:
                with self._sub_lock:
                    self._sub_thread = None
                return
            if got is None:
                continue
            seen = Generation(*got)
            with self._sub_lock:
                subs = list(self._subs)
            for sub in subs:
                try:
                    sub.callback(seen)
                except Exception:   # one bad callback must not silence the others
                    import traceback  # not at import time: it pulls in linecache, textwrap, re

                    traceback.print_exc()

    # ---- lifetime ----

    def close(self) -> None:
        """Idempotent. Waits in flight raise CounterClosed; later calls raise CounterClosed."""
        if self.closed:
            return
        with self._sub_lock:
            t = self._sub_thread
            self._subs.clear()
        self._close()
        if self._watchers:  # only wait_async (which imported _aio) adds watchers
            from . import _aio

            _aio.close_watchers(self)
        if t is not None and t is not threading.current_thread():
            t.join()

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


def _join(t: threading.Thread, timeout: float) -> bool:
    t.join(timeout)
    return not t.is_alive()


def _check_timeout(timeout: Optional[float]) -> Optional[float]:
    if timeout is None:
        return None
    t = float(timeout)
    if t != t:
        raise ValueError("timeout must be a number, not NaN")
    return max(0.0, t)


def _deadline(timeout: Optional[float]) -> int:
    t = _check_timeout(timeout)
    if t is None or t == float("inf"):
        return -1
    return int(_core.now_ns() + min(t, 1e10) * 1e9)


def _open_one(name: str, path: Optional[str]) -> Counter:
    if name == "simulated":
        return Counter(_core.BACKEND_IDS[name], path, 1, name=name, path_shown=path)
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
        path = "/dev/vmclock0"
    return Counter(_core.BACKEND_IDS[name], path, 0, name=name, path_shown=path)


def open(backend: Optional[str] = None, *, path: Optional[str] = None) -> Counter:  # noqa: A001 (the API's name)
    """Open a generation counter.

    open(): the best backend that can actually see changes ("windows" > "vmclock" > "vmgenid"),
    or the simulated counter named by VMGEN_SIMULATE=FILE; DeviceNotFound says why each was unusable.
    open(name, path=...): that backend (path: vmclock page file, simulated file, vmgenid DEVPATH).
    """
    if backend is None:
        if path is not None:
            raise ValueError("path= needs a backend name")
        sim = os.environ.get("VMGEN_SIMULATE")
        if sim:
            return _open_one("simulated", sim)
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
    c = _open_one(backend, path)
    if backend == "vmgenid":
        notifies, why = vmgenid_kernel_notifies()
        if not notifies:
            warnings.warn(f"vmgen: {why}: this counter sees only synthetic uevents (e.g. 'change' written "
                          "to the device's uevent file), not real VM generation changes", RuntimeWarning,
                          stacklevel=2)
    return c


del sys
