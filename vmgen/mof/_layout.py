"""Layout compilation: a parsed MOF class -> a CompiledLayout laid out as WMI serializes it (see vmgen.mof)."""
from __future__ import annotations

import keyword
import re
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

from ..errors import MofError
from ..switch import layout as L
from ..switch.compiled import CompiledLayout
from ..switch.versions import encode_version

from ._model import INTEGER_TYPES, TYPES, MofClass, MofDocument, MofEnumeration, MofProperty, MofStructure
from ._parser import CIM_DATETIME_CHARS
from ._parser import parse_document as _parse_document
from ._resolve import merge_documents
from ._source import decode_mof, read_mof_file, warn

__all__ = ["parse", "parse_document", "parse_file", "layout", "select", "snake_case", "MofClass", "MofProperty", "MofError", "TYPES", "C_TYPES"]

# MOF type -> C type of its value slot
C_TYPES: Dict[str, L.Prim] = {
    "uint8": L.UINT8, "uint16": L.UINT16, "uint32": L.UINT32, "uint64": L.UINT64,
    "sint8": L.INT8, "sint16": L.INT16, "sint32": L.INT32, "sint64": L.INT64,
    "boolean": L.BOOLEAN, "char16": L.WCHAR,
}
# C types a c_types override may name (every integer type the header knows)
OVERRIDE_TYPES: Dict[str, L.Prim] = {name: p for name, p in L.PRIMS.items() if p is not L.GUID}

_MAX_STRUCT_SIZE = 0x7FFFFFFF  # offsets are UINT32 in the serialized form; keep every size well inside
_MAX_MAXLEN = 0xFFFF // 2 - 1  # the UINT16 byte count must hold MaxLen characters

_C_KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if inline int long
    register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while
    _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local
    asm bool true false alignas alignof static_assert thread_local typeof nullptr
    and and_eq bitand bitor catch char8_t char16_t char32_t class co_await co_return co_yield compl concept
    const_cast consteval constexpr constinit decltype delete dynamic_cast explicit export friend module
    mutable namespace new noexcept not not_eq operator or or_eq private protected public reinterpret_cast
    requires static_cast template this throw try typeid typename using virtual wchar_t xor xor_eq import
""".split())
# Names the generated header defines itself or takes from <windows.h>/<stdint.h>, and common object-like
# macros of <windows.h> (found by compiling headers with such members under mingw-w64): as member names
# they would break the header on Windows. Not exhaustive: windows.h defines thousands of ALL_CAPS macros.
_C_RESERVED = frozenset(list(L.PRIMS) + """
    VARIABLE_LENGTH_STRING VARIABLE_LENGTH_ARRAY offsetof NULL errno
    IN OUT OPTIONAL CONST VOID TRUE FALSE ERROR DELETE IGNORE INFINITE MAX_PATH CALLBACK WINAPI APIENTRY
    NEAR FAR PASCAL CDECL near far pascal cdecl hyper interface STATUS_TIMEOUT STATUS_PENDING
    UNALIGNED UNALIGNED64 RESTRICTED_POINTER POINTER_32 POINTER_64 FORCEINLINE DECLSPEC_ALIGN
    RECT POINT SIZE POINTS RECTL POINTL SIZEL FILETIME SYSTEMTIME GUID IID CLSID LARGE_INTEGER ULARGE_INTEGER
    HANDLE HWND HMODULE HINSTANCE HKEY HRESULT NTSTATUS LPVOID PVOID LPSTR LPWSTR LPCSTR LPCWSTR WCHAR CHAR
    BYTE WORD DWORD QWORD BOOL BOOLEAN INT UINT LONG ULONG SHORT USHORT FLOAT DOUBLE LONGLONG ULONGLONG
    DWORD64 DWORD_PTR ULONG_PTR LONG_PTR UINT_PTR INT_PTR SIZE_T SSIZE_T LPARAM WPARAM LRESULT ATOM COLORREF
    VARIANT BSTR SAFEARRAY DECIMAL CY DATE OVERLAPPED SECURITY_ATTRIBUTES MSG small
    ANYSIZE_ARRAY MAXCHAR MAXBYTE MAXWORD MAXDWORD MAXLONG MINCHAR MINLONG MINSHORT MAXSHORT PASSIVE_LEVEL
    STATUS_SUCCESS NO_ERROR S_OK S_FALSE E_FAIL WAIT_TIMEOUT WAIT_FAILED INVALID_HANDLE_VALUE MAX_COMPUTERNAME_LENGTH
    ABSOLUTE RELATIVE DUMMYSTRUCTNAME DUMMYUNIONNAME TEXT ANSI_NULL UNICODE_NULL
