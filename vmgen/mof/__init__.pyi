"""Types of vmgen.mof (API.md section 3)."""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import MofError as MofError
from ..switch.compiled import CompiledLayout as CompiledLayout
from ..switch.layout import Prim

TYPES: Tuple[str, ...]
ALL_TYPES: Tuple[str, ...]
V3_TYPES: Tuple[str, ...]
C_TYPES: Dict[str, Prim]
OVERRIDE_TYPES: Dict[str, Prim]

class MofProperty:
    name: str
    type: str
    is_array: bool
    array_size: Optional[int]
    default: Any
    has_default: bool
    qualifiers: Dict[str, Any]
    flavors: Dict[str, Tuple[str, ...]]
    line: int
    column: int
    ref_class: Optional[str]
    embedded_class: Optional[str]
    type_name: Optional[str]
    declaration: Union[MofStructure, MofEnumeration, None]
    class_origin: Optional[str]
    def __init__(self, name: str, type: str, is_array: bool = ..., array_size: Optional[int] = ...,
                 default: Any = ..., has_default: bool = ..., qualifiers: Dict[str, Any] = ...,
                 flavors: Dict[str, Tuple[str, ...]] = ..., line: int = ..., column: int = ...,
                 ref_class: Optional[str] = ..., embedded_class: Optional[str] = ...,
                 type_name: Optional[str] = ..., declaration: Union[MofStructure, MofEnumeration, None] = ...,
                 class_origin: Optional[str] = ...) -> None: ...
    def qualifier(self, name: str, default: Any = ...) -> Any: ...
    @property
    def is_reference(self) -> bool: ...
    @property
    def wmi_data_id(self) -> Optional[int]: ...
    @property
    def max_len(self) -> Optional[int]: ...
    @property
    def max(self) -> Optional[int]: ...

class MofClass:
    name: str
    superclass: Optional[str]
    qualifiers: Dict[str, Any]
    flavors: Dict[str, Tuple[str, ...]]
    properties: List[MofProperty]
    pragmas: Dict[str, Any]
    line: int
    column: int
    methods: List[MofMethod]
    kind: str
    alias: Optional[str]
    path: Optional[str]
    structures: List[MofStructure]
    enumerations: List[MofEnumeration]
    resolved: bool
    def __init__(self, name: str, superclass: Optional[str] = ..., qualifiers: Dict[str, Any] = ...,
                 flavors: Dict[str, Tuple[str, ...]] = ..., properties: List[MofProperty] = ...,
                 pragmas: Dict[str, Any] = ..., line: int = ..., column: int = ...,
                 methods: List[MofMethod] = ..., kind: str = ..., alias: Optional[str] = ...,
                 path: Optional[str] = ..., structures: List[MofStructure] = ...,
                 enumerations: List[MofEnumeration] = ..., resolved: bool = ...) -> None: ...
    @property
    def references(self) -> List[MofProperty]: ...
    def qualifier(self, name: str, default: Any = ...) -> Any: ...
    def get_property(self, name: str) -> MofProperty: ...
    @property
    def uuid(self) -> Optional[str]: ...
    @property
    def extension_id(self) -> Optional[str]: ...

MofParameter = MofProperty

class MofStructure:
    name: str
    superstructure: Optional[str]
    qualifiers: Dict[str, Any]
    flavors: Dict[str, Tuple[str, ...]]
    properties: List[MofProperty]
    structures: List[MofStructure]
    enumerations: List[MofEnumeration]
    path: Optional[str]
    line: int
    column: int
    base: Optional[MofStructure]
    def __init__(self, name: str, superstructure: Optional[str] = ..., qualifiers: Dict[str, Any] = ...,
                 flavors: Dict[str, Tuple[str, ...]] = ..., properties: List[MofProperty] = ...,
                 structures: List[MofStructure] = ..., enumerations: List[MofEnumeration] = ...,
                 path: Optional[str] = ..., line: int = ..., column: int = ...,
                 base: Optional[MofStructure] = ...) -> None: ...
    def qualifier(self, name: str, default: Any = ...) -> Any: ...
    def all_properties(self) -> List[MofProperty]: ...
    def get_property(self, name: str) -> MofProperty: ...

class MofEnumValue:
    name: str
    value: Any
    qualifiers: Dict[str, Any]
    flavors: Dict[str, Tuple[str, ...]]
    line: int
    column: int
    def __init__(self, name: str, value: Any, qualifiers: Dict[str, Any] = ...,
                 flavors: Dict[str, Tuple[str, ...]] = ..., line: int = ..., column: int = ...) -> None: ...

class MofEnumeration:
    name: str
    base_type: str
    superenumeration: Optional[str]
    values: List[MofEnumValue]
    qualifiers: Dict[str, Any]
    flavors: Dict[str, Tuple[str, ...]]
    path: Optional[str]
    line: int
    column: int
    def __init__(self, name: str, base_type: str, superenumeration: Optional[str] = ...,
                 values: List[MofEnumValue] = ..., qualifiers: Dict[str, Any] = ...,
                 flavors: Dict[str, Tuple[str, ...]] = ..., path: Optional[str] = ..., line: int = ...,
                 column: int = ...) -> None: ...
    @property
    def is_integer(self) -> bool: ...
    def qualifier(self, name: str, default: Any = ...) -> Any: ...
    def get_value(self, name: str) -> MofEnumValue: ...

