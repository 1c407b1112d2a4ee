"""What ``vmgen.mof.parse`` returns (classes and their properties, methods and references) and what
``parse_document`` adds (instances, qualifier declarations, pragmas)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Protocol, Tuple, TypeVar

# The scalar types of the MOF subset vmgen lays out (lower case; MOF type names are case-insensitive).
INTEGER_TYPES = ("uint8", "uint16", "uint32", "uint64", "sint8", "sint16", "sint32", "sint64")
TYPES = INTEGER_TYPES + ("boolean", "char16", "string", "datetime")
# Every MofProperty.type the parser gives: TYPES, floating point, "object" (an embedded object: WMI's
# `object X` or `ClassName X`; embedded_class names the class) and "ref" (ref_class names the class).
ALL_TYPES = TYPES + ("real32", "real64", "object", "ref")
# MOF v3 (DSP0221 3.0): a property typed by a structure or an enumeration (type_name names it).
V3_TYPES = ("structure", "enumeration")


def _lookup(qualifiers: Dict[str, Any], name: str, default: Any) -> Any:
    """Qualifier names are case-insensitive in MOF; the dict keeps the spelling of the source."""
    if name in qualifiers:
        return qualifiers[name]
    low = name.lower()
    for key, value in qualifiers.items():
        if key.lower() == low:
            return value
    return default


class _HasName(Protocol):
    name: str


_T = TypeVar("_T", bound=_HasName)


def _named(items: Iterable[_T], name: str, missing: str) -> _T:
    """The item whose .name is ``name``, case-insensitive like MOF; KeyError(missing) if there is none."""
    low = name.lower()
    for item in items:
        if item.name.lower() == low:
            return item
    raise KeyError(missing)


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
    ref_class: Optional[str] = None       # type "ref": the referenced class (``Foo REF X``)
    embedded_class: Optional[str] = None  # type "object": the embedded object's class (None: any)
    # MOF v3: type "structure" / "enumeration" names the declaration here; ``declaration`` is the
    # MofStructure / MofEnumeration it resolved to (where it was declared before use).
    type_name: Optional[str] = None
    declaration: Any = field(default=None, compare=False, repr=False)
    class_origin: Optional[str] = None    # set by resolve(): the class that declared the property

    def qualifier(self, name: str, default: Any = None) -> Any:
        """The value of qualifier ``name`` (case-insensitive), or ``default``."""
        return _lookup(self.qualifiers, name, default)

    @property
    def is_reference(self) -> bool:
        return self.type == "ref"

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
    methods: List["MofMethod"] = field(default_factory=list)
    kind: str = "class"             # "association" / "indication": the MOF v3 keyword or the qualifier
    alias: Optional[str] = None     # ``class X as $A``
    path: Optional[str] = None      # the file it came from (parse_file, #pragma include)
    structures: List["MofStructure"] = field(default_factory=list)      # MOF v3, declared in the class
    enumerations: List["MofEnumeration"] = field(default_factory=list)  # MOF v3, declared in the class
    resolved: bool = False          # made by resolve(): inherited properties included

    @property
    def references(self) -> List[MofProperty]:
        return [p for p in self.properties if p.type == "ref"]

    def qualifier(self, name: str, default: Any = None) -> Any:
        """The value of class qualifier ``name`` (case-insensitive), or ``default``."""
        return _lookup(self.qualifiers, name, default)

    def get_property(self, name: str) -> MofProperty:
        """The property called ``name`` (case-insensitive, like MOF); KeyError if there is none."""
        return _named(self.properties, name, f"{self.name} has no property {name!r}")

    @property
    def uuid(self) -> Optional[str]:
        value = self.qualifier("UUID")
        return value if isinstance(value, str) else None

    @property
    def extension_id(self) -> Optional[str]:
        value = self.qualifier("ExtensionId")
        return value if isinstance(value, str) else None


# A parameter has a property's shape: type, array, default, qualifiers, ref_class, embedded_class.
MofParameter = MofProperty


@dataclass
class MofMethod:
    """A method: ``return_type`` as a property's type ("void" allowed, as WMI writes it), its parameters."""

    name: str
    return_type: str
    parameters: List[MofProperty] = field(default_factory=list)
    qualifiers: Dict[str, Any] = field(default_factory=dict)
    flavors: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    return_is_array: bool = False
    return_ref_class: Optional[str] = None
    return_embedded_class: Optional[str] = None
    line: int = 0
    column: int = 0

    def qualifier(self, name: str, default: Any = None) -> Any:
        return _lookup(self.qualifiers, name, default)


