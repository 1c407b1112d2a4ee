"""Types of the buffer views (API.md section 2). Any object exporting the buffer protocol is accepted."""
import uuid
from typing import Any, ClassVar, Dict, Iterable, Optional, Type, TypeVar, Union

from .layout import Layout

_Buffer = Any  # bytes, bytearray, memoryview, mmap, numpy arrays, array.array, other views, ...
_Guid = Union[uuid.UUID, str]
_Version = Union[str, int, tuple[int, int]]
_V = TypeVar("_V", bound="_View")

IMPLEMENTATION: str
engine: Any

class _View:
    layout: ClassVar[Layout]
    def __init__(self, buf: _Buffer, offset: int = ...) -> None: ...
    @property
    def offset(self) -> int: ...
    @property
    def readonly(self) -> bool: ...
    @property
    def obj(self) -> Any: ...
    @property
    def nbytes(self) -> int: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...

class _HeaderFields(_View):
    header_type: int
    header_revision: int
    header_size: int
    flags: int

class NicSaveState(_HeaderFields):
    port_id: int
    nic_index: int
    extension_id: uuid.UUID
    extension_friendly_name: str
    feature_class_id: uuid.UUID
    save_data_size: int
    save_data_offset: int
    save_data_size_overflow: int
    @property
    def save_data(self) -> memoryview: ...
    def validate(self, extension_id: Optional[_Guid] = ...) -> None: ...
    @staticmethod
    def bytes_needed(data_len: int, save_data_offset: int = ...) -> int: ...
    @classmethod
    def fill(cls: Type[_V], buf: _Buffer, *, extension_id: _Guid, extension_friendly_name: str,
             save_data: _Buffer, feature_class_id: Optional[_Guid] = ...) -> _V: ...
    @classmethod
    def build(cls: Type[_V], extension_id: _Guid, extension_friendly_name: str, save_data: _Buffer, *,
              port_id: int = ..., nic_index: int = ..., feature_class_id: Optional[_Guid] = ...,
              into: Optional[_Buffer] = ...) -> _V: ...

class FeatureSettings(_View):
    version: ClassVar[int]
    int_value8: int
    int_value16: int
    int_value32: int
    int_value64: int
    fixed_length_string: str
    @property
    def variable_length_string(self) -> str: ...
    @property
    def fixed_length_array(self) -> memoryview: ...
    @fixed_length_array.setter
    def fixed_length_array(self, value: Iterable[int]) -> None: ...
    @property
    def variable_length_array(self) -> memoryview: ...
    @classmethod
    def build(cls: Type[_V], into: Optional[_Buffer] = ..., *, int_value8: int = ..., int_value16: int = ...,
              int_value32: int = ..., int_value64: int = ..., fixed_length_string: str = ...,
              variable_length_string: str = ..., fixed_length_array: Iterable[int] = ...,
              variable_length_array: Iterable[int] = ...) -> _V: ...

class PropertyCustom(_HeaderFields):
    property_buffer_length: int
    property_buffer_offset: int
    @property
    def property_buffer(self) -> memoryview: ...
    def settings(self, view_type: Type[_V]) -> _V: ...
    def validate(self) -> None: ...
    @classmethod
    def build(cls: Type[_V], payload: _Buffer, *, into: Optional[_Buffer] = ...) -> _V: ...

class _PropertyParameters(_HeaderFields):
    property_type: int
    property_id: uuid.UUID
    property_version: int
    serialization_version: int
    property_instance_id: uuid.UUID
    property_buffer_length: int
    property_buffer_offset: int
    @property
    def property_buffer(self) -> memoryview: ...
    def custom(self) -> PropertyCustom: ...
    def validate(self, property_id: Optional[_Guid] = ..., property_version: Optional[_Version] = ...) -> None: ...
    def validated_settings(self, view_type: Type[_V], *, property_id: Optional[_Guid] = ...,
                           property_version: Optional[_Version] = ...) -> _V: ...

class PortPropertyParameters(_PropertyParameters):
    port_id: int
    reserved: int
    @classmethod
    def build(cls: Type[_V], *, port_id: int, property_id: _Guid, property_version: _Version,
              property_instance_id: _Guid, payload: _Buffer, property_type: int = ...,
              into: Optional[_Buffer] = ...) -> _V: ...

class SwitchPropertyParameters(_PropertyParameters):
    @classmethod
    def build(cls: Type[_V], *, property_id: _Guid, property_version: _Version, property_instance_id: _Guid,
              payload: _Buffer, property_type: int = ..., into: Optional[_Buffer] = ...) -> _V: ...
