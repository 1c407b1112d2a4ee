"""Types of vmgen.mof (API.md section 3)."""
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import MofError as MofError
from ..switch.compiled import CompiledLayout as CompiledLayout
from ..switch.layout import Prim

TYPES: Tuple[str, ...]
ALL_TYPES: Tuple[str, ...]
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
    def __init__(self, name: str, type: str, is_array: bool = ..., array_size: Optional[int] = ...,
                 default: Any = ..., has_default: bool = ..., qualifiers: Dict[str, Any] = ...,
                 flavors: Dict[str, Tuple[str, ...]] = ..., line: int = ..., column: int = ...,
                 ref_class: Optional[str] = ..., embedded_class: Optional[str] = ...) -> None: ...
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
    def __init__(self, name: str, superclass: Optional[str] = ..., qualifiers: Dict[str, Any] = ...,
                 flavors: Dict[str, Tuple[str, ...]] = ..., properties: List[MofProperty] = ...,
                 pragmas: Dict[str, Any] = ..., line: int = ..., column: int = ...,
                 methods: List[MofMethod] = ..., kind: str = ..., alias: Optional[str] = ...,
                 path: Optional[str] = ...) -> None: ...
    @property
    def references(self) -> List[MofProperty]: ...
    def qualifier(self, name: str, default: Any = ...) -> Any: ...
    def get_property(self, name: str) -> MofProperty: ...
    @property
    def uuid(self) -> Optional[str]: ...
    @property
    def extension_id(self) -> Optional[str]: ...

MofParameter = MofProperty

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
    def __init__(self, class_name: str, values: Dict[str, Any] = ...,
                 value_qualifiers: Dict[str, Dict[str, Any]] = ..., qualifiers: Dict[str, Any] = ...,
                 flavors: Dict[str, Tuple[str, ...]] = ..., alias: Optional[str] = ...,
                 pragmas: Dict[str, Any] = ..., path: Optional[str] = ..., line: int = ...,
                 column: int = ...) -> None: ...
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
    def __init__(self, classes: List[MofClass] = ..., instances: List[MofInstance] = ...,
                 qualifier_decls: List[MofQualifierDecl] = ..., pragmas: List[MofPragma] = ...,
                 files: List[str] = ..., warnings: List[str] = ...) -> None: ...
    def get_class(self, name: str) -> MofClass: ...

def parse(text: str) -> List[MofClass]: ...
def parse_document(text: str, path: Optional[str] = ...) -> MofDocument: ...
def parse_file(path: str) -> MofDocument: ...
def decode_mof(data: bytes, shown: str = ...) -> Tuple[str, List[str]]: ...
def layout(mof_class: MofClass, *, c_types: Optional[Mapping[str, str]] = ..., name: Optional[str] = ...) -> CompiledLayout: ...
def select(classes: List[MofClass], name: Optional[str] = ...) -> MofClass: ...
def snake_case(name: str) -> str: ...
