"""vmgen: notice VM "time travel" (snapshot restore, clone) and work with Hyper-V extensible-switch buffers.

The package's rooms:
  * ``vmgen.counter``: generation counters, ``vmgen.open()`` over Windows, VMClock, vmgenid and a simulated source;
  * ``vmgen.switch``: zero-copy views over switch buffers (``NicSaveState``, ``FeatureSettings``, ...), the
    layouts they are made from, and C headers;
  * ``vmgen.mof``: MOF policy classes -> switch layouts (loaded on first use: see ``vmgen/_lazy.py``);
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

from ._lazy import lazy_submodule as _lazy_submodule

# vmgen.mof: the MOF compiler, loaded at its first use (vmgen/_lazy.py). No module __getattr__ here, which would
# keep CPython from specialising `vmgen.NicSaveState` (issue 16).
mof = _lazy_submodule(__name__, __path__, "mof")
del _lazy_submodule
