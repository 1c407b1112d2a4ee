"""``vmgen.mof`` as a lazy submodule: a real module in ``sys.modules`` and a real attribute of ``vmgen``, whose
code runs at its first attribute access, in that same module object.

This is what ``importlib.util.LazyLoader`` does, written out over the import system's own bootstrap, because
``importlib.util`` costs more to import than everything else ``import vmgen`` still loads on 3.10 (it pulls in
contextlib, functools and collections there). ``vmgen``'s own namespace has no module ``__getattr__``: that
would stop CPython from specialising ``vmgen.NicSaveState`` (issue 16); the hook is on the lazy module only.
"""
from __future__ import annotations

import sys
from _thread import RLock

try:
    import _frozen_importlib as _bootstrap   # importlib._bootstrap, loaded at start-up: importing it is free
except ImportError:  # pragma: no cover - an interpreter without the frozen bootstrap
    from importlib import _bootstrap  # type: ignore[no-redef]

_ModuleType = type(sys)
_lock = RLock()          # one load at a time; re-entered by the module's own imports while it runs
_loading: set = set()    # ids of the modules whose code is running now (their own reads go straight through)


class _LazyModule(_ModuleType):
    """A module whose code has not run yet: the first attribute read runs it (other threads wait for it)."""

    def __getattribute__(self, attr: str) -> object:
        if type(self) is _LazyModule:
            _load(self)
        return _ModuleType.__getattribute__(self, attr)

    def __delattr__(self, attr: str) -> None:
        _load(self)
        _ModuleType.__delattr__(self, attr)


def _load(module: _ModuleType) -> None:
    with _lock:
        if type(module) is not _LazyModule or id(module) in _loading:
            return
        _loading.add(id(module))
        try:
            spec = _ModuleType.__getattribute__(module, "__spec__")
            spec.loader.exec_module(module)
            module.__class__ = _ModuleType   # loaded: plain module attribute access from now on
        finally:
            _loading.discard(id(module))


def lazy_submodule(package: str, path: list, name: str) -> _ModuleType:
    """``package.name`` (``path``: the package's ``__path__``), imported now if its code ran already, else lazily."""
    fullname = f"{package}.{name}"
    if fullname in sys.modules:
        return sys.modules[fullname]
    spec = _bootstrap._find_spec(fullname, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {fullname!r}", name=fullname)
    module = _bootstrap.module_from_spec(spec)
    module.__class__ = _LazyModule
    sys.modules[fullname] = module
    return module
