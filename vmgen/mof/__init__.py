"""MOF -> layout: compile a switch-extension policy's MOF class into a view and a C header.

    >>> from vmgen import mof
    >>> [cls] = mof.parse(open("policy.mof").read())
    >>> lay = mof.layout(cls)                  # a vmgen.switch.compiled.CompiledLayout
    >>> Settings = lay.view_type               # a zero-copy view class on the C field engine
    >>> print(lay.c_header())                  # the struct, helpers, a _Static_assert per offset and size

``parse(text)`` reads any valid MOF (DSP0221, with WMI's extensions; see ``vmgen.mof._parser`` for the
grammar) and returns its classes; ``parse_document(text, path=None)`` / ``parse_file(path)`` return
everything (classes with methods and references, instances, qualifier declarations, pragmas, with
``#pragma include`` files read relative to the including file; MOF v3 structures and enumerations;
``cpp=True`` or ``"system"`` for C-preprocessed driver MOF); ``parse_files(paths)`` reads several files as one;
``resolve(doc, name)`` gives a class with what it inherits; ``layout(cls)`` lays the class out the way WMI serializes it for
the extension, under ``#pragma pack(8)``, one property after another in WmiDataId order:

    MOF                              C members (N = the property name)          view attribute
    uint8/16/32/64, sint8/16/32/64   UINT8..UINT64, INT8..INT64 N                int
    boolean                          BOOLEAN N (UINT8)                           int (0/1; any 0..255 read)
    char16                           WCHAR N (UINT16)                            int (the UTF-16 code unit)
    string, MaxLen(n)                UINT16 NByteCount; WCHAR N[n + 1]           str
    string                           UINT32 NOffset -> VARIABLE_LENGTH_STRING    str
    datetime                         UINT16 NByteCount; WCHAR N[26]              str (25-char CIM datetime)
    T N[], Max(n)  (or T N[n])       UINT32 NElementCount; T N[n]                sequence of int
    T N[]                            UINT32 NElementCount; UINT32 NOffset -> T[] sequence of int

Attribute names are the property names in snake_case (``IntValue8`` -> ``int_value8``).
``c_types={"IntValue16": "UINT32"}`` changes one slot's C type: a property name retypes a scalar, or the
elements of an array; a generated member name (``"FixedLengthArrayElementCount"``) retypes that member.
Seed 001's MOF needs exactly that override to give the document's SAMPLE_FEATURE_SETTINGS (the
document prints ``UINT32 IntValue16`` for a ``uint16`` property); without it IntValue16 is a UINT16 at
offset 2, the natural mapping.
"""
from __future__ import annotations

from ..errors import MofError
from ..switch.compiled import CompiledLayout
from ._layout import (C_TYPES, OVERRIDE_TYPES, MofLayout, layout, parse, parse_document, parse_file, parse_files,
                      select, snake_case)
from ._model import (ALL_TYPES, TYPES, V3_TYPES, MofAliasRef, MofClass, MofDocument, MofEnumeration, MofEnumValue,
                     MofInstance, MofMethod, MofParameter, MofPragma, MofProperty, MofQualifierDecl, MofStructure)
from ._resolve import can_resolve, resolve
from ._source import decode_mof

__all__ = ["parse", "parse_document", "parse_file", "parse_files", "decode_mof", "layout", "resolve", "can_resolve",
           "CompiledLayout", "MofLayout", "select", "snake_case",
           "MofClass", "MofProperty", "MofMethod", "MofParameter", "MofInstance", "MofQualifierDecl", "MofPragma",
           "MofAliasRef", "MofDocument", "MofStructure", "MofEnumeration", "MofEnumValue", "MofError", "TYPES",
           "ALL_TYPES", "V3_TYPES", "C_TYPES", "OVERRIDE_TYPES"]
