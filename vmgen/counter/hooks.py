"""Process-wide restore hooks: ``register_after_restore`` (run after each observed generation change) and
``register_before_snapshot`` (kept for snapshot_restore_py compatibility; only a platform can run them).

One vmgen-owned daemon thread, ``vmgen-restore-hooks``, watches the counter ``vmgen.open()`` picks (so
``VMGEN_SIMULATE=FILE`` too). It is started by the first registration -- which opens the counter and reads
the baseline generation before returning, so no restore after registration goes unseen -- and stopped
when the last hook is unregistered. After ``os.fork()`` the child opens its own counter and starts its
own thread (the parent's thread does not exist there).

Built on the public Counter API only (open, read, wait, close): closing the watcher's counter from any
thread makes its blocked wait raise CounterClosed, which is how the thread is stopped.
"""
from __future__ import annotations

import os
from _thread import RLock   # threading.RLock, without importing threading (`import vmgen` runs this module)

from . import open as _open_counter
from ._generation import Generation
from ..errors import CounterClosed

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; threading loads with the watcher thread
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Tuple, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])
    _Entry = Tuple[Callable[..., Any], Tuple[Any, ...], Any]   # (func, args, kwargs)

__all__ = ["register_after_restore", "unregister_after_restore", "register_before_snapshot",
           "unregister_before_snapshot", "run_before_snapshot", "run_after_restore"]

# Registries are tuples replaced whole under _lock, so the watcher reads them without the lock and a
# fork can never inherit one half-updated. _prologue holds vmgen's own hooks (reseeding) that must run
# before every user hook whatever the registration order.
_lock = RLock()
_after: Tuple[_Entry, ...] = ()
_prologue: Tuple[_Entry, ...] = ()
_before: Tuple[_Entry, ...] = ()
_watcher: Optional["_Watcher"] = None
_orphans: List[Any] = []          # counters inherited over fork: kept alive, never touched in the child
_fork_handler_installed = False
_warned = False


class _Watcher:
    """The thread and the counter it waits on. ``last`` is the generation whose hooks ran most recently."""

    def __init__(self, inherited: Optional["_Watcher"] = None) -> None:
        self.counter = _open_counter()
        self.source = f"{self.counter.backend} ({self.counter.path or self.counter.describe()})"
        self.last: Generation = self.counter.read()
        if inherited is not None and inherited.source == self.source:
            # a forked child starts from what its parent had seen, not from now: a change between the
            # fork and this read must run the hooks here too
            self.last = inherited.last
        self.rounds = 0
        import threading

        self.cond = threading.Condition(threading.Lock())
        self.stopped = False
        self.thread = threading.Thread(target=self._run, name="vmgen-restore-hooks", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        seen = self.last
        while True:
            try:
                seen = self.counter.wait(seen)
            except CounterClosed:
                break
            except BaseException as exc:   # a broken device: say so once, stop watching
                _report(exc, "the restore-hook watcher")
                break
            _run_entries(_prologue + _after, "after-restore hook")
            with self.cond:
                self.last = seen
                self.rounds += 1
                self.cond.notify_all()
        with self.cond:
            self.stopped = True
            self.cond.notify_all()

    def stop(self) -> None:
        import threading

        self.counter.close()
        if self.thread is not threading.current_thread():
            self.thread.join()

    def wait_ran(self, generation: Generation, timeout: Optional[float]) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.last == generation or self.stopped, timeout)


def _report(exc: BaseException, where: str) -> None:
    """Report like an exception in a thread (threading.excepthook), naming the hook; never raise."""
    try:
        import threading

        note = f"raised in vmgen {where}"
        if hasattr(exc, "add_note"):
            exc.add_note(note)
        args = threading.ExceptHookArgs((type(exc), exc, exc.__traceback__, threading.current_thread()))
        threading.excepthook(args)
    except Exception:   # the reporter itself must not take the watcher down
        pass


def _run_entries(entries: Tuple[_Entry, ...], kind: str) -> List[BaseException]:
    failed: List[BaseException] = []
    for func, args, kwargs in entries:
        try:
            func(*args, **kwargs)
        except Exception as exc:   # one bad hook must not stop the others (KeyboardInterrupt etc. propagate)
            failed.append(exc)
            _report(exc, f"{kind} {getattr(func, '__qualname__', func)!s}")
    return failed


def _ensure_watcher(inherited: Optional[_Watcher] = None) -> None:
    """Start the watcher if hooks are registered and none runs; warn once if no source can see changes."""
    global _watcher, _warned
    with _lock:
        if _watcher is not None or not (_after or _prologue):
            return
        try:
            _watcher = _Watcher(inherited)
        except OSError as exc:   # DeviceNotFound, PermissionError, ...: registration still works
            if not _warned:
                import warnings

                _warned = True
                warnings.warn(f"vmgen: after-restore hooks are registered but will not run: no generation "
                              f"counter here can see a restore ({exc}); `vmgen doctor` says what to change",
                              RuntimeWarning, stacklevel=4)


