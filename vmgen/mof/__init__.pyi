"""Types of vmgen.mof (API.md section 3)."""
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import MofError as MofError
from ..switch.compiled import CompiledLayout as CompiledLayout
from ..switch.layout import Prim

TYPES: Tuple[str, ...]
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
    def __init__(self, name: str, type: str, is_array: bool = ..., array_size: Optional[int] = ...,
                 default: Any = ..., has_default: bool = ..., qualifiers: Dict[str, Any] = ...,
                 flavors: Dict[str, Tuple[str, ...]] = ..., line: int = ..., column: int = ...) -> None: ...
    def qualifier(self, name: str, default: Any = ...) -> Any: ...
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
    def __init__(self, name: str, superclass: Optional[str] = ..., qualifiers: Dict[str, Any] = ...,
                 flavors: Dict[str, Tuple[str, ...]] = ..., properties: List[MofProperty] = ...,
                 pragmas: Dict[str, Any] = ..., line: int = ..., column: int = ...) -> None: ...
    def qualifier(self, name: str, default: Any = ...) -> Any: ...
    def get_property(self, name: str) -> MofProperty: ...
    @property
    def uuid(self) -> Optional[str]: ...
    @property
    def extension_id(self) -> Optional[str]: ...

def parse(text: str) -> List[MofClass]: ...
def layout(mof_class: MofClass, *, c_types: Optional[Mapping[str, str]] = ..., name: Optional[str] = ...) -> CompiledLayout: ...
def select(classes: List[MofClass], name: Optional[str] = ...) -> MofClass: ...
def snake_case(name: str) -> str: ...
