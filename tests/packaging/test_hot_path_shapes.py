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


# What `import vmgen` must not load (issue 16: <= 10 ms above a bare interpreter; benchmarks/import_cost.py
# measures it). Each is either heavy itself or pulls in heavy modules; each loads on the first use that needs it.
NOT_AT_IMPORT = (
    "asyncio", "ssl", "socket", "selectors", "concurrent.futures", "typing", "dataclasses", "inspect", "ast", "dis",
    "tokenize", "linecache", "traceback", "uuid", "platform", "re", "enum", "threading", "contextlib", "weakref",
    "_weakrefset", "collections", "functools", "importlib.util", "hashlib", "random", "subprocess", "operator",
    "vmgen.mof._parser", "vmgen.mof._layout", "vmgen.switch.compiled", "vmgen.switch.codegen",
)

_LOADS = textwrap.dedent("""
    import sys
    sys.path.insert(0, ROOT)
    HEAVY = set(HEAVY)
    startup = HEAVY & set(sys.modules)
    before = set(sys.modules)
    import vmgen
    at_import = sorted(HEAVY & (set(sys.modules) - before))

    def first_use(action):
        had = set(sys.modules)
        action()
        return sorted(HEAVY & (set(sys.modules) - had))

    def guid():
        assert str(vmgen.NicSaveState.build(GUID, "x", b"").extension_id) == GUID

    def subscription():
        with vmgen.open("simulated") as c:
            c.subscribe(print).cancel()

    def mof():
        [cls] = vmgen.mof.parse("[WMI, guid(\\"{%s}\\")] class A { [WmiDataId(1)] uint8 X; };" % GUID)
        assert vmgen.mof.layout(cls).view_type.__name__ == "A"

    def kernel_policy():
        vmgen.counter._backends.vmgenid_kernel_notifies("6.8.7")

    # in this order: each first use is the first to need what it is checked for below (uuid loads re too)
    print(repr((sorted(startup), at_import, {f.__name__: first_use(f) for f in (kernel_policy, subscription, guid,
                                                                              mof)})))
""")


def test_import_vmgen_loads_none_of_the_heavy_modules() -> None:
    """`import vmgen` in a fresh interpreter (-S: no site hooks, such as an editable install's finder, which
    import typing/re themselves) loads none of NOT_AT_IMPORT. Negative control, in the same process: the first
    GUID read, subscription, MOF compile and kernel-version check do load the modules they need, so the check
    sees them when they load (a moved import would fail the assertion on at_import)."""
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(vmgen.__file__)))
    code = (f"ROOT = {root!r}; HEAVY = {NOT_AT_IMPORT!r}; GUID = '5cbf81be-5055-47cd-9055-a76b2b4e369e'\n"
            + _LOADS)
    r = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    startup, at_import, first_use = eval(r.stdout)  # noqa: S307 - our own subprocess's repr of lists/dicts
    # what the interpreter loads before vmgen cannot be judged (3.13 loads linecache at start-up): not these
    assert not set(startup) & {"typing", "dataclasses", "inspect", "asyncio", "uuid", "threading", "re"}, startup
    assert at_import == [], f"import vmgen loaded {at_import}"
    # negative control: each lazy path loads what it needs, and the check sees it
    assert "uuid" in first_use["guid"], first_use
    assert "threading" in first_use["subscription"], first_use
    assert {"vmgen.mof._parser", "vmgen.mof._layout", "vmgen.switch.compiled"} <= set(first_use["mof"]), first_use
    assert "re" in first_use["kernel_policy"], first_use


def test_lazy_mof_module_is_one_object_and_loads_once_across_threads() -> None:
    """vmgen.mof is the same module object before and after its code runs (as with importlib's LazyLoader), and
    threads racing on its first attribute read all see the loaded module (none sees a half-run one)."""
    code = textwrap.dedent("""
        import sys, threading, vmgen
        m = vmgen.mof
        assert type(m).__name__ == "_LazyModule" and "vmgen.mof._layout" not in sys.modules
        got, errors = [], []
        def read():
            try:
                got.append(m.layout)
            except BaseException as exc:
                errors.append(exc)
        threads = [threading.Thread(target=read) for _ in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        assert not errors and len(got) == 8 and len(set(map(id, got))) == 1, (errors, got)
        assert type(m) is type(sys) and sys.modules["vmgen.mof"] is m is vmgen.mof
        import vmgen.mof._layout as lay
        assert m.layout is lay.layout
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


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