""".split())
# Attributes every view class already has.
_VIEW_ATTRS = frozenset({"build", "layout", "nbytes", "obj", "offset", "readonly", "to_dict", "version"})
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_LOWER_DIGIT = _LOWER | frozenset("0123456789")
_C_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_C_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_C_NOISE = re.compile(r'/\*.*?\*/|"(?:[^"\\\n]|\\.)*"', re.S)   # comments and strings of a header


def parse(text: str) -> List[MofClass]:
    """Every class declared in ``text`` (the whole DSP0221 grammar is read: instances, qualifier declarations
    and pragmas too, see parse_document). A syntax error raises MofError with 1-based line and column."""
    return _parse_document(text).classes


def parse_document(text: str, path: Optional[str] = None, *, cpp: Any = False, include_dirs: Sequence[str] = (),
                   defines: Optional[Mapping[str, str]] = None) -> MofDocument:
    """Everything ``text`` declares: classes (with methods and references), instances, qualifier
    declarations, MOF v3 structures and enumerations, pragmas. ``path`` (the file the text came from) lets
    ``#pragma include`` find its files, relative to it.

    ``cpp``: False (default) reads MOF as mofcomp does, plus preprocessor output (linemarkers); True (or
    "builtin") runs vmgen's C preprocessor subset first (``#include``, object-like ``#define``, ``#if``...:
    what driver-kit MOF uses); "system" runs the system ``cpp``. ``include_dirs`` and ``defines``
    (``{"NAME": "value"}``) are its -I and -D."""
    doc = _parse_document(text, path, read_mof_file, cpp=cpp, include_dirs=include_dirs,
                          defines=dict(defines) if defines else None)
    warn(doc.warnings)
    return doc


def parse_file(path: str, *, cpp: Any = False, include_dirs: Sequence[str] = (),
               defines: Optional[Mapping[str, str]] = None) -> MofDocument:
    """parse_document() of a MOF file, decoded as mofcomp files come (see vmgen.mof._source): BOM-marked
    UTF-8/UTF-16, UTF-16 without a BOM, UTF-8, else Windows-1252 with a UnicodeWarning."""
    text, warnings = read_mof_file(path, regular_only=False)
    doc = _parse_document(text, path, read_mof_file, cpp=cpp, include_dirs=include_dirs,
                          defines=dict(defines) if defines else None)
    doc.warnings[:0] = warnings
    warn(doc.warnings)
    return doc



def parse_in_order(sources: Iterable[Tuple[str, Optional[str], List[str]]], *, cpp: Any = False,
                   include_dirs: Sequence[str] = (), defines: Optional[Mapping[str, str]] = None,
                   ) -> Iterator[MofDocument]:
    """The document of each (text, path, decoding warnings), compiled in order as mofcomp compiles several
    files: a later file sees the MOF v3 structures and enumerations of the earlier ones. Warnings stay in
    each document's .warnings (the caller reports them)."""
    earlier: Dict[str, Any] = {}
    for text, path, warnings in sources:
        doc = _parse_document(text, path, read_mof_file, cpp=cpp, include_dirs=include_dirs,
                              defines=dict(defines) if defines else None, outer_types=dict(earlier))
        doc.warnings[:0] = warnings
        earlier.update((d.name.lower(), d) for d in doc.structures)
        earlier.update((e.name.lower(), e) for e in doc.enumerations)
        yield doc


