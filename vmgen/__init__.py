"""vmgen: notice VM "time travel" (snapshot restore, clone) and work with Hyper-V extensible-switch buffers.

The package's rooms:
  * ``vmgen.counter``: generation counters, ``vmgen.open()`` over Windows, VMClock, vmgenid and a simulated source;
  * ``vmgen.switch``: zero-copy views over switch buffers (``NicSaveState``, ``FeatureSettings``, ...), the
    layouts they are made from, and C headers;
  * ``vmgen.mof``: MOF policy classes -> switch layouts (loaded on first use: see ``_lazy_submodule``);
  * ``vmgen.cli``: the ``vmgen`` command, one module per subcommand;
  * ``vmgen.errors``: the exceptions all of them raise.
This namespace re-exports the public API (see API.md).

``VMGEN_PURE=1`` in the environment (or a missing C extension, with a warning) selects the pure-Python
reference implementation of the views, ``vmgen._reference``.
"""
from __future__ import annotations

from .errors import (
    BufferTooShort,
    CounterClosed,
    DeviceNotFound,
    GenerationChanged,
    LayoutError,
    MofError,
    NotSupported,
    VmgenError,
)
from .switch import (
    IMPLEMENTATION,
    FeatureSettings,
    NicSaveState,
    PortPropertyParameters,
    PropertyCustom,
    SwitchPropertyParameters,
)
from .switch.versions import decode_version, encode_version

__version__ = "0.1.0"

# --- generation counter (vmgen.counter) ---
from .counter import BackendInfo, Counter, Generation, Subscription, backends, open  # noqa: A001 (the API's name)
from .counter.hooks import (register_after_restore, register_before_snapshot, run_after_restore, run_before_snapshot,
                            unregister_after_restore, unregister_before_snapshot)
from .counter.reseed import register_rng, reseed_on_restore, unregister_rng

__all__ = [
    "open", "backends", "BackendInfo", "Generation", "Counter", "Subscription",
    "BufferTooShort", "CounterClosed", "DeviceNotFound", "GenerationChanged", "LayoutError", "MofError",
    "NotSupported", "VmgenError",
    "decode_version", "encode_version",
    "IMPLEMENTATION", "FeatureSettings", "NicSaveState", "PortPropertyParameters", "PropertyCustom",
    "SwitchPropertyParameters",
    "register_after_restore", "unregister_after_restore", "register_before_snapshot", "unregister_before_snapshot",
    "run_before_snapshot", "run_after_restore", "reseed_on_restore", "register_rng", "unregister_rng",
]

def _lazy_submodule(name: str) -> object:
    """``vmgen.<name>`` as a lazy module (importlib's LazyLoader): a real entry in sys.modules and a real
    attribute here, whose code runs at its first attribute access. ``vmgen.mof.parse(...)`` after a plain
    ``import vmgen`` works, and neither ``import vmgen`` nor the attribute loads of the names above pay for
    it (no module ``__getattr__`` here, which would keep CPython from specialising ``vmgen.NicSaveState``)."""
    import sys
    from importlib.util import LazyLoader, find_spec, module_from_spec

    fullname = f"{__name__}.{name}"
    if fullname in sys.modules:
        return sys.modules[fullname]
    spec = find_spec(fullname)
    assert spec is not None and spec.loader is not None, fullname
    spec.loader = LazyLoader(spec.loader)
    module = module_from_spec(spec)
    sys.modules[fullname] = module
    spec.loader.exec_module(module)
    return module


mof = _lazy_submodule("mof")
