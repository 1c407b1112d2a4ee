"""Hyper-V extensible-switch buffers: layouts as data, zero-copy views over them, C headers from them.

The rooms, each depending only on those above it:
  layout      the description language and the structures vmgen ships (ntddndis.h's, seed 001's)
  versions    InterfaceVersion/Revision <-> (major << 8) + minor
  _fields     the Cython field engine (one data descriptor per field)
  _pyfields   the pure-Python reference engine, same behaviour
  _engine     which engine the views run on (VMGEN_PURE=1 picks the reference)
  _viewdefs   the hand-written view methods (builders, validate, the property chain), once for both engines
  codegen     the C header with a _Static_assert on every offset and size
  compiled    CompiledLayout: a layout with its view classes and header (what vmgen.mof returns)

This package's namespace holds the views on the chosen engine.
"""
from __future__ import annotations

from ._engine import IMPLEMENTATION, engine
from ._viewdefs import define_views

_views = define_views(engine)
NicSaveState = _views["NicSaveState"]
FeatureSettings = _views["FeatureSettings"]
PropertyCustom = _views["PropertyCustom"]
PortPropertyParameters = _views["PortPropertyParameters"]
SwitchPropertyParameters = _views["SwitchPropertyParameters"]
