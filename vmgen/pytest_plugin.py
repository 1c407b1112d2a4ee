"""pytest plugin (entry point ``pytest11``): the ``vm_restore`` fixture, to test restore handling.

Inert unless a test asks for ``vm_restore``: loading it defines one fixture and imports nothing else
(no counter, no thread). The fixture points ``VMGEN_SIMULATE`` at a fresh simulated counter file, so
``vmgen.open()`` and the restore-hook watcher use it, and undoes that (and every hook registered during
the test) at teardown.

    def test_reseeds(vm_restore):
        vmgen.reseed_on_restore()
        values = vm_restore.clones(4, random.random)
        assert len(set(values)) == 4
"""
from __future__ import annotations

import os
import pickle
import sys
import traceback
import warnings
from typing import Any, Callable, Iterator, List, Optional

import pytest


class VmRestore:
    """What the ``vm_restore`` fixture gives a test: ``restore()``, ``clones(n, func)``, ``counter``, ``path``."""

    def __init__(self, counter: Any, path: str) -> None:
        self.counter = counter   # the simulated vmgen.Counter every vmgen.open() in this test shares
        self.path = path         # its file, the value of VMGEN_SIMULATE during the test

    def restore(self, timeout: float = 10.0) -> Any:
        """Simulate a restore: advance the generation, return the new one once every after-restore hook
        of this process has run (at once if none is registered)."""
        from vmgen.counter import hooks

        g = self.counter.advance()
        hooks._wait_ran(g, timeout)
        return g

    def clones(self, n: int, func: Callable[[], Any], timeout: float = 30.0) -> List[Any]:
        """Fork ``n`` children -- clones of this process, RNG state and all --, restore once (all of them
        see it, as clones of one snapshot do), and return what ``func()`` returned in each clone after its
        own after-restore hooks ran. Results must be picklable; an exception in a clone is re-raised here
        as RuntimeError carrying the clone's traceback. POSIX only (needs os.fork).

        fork() is not a VM clone in one respect this undoes: CPython reseeds the random module's global
        instance in a forked child, a VM clone keeps it, so each child gets the parent's state back.
        OpenSSL also notices fork() (a new pid) and reseeds; that cannot be undone here."""
        if not hasattr(os, "fork"):
            pytest.skip("vm_restore.clones() needs os.fork (POSIX)")
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 256:
            raise ValueError("clones(n, func): n must be an int in 1..256")
        if not callable(func):
            raise TypeError("clones(n, func): func must be callable")
        from vmgen.counter import hooks

        # A VM clone keeps the random module's state; fork() does not (CPython reseeds the global instance
        # in a forked child), so each child gets the parent's state back before the restore.
        rnd = sys.modules.get("random")
        rstate = rnd.getstate() if rnd is not None else None
        children = []
        advanced = False
        try:
            for _ in range(n):
                r, w = os.pipe()
                with warnings.catch_warnings():
                    # 3.12+ warns about fork() with threads running; vmgen's own watcher thread is
                    # re-armed in the child (os.register_at_fork), the fork is deliberate.
                    warnings.filterwarnings("ignore", message=r".*multi-threaded.*fork\(\)",
                                            category=DeprecationWarning)
                    pid = os.fork()
                if pid == 0:   # the clone: never returns
                    os.close(r)
                    if rnd is not None:
                        rnd.setstate(rstate)
                    _clone_main(w, self.path, func, timeout)
                os.close(w)
                children.append((pid, os.fdopen(r, "rb")))
            for _, f in children:   # every clone has read its baseline generation
                if f.read(1) != b"R":
                    raise RuntimeError("a clone exited before it was ready (see its stderr)")
            g = self.counter.advance()
            advanced = True
            results = [_clone_result(f) for _, f in children]
            hooks._wait_ran(g, timeout)   # the parent's own hooks, too, before returning
            return results
        finally:
            if not advanced and children:
                self.counter.advance()   # release the clones waiting for the restore, so they exit now
            for pid, f in children:
                f.close()
                os.waitpid(pid, 0)

    def __repr__(self) -> str:
        return f"<vm_restore {self.path}: generation {self.counter.read()}>"


def _clone_main(w: int, path: str, func: Callable[[], Any], timeout: float) -> None:
    code = 0
    try:
        from vmgen import counter as _counter
        from vmgen.counter import hooks

        c = _counter.open("simulated", path=path)
        g0 = c.read()           # the fork handler re-armed this clone's watcher before we got here
        os.write(w, b"R")
        g1 = c.wait(g0, timeout)
        hooks._wait_ran(g1, timeout)
        payload = pickle.dumps(("ok", func()))
    except BaseException:
        code = 1
        payload = pickle.dumps(("error", traceback.format_exc()))
    try:
        with os.fdopen(w, "wb") as f:
            f.write(payload)
    finally:
        os._exit(code)   # no pytest teardown, atexit or buffered output of the parent's in the clone


def _clone_result(f: Any) -> Any:
    data = f.read()
    if not data:
        raise RuntimeError("a clone died without a result")
    kind, value = pickle.loads(data)
    if kind != "ok":
        raise RuntimeError(f"func raised in a clone:\n{value}")
    return value


@pytest.fixture
def vm_restore(tmp_path: Any) -> Iterator[VmRestore]:
    """A simulated VM generation counter installed as this process's default for the test."""
    from vmgen import counter as _counter
    from vmgen.counter import hooks

    path = str(tmp_path / "vmgen-generation")
    old_env: Optional[str] = os.environ.get("VMGEN_SIMULATE")
    saved = hooks._save()
    os.environ["VMGEN_SIMULATE"] = path
    sim = _counter.open("simulated", path=path)
    try:
        hooks._rearm()      # a watcher started before the test moves to the simulated file
        yield VmRestore(sim, path)
    finally:
        hooks._restore(saved)   # hooks registered by the test go away with it
        if old_env is None:
            os.environ.pop("VMGEN_SIMULATE", None)
        else:
            os.environ["VMGEN_SIMULATE"] = old_env
        with warnings.catch_warnings():   # restoring the state before the test, not a new registration
            warnings.simplefilter("ignore", RuntimeWarning)
            hooks._rearm()  # back to the real source (or no watcher when no hook is left)
        sim.close()

