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
]


def __getattr__(name: str) -> object:
    """``vmgen.mof`` after a plain ``import vmgen`` (PEP 562: imported on first use, not at startup)."""
    if name == "mof":
        import importlib

        return importlib.import_module(".mof", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
