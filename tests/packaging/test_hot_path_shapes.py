"""The shapes issue 16's speed depends on (the figures come from benchmarks/callgrind_ratios.py).

Each is a property CPython's specialising interpreter needs, which a refactor could silently undo:
`import vmgen` leaves asyncio and the MOF compiler unloaded and has no module __getattr__ (which stops
CPython from specialising `vmgen.NicSaveState`); changed()/token() are plain method descriptors on a Counter
without an instance __dict__; view types are immutable (so calls to them are specialised) yet subclassable.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import vmgen

C_ENGINE = vmgen.IMPLEMENTATION.startswith("C")


def test_import_vmgen_loads_neither_asyncio_nor_the_mof_compiler() -> None:
    code = textwrap.dedent("""
        import sys, vmgen
        assert "asyncio" not in sys.modules, "asyncio"
        assert "vmgen.mof._layout" not in sys.modules, "mof"
        assert "__getattr__" not in vars(vmgen), "module __getattr__"
        assert vmgen.mof.snake_case("IntValue8") == "int_value8"   # vmgen.mof after a plain import vmgen
        import vmgen.mof
        from vmgen.mof import parse
        assert vmgen.mof.parse is parse and "vmgen.mof._layout" in sys.modules
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_counter_hot_path_is_plain_method_descriptors_without_instance_dict() -> None:
    assert type(vmgen.Counter.changed).__name__ == "method_descriptor"
    assert type(vmgen.Counter.token).__name__ == "method_descriptor"
    with vmgen.open("simulated") as c:
        assert not hasattr(c, "__dict__")
        t = c.token()
        assert c.changed(t) is False
        c.advance()
        assert c.changed(t) is True
    with pytest.raises(vmgen.CounterClosed):
        c.changed(t)


@pytest.mark.skipif(not C_ENGINE, reason="type flags of the C engine's view types")
def test_view_types_are_immutable_and_still_subclassable() -> None:
    immutable = 1 << 8   # Py_TPFLAGS_IMMUTABLETYPE
    for cls in (vmgen.NicSaveState, vmgen.FeatureSettings, vmgen.PropertyCustom):
        assert cls.__flags__ & immutable, cls
    with pytest.raises(TypeError):
        vmgen.NicSaveState.port_id = None  # type: ignore[misc]

    class Mine(vmgen.NicSaveState):
        def doubled(self) -> int:
            return self.port_id * 2

    v = Mine(bytearray(vmgen.NicSaveState.build("5cbf81be-5055-47cd-9055-a76b2b4e369e", "x", b"", port_id=4).obj))
    assert v.doubled() == 8
    v.port_id = 5
    assert v.port_id == 5