def parse_files(paths: Sequence[str], *, cpp: Any = False, include_dirs: Sequence[str] = (),
                defines: Optional[Mapping[str, str]] = None) -> MofDocument:
    """parse_file() of several files as one document (so a class may derive from a class of another file;
    see resolve()). A class declared again in a later file replaces the earlier one, with a warning."""
    if isinstance(paths, str):
        raise TypeError("parse_files() takes a list of paths (parse_file() takes one)")
    def sources() -> Iterator[Tuple[str, Optional[str], List[str]]]:
        for path in paths:
            text, warnings = read_mof_file(path, regular_only=False)
            yield text, path, warnings
    docs = list(parse_in_order(sources(), cpp=cpp, include_dirs=include_dirs, defines=defines))
    merged = merge_documents(docs)
    warn(merged.warnings)
    return merged


def snake_case(name: str) -> str:
    """``IntValue8`` -> ``int_value8``, ``FixedLengthString`` -> ``fixed_length_string``,
    ``MACAddress`` -> ``mac_address``."""
    # One pass (the two regexes this replaces backtracked quadratically on long all-caps names): a '_'
    # goes before an ASCII capital that follows a lower-case letter or digit, or that ends a run of
    # capitals and starts a word (the 'A' of MACAddress).
    out: List[str] = []
    n = len(name)
    for i, c in enumerate(name):
        if i and c in _UPPER:
            prev = name[i - 1]
            if prev in _LOWER_DIGIT or (prev in _UPPER and i + 1 < n and name[i + 1] in _LOWER):
                out.append("_")
        out.append(c)
    return "".join(out).lower()


class _FlatStruct(L.Struct):
    """A Struct whose members are found by name in O(1): field_specs() looks one up per accessor, and
    Struct.member() scans, which made layout() quadratic in the property count (MOF structs are flat)."""

    def __init__(self, name: str, members: Any, pack: int = 8) -> None:
        super().__init__(name, members, pack=pack)
        self._by_name: Dict[str, L.Member] = {}
        for m in self.members:
            self._by_name.setdefault(m.name, m)

    def member(self, path: str) -> Tuple[int, L.Member]:
        m = self._by_name.get(path)
        if m is None:   # a dotted path or a missing name: the general lookup and its messages
            return super().member(path)
        return m.offset, m


def _err(prop: Optional[MofProperty], message: str, cls: Optional[MofClass] = None) -> MofError:
    where: Any = prop if prop is not None else cls
    return MofError(message, getattr(where, "line", 0), getattr(where, "column", 0))


def _version(cls: MofClass) -> Optional[int]:
    major_q = cls.qualifier("InterfaceVersion")
    minor_q = cls.qualifier("InterfaceRevision")
    if major_q is None:
        if minor_q is not None:
            raise _err(None, f"class {cls.name}: InterfaceRevision without InterfaceVersion", cls)
        return None
    try:
        major_s = str(major_q).strip()
        parts = major_s.split(".")
        major = int(parts[0])
        minor = int(parts[1]) if len(parts) == 2 else 0
        if minor_q is not None:
            revision = int(str(minor_q).strip())
            if len(parts) == 2 and revision != minor:
                raise _err(None, f"class {cls.name}: InterfaceVersion({major_q!r}) and "
                                 f"InterfaceRevision({minor_q!r}) disagree", cls)
            minor = revision
        return encode_version((major, minor))
    except (ValueError, OverflowError, IndexError) as exc:
        if isinstance(exc, MofError):
            raise
        raise _err(None, f"class {cls.name}: InterfaceVersion/InterfaceRevision: {exc}", cls) from None


