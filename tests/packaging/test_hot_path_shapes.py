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


def test_changed_is_the_c_fast_path_on_counterbase_and_counter() -> None:
    from vmgen.counter import _core
    base = vars(_core.CounterBase)["changed"]
    mine = vars(vmgen.Counter)["changed"]
    assert type(base).__name__ == type(mine).__name__ == "method_descriptor"
    assert base.__text_signature__ == mine.__text_signature__ == "($self, token, /)"  # vg_hot_call.h's def


def test_changed_identity_cache_matches_the_value_path() -> None:
    """changed(t) for the object token() returned takes a cached value; an equal int of another identity, a
    bool, a big int and a bad token take the conversion: all must agree with the counter's state."""
    with vmgen.open("simulated") as c:
        t = c.token()
        same_value = int(str(t))            # equal, and not the cached object unless a small-int singleton
        assert c.changed(t) is False and c.changed(same_value) is False
        c.advance()
        assert c.changed(t) is True and c.changed(same_value) is True
        t2 = c.token()
        assert c.changed(t2) is False and c.changed(t) is True   # the cache follows the last token()
        assert c.changed(t2 + 2**40) is True and c.changed(2**64 - 1) is True
        with pytest.raises(OverflowError):
            c.changed(-1)
        with pytest.raises(OverflowError):
            c.changed(2**64)
        with pytest.raises(TypeError):
            c.changed("1")
    with pytest.raises(vmgen.CounterClosed):   # closed: the cached token must not answer
        c.changed(t2)
    with pytest.raises(vmgen.CounterClosed):
        c.changed(t2 + 1)


@pytest.mark.skipif(not C_ENGINE, reason="the C engine's per-type field table")
def test_every_plain_integer_field_has_the_per_type_lookup() -> None:
    from vmgen.switch import _fields
    from vmgen.switch.layout import K_INT
    for cls in (vmgen.NicSaveState, vmgen.FeatureSettings, vmgen.PropertyCustom, vmgen.PortPropertyParameters,
                vmgen.SwitchPropertyParameters):
        plain = {spec[1] for spec in cls.layout.field_specs() if spec[0] == K_INT and not spec[6]}
        assert plain and _fields._fast_names(cls) == plain, cls


@pytest.mark.skipif(not C_ENGINE, reason="the C engine's wrap and field slots")
def test_fast_slots_keep_every_check() -> None:
    raw = vmgen.NicSaveState.build("5cbf81be-5055-47cd-9055-a76b2b4e369e", "x", b"", port_id=4).obj
    ba = bytearray(raw)
    v = vmgen.NicSaveState(ba)                 # the C wrap (exact bytearray, no offset)
    assert v.port_id == 4 and v.offset == 0 and not v.readonly
    v.port_id = 2**32 - 1
    assert v.port_id == 2**32 - 1
    for bad, exc in ((2**32, OverflowError), (-1, OverflowError), (1.0, TypeError), ("1", TypeError)):
        with pytest.raises(exc):
            v.port_id = bad
    assert v.port_id == 2**32 - 1              # a failed store writes nothing
    with pytest.raises(AttributeError):
        del v.port_id
    with pytest.raises(BufferError):           # the bytearray is pinned while the view lives
        ba.extend(b"x")
    ro = vmgen.NicSaveState(bytes(raw))        # the slow path (bytes): read-only
    assert ro.port_id == 4
    with pytest.raises(TypeError):
        ro.port_id = 5
    fs = vmgen.FeatureSettings(bytearray(vmgen.FeatureSettings.layout.size))  # another type: the cache moves
    assert type(fs) is vmgen.FeatureSettings and type(vmgen.NicSaveState(ba)) is vmgen.NicSaveState
    with pytest.raises(vmgen.BufferTooShort):
        vmgen.NicSaveState(bytearray(len(raw) - 1))
    v2 = vmgen.NicSaveState(ba, offset=0)      # keyword: the slow path, same result
    assert v2.port_id == v.port_id
    del v, v2
    ba.extend(b"x")                            # both views gone: the export count is back to zero