@dataclass
class MofStructure:
    """MOF v3 ``structure Name [: Super] { properties, nested structures and enumerations };``"""

    name: str
    superstructure: Optional[str] = None
    qualifiers: Dict[str, Any] = field(default_factory=dict)
    flavors: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    properties: List[MofProperty] = field(default_factory=list)
    structures: List["MofStructure"] = field(default_factory=list)
    enumerations: List["MofEnumeration"] = field(default_factory=list)
    path: Optional[str] = None
    line: int = 0
    column: int = 0
    base: Optional["MofStructure"] = field(default=None, compare=False, repr=False)  # the superstructure

    def qualifier(self, name: str, default: Any = None) -> Any:
        return _lookup(self.qualifiers, name, default)

    def all_properties(self) -> List[MofProperty]:
        """The superstructures' properties first (a redeclared name replaces the inherited one in place)."""
        props = self.base.all_properties() if self.base is not None else []
        index = {p.name.lower(): i for i, p in enumerate(props)}
        for p in self.properties:
            i = index.get(p.name.lower())
            if i is None:
                index[p.name.lower()] = len(props)
                props.append(p)
            else:
                props[i] = p
        return props

    def get_property(self, name: str) -> MofProperty:
        return _named(self.all_properties(), name, f"structure {self.name} has no property {name!r}")


@dataclass
class MofEnumValue:
    """One value of an enumeration: ``Name = 3`` (integer) or ``Name [= "text"]`` (string; default: Name)."""

    name: str
    value: Any
    qualifiers: Dict[str, Any] = field(default_factory=dict)
    flavors: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    line: int = 0
    column: int = 0


@dataclass
class MofEnumeration:
    """MOF v3 ``enumeration Name : base { values };`` (base: an integer type, string, or another enumeration,
    whose values come first and whose type ``base_type`` is)."""

    name: str
    base_type: str
    superenumeration: Optional[str] = None
    values: List[MofEnumValue] = field(default_factory=list)
    qualifiers: Dict[str, Any] = field(default_factory=dict)
    flavors: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    path: Optional[str] = None
    line: int = 0
    column: int = 0

    @property
    def is_integer(self) -> bool:
        return self.base_type in INTEGER_TYPES

    def qualifier(self, name: str, default: Any = None) -> Any:
        return _lookup(self.qualifiers, name, default)

    def get_value(self, name: str) -> MofEnumValue:
        """The value called ``name`` (case-insensitive); KeyError if there is none."""
        return _named(self.values, name, f"enumeration {self.name} has no value {name!r}")


@dataclass(frozen=True)
class MofAliasRef:
    """A value written ``$name``: refers to the instance or class declared ``as $name``."""

    name: str


@dataclass
class MofInstance:
    """``instance of Class [as $alias] { Prop = value; ... };`` (values keyed by the source spelling)."""

    class_name: str
    values: Dict[str, Any] = field(default_factory=dict)
    value_qualifiers: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    qualifiers: Dict[str, Any] = field(default_factory=dict)
    flavors: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    alias: Optional[str] = None
    pragmas: Dict[str, Any] = field(default_factory=dict)
    path: Optional[str] = None
    line: int = 0
    column: int = 0
    kind: str = "instance"   # "value": MOF v3 ``value of Structure {...}``

    def value(self, name: str, default: Any = None) -> Any:
        """The value given for property ``name`` (case-insensitive), or ``default``."""
        return _lookup(self.values, name, default)


@dataclass
class MofQualifierDecl:
    """``qualifier Name : type [= default], scope(...) [, flavor(...)];``"""

    name: str
    type: str
    is_array: bool = False
    array_size: Optional[int] = None
    default: Any = None
    has_default: bool = False
    scopes: Tuple[str, ...] = ()
    flavors: Tuple[str, ...] = ()
    path: Optional[str] = None
    line: int = 0
    column: int = 0


@dataclass
class MofPragma:
    """One ``#pragma name(values)`` (``values`` empty for ``#pragma autorecover``)."""

    name: str
    values: Tuple[Any, ...] = ()
    path: Optional[str] = None
    line: int = 0
    column: int = 0


@dataclass
class MofDocument:
    """Everything a MOF text declares, included files' declarations in place."""

    classes: List[MofClass] = field(default_factory=list)
    instances: List[MofInstance] = field(default_factory=list)
    qualifier_decls: List[MofQualifierDecl] = field(default_factory=list)
    pragmas: List[MofPragma] = field(default_factory=list)
    files: List[str] = field(default_factory=list)   # the files read (parse_file and #pragma include)
    warnings: List[str] = field(default_factory=list)  # e.g. a file read as Windows-1252
    structures: List[MofStructure] = field(default_factory=list)      # MOF v3, top level
    enumerations: List[MofEnumeration] = field(default_factory=list)  # MOF v3, top level

    def get_class(self, name: str) -> MofClass:
        return _named(self.classes, name, f"no class {name!r}")