def _ordered(cls: MofClass) -> List[MofProperty]:
    """The properties in WmiDataId order; ids must be 1..N, each once (WMI's rule for serialized classes)."""
    by_id: Dict[int, MofProperty] = {}
    numbered = any(p.wmi_data_id is not None for p in cls.properties)
    for p in cls.properties:
        wid = p.wmi_data_id
        if wid is None:
            if numbered:   # WMI serializes only the WmiDataId properties (InstanceName, Active stay out)
                continue
            raise _err(p, f"property {p.name} of {cls.name} has no WmiDataId qualifier "
                          "(every serialized property needs one)")
        if wid in by_id:
            raise _err(p, f"properties {by_id[wid].name} and {p.name} of {cls.name} both have WmiDataId({wid})")
        by_id[wid] = p
    if not by_id:
        raise _err(None, f"class {cls.name} declares no properties: nothing to lay out", cls)
    missing = [i for i in range(1, len(by_id) + 1) if i not in by_id]
    if missing:
        top = max(by_id)
        hint = ""
        if cls.superclass and not cls.resolved:
            hint = (f"; {cls.name} derives from {cls.superclass}: if that declares the missing ids, lay out the "
                    "resolved class (vmgen.mof.resolve, or give vmgen mof2h the superclass's file too)")
        raise _err(by_id[top], f"WmiDataId values of {cls.name} must run 1..{len(by_id)} without gaps: "
                               f"{missing[0]} is missing (found {by_id[top].name} with WmiDataId({top})){hint}")
    return [by_id[i] for i in sorted(by_id)]


class _Slot:
    """One generated member, with the property it came from and whether c_types may retype it."""

    def __init__(self, name: str, prim: L.Prim, count: Optional[int], prop: MofProperty, role: str) -> None:
        self.name, self.prim, self.count, self.prop, self.role = name, prim, count, prop, role


def _why_not(p: MofProperty) -> str:
    t = p.type
    if t == "enumeration":
        return (f"enumeration {p.type_name} is a string enumeration, which has no integer slot (declare the "
                "property string with MaxLen(n), or make the enumeration's base an integer type)")
    if t in ("real32", "real64"):
        return f"{t} is floating point, which the serialized policy layout has no slot for"
    if t == "ref":
        return f"it is a reference ({p.ref_class} REF): object paths are not serialized into the struct"
    if t == "object":
        what = f"class {p.embedded_class}" if p.embedded_class else "any class"
        return f"it is an embedded object ({what}), not a fixed-layout value"
    return f"unsupported type {t!r} (supported: {', '.join(TYPES)})"


def _property_slots(cls: MofClass, p: MofProperty) -> Tuple[List[_Slot], str]:
    """The members one property serializes to, and the accessor kind."""
    n = p.name
    t = p.type
    if t == "enumeration" and isinstance(p.declaration, MofEnumeration) and p.declaration.is_integer:
        t = p.declaration.base_type   # an integer enumeration is its base integer type in the struct
    if t not in TYPES:
        raise _err(p, f"property {n} of {cls.name} cannot be laid out in a policy struct: {_why_not(p)}")
    if p.is_array and t in ("string", "datetime"):
        raise _err(p, f"property {n} of {cls.name} cannot be laid out in a policy struct: an array of {t} "
                      "has no fixed serialized form here (use a fixed-length string or an integer array)")
    if p.max_len is not None and t != "string":
        raise _err(p, f"MaxLen applies to string properties; {n} is {t}")
    if p.max is not None and not p.is_array:
        raise _err(p, f"Max(n) sizes an array; {n} is not an array (declare it {t} {n}[])")
    if p.is_array:
        if t not in C_TYPES:  # pragma: no cover - string/datetime arrays are refused above
            raise _err(p, f"unsupported MOF construct: array of {t} ({n})")
        size = p.max
        if p.array_size is not None:
            if size is not None and size != p.array_size:
                raise _err(p, f"{n}[{p.array_size}] disagrees with Max({size})")
            size = p.array_size
        count = _Slot(n + "ElementCount", L.UINT32, None, p, "count")
        if size is not None:
            return [count, _Slot(n, C_TYPES[t], size, p, "elements")], "farr"
        return [count, _Slot(n + "Offset", L.UINT32, None, p, "offset")], "oarr"
    if t == "string":
        if p.max_len is None:
            return [_Slot(n + "Offset", L.UINT32, None, p, "offset")], "ostr"
        if p.max_len > _MAX_MAXLEN:
            raise _err(p, f"MaxLen({p.max_len}) of {n}: its byte count must fit the UINT16 {n}ByteCount "
                          f"(at most MaxLen({_MAX_MAXLEN}))")
        return [_Slot(n + "ByteCount", L.UINT16, None, p, "count"),
                _Slot(n, L.WCHAR, p.max_len + 1, p, "chars")], "cstr"
    if t == "datetime":  # a CIM datetime string, yyyymmddHHMMSS.mmmmmmsUUU, as a MaxLen(25) string
        return [_Slot(n + "ByteCount", L.UINT16, None, p, "count"),
                _Slot(n, L.WCHAR, CIM_DATETIME_CHARS + 1, p, "chars")], "cstr"
    return [_Slot(n, C_TYPES[t], None, p, "value")], "int"


