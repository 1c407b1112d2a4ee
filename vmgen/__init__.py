"""vmgen: notice VM "time travel" (snapshot restore, clone) and work with Hyper-V extensible-switch buffers.

The package's rooms:
  * ``vmgen.counter``: generation counters, ``vmgen.open()`` over Windows, VMClock, vmgenid and a simulated source;
  * ``vmgen.switch``: zero-copy views over switch buffers (``NicSaveState``, ``FeatureSettings``, ...), the
    layouts they are made from, and C headers;
  * ``vmgen.mof``: MOF policy classes -> switch layouts (imported on first use);
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

# Restore hooks and reseeding (vmgen.counter.hooks, vmgen.counter.reseed): imported on first use.
_LAZY = {
    "register_after_restore": "hooks", "unregister_after_restore": "hooks", "register_before_snapshot": "hooks",
    "unregister_before_snapshot": "hooks", "run_before_snapshot": "hooks", "run_after_restore": "hooks",
    "reseed_on_restore": "reseed", "register_rng": "reseed", "unregister_rng": "reseed",
}


def __getattr__(name: str) -> object:
    """``vmgen.mof`` after a plain ``import vmgen`` (PEP 562: imported on first use, not at startup)."""
    if name == "mof":
        import importlib

        return importlib.import_module(".mof", __name__)
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(".counter." + _LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
