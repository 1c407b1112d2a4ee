"""Views and the garbage collector (issue 13): a view over a GC exporter is tracked, so a cycle through its
buffer's owner (a bytearray subclass holding the view, a save_data memoryview stored on its owner) is
collectable; a view over a bytearray or bytes (which cannot refer back) stays untracked and cheap."""
from __future__ import annotations

import gc
import uuid
import weakref

import pytest

import vmgen
from vmgen import NicSaveState

EXT = uuid.UUID("5cbf81be-5055-47cd-9055-a76b2b4e369e")
RAW = bytes(NicSaveState.build(EXT, "gc", bytes(range(64)), port_id=7).obj)

pytestmark = pytest.mark.skipif(not vmgen.IMPLEMENTATION.startswith("C"), reason="the C engine's GC behaviour")


class Owner(bytearray):
    """A bytearray subclass: has a __dict__, is a GC object, can hold the view that wraps it."""


def _cycle_through_attribute() -> "weakref.ref[Owner]":
    owner = Owner(RAW + bytes(100_000))
    owner.view = NicSaveState(owner)
    return weakref.ref(owner)


def _cycle_through_save_data() -> "weakref.ref[Owner]":
    owner = Owner(RAW + bytes(100_000))
    owner.data = NicSaveState(owner).save_data   # memoryview -> span -> view -> owner -> memoryview
    return weakref.ref(owner)


@pytest.mark.parametrize("make", [_cycle_through_attribute, _cycle_through_save_data])
def test_a_cycle_through_the_buffer_owner_is_collected(make) -> None:
    gc.collect()
    gc.disable()
    try:
        refs = [make() for _ in range(2000)]
        # the control: these really are cycles (reference counting alone frees none of them)
        assert sum(r() is not None for r in refs) == 2000
        gc.collect()
        assert sum(r() is not None for r in refs) == 0
    finally:
        gc.enable()


def test_views_over_non_gc_buffers_are_not_tracked() -> None:
    assert not gc.is_tracked(NicSaveState(bytearray(RAW)))
    assert not gc.is_tracked(NicSaveState(RAW))
    # A memoryview is a GC object, but the collector may clear it while our view still holds its export,
    # and releasing it afterwards crashed CPython: tests/switch/test_switch_contract.py segfaulted every run
    # while views over memoryviews were tracked.
    assert not gc.is_tracked(NicSaveState(memoryview(RAW)))
    assert gc.is_tracked(NicSaveState(Owner(RAW)))


def test_a_view_still_pins_its_bytearray() -> None:
    """The inline bytearray export counts like bytearray's own: no resizing under a live view."""
    b = bytearray(RAW)
    v = NicSaveState(b)
    with pytest.raises(BufferError):
        b.append(0)
    del v
    b.append(0)



def test_subclass_instances_never_enter_the_exact_types_free_list() -> None:
    """A subclass's view (laid out by its own type: a larger size, a managed __dict__ before the object, re-tracked
    by subtype_dealloc) must not be kept for reuse by an exact view type. Crashed the interpreter in the collector
    before (Segmentation fault). In a child process: a crash here is a failed test, not a dead session."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import gc, vmgen
        raw = {RAW!r}
        class Mine(vmgen.NicSaveState):
            pass
        for _ in range(50):
            subs = [Mine(bytearray(raw)) for _ in range(20)]
            for s in subs:
                s.note = 1
            del subs   # s, the last one, stays alive into the next round
            views = [vmgen.NicSaveState(bytearray(raw)) for _ in range(40)]
            datas = [v.save_data for v in views]
            del views
            gc.collect()
            del datas
            gc.collect()
        print("ok")
        """)
    r = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stderr[-2000:])