def _apply_overrides(cls: MofClass, slots: List[_Slot], elements: Dict[str, L.Prim],
                     c_types: Mapping[str, str]) -> None:
    by_member = {s.name: s for s in slots}
    for key, type_name in c_types.items():
        if not isinstance(key, str) or not isinstance(type_name, str):
            raise MofError(f"c_types: keys and values must be str, not {key!r}: {type_name!r}")
        prim = OVERRIDE_TYPES.get(type_name.strip())
        if prim is None:
            raise MofError(f"c_types[{key!r}]: unknown C type {type_name!r} (one of {', '.join(OVERRIDE_TYPES)})")
        slot = by_member.get(key)
        if slot is None:  # a property name (case-insensitive, like MOF): its value slot
            try:
                prop = cls.get_property(key)
            except KeyError:
                raise MofError(f"c_types: {key!r} is neither a property nor a member of {cls.name}") from None
            if prop.name in elements:  # T X[] without Max: the elements' type lives in the accessor
                elements[prop.name] = prim
                continue
            slot = by_member.get(prop.name)
            if slot is None or slot.role == "chars":
                raise _err(prop, f"c_types: {prop.name} is a {prop.type}; retype its members by name "
                                 f"({', '.join(s.name for s in slots if s.prop is prop)}) instead")
        if slot.role == "structure":
            raise _err(slot.prop, f"c_types: {slot.name} is an inline structure ({slot.prop.type_name}); "
                                  "its members keep their MOF types")
        if slot.role == "chars":
            raise _err(slot.prop, f"c_types: {slot.name} holds the string's characters and must stay WCHAR")
        if slot.role in ("count", "offset") and prim.signed:
            raise _err(slot.prop, f"c_types: {slot.name} is a {slot.role} and must be unsigned, not {prim.name}")
        slot.prim = prim


def _members_in_order(st: MofStructure) -> List[MofProperty]:
    """A structure's members (superstructures' first): in WmiDataId order when they carry WmiDataId (the
    same 1..N rule as a class), else in declaration order."""
    props = st.all_properties()
    if any(q.wmi_data_id is not None for q in props):
        return _ordered(MofClass(st.name, properties=props, line=st.line, column=st.column))
    return props


def _accessor(kind: str, attr: str, path: str, elements: Dict[str, L.Prim]) -> L.Accessor:
    if kind == "int":
        return L.Int(attr, path)
    if kind == "cstr":
        return L.CountedString(attr, path + "ByteCount", path)
    if kind == "ostr":
        return L.OffsetString(attr, path + "Offset")
    if kind == "farr":
        return L.FixedArray(attr, path + "ElementCount", path)
    return L.OffsetArray(attr, path + "ElementCount", path + "Offset", elements[path])


