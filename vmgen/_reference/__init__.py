"""The pure-Python reference of every vmgen view: same class names, fields, errors, builders and
``to_dict`` as ``vmgen``'s C views, defined from the same layouts and the same methods
(``vmgen.switch._viewdefs``) over the plain engine ``vmgen.switch._pyfields``. Tests compare the two."""
from __future__ import annotations

from ..switch import _pyfields
from ..switch._viewdefs import define_views

_views = define_views(_pyfields)
NicSaveState = _views["NicSaveState"]
FeatureSettings = _views["FeatureSettings"]
PropertyCustom = _views["PropertyCustom"]
PortPropertyParameters = _views["PortPropertyParameters"]
SwitchPropertyParameters = _views["SwitchPropertyParameters"]

__all__ = ["NicSaveState", "FeatureSettings", "PropertyCustom", "PortPropertyParameters", "SwitchPropertyParameters"]
