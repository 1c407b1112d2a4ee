"""What ``vmgen.mof.parse`` returns: MOF classes and properties with their qualifiers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

# The scalar types of the MOF subset vmgen lays out (lower case; MOF type names are case-insensitive).
INTEGER_TYPES = ("uint8", "uint16", "uint32", "uint64", "sint8", "sint16", "sint32", "sint64")
TYPES = INTEGER_TYPES + ("boolean", "char16", "string", "datetime")


def _lookup(qualifiers: Dict[str, Any], name: str, default: Any) -> Any:
    """Qualifier names are case-insensitive in MOF; the dict keeps the spelling of the source."""
    if name in qualifiers:
        return qualifiers[name]
    low = name.lower()
    for key, value in qualifiers.items():
        if key.lower() == low:
            return value
    return default


def _int_qualifier(qualifiers: Dict[str, Any], name: str) -> Optional[int]:
    value = _lookup(qualifiers, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class MofProperty:
    """One property of a MOF class.

    ``type`` is the MOF type in lower case (``"uint16"``, ``"string"``, ...). ``qualifiers`` maps each
    qualifier's name, spelled as in the source, to its value: ``True`` for a bare qualifier like
    ``Key``, a tuple for an array value ``Values{"a", "b"}``, else the int/str/float/bool/None given.
    ``flavors`` maps a qualifier name to its flavors (``("Amended",)``) where the source gave any.
    ``default`` is the initializer's value (a tuple for an array initializer such as ``{}``) and
    ``has_default`` says whether there was one (``= null`` gives ``default=None, has_default=True``).
    """

    name: str
    type: str
    is_array: bool = False
    array_size: Optional[int] = None  # ``T X[n]``; ``T X[]`` leaves it None
    default: Any = None
    has_default: bool = False
    qualifiers: Dict[str, Any] = field(default_factory=dict)
    flavors: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    line: int = 0
    column: int = 0

    def qualifier(self, name: str, default: Any = None) -> Any:
        """The value of qualifier ``name`` (case-insensitive), or ``default``."""
        return _lookup(self.qualifiers, name, default)

    @property
    def wmi_data_id(self) -> Optional[int]:
        return _int_qualifier(self.qualifiers, "WmiDataId")

    @property
    def max_len(self) -> Optional[int]:
        return _int_qualifier(self.qualifiers, "MaxLen")

    @property
    def max(self) -> Optional[int]:
        return _int_qualifier(self.qualifiers, "Max")


@dataclass
class MofClass:
    """One MOF class declaration.

    ``pragmas`` holds the ``#pragma`` values in effect where the class was declared (lower-case names:
    ``{"namespace": "\\\\\\\\.\\\\root\\\\virtualization\\\\v2"}``; the last one of each name wins).
    """

    name: str
    superclass: Optional[str] = None
    qualifiers: Dict[str, Any] = field(default_factory=dict)
    flavors: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    properties: List[MofProperty] = field(default_factory=list)
    pragmas: Dict[str, Any] = field(default_factory=dict)
    line: int = 0
    column: int = 0

    def qualifier(self, name: str, default: Any = None) -> Any:
        """The value of class qualifier ``name`` (case-insensitive), or ``default``."""
        return _lookup(self.qualifiers, name, default)

    def get_property(self, name: str) -> MofProperty:
        """The property called ``name`` (case-insensitive, like MOF); KeyError if there is none."""
        low = name.lower()
        for p in self.properties:
            if p.name.lower() == low:
                return p
        raise KeyError(f"{self.name} has no property {name!r}")

    @property
    def uuid(self) -> Optional[str]:
        value = self.qualifier("UUID")
        return value if isinstance(value, str) else None

    @property
    def extension_id(self) -> Optional[str]:
        value = self.qualifier("ExtensionId")
        return value if isinstance(value, str) else None