def _inline_structure(cls: MofClass, top: MofProperty, st: MofStructure, path: str, attr: str,
                      seen: Dict[str, MofStructure], out: List[Tuple[str, MofProperty, L.Accessor]]) -> L.Struct:
    """The C struct of a structure-typed property, laid out inline (a nested struct under the same pack(8));
    its members' accessors go to ``out`` as (attribute, property, accessor) with dotted member paths."""
    def refuse(reason: str) -> MofError:
        return _err(top, f"property {top.name} of {cls.name} cannot be laid out in a policy struct: {reason}")
    if not isinstance(st, MofStructure):
        raise refuse(f"structure {top.type_name} is unknown")
    _check_c_name(st.name, "structure name", top)
    other = seen.get(st.name)
    if other is not None and other is not st:
        raise refuse(f"two different structures are called {st.name} (one C struct name each)")
    if len(path.split(".")) > 16:
        raise refuse("structures nested more than 16 deep")
    seen[st.name] = st
    members: List[Tuple[Any, ...]] = []
    names: Set[str] = set()
    props = _members_in_order(st)
    if not props:
        raise refuse(f"structure {st.name} has no members (an empty C struct is not portable)")
    for q in props:
        _check_c_name(q.name, f"member of structure {st.name}", q)
        sub_attr = attr + "_" + snake_case(q.name)
        if q.type == "structure":
            if q.is_array:
                raise refuse(f"member {q.name} of structure {st.name} is an array of structures, which has no "
                             "per-element accessor")
            members.append((q.name, _inline_structure(cls, top, q.declaration, path + "." + q.name, sub_attr,
                                                       seen, out), None))
            names.add(q.name)
            continue
        try:
            slots, kind = _property_slots(cls, q)
        except MofError as exc:
            raise refuse(f"member {q.name} of structure {st.name}: {str(exc).split(': ', 2)[-1]}") from None
        if kind in ("ostr", "oarr"):
            raise refuse(f"member {q.name} of structure {st.name} has a variable-length part ({slots[-1].name}); "
                         "an inline structure holds fixed-size members only (give it MaxLen(n) or Max(n))")
        for slot in slots:
            if slot.name in names:
                raise refuse(f"member {slot.name} of structure {st.name} collides with another member")
            names.add(slot.name)
            members.append((slot.name, slot.prim, slot.count))
        out.append((sub_attr, q, _accessor(kind, sub_attr, path + "." + q.name, {})))
    return L.Struct(st.name, members, pack=8)


def _c_int(value: int, base: str) -> str:
    """An integer literal of MOF type ``base`` a C compiler reads as that value (suffix; INTn_MIN spelled
    as C requires)."""
    lo, _hi = _INT_RANGE[base]
    big = base.endswith("64")
    if base.startswith("u"):
        return f"{value}{'ull' if big else 'u'}"
    suffix = "ll" if big else ""
    if value == lo:
        return f"({lo + 1}{suffix} - 1)"
    return f"({value}{suffix})" if value < 0 else f"{value}{suffix}"


_INT_RANGE = {t: ((-(1 << (int(t[4:]) - 1)), (1 << (int(t[4:]) - 1)) - 1) if t[0] == "s" else (0, (1 << int(t[4:])) - 1))
              for t in INTEGER_TYPES}


def _enum_defines(cls: MofClass, used: List[Tuple[MofProperty, MofEnumeration]]) -> Tuple[Tuple[str, str, str], ...]:
    """``#define Enum_Value n`` for every value of every integer enumeration the layout uses."""
    out: List[Tuple[str, str, str]] = []
    names: Dict[str, Tuple[str, MofEnumeration]] = {}
    for p, en in used:
        if any(n == en.name for n, _ in names.values()):
            continue
        comment = f"enumeration {en.name} : {en.base_type} (property {p.name}: laid out as its {en.base_type})"
        for v in en.values:
            macro = f"{en.name}_{v.name}"
            _check_c_name(macro, f"value {v.name} of enumeration {en.name} (as the C macro)", p)
            if macro in names:
                raise _err(p, f"enumerations {names[macro][1].name} and {en.name} both give the C macro {macro}")
            names[macro] = (en.name, en)
            out.append((macro, _c_int(v.value, en.base_type), comment))
            comment = ""
    return tuple(out)


