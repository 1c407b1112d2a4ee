"""Recursive-descent parser for MOF (DSP0221 / DSP0004 MOF 2, with WMI's extensions); see ``vmgen.mof``.

Grammar (keywords and type names case-insensitive, as in MOF)::

    mof        := { pragma | class | instance | qualifierDecl | structure | enumeration } EOF
    pragma     := '#pragma' IDENT [ '(' [ value { ',' value } ] ')' ]      (#pragma include("f") reads f)
    class      := [ qualifiers ] ( 'class' | 'association' | 'indication' ) IDENT [ 'as' ALIAS ]
                  [ ':' IDENT ] '{' { feature } '}' ';'
    feature    := [ qualifiers ] ( property | reference | method | structure | enumeration )
    structure  := [ qualifiers ] 'structure' IDENT [ ':' IDENT ] '{' { [ qualifiers ] ( property | structure
                  | enumeration ) } '}' ';'                                              (MOF v3)
    enumeration:= [ qualifiers ] 'enumeration' IDENT ':' ( INTTYPE | 'string' | IDENT ) '{' [ enumValue
                  { ',' enumValue } ] '}' ';'                                            (MOF v3)
    enumValue  := [ qualifiers ] IDENT [ '=' value ]     ('=' required for an integer enumeration)
    property   := TYPE IDENT [ array ] [ '=' initializer ] ';'     TYPE: a data type, 'object' or a class
    reference  := IDENT 'REF' IDENT [ array ] [ '=' initializer ] ';'
    method     := ( TYPE | 'void' | IDENT 'REF' ) [ array ] IDENT '(' [ param { ',' param } ] ')' ';'
    param      := [ qualifiers ] ( TYPE | IDENT 'REF' ) IDENT [ array ] [ '=' initializer ]
    instance   := [ qualifiers ] 'instance' 'of' IDENT [ 'as' ALIAS ] '{' { [ qualifiers ] IDENT '='
                  initializer ';' } '}' ';'
    qualifierDecl := 'qualifier' IDENT ':' TYPE [ array ] [ '=' initializer ] ',' 'scope' '(' IDENT
                  { ',' IDENT } ')' [ ',' 'flavor' '(' IDENT { ',' IDENT } ')' ] ';'
    qualifiers := '[' qualifier { ',' qualifier } ']'
    qualifier  := IDENT [ '(' value ')' | '{' [ value { ',' value } ] '}' ] [ ':' FLAVOR { FLAVOR } ]
    initializer:= value | '{' [ value { ',' value } ] '}'
    value      := [ '+' | '-' ] ( INTEGER | REAL ) | STRING { STRING } | CHAR | 'true' | 'false' | 'null'
                | ALIAS | ( 'instance' | 'value' ) 'of' IDENT '{' ... '}'   (embedded instance / v3 value)
    enum default := [ IDENT '.' ] IDENT | '{' ... '}' | 'null'    (a property typed by an enumeration)

Types the parser does not know (``uint33``) are refused as such; an identifier in type position names a
structure or enumeration declared before it (in the enclosing class/structure or at the top level), else
an embedded object of that class (WMI). A class declared again replaces the earlier declaration, as
mofcomp updates a class (with a warning when they differ). C preprocessor lines go through
``vmgen.mof._cpp`` first. ``layout()`` alone refuses what a policy struct cannot hold.
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from ._cpp import has_directives, preprocess
from ._source import Budget
from ._lexer import ALIAS, CHAR, EOF, IDENT, INT, PRAGMA, REAL, STRING, Positions, describe, scan
from ._model import (ALL_TYPES, INTEGER_TYPES, TYPES, MofAliasRef, MofClass, MofDocument, MofEnumeration,
                     MofEnumValue, MofInstance, MofMethod, MofPragma, MofProperty, MofQualifierDecl, MofStructure)
from ..errors import MofError

FLAVORS = {f.lower(): f for f in ("Amended", "ToSubclass", "NotToSubclass", "DisableOverride", "EnableOverride",
                                  "Restricted", "ToInstance", "NotToInstance", "Translatable")}
SCOPES = {s.lower(): s for s in ("Class", "Association", "Indication", "Qualifier", "Property", "Reference",
                                 "Method", "Parameter", "Any", "Structure", "Enumeration", "EnumerationValue")}

_INT_RANGES = {
    "uint8": (0, 0xFF), "uint16": (0, 0xFFFF), "uint32": (0, 0xFFFFFFFF), "uint64": (0, 0xFFFFFFFFFFFFFFFF),
    "sint8": (-0x80, 0x7F), "sint16": (-0x8000, 0x7FFF), "sint32": (-0x80000000, 0x7FFFFFFF),
    "sint64": (-0x8000000000000000, 0x7FFFFFFFFFFFFFFF),
}
CIM_DATETIME_CHARS = 25  # yyyymmddHHMMSS.mmmmmmsUUU
_DATA_TYPES = frozenset(TYPES + ("real32", "real64"))
_MAX_DEPTH = 64          # nested embedded instances and #pragma include
_NUMERIC_LIKE = re.compile(r"(?:u?int|sint|real|float)[0-9]+")

# Reads an included file: (path) -> (text, warnings). Set by vmgen.mof._source (it owns the encodings).
Loader = Callable[[str], Tuple[str, List[str]]]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_positive_id(value: Any) -> Optional[str]:
    return None if _is_int(value) and value >= 1 else "must be an integer >= 1"


def _check_count(value: Any) -> Optional[str]:
    return None if _is_int(value) and value >= 0 else "must be an integer >= 0"


def _check_version(value: Any) -> Optional[str]:
    if _is_int(value) and 0 <= value <= 0xFF:
        return None
    if isinstance(value, str) and value.strip() and all(p.strip().isdigit() for p in value.split(".")) \
            and len(value.split(".")) <= 2:
        return None
    return 'must be a version like "1" or "1.2" (or an integer 0..255)'


# Known qualifiers whose values vmgen relies on; checked where they are written (others are kept as is).
_QUALIFIER_CHECKS: Dict[str, Callable[[Any], Optional[str]]] = {
    "wmidataid": _check_positive_id,
    "maxlen": _check_count,
    "max": _check_positive_id,
    "interfaceversion": _check_version,
    "interfacerevision": _check_version,
}

Quals = Tuple[Dict[str, Any], Dict[str, Tuple[str, ...]]]


class _Parser:
    def __init__(self, text: str, doc: MofDocument, path: Optional[str], loader: Optional[Loader],
                 pragmas: Dict[str, Any], depth: int, including: Tuple[str, ...],
                 types: Optional[Dict[str, Any]] = None, outer: Optional[Dict[str, Any]] = None,
                 class_types: Optional[Dict[str, Tuple[Dict[str, Any], ...]]] = None) -> None:
        self.text = text
        self.pos = Positions(text if isinstance(text, str) else "")
        self.kinds, self.vals, self.starts, self.ends = scan(text, self.pos)
        self.last = len(self.kinds) - 1
        self.i = 0
        self.doc = doc
        self.path = path
        self.loader = loader
        self.pragmas = pragmas
        self.depth = depth
        self.including = including
        # MOF v3 type names in scope, innermost last: [earlier files of parse_files (read only), top level
        # (shared with included files), class, ...]
        self.scopes: List[Dict[str, Any]] = [outer or {}, types if types is not None else {}]
        # class name -> the local structure/enumeration scopes of it and its superclasses that declare any, root
        # first (shared with included files): a subclass sees its superclasses' local types (DSP0004 3.0)
        self.class_types: Dict[str, Tuple[Dict[str, Any], ...]] = class_types if class_types is not None else {}

    # -- token helpers --------------------------------------------------------------------------------
    def where(self, i: int) -> Tuple[int, int]:
        return self.pos(self.starts[i])

    def error(self, i: int, message: str) -> MofError:
        line, col = self.where(i)
        return MofError(message, line, col)

    def unsupported(self, i: int, what: str) -> MofError:
        return self.error(i, f"unsupported MOF construct: {what}")

    def describe(self, i: int) -> str:
        return describe(self.kinds[i], self.text[self.starts[i]:self.ends[i]])

    def advance(self) -> int:
        i = self.i
        if i < self.last:
            self.i = i + 1
        return i

    def is_punct(self, c: str) -> bool:
        return self.kinds[self.i] == c   # a punctuation token's kind is its character

    def is_word(self, word: str) -> bool:
        return self.kinds[self.i] == IDENT and self.vals[self.i].lower() == word

    def is_word_at(self, i: int, word: str) -> bool:
        i = min(i, self.last)
        return self.kinds[i] == IDENT and self.vals[i].lower() == word

    def at_type_decl(self) -> bool:
        """``structure X {`` / ``structure X : Y {`` / ``enumeration X : T {`` (not a property of a class
        that happens to be called Structure: that has ';' or '[' after its name)."""
        i = self.i
        if not (self.is_word("structure") or self.is_word("enumeration")):
            return False
        j = min(i + 2, self.last)
        return self.kinds[min(i + 1, self.last)] == IDENT and self.kinds[j] in ("{", ":")

    def expect_punct(self, c: str, context: str) -> int:
        i = self.i
        if self.kinds[i] == c:
            if i < self.last:
                self.i = i + 1
            return i
        raise self.error(self.i, f"expected {c!r} {context}, found {self.describe(self.i)}")

    def expect_ident(self, what: str) -> int:
        if self.kinds[self.i] == IDENT:
            return self.advance()
        raise self.error(self.i, f"expected {what}, found {self.describe(self.i)}")

    def expect_word(self, word: str, context: str) -> int:
        if self.is_word(word):
            return self.advance()
        raise self.error(self.i, f"expected '{word}' {context}, found {self.describe(self.i)}")

    # -- top level --------------------------------------------------------------------------------------
    def parse(self) -> None:
        seen: Dict[str, MofClass] = {c.name.lower(): c for c in self.doc.classes}
        while self.kinds[self.i] != EOF:
            if self.kinds[self.i] == PRAGMA:
                self.pragma()
                continue
            quals: Quals = ({}, {})
            if self.is_punct("["):
                quals = self.qualifier_list()
            i = self.i
            word = self.vals[i].lower() if self.kinds[i] == IDENT else ""
            if word == "class" or (word in ("association", "indication") and self.kinds[i + 1] == IDENT):
                cls = self.class_decl(quals, word)
                key = cls.name.lower()
                if key in seen:
                    # Declared again (driver MOF that includes a common file twice): mofcomp creates or
                    # updates a class, so the later declaration is the class; an identical one changes nothing.
                    first = seen[key]
                    if _signature(cls) != _signature(first):
                        self.doc.warnings.append(
                            f"{self.path or '<MOF>'}: line {cls.line}: class {cls.name} is declared again, "
                            f"differently (first at line {first.line}{_in_file(first.path, self.path)}): the later "
                            "declaration replaces it, as mofcomp updates a class")
                        self.doc.classes[self.doc.classes.index(first)] = cls
                        seen[key] = cls
                    continue
                seen[key] = cls
                self.doc.classes.append(cls)
            elif word == "instance" or (word == "value" and self.is_word_at(i + 1, "of")):
                inst = self.instance(quals, embedded=False)
                self.doc.instances.append(inst)
            elif word == "qualifier" and not quals[0]:
                self.doc.qualifier_decls.append(self.qualifier_decl())
            elif self.at_type_decl():
                decl = self.type_decl(quals)
                (self.doc.structures if isinstance(decl, MofStructure) else self.doc.enumerations).append(decl)
            else:
                raise self.error(i, "expected 'class', 'instance of', 'qualifier', 'structure', 'enumeration', "
                                    f"'[' or '#pragma', found {self.describe(i)}")

    def pragma(self) -> None:
        start = self.advance()  # #pragma
        name_i = self.expect_ident("a pragma name after #pragma")
        name = self.vals[name_i]
        values: List[Any] = []
        if self.is_punct("("):
            self.advance()
            if not self.is_punct(")"):
                while True:
                    if self.kinds[self.i] == IDENT and self.vals[self.i].lower() not in ("true", "false", "null"):
                        values.append(self.vals[self.advance()])  # e.g. NOFAIL, FAIL, FORCEUPDATE
                    else:
                        values.append(self.value(f"#pragma {name}"))
                    if not self.is_punct(","):
                        break
                    self.advance()
            self.expect_punct(")", f"to close #pragma {name}(")
        line, col = self.where(start)
        self.doc.pragmas.append(MofPragma(name, tuple(values), self.path, line, col))
        low = name.lower()
        if low == "include":
            self.include(name_i, values)
            return
        self.pragmas[low] = values[0] if len(values) == 1 else (tuple(values) if values else True)

    def include(self, name_i: int, values: List[Any]) -> None:
        if len(values) != 1 or not isinstance(values[0], str) or not values[0] or "\0" in values[0]:
            raise self.error(name_i, '#pragma include takes one file name: #pragma include("file.mof")')
        if self.path is None or self.loader is None:
            raise self.error(name_i, f"#pragma include({values[0]!r}) needs the including file's path: "
                                     "use vmgen.mof.parse_file(path) (or parse_document(text, path=...))")
        target = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(self.path)),
                                               values[0].replace("\\", os.sep)))
        if target in self.including:
            raise self.error(name_i, f"#pragma include({values[0]!r}) includes itself (via "
                                     f"{' -> '.join(self.including)})")
        if self.depth >= _MAX_DEPTH:
            raise self.error(name_i, f"#pragma include nested more than {_MAX_DEPTH} deep")
        try:
            text, warnings = self.loader(target)
        except OSError as exc:
            raise self.error(name_i, f"#pragma include({values[0]!r}): {exc.strerror or exc}: {target}") from None
        self.doc.files.append(target)
        self.doc.warnings.extend(warnings)
        child = _Parser(text, self.doc, target, self.loader, self.pragmas, self.depth + 1,
                        self.including + (target,), self.scopes[1], self.scopes[0], self.class_types)
        try:
            child.parse()
        except MofError as exc:
            if getattr(exc, "included", False):
                raise
            err = MofError(f"{target}: {exc}")   # the position is in the included file: name it
            err.line, err.column = exc.line, exc.column
            err.included = True  # type: ignore[attr-defined]
            raise err from None

    def class_decl(self, quals: Quals, word: str) -> MofClass:
        kw = self.advance()  # class / association / indication
        name_i = self.expect_ident(f"a class name after '{self.vals[kw]}'")
        name = self.vals[name_i]
        alias = self.alias_decl()
        superclass = None
        if self.is_punct(":"):
            self.advance()
            superclass = self.vals[self.expect_ident("a superclass name after ':'")]
        if alias is None:
            alias = self.alias_decl()
        self.expect_punct("{", f"to open the body of class {name}")
        line, col = self.where(kw)
        kind = word if word != "class" else "class"
        if kind == "class":
            for q, k in (("association", "association"), ("indication", "indication")):
                if any(key.lower() == q and v is True for key, v in quals[0].items()):
                    kind = k
        cls = MofClass(name=name, superclass=superclass, qualifiers=quals[0], flavors=quals[1],
                       pragmas=dict(self.pragmas), line=line, column=col, kind=kind, alias=alias, path=self.path)
        names: Dict[str, MofProperty] = {}
        methods: Dict[str, MofMethod] = {}
        inherited = self.class_types.get(superclass.lower(), ()) if superclass else ()
        self.scopes += [*inherited, {}]
        while not self.is_punct("}"):
            if self.kinds[self.i] == EOF:
                raise self.error(self.i, f"expected '}}' to close class {cls.name}, found end of input")
            nested = self.nested_type_decl()
            if nested is not None:
                (cls.structures if isinstance(nested, MofStructure) else cls.enumerations).append(nested)
                continue
            feature = self.feature(cls.name)
            key = feature.name.lower()
            if isinstance(feature, MofMethod):
                if key in methods:
                    raise MofError(f"method {feature.name} is declared twice in class {cls.name} "
                                   f"(first at line {methods[key].line})", feature.line, feature.column)
                methods[key] = feature
                cls.methods.append(feature)
                continue
            if key in names:
                raise MofError(f"property {feature.name} is declared twice in class {cls.name} "
                               f"(first at line {names[key].line})", feature.line, feature.column)
            names[key] = feature
            cls.properties.append(feature)
        own = self.scopes.pop()
        del self.scopes[len(self.scopes) - len(inherited):]
        if own and len(inherited) >= _MAX_DEPTH:   # bounds every lookup: parsing stays linear
            raise self.error(name_i, f"class {name} declares local types below {_MAX_DEPTH} superclasses that "
                                     "declare local types (the most vmgen reads)")
        self.class_types[name.lower()] = (*inherited, own) if own else inherited
        self.advance()  # }
        self.expect_punct(";", f"after the closing '}}' of class {cls.name}")
        return cls

    # -- MOF v3 structures and enumerations ---------------------------------------------------------------
    def nested_type_decl(self) -> Any:
        """A structure or enumeration declared inside a class or structure body, or None."""
        start = self.i
        quals: Quals = ({}, {})
        if self.is_punct("["):
            quals = self.qualifier_list()
        if self.at_type_decl():
            return self.type_decl(quals)
        self.i = start   # a property or method: feature() reads its qualifiers again
        return None

    def lookup_type(self, name: str) -> Any:
        low = name.lower()
        for scope in reversed(self.scopes):
            decl = scope.get(low)
            if decl is not None:
                return decl
        return None

    def type_decl(self, quals: Quals) -> Any:
        kw = self.i
        name_i = min(kw + 1, self.last)
        name = self.vals[name_i]
        scope = self.scopes[-1]
        if name.lower() in scope:
            first = scope[name.lower()]
            raise self.error(name_i, f"{name} is declared twice in this scope (first at line {first.line})")
        decl = self.structure_decl(quals) if self.is_word("structure") else self.enumeration_decl(quals)
        scope[name.lower()] = decl
        return decl

    def structure_decl(self, quals: Quals) -> MofStructure:
        kw = self.advance()  # structure
        name = self.vals[self.expect_ident("a structure name after 'structure'")]
        line, col = self.where(kw)
        st = MofStructure(name, qualifiers=quals[0], flavors=quals[1], path=self.path, line=line, column=col)
        if self.is_punct(":"):
            self.advance()
            si = self.expect_ident(f"a structure name after ':' in structure {name}")
            base = self.lookup_type(self.vals[si])
            if not isinstance(base, MofStructure):
                raise self.error(si, f"structure {name}: {self.vals[si]!r} is not a structure declared before it")
            _derive(self, si, "structure", st, base)
            st.superstructure, st.base = base.name, base
        self.expect_punct("{", f"to open the body of structure {name}")
        names: Set[str] = set()
        self.scopes.append({})
        while not self.is_punct("}"):
            if self.kinds[self.i] == EOF:
                raise self.error(self.i, f"expected '}}' to close structure {name}, found end of input")
            nested = self.nested_type_decl()
            if nested is not None:
                (st.structures if isinstance(nested, MofStructure) else st.enumerations).append(nested)
                continue
            feature_i = self.i
            feature = self.feature(name)
            if isinstance(feature, MofMethod):
                raise self.error(feature_i, f"structure {name} cannot declare a method ({feature.name}): "
                                            "only classes have methods")
            if feature.name.lower() in names:
                raise MofError(f"property {feature.name} is declared twice in structure {name}",
                               feature.line, feature.column)
            names.add(feature.name.lower())
            st.properties.append(feature)
        self.scopes.pop()
        self.advance()  # }
        self.expect_punct(";", f"after the closing '}}' of structure {name}")
        return st

    def enumeration_decl(self, quals: Quals) -> MofEnumeration:
        kw = self.advance()  # enumeration
        name = self.vals[self.expect_ident("an enumeration name after 'enumeration'")]
        self.expect_punct(":", f"after enumeration {name} (enumeration NAME : uint8|...|string|ENUM {{...}})")
        bi = self.expect_ident(f"the base type of enumeration {name}")
        base_text = self.vals[bi]
        line, col = self.where(kw)
        en = MofEnumeration(name, base_text.lower(), qualifiers=quals[0], flavors=quals[1], path=self.path,
                            line=line, column=col)
        if en.base_type not in INTEGER_TYPES and en.base_type != "string":
            base = self.lookup_type(base_text)
            if not isinstance(base, MofEnumeration):
                raise self.error(bi, f"enumeration {name}: base {base_text!r} is neither an integer type "
                                     f"({', '.join(INTEGER_TYPES)}), string, nor an enumeration declared before it")
            _derive(self, bi, "enumeration", en, base)
            en.base_type, en.superenumeration = base.base_type, base.name
            en.values = list(base.values)
        seen = {v.name.lower() for v in en.values}
        self.expect_punct("{", f"to open the values of enumeration {name}")
        if not self.is_punct("}"):
            while True:
                vq: Quals = ({}, {})
                if self.is_punct("["):
                    vq = self.qualifier_list()
                vi = self.expect_ident(f"a value name in enumeration {name}")
                vname = self.vals[vi]
                if vname.lower() in seen:
                    raise self.error(vi, f"value {vname} is declared twice in enumeration {name}")
                seen.add(vname.lower())
                vline, vcol = self.where(vi)
                en.values.append(MofEnumValue(vname, self.enum_value_literal(en, vname, vi), vq[0], vq[1],
                                              vline, vcol))
                if not self.is_punct(","):
                    break
                self.advance()
        self.expect_punct("}", f"or ',' in enumeration {name}")
        self.expect_punct(";", f"after the closing '}}' of enumeration {name}")
        return en

    def enum_value_literal(self, en: MofEnumeration, vname: str, vi: int) -> Any:
        if not self.is_punct("="):
            if en.is_integer:
                raise self.error(self.i, f"value {vname} of integer enumeration {en.name} needs '= <integer>' "
                                         "(DSP0221: only string enumeration values may omit it)")
            return vname    # a string enumeration value without one stands for its name
        self.advance()
        at = self.i
        value = self.value(f"value {vname} of enumeration {en.name}")
        if en.is_integer:
            lo, hi = _INT_RANGES[en.base_type]
            if not _is_int(value) or not lo <= value <= hi:
                raise self.error(at, f"value {vname} of enumeration {en.name} must be a {en.base_type} "
                                     f"({lo}..{hi}), not {value!r}")
        elif not isinstance(value, str):
            raise self.error(at, f"value {vname} of string enumeration {en.name} must be a string, not {value!r}")
        return value

    def enum_initializer(self, prop: MofProperty, context: str) -> Any:
        """``= Name``, ``= Enum.Name``, ``= {A, B}`` or ``= null`` for an enumeration-typed property: the
        values (ints of an integer enumeration, strs of a string one)."""
        if self.is_punct("{"):
            self.advance()
            items: List[Any] = []
            if not self.is_punct("}"):
                while True:
                    items.append(self.enum_ref(prop, context))
                    if not self.is_punct(","):
                        break
                    self.advance()
            self.expect_punct("}", f"or ',' in {context}")
            return tuple(items)
        if self.is_word("null"):
            self.advance()
            return None
        return self.enum_ref(prop, context)

    def enum_ref(self, prop: MofProperty, context: str) -> Any:
        en: MofEnumeration = prop.declaration
        first = self.expect_ident(f"a value of enumeration {en.name} in {context}")
        name = self.vals[first]
        if self.is_punct("."):
            self.advance()
            if name.lower() != en.name.lower():
                raise self.error(first, f"{name}.: {prop.name} is of enumeration {en.name}, not {name}")
            name = self.vals[self.expect_ident(f"a value name after '{en.name}.'")]
        try:
            return en.get_value(name).value
        except KeyError:
            raise self.error(first, f"enumeration {en.name} has no value {name!r} (it has "
                                    f"{', '.join(v.name for v in en.values) or 'none'})") from None

    def alias_decl(self) -> Optional[str]:
        if not self.is_word("as"):
            return None
        self.advance()
        if self.kinds[self.i] != ALIAS:
            raise self.error(self.i, f"expected an alias ($name) after 'as', found {self.describe(self.i)}")
        return str(self.vals[self.advance()])

    # -- qualifiers -----------------------------------------------------------------------------------------
    def qualifier_list(self) -> Quals:
        self.expect_punct("[", "to open a qualifier list")
        values: Dict[str, Any] = {}
        flavors: Dict[str, Tuple[str, ...]] = {}
        seen: Set[str] = set()
        while True:
            name_i = self.expect_ident("a qualifier name")
            name = self.vals[name_i]
            if name.lower() in seen:
                raise self.error(name_i, f"qualifier {name} given twice")
            seen.add(name.lower())
            value: Any = True
            if self.is_punct("("):
                self.advance()
                value = self.value(f"qualifier {name}")
                self.expect_punct(")", f"to close qualifier {name}(")
            elif self.is_punct("{"):
                value = self.array_literal(f"qualifier {name}")
            check = _QUALIFIER_CHECKS.get(name.lower())
            if check is not None:
                problem = check(value)
                if problem:
                    raise self.error(name_i, f"qualifier {name}: {problem}, not {value!r}")
            values[name] = value
            if self.is_punct(":"):
                self.advance()
                got: List[str] = []
                while self.kinds[self.i] == IDENT:
                    fi = self.advance()
                    canonical = FLAVORS.get(self.vals[fi].lower())
                    if canonical is None:
                        raise self.error(fi, f"unknown qualifier flavor {self.vals[fi]!r} (known: "
                                             f"{', '.join(sorted(FLAVORS.values()))})")
                    got.append(canonical)
                if not got:
                    raise self.error(self.i, f"expected a flavor (e.g. Amended) after ':' in qualifier {name}, "
                                             f"found {self.describe(self.i)}")
                flavors[name] = tuple(got)
            if self.is_punct(","):
                self.advance()
                continue
            self.expect_punct("]", "or ',' in the qualifier list")
            return values, flavors

    def qualifier_decl(self) -> MofQualifierDecl:
        kw = self.advance()  # qualifier
        name = self.vals[self.expect_ident("a qualifier name after 'qualifier'")]
        self.expect_punct(":", f"after qualifier {name} (qualifier NAME : TYPE ...)")
        type_i = self.expect_ident(f"the type of qualifier {name}")
        mof_type = self.vals[type_i].lower()
        if mof_type not in _DATA_TYPES:
            raise self.error(type_i, f"qualifier {name}: type {self.vals[type_i]!r} is not a MOF data type "
                                     f"(one of {', '.join(sorted(_DATA_TYPES))})")
        line, col = self.where(kw)
        decl = MofQualifierDecl(name, mof_type, path=self.path, line=line, column=col)
        shape = MofProperty(name=name, type=mof_type)
        self.array_suffix(shape)
        decl.is_array, decl.array_size = shape.is_array, shape.array_size
        if self.is_punct("="):
            self.advance()
            vi = self.i
            shape.default = self.initializer(f"the default of qualifier {name}")
            self.check_default(shape, vi, "qualifier")
            decl.default, decl.has_default = shape.default, True
        while self.is_punct(","):
            self.advance()
            which_i = self.expect_ident("'scope' or 'flavor'")
            which = self.vals[which_i].lower()
            if which not in ("scope", "flavor"):
                raise self.error(which_i, f"expected 'scope' or 'flavor' in qualifier {name}, found "
                                          f"{self.describe(which_i)}")
            table = SCOPES if which == "scope" else FLAVORS
            self.expect_punct("(", f"after {self.vals[which_i]}")
            got: List[str] = []
            while True:
                ti = self.expect_ident(f"a {which} name")
                canonical = table.get(self.vals[ti].lower())
                if canonical is None:
                    raise self.error(ti, f"unknown {which} {self.vals[ti]!r} (known: "
                                         f"{', '.join(sorted(table.values()))})")
                got.append(canonical)
                if not self.is_punct(","):
                    break
                self.advance()
            self.expect_punct(")", f"to close {self.vals[which_i]}(")
            if which == "scope":
                decl.scopes += tuple(got)
            else:
                decl.flavors += tuple(got)
        if not decl.scopes:
            raise self.error(self.i, f"qualifier {name} needs a scope(...) (e.g. scope(class, property))")
        self.expect_punct(";", f"after qualifier declaration {name}")
        return decl

    # -- features --------------------------------------------------------------------------------------------
    def type_ref(self, what: str, allow_void: bool = False) -> Tuple[int, str, Optional[str], Optional[str], Any]:
        """A type in property, parameter or method position: (token, type, ref_class, embedded_class or the
        MOF v3 type's name, its MofStructure/MofEnumeration)."""
        type_i = self.expect_ident(what)
        text = self.vals[type_i]
        low = text.lower()
        if self.is_word("ref"):
            self.advance()
            return type_i, "ref", text, None, None
        if low in _DATA_TYPES:
            return type_i, low, None, None, None
        if low == "object":
            return type_i, "object", None, None, None
        if low == "void" and allow_void:
            return type_i, "void", None, None, None
        if _NUMERIC_LIKE.fullmatch(low):
            raise self.error(type_i, f"unknown type {text!r} (MOF's numeric types: "
                                     f"{', '.join(INTEGER_TYPES)}, real32, real64)")
        decl = self.lookup_type(text)
        if isinstance(decl, MofStructure):
            return type_i, "structure", None, decl.name, decl
        if isinstance(decl, MofEnumeration):
            return type_i, "enumeration", None, decl.name, decl
        return type_i, "object", None, text, None  # WMI: an embedded object of class `text`

    def feature(self, class_name: str) -> Any:
        quals: Quals = ({}, {})
        if self.is_punct("["):
            quals = self.qualifier_list()
        if self.kinds[self.i] != IDENT:
            raise self.error(self.i, f"expected a property type (uint8 ... string), a reference, a method or "
                                     f"'}}', found {self.describe(self.i)}")
        type_i, mof_type, ref_class, embedded, decl = self.type_ref("a property type", allow_void=True)
        ret_array = False
        if self.kinds[self.i] == "[" and self.kinds[self.i + 1] == "]":
            ret_array = True   # a method returning an array: `string[] Foo()` (WMI)
            self.advance()
            self.advance()
        name_i = self.expect_ident(f"a name after type {self.vals[type_i]}")
        name = self.vals[name_i]
        line, col = self.where(type_i)
        if self.is_punct("("):
            if decl is not None:   # a method returning a structure or enumeration: keep its name
                return self.method(quals, name, mof_type, None, embedded, ret_array, line, col)
            return self.method(quals, name, mof_type, ref_class, embedded, ret_array, line, col)
        if mof_type == "void" or ret_array:
            raise self.error(type_i if mof_type == "void" else name_i,
                             f"{name}: only a method (with '(...)') can be declared this way")
        prop = _make_property(name, mof_type, quals, line, col, ref_class, embedded, decl)
        self.array_suffix(prop)
        if self.is_punct("="):
            self.advance()
            self.default(prop, f"the initializer of {name}", "property")
        self.expect_punct(";", f"after property {name}")
        return prop

    def default(self, prop: MofProperty, context: str, what: str) -> None:
        vi = self.i
        if prop.type == "enumeration":
            prop.default = self.enum_initializer(prop, context)
        else:
            prop.default = self.initializer(context)
        prop.has_default = True
        self.check_default(prop, vi, what)

    def method(self, quals: Quals, name: str, ret: str, ref_class: Optional[str], embedded: Optional[str],
               ret_array: bool, line: int, col: int) -> MofMethod:
        self.advance()  # (
        m = MofMethod(name=name, return_type=ret, qualifiers=quals[0], flavors=quals[1], return_is_array=ret_array,
                      return_ref_class=ref_class, return_embedded_class=embedded, line=line, column=col)
        seen: Set[str] = set()
        if not self.is_punct(")"):
            while True:
                pq: Quals = ({}, {})
                if self.is_punct("["):
                    pq = self.qualifier_list()
                ti, ptype, pref, pemb, pdecl = self.type_ref(f"a parameter type in method {name}()")
                pi = self.expect_ident(f"a parameter name after type {self.vals[ti]}")
                pline, pcol = self.where(ti)
                param = _make_property(self.vals[pi], ptype, pq, pline, pcol, pref, pemb, pdecl)
                if param.name.lower() in seen:
                    raise self.error(pi, f"parameter {param.name} of method {name}() is declared twice")
                seen.add(param.name.lower())
                self.array_suffix(param)
                if self.is_punct("="):
                    self.advance()
                    self.default(param, f"the default of parameter {param.name}", "parameter")
                m.parameters.append(param)
                if not self.is_punct(","):
                    break
                self.advance()
        self.expect_punct(")", f"or ',' in the parameters of method {name}()")
        self.expect_punct(";", f"after method {name}()")
        return m

    def array_suffix(self, prop: MofProperty) -> None:
        if not self.is_punct("["):
            return
        self.advance()
        prop.is_array = True
        if self.kinds[self.i] == INT:
            si = self.advance()
            if self.vals[si] < 1:
                raise self.error(si, f"array size of {prop.name} must be >= 1")
            prop.array_size = self.vals[si]
        self.expect_punct("]", f"to close the array brackets of {prop.name}")

    # -- instances -------------------------------------------------------------------------------------------
    def instance(self, quals: Quals, embedded: bool) -> MofInstance:
        kw = self.advance()  # instance / value (MOF v3: a structure value)
        kind = self.vals[kw].lower()
        self.expect_word("of", f"after '{self.vals[kw]}'")
        class_name = self.vals[self.expect_ident(f"a class name after '{kind} of'")]
        alias = self.alias_decl()
        self.expect_punct("{", f"to open the instance of {class_name}")
        if self.depth >= _MAX_DEPTH:
            raise self.error(kw, f"instances nested more than {_MAX_DEPTH} deep")
        line, col = self.where(kw)
        inst = MofInstance(class_name, qualifiers=quals[0], flavors=quals[1], alias=alias,
                           pragmas=dict(self.pragmas), path=self.path, line=line, column=col, kind=kind)
        seen: Set[str] = set()
        while not self.is_punct("}"):
            if self.kinds[self.i] == EOF:
                raise self.error(self.i, f"expected '}}' to close the instance of {class_name}, found end of input")
            pq: Quals = ({}, {})
            if self.is_punct("["):
                pq = self.qualifier_list()
            pi = self.expect_ident(f"a property name in the instance of {class_name}")
            pname = self.vals[pi]
            if pname.lower() in seen:
                raise self.error(pi, f"property {pname} is given twice in the instance of {class_name}")
            seen.add(pname.lower())
            self.expect_punct("=", f"after {pname} in the instance of {class_name}")
            self.depth += 1
            try:
                inst.values[pname] = self.initializer(f"the value of {pname}")
            finally:
                self.depth -= 1
            if pq[0]:
                inst.value_qualifiers[pname] = pq[0]
            self.expect_punct(";", f"after the value of {pname}")
        self.advance()  # }
        if not embedded:
            self.expect_punct(";", f"after the closing '}}' of the instance of {class_name}")
        return inst

    # -- values ----------------------------------------------------------------------------------------------
    def initializer(self, context: str) -> Any:
        if self.is_punct("{"):
            return self.array_literal(context)
        return self.value(context)

    def array_literal(self, context: str) -> Tuple[Any, ...]:
        self.expect_punct("{", f"to open {context}")
        items: List[Any] = []
        if not self.is_punct("}"):
            while True:
                items.append(self.value(context))
                if not self.is_punct(","):
                    break
                self.advance()
        self.expect_punct("}", f"or ',' in {context}")
        return tuple(items)

    def value(self, context: str = "") -> Any:
        i = self.i
        kind = self.kinds[i]
        if kind == STRING:
            self.advance()
            if self.kinds[self.i] != STRING:
                return self.vals[i]
            parts = [self.vals[i]]
            while self.kinds[self.i] == STRING:  # "a" "b" is "ab", as in C
                parts.append(self.vals[self.advance()])
            return "".join(parts)
        if kind in (INT, REAL, CHAR):
            return self.vals[self.advance()]
        if kind == "+" or kind == "-":
            self.advance()
            if self.kinds[self.i] not in (INT, REAL):
                raise self.error(self.i, f"expected a number after {self.vals[i]!r}, found {self.describe(self.i)}")
            num = self.vals[self.advance()]
            return -num if self.vals[i] == "-" else num
        if kind == IDENT:
            word = self.vals[i].lower()
            if word in ("true", "false", "null"):
                self.advance()
                return {"true": True, "false": False, "null": None}[word]
            if word == "instance" or (word == "value" and self.is_word_at(i + 1, "of")):
                self.depth += 1
                try:
                    return self.instance(({}, {}), embedded=True)
                finally:
                    self.depth -= 1
        if kind == ALIAS:
            return MofAliasRef(self.vals[self.advance()])
        raise self.error(i, "expected a value (number, string, char, true, false, null, $alias or an instance), "
                            f"found {self.describe(i)}")

    def check_default(self, prop: MofProperty, vi: int, what: str) -> None:
        value = prop.default
        if value is None:
            return
        if prop.is_array:
            if not isinstance(value, tuple):
                raise self.error(vi, f"array {what} {prop.name} needs an array initializer {{...}}")
            limit = prop.array_size or (prop.max if what == "property" else None)
            if limit is not None and len(value) > limit:
                raise self.error(vi, f"initializer of {prop.name} has {len(value)} elements, more than {limit}")
            for item in value:
                self.check_scalar(prop, item, vi)
        elif isinstance(value, tuple):
            raise self.error(vi, f"scalar {what} {prop.name} cannot take an array initializer")
        else:
            self.check_scalar(prop, value, vi)

    def check_scalar(self, prop: MofProperty, value: Any, vi: int) -> None:
        t = prop.type
        bad = f"default value {value!r} does not suit {t} property {prop.name}"
        if value is None:
            return
        if t in INTEGER_TYPES:
            lo, hi = _INT_RANGES[t]
            if not _is_int(value):
                raise self.error(vi, bad)
            if not lo <= value <= hi:
                raise self.error(vi, f"default value {value} of {prop.name} is out of range for {t} ({lo}..{hi})")
        elif t == "boolean":
            if not isinstance(value, bool):
                raise self.error(vi, bad)
        elif t == "char16":
            ok = (isinstance(value, str) and len(value) == 1) or (_is_int(value) and 0 <= value <= 0xFFFF)
            if not ok:
                raise self.error(vi, bad)
        elif t == "string":
            if not isinstance(value, str):
                raise self.error(vi, bad)
            limit = prop.max_len
            units = len(value.encode("utf-16-le", "surrogatepass")) // 2
            if limit is not None and units > limit:
                raise self.error(vi, f"default of {prop.name} has {units} characters, more than MaxLen({limit})")
        elif t == "datetime":
            if not isinstance(value, str) or len(value) != CIM_DATETIME_CHARS:
                raise self.error(vi, f"default of datetime property {prop.name} must be a {CIM_DATETIME_CHARS}-"
                                     "character CIM datetime string (yyyymmddHHMMSS.mmmmmmsUUU)")
        elif t in ("real32", "real64"):
            if not (_is_int(value) or isinstance(value, float)):
                raise self.error(vi, bad)
        elif t == "ref":
            if not isinstance(value, (str, MofAliasRef)):
                raise self.error(vi, f"default of reference {prop.name} must be an object path string or $alias")
        elif t == "object":
            if not isinstance(value, (MofInstance, MofAliasRef, str)):
                raise self.error(vi, f"default of embedded object {prop.name} must be an instance")
        elif t == "structure":
            if not isinstance(value, (MofInstance, MofAliasRef)):
                raise self.error(vi, f"default of {prop.name} (structure {prop.type_name}) must be "
                                     f"'value of {prop.type_name} {{...}}'")


assert set(_DATA_TYPES) | {"object", "ref"} == set(ALL_TYPES)


def _in_file(path: Optional[str], current: Optional[str]) -> str:
    return f" of {path}" if path and path != current else ""


def _make_property(name: str, mof_type: str, quals: Quals, line: int, col: int, ref_class: Optional[str],
                   embedded: Optional[str], decl: Any) -> MofProperty:
    if decl is not None:   # MOF v3: typed by a structure or an enumeration
        return MofProperty(name=name, type=mof_type, qualifiers=quals[0], flavors=quals[1], line=line, column=col,
                           type_name=embedded, declaration=decl)
    return MofProperty(name=name, type=mof_type, qualifiers=quals[0], flavors=quals[1], line=line, column=col,
                       ref_class=ref_class, embedded_class=embedded)


def _feature_signature(p: MofProperty) -> Tuple[Any, ...]:
    return (p.name, p.type, p.is_array, p.array_size, repr(p.default), p.has_default, repr(p.qualifiers),
            p.flavors, p.ref_class, p.embedded_class, p.type_name)


def _signature(c: MofClass) -> Tuple[Any, ...]:
    """What a class declaration says, without where it says it (line, column, file)."""
    return (c.name, c.superclass, repr(c.qualifiers), c.flavors, c.kind, c.alias,
            tuple(_feature_signature(p) for p in c.properties),
            tuple((m.name, m.return_type, m.return_is_array, m.return_ref_class, m.return_embedded_class,
                   repr(m.qualifiers), m.flavors, tuple(_feature_signature(p) for p in m.parameters))
                  for m in c.methods),
            tuple(map(_type_signature, c.structures)), tuple(map(_type_signature, c.enumerations)))


def _type_signature(d: Any) -> Tuple[Any, ...]:
    """What a MOF v3 structure or enumeration declaration says, without where it says it."""
    if isinstance(d, MofEnumeration):
        return (d.name, d.base_type, d.superenumeration, repr(d.qualifiers), d.flavors,
                tuple((v.name, repr(v.value), repr(v.qualifiers), v.flavors) for v in d.values))
    return (d.name, d.superstructure, repr(d.qualifiers), d.flavors, tuple(map(_feature_signature, d.properties)),
            tuple(map(_type_signature, d.structures)), tuple(map(_type_signature, d.enumerations)))


_WHERE = re.compile(r"line [0-9]+, column [0-9]+: ")


def _cpp_mode(cpp: Any, text: str) -> Optional[str]:
    if cpp is False or cpp is None:
        return "lines" if isinstance(text, str) and has_directives(text) else None
    if cpp is True or cpp == "builtin":
        return "builtin"
    if cpp == "system":
        return "system"
    raise ValueError(f"cpp must be False, True, 'builtin' or 'system', not {cpp!r}")


def _derive(parser: "_Parser", at: int, what: str, obj: Any, base: Any) -> None:
    """At most _MAX_DEPTH levels of structures/enumerations derived from one another (each level copies the
    values, or recurses over the members, of all the levels above it). The depth rides on the object, so
    declarations spread over included files count too."""
    depth = getattr(base, "_derivation_depth", 0) + 1
    if depth > _MAX_DEPTH:
        raise parser.error(at, f"{what} {obj.name} derives from {base.name}: more than {_MAX_DEPTH} levels of "
                               f"{what}s derived from one another")
    object.__setattr__(obj, "_derivation_depth", depth)


def _no_loader(path: str) -> Tuple[str, List[str]]:
    raise OSError(2, "no file loader (parse_document without a path)")


def parse_document(text: str, path: Optional[str] = None, loader: Optional[Loader] = None, *, cpp: Any = False,
                   include_dirs: Sequence[str] = (), defines: Optional[Dict[str, str]] = None,
                   outer_types: Optional[Dict[str, Any]] = None) -> MofDocument:
    """outer_types: MOF v3 structures and enumerations of files compiled before this one (parse_files), by
    lower-case name: visible here, and this file may declare its own of the same name."""
    doc = MofDocument()
    if path is not None:
        doc.files.append(os.path.abspath(path))
    mode = _cpp_mode(cpp, text)
    if loader is not None and not isinstance(loader, Budget):
        loader = Budget(loader)   # one budget for all the files this parse includes
    origins: Optional[List[Tuple[str, int]]] = None
    if mode is not None:
        text, origins, files, warnings = preprocess(text, path, mode, loader or _no_loader, include_dirs, defines)
        doc.files += files
        doc.warnings += warnings
    try:
        parser = _Parser(text, doc, path, loader, {}, 0, (os.path.abspath(path),) if path else (),
                         outer=outer_types)
        parser.parse()
    except MofError as exc:
        if origins is None or getattr(exc, "included", False) or not 0 < exc.line <= len(origins):
            raise
        shown, line = origins[exc.line - 1]   # the position in the file the preprocessed line came from
        message = _WHERE.sub("", str(exc), count=1)
        if shown != (path or "<MOF>"):
            err = MofError(f"{shown}: line {line}, column {exc.column}: {message}")
            err.line, err.column = line, exc.column
            err.included = True  # type: ignore[attr-defined]
        else:
            err = MofError(message, line, exc.column)
        raise err from None
    return doc


def parse(text: str) -> List[MofClass]:
    return parse_document(text).classes