class MofMethod:
    name: str
    return_type: str
    parameters: List[MofProperty]
    qualifiers: Dict[str, Any]
    flavors: Dict[str, Tuple[str, ...]]
    return_is_array: bool
    return_ref_class: Optional[str]
    return_embedded_class: Optional[str]
    line: int
    column: int
    def __init__(self, name: str, return_type: str, parameters: List[MofProperty] = ...,
                 qualifiers: Dict[str, Any] = ..., flavors: Dict[str, Tuple[str, ...]] = ...,
                 return_is_array: bool = ..., return_ref_class: Optional[str] = ...,
                 return_embedded_class: Optional[str] = ..., line: int = ..., column: int = ...) -> None: ...
    def qualifier(self, name: str, default: Any = ...) -> Any: ...

class MofAliasRef:
    name: str
    def __init__(self, name: str) -> None: ...

class MofInstance:
    class_name: str
    values: Dict[str, Any]
    value_qualifiers: Dict[str, Dict[str, Any]]
    qualifiers: Dict[str, Any]
    flavors: Dict[str, Tuple[str, ...]]
    alias: Optional[str]
    pragmas: Dict[str, Any]
    path: Optional[str]
    line: int
    column: int
    kind: str
    def __init__(self, class_name: str, values: Dict[str, Any] = ...,
                 value_qualifiers: Dict[str, Dict[str, Any]] = ..., qualifiers: Dict[str, Any] = ...,
                 flavors: Dict[str, Tuple[str, ...]] = ..., alias: Optional[str] = ...,
                 pragmas: Dict[str, Any] = ..., path: Optional[str] = ..., line: int = ...,
                 column: int = ..., kind: str = ...) -> None: ...
    def value(self, name: str, default: Any = ...) -> Any: ...

class MofQualifierDecl:
    name: str
    type: str
    is_array: bool
    array_size: Optional[int]
    default: Any
    has_default: bool
    scopes: Tuple[str, ...]
    flavors: Tuple[str, ...]
    path: Optional[str]
    line: int
    column: int
    def __init__(self, name: str, type: str, is_array: bool = ..., array_size: Optional[int] = ...,
                 default: Any = ..., has_default: bool = ..., scopes: Tuple[str, ...] = ...,
                 flavors: Tuple[str, ...] = ..., path: Optional[str] = ..., line: int = ...,
                 column: int = ...) -> None: ...

class MofPragma:
    name: str
    values: Tuple[Any, ...]
    path: Optional[str]
    line: int
    column: int
    def __init__(self, name: str, values: Tuple[Any, ...] = ..., path: Optional[str] = ..., line: int = ...,
                 column: int = ...) -> None: ...

class MofDocument:
    classes: List[MofClass]
    instances: List[MofInstance]
    qualifier_decls: List[MofQualifierDecl]
    pragmas: List[MofPragma]
    files: List[str]
    warnings: List[str]
    structures: List[MofStructure]
    enumerations: List[MofEnumeration]
    def __init__(self, classes: List[MofClass] = ..., instances: List[MofInstance] = ...,
                 qualifier_decls: List[MofQualifierDecl] = ..., pragmas: List[MofPragma] = ...,
                 files: List[str] = ..., warnings: List[str] = ..., structures: List[MofStructure] = ...,
                 enumerations: List[MofEnumeration] = ...) -> None: ...
    def get_class(self, name: str) -> MofClass: ...

class MofLayout(CompiledLayout):
    enum_defines: Tuple[Tuple[str, str, str], ...]

# cpp: False (MOF and preprocessor output), True or "builtin" (vmgen's C preprocessor subset), "system" (cpp)
CppMode = Union[bool, str]

def parse(text: str) -> List[MofClass]: ...
def parse_document(text: str, path: Optional[str] = ..., *, cpp: CppMode = ..., include_dirs: Sequence[str] = ...,
                   defines: Optional[Mapping[str, str]] = ...) -> MofDocument: ...
def parse_file(path: str, *, cpp: CppMode = ..., include_dirs: Sequence[str] = ...,
               defines: Optional[Mapping[str, str]] = ...) -> MofDocument: ...
def parse_files(paths: Sequence[str], *, cpp: CppMode = ..., include_dirs: Sequence[str] = ...,
                defines: Optional[Mapping[str, str]] = ...) -> MofDocument: ...
def resolve(source: Union[MofDocument, Sequence[MofClass]], name: str,
            qualifier_decls: Sequence[MofQualifierDecl] = ...) -> MofClass: ...
def can_resolve(classes: Sequence[MofClass], name: str) -> bool: ...
def decode_mof(data: bytes, shown: str = ...) -> Tuple[str, List[str]]: ...
def layout(mof_class: MofClass, *, c_types: Optional[Mapping[str, str]] = ..., name: Optional[str] = ...) -> MofLayout: ...
def select(classes: List[MofClass], name: Optional[str] = ...) -> MofClass: ...
def snake_case(name: str) -> str: ...