def _stop_watcher() -> None:
    global _watcher
    with _lock:
        w, _watcher = _watcher, None
    if w is not None:
        w.stop()


def _install_fork_handler() -> None:
    global _fork_handler_installed
    if not _fork_handler_installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_handler_installed = True


def _after_fork_in_child() -> None:
    """The child has no watcher thread: re-arm one on its own counter (a fresh baseline read)."""
    global _lock, _watcher
    _lock = RLock()          # another thread may have held it at fork time
    inherited = _watcher
    if inherited is not None:
        _orphans.append(inherited)     # its counter belongs to the parent's watcher; leave it alone
        _watcher = None
    _ensure_watcher(inherited)


def _add(entry: _Entry, prologue: bool = False) -> None:
    global _after, _prologue
    with _lock:
        if prologue:
            _prologue = _prologue + (entry,)
        else:
            _after = _after + (entry,)
        _install_fork_handler()
    _ensure_watcher()


def register_after_restore(func: F, *args: Any, **kwargs: Any) -> F:
    """Call ``func(*args, **kwargs)`` after each observed VM generation change (restore or clone).

    Hooks run once per observed change, in registration order, on vmgen's ``vmgen-restore-hooks``
    thread; an exception is reported through ``threading.excepthook`` and the next hook still runs.
    Returns ``func``, so it also works as a decorator (``@register_after_restore``).
    """
    if not callable(func):
        raise TypeError(f"register_after_restore() needs a callable, not {type(func).__name__}")
    _add((func, args, kwargs))
    return func


def unregister_after_restore(func: Callable[..., Any]) -> None:
    """Remove every registration of ``func`` (as atexit.unregister does); unknown functions are ignored.
    The watcher thread ends when no hook is left."""
    global _after
    with _lock:
        _after = tuple(e for e in _after if e[0] != func)
        idle = not _after and not _prologue
    if idle:
        _stop_watcher()


def register_before_snapshot(func: F, *args: Any, **kwargs: Any) -> F:
    """snapshot_restore_py compatibility: record ``func`` to run before a snapshot is taken.

    A guest cannot see a snapshot coming, so vmgen never runs these by itself: only the platform that
    takes the snapshot can, by calling ``vmgen.run_before_snapshot()``. Returns ``func`` (decorator use)."""
    if not callable(func):
        raise TypeError(f"register_before_snapshot() needs a callable, not {type(func).__name__}")
    global _before
    with _lock:
        _before = _before + ((func, args, kwargs),)
    return func


def unregister_before_snapshot(func: Callable[..., Any]) -> None:
    """Remove every before-snapshot registration of ``func``."""
    global _before
    with _lock:
        _before = tuple(e for e in _before if e[0] != func)


def run_before_snapshot() -> List[BaseException]:
    """For the platform about to snapshot this process: run the before-snapshot hooks in the calling
    thread, in reverse registration order (as snapshot_restore_py does). Each failure is reported and the
    rest still run; returns the exceptions raised (empty: all succeeded)."""
    return _run_entries(tuple(reversed(_before)), "before-snapshot hook")


def run_after_restore() -> List[BaseException]:
    """For a platform that learns of a restore by other means: run the after-restore hooks now, in the
    calling thread (vmgen's own reseeding first). Returns the exceptions raised. The watcher, if it sees
    the same restore, runs them again."""
    return _run_entries(_prologue + _after, "after-restore hook")


# ---- for vmgen's own modules (reseed) and the pytest plugin ----

def _has_prologue(func: Callable[..., Any]) -> bool:
    return any(e[0] is func for e in _prologue)


def _add_prologue(func: Callable[..., Any]) -> None:
    with _lock:
        if _has_prologue(func):
            return
    _add((func, (), {}), prologue=True)


def _source() -> Optional[str]:
    """What the running watcher watches ("simulated (/tmp/x)"), or None when no watcher runs."""
    w = _watcher
    return w.source if w is not None else None


def _rearm() -> None:
    """Move the watcher to whatever vmgen.open() picks now (after VMGEN_SIMULATE changed)."""
    _stop_watcher()
    _ensure_watcher()


def _wait_ran(generation: Generation, timeout: Optional[float] = 10.0) -> None:
    """Return once the watcher has run the hooks for ``generation``; at once when no watcher runs."""
    w = _watcher
    if w is None:
        return
    if not w.wait_ran(generation, timeout):
        raise TimeoutError(f"vmgen: after-restore hooks did not finish for generation {generation} "
                           f"within {timeout} s (watching {w.source})")


def _save() -> Tuple[Any, ...]:
    return (_after, _prologue, _before)


def _restore(state: Tuple[Any, ...]) -> None:
    global _after, _prologue, _before
    with _lock:
        _after, _prologue, _before = state