class MofLayout(CompiledLayout):
    """A CompiledLayout whose header also names the values of the integer enumerations it uses."""

    _fields = CompiledLayout._fields + ("enum_defines",)

    def __init__(self, *args: Any, enum_defines: Tuple[Tuple[str, str, str], ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enum_defines = enum_defines

    def c_header(self, guard: Optional[str] = None) -> str:
        header = super().c_header(guard)
        if not self.enum_defines:
            return header
        used = set(_C_WORD.findall(_C_NOISE.sub(" ", header)))
        for name, _, _ in self.enum_defines:   # a macro would rewrite a member, type or guard of that name
            if name in used:
                raise MofError(f"the enumeration value macro {name} has the name of an identifier the header "
                               f"already uses (a member, a struct or the include guard): rename one of them")
        lines = []
        for name, value, comment in self.enum_defines:
            if comment:
                lines.append(f"/* {comment} */")
            lines.append(f"#define {name} {value}")
        text = "\n".join(lines) + "\n\n"
        # before the first struct definition (after the prelude and the version #define)
        at = min(i for i in (header.find("#ifndef VMGEN_DEFINED_"), header.find("#pragma pack(push")) if i >= 0)
        return header[:at] + text + header[at:]


def _value_type(p: MofProperty) -> str:
    """The MOF type of the property's value slot (an integer enumeration's base type)."""
    if p.type == "enumeration" and isinstance(p.declaration, MofEnumeration):
        return p.declaration.base_type
    return p.type


def _collect_enums(p: MofProperty, out: List[Tuple[MofProperty, MofEnumeration]], depth: int = 0) -> None:
    if p.type == "enumeration" and isinstance(p.declaration, MofEnumeration):
        out.append((p, p.declaration))
    elif p.type == "structure" and isinstance(p.declaration, MofStructure) and depth < 16:
        for q in p.declaration.all_properties():
            _collect_enums(q, out, depth + 1)


def _check_c_name(name: str, what: str, prop: Optional[MofProperty] = None, cls: Optional[MofClass] = None) -> None:
    if not _C_IDENT.match(name):
        raise _err(prop, f"{what} {name!r} is not a C identifier", cls)
    if name in _C_KEYWORDS or name in _C_RESERVED:
        raise _err(prop, f"{what} {name!r} is a C keyword (C or C++), a type name the header uses or a <windows.h> macro or type",
                   cls)


def layout(mof_class: MofClass, *, c_types: Optional[Mapping[str, str]] = None,
           name: Optional[str] = None) -> L.Layout:
    """The serialized C layout of ``mof_class`` (``#pragma pack(8)``, fields in WmiDataId order).

    ``c_types`` maps a property name (or a generated member name) to the C type of that slot, e.g.
    ``{"IntValue16": "UINT32"}``. ``name`` names the C struct and the view class (default: the class
    name). ``Layout.version`` is ``(InterfaceVersion << 8) + InterfaceRevision`` (None without them).
    """
    if not isinstance(mof_class, MofClass):
        raise TypeError(f"layout() needs a MofClass (from vmgen.mof.parse), not {type(mof_class).__name__}")
    struct_name = mof_class.name if name is None else name
    _check_c_name(struct_name, "struct name", cls=mof_class)
    slots: List[_Slot] = []
    kinds: List[Tuple[MofProperty, str]] = []
    elements: Dict[str, L.Prim] = {}  # variable arrays: property name -> element type
    nested: Dict[str, List[Tuple[str, MofProperty, L.Accessor]]] = {}   # accessors into inline structures
    structs: Dict[str, MofStructure] = {}
    enums: List[Tuple[MofProperty, MofEnumeration]] = []
    for p in _ordered(mof_class):
        _check_c_name(p.name, "property name", p)
        _collect_enums(p, enums)
        if p.type == "structure":
            if p.is_array:
                raise _err(p, f"property {p.name} of {mof_class.name} cannot be laid out in a policy struct: an "
                              f"array of structures ({p.type_name}) has no per-element accessor")
            nested[p.name] = []
            sub = _inline_structure(mof_class, p, p.declaration, p.name, snake_case(p.name), structs,
                                    nested[p.name])
            slots.append(_Slot(p.name, sub, None, p, "structure"))  # type: ignore[arg-type]
            kinds.append((p, "structure"))
            continue
        prop_slots, kind = _property_slots(mof_class, p)
        slots += prop_slots
        kinds.append((p, kind))
        if kind == "oarr":
            elements[p.name] = C_TYPES[_value_type(p)]
    if c_types:
        _apply_overrides(mof_class, slots, elements, c_types)

    members: Set[str] = set()
    for s in slots:
        if s.name in members or s.name == struct_name:
            raise _err(s.prop, f"member {s.name} (from property {s.prop.name}) collides with another member "
                               f"or the struct name {struct_name}")
        members.add(s.name)
    struct = _FlatStruct(struct_name, [(s.name, s.prim, s.count) for s in slots], pack=8)
    if struct.size > _MAX_STRUCT_SIZE:
        raise _err(None, f"class {mof_class.name} lays out to {struct.size} bytes; UINT32 offsets need < 2 GiB",
                   mof_class)

    fields: List[L.Accessor] = []
    attrs: Dict[str, MofProperty] = {}
    entries: List[Tuple[str, MofProperty, Optional[L.Accessor], str]] = []
    for p, kind in kinds:
        if kind == "structure":
            entries += [(a, q, acc, "") for a, q, acc in nested[p.name]]
        else:
            entries.append((snake_case(p.name), p, None, kind))
    for attr, p, acc, kind in entries:
        if acc is not None:
            if keyword.iskeyword(attr) or attr in _VIEW_ATTRS or not attr.isidentifier():
                raise _err(p, f"member {p.name} would be the view attribute {attr!r}, which views reserve")
            if attr in attrs:
                raise _err(p, f"{attrs[attr].name} and {p.name} both become the view attribute {attr!r}")
            attrs[attr] = p
            fields.append(acc)
            continue
        if keyword.iskeyword(attr):
            attr += "_"
        if attr in _VIEW_ATTRS or attr.startswith("_") or not attr.isidentifier():
            raise _err(p, f"property {p.name} would be the view attribute {attr!r}, which views reserve")
        if attr in attrs:
            raise _err(p, f"properties {attrs[attr].name} and {p.name} both become the view attribute {attr!r}")
        attrs[attr] = p
        fields.append(_accessor(kind, attr, p.name, elements))

    helpers: List[L.Struct] = []
    if any(isinstance(f, L.OffsetString) for f in fields):
        helpers.append(L.VARIABLE_LENGTH_STRING)
    if any(isinstance(f, L.OffsetArray) for f in fields):
        helpers.append(L.VARIABLE_LENGTH_ARRAY)
    result = MofLayout(struct, tuple(fields), view_name=struct_name, version=_version(mof_class),
                       helpers=tuple(helpers), enum_defines=_enum_defines(mof_class, enums))
    result.field_specs()  # every accessor resolves now, not at first use
    if result.enum_defines:
        result.c_header()   # an enumeration macro that clashes with a member name is refused now
    return result


def select(classes: List[MofClass], name: Optional[str] = None) -> MofClass:
    """The class called ``name`` (case-insensitive), or the only class when ``name`` is None.

    Raises MofError listing the classes when ``name`` is not there, or when it is None and the MOF
    declares several."""
    if not classes:
        raise MofError("the MOF declares no class")
    listed = ", ".join(c.name for c in classes)
    if name is None:
        if len(classes) > 1:
            raise MofError(f"the MOF declares {len(classes)} classes ({listed}); choose one by name")
        return classes[0]
    for cls in classes:
        if cls.name.lower() == name.lower():
            return cls
    raise MofError(f"no class {name!r} in the MOF (it declares {listed})")
