"""View types made at run time (e.g. from MOF classes) are freed with their last reference."""
from __future__ import annotations

import gc
import weakref

import pytest

import vmgen.switch.layout as L
from vmgen.switch._viewdefs import view_type_for


@pytest.mark.parametrize("engine_name", ["vmgen.switch._fields", "vmgen.switch._pyfields"])
def test_run_time_view_types_are_collected(engine_name: str) -> None:
    import importlib

    engine = importlib.import_module(engine_name)
    refs = []
    for _ in range(500):
        layout = L.Layout(L.SAMPLE_FEATURE_SETTINGS, L.FEATURE_SETTINGS_LAYOUT.fields, view_name="Scratch")
        cls = view_type_for(engine, layout)
        view = cls.build(int_value32=7)
        view.int_value8 = 1
        assert view.int_value32 == 7 and view.to_dict()["int_value8"] == 1
        refs.append(weakref.ref(cls))
        del cls, view, layout
    gc.collect()
    alive = sum(r() is not None for r in refs)
    assert alive <= 1, f"{alive} of 500 view types still alive"  # the C engine's one-entry cache may pin one


def test_subclass_of_a_view_type_inherits_its_layout() -> None:
    import vmgen

    class Mine(vmgen.NicSaveState):
        __slots__ = ()

        def ours(self) -> bool:
            return self.port_id == 5

    state = vmgen.NicSaveState.build("5cbf81be-5055-47cd-9055-a76b2b4e369e", "x", b"", port_id=5)
    mine = Mine(state.obj)
    assert mine.ours() and mine.to_dict() == state.to_dict()
