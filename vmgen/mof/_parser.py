"""Recursive-descent parser for MOF (DSP0221 / DSP0004 MOF 2, with WMI's extensions); see ``vmgen.mof``.

Grammar (keywords and type names case-insensitive, as in MOF)::

    mof        := { pragma | class | instance | qualifierDecl } EOF
    pragma     := '#pragma' IDENT [ '(' [ value { ',' value } ] ')' ]      (#pragma include("f") reads f)
    class      := [ qualifiers ] ( 'class' | 'association' | 'indication' ) IDENT [ 'as' ALIAS ]
                  [ ':' IDENT ] '{' { feature } '}' ';'
    feature    := [ qualifiers ] ( property | reference | method )
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
                | ALIAS | 'instance' 'of' IDENT '{' ... '}'      (an embedded instance, as WMI writes it)

Refused with a MofError naming them: MOF v3 structures and enumerations, C preprocessor lines.
Types the parser does not know (``uint33``) are refused as such; any other identifier in type position
is an embedded object of that class (WMI). ``layout()`` alone refuses what a policy struct cannot hold.
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ._lexer import ALIAS, CHAR, EOF, IDENT, INT, PRAGMA, REAL, STRING, Positions, describe, scan
from ._model import (ALL_TYPES, INTEGER_TYPES, TYPES, MofAliasRef, MofClass, MofDocument, MofInstance, MofMethod,
                     MofPragma, MofProperty, MofQualifierDecl)
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
_UNSUPPORTED_TOP = {
    "structure": "structure declaration (MOF v3)",
    "enumeration": "enumeration declaration (MOF v3)",
}
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
                 pragmas: Dict[str, Any], depth: int, including: Tuple[str, ...]) -> None:
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
                    raise MofError(f"class {cls.name} is declared twice (first at line {seen[key].line})",
                                   cls.line, cls.column)
                seen[key] = cls
                self.doc.classes.append(cls)
            elif word == "instance":
                inst = self.instance(quals, embedded=False)
                self.doc.instances.append(inst)
            elif word == "qualifier" and not quals[0]:
                self.doc.qualifier_decls.append(self.qualifier_decl())
            elif word in _UNSUPPORTED_TOP:
                raise self.unsupported(i, _UNSUPPORTED_TOP[word])
            else:
                raise self.error(i, "expected 'class', 'instance of', 'qualifier', '[' or '#pragma', "
                                    f"found {self.describe(i)}")

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
        if len(values) != 1 or not isinstance(values[0], str) or not values[0]:
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
                        self.including + (target,))
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
        while not self.is_punct("}"):
            if self.kinds[self.i] == EOF:
                raise self.error(self.i, f"expected '}}' to close class {cls.name}, found end of input")
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
        self.advance()  # }
        self.expect_punct(";", f"after the closing '}}' of class {cls.name}")
        return cls

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
    def type_ref(self, what: str, allow_void: bool = False) -> Tuple[int, str, Optional[str], Optional[str]]:
        """A type in property, parameter or method position: (token, type, ref_class, embedded_class)."""
        type_i = self.expect_ident(what)
        text = self.vals[type_i]
        low = text.lower()
        if self.is_word("ref"):
            self.advance()
            return type_i, "ref", text, None
        if low in _DATA_TYPES:
            return type_i, low, None, None
        if low == "object":
            return type_i, "object", None, None
        if low == "void" and allow_void:
            return type_i, "void", None, None
        if _NUMERIC_LIKE.fullmatch(low):
            raise self.error(type_i, f"unknown type {text!r} (MOF's numeric types: "
                                     f"{', '.join(INTEGER_TYPES)}, real32, real64)")
        return type_i, "object", None, text  # WMI: an embedded object of class `text`

    def feature(self, class_name: str) -> Any:
        quals: Quals = ({}, {})
        if self.is_punct("["):
            quals = self.qualifier_list()
        if self.kinds[self.i] != IDENT:
            raise self.error(self.i, f"expected a property type (uint8 ... string), a reference, a method or "
                                     f"'}}', found {self.describe(self.i)}")
        type_i, mof_type, ref_class, embedded = self.type_ref("a property type", allow_void=True)
        ret_array = False
        if self.kinds[self.i] == "[" and self.kinds[self.i + 1] == "]":
            ret_array = True   # a method returning an array: `string[] Foo()` (WMI)
            self.advance()
            self.advance()
        name_i = self.expect_ident(f"a name after type {self.vals[type_i]}")
        name = self.vals[name_i]
        line, col = self.where(type_i)
        if self.is_punct("("):
            return self.method(quals, name, mof_type, ref_class, embedded, ret_array, line, col)
        if mof_type == "void" or ret_array:
            raise self.error(type_i if mof_type == "void" else name_i,
                             f"{name}: only a method (with '(...)') can be declared this way")
        prop = MofProperty(name=name, type=mof_type, qualifiers=quals[0], flavors=quals[1], line=line, column=col,
                           ref_class=ref_class, embedded_class=embedded)
        self.array_suffix(prop)
        if self.is_punct("="):
            self.advance()
            vi = self.i
            prop.default = self.initializer(f"the initializer of {name}")
            prop.has_default = True
            self.check_default(prop, vi, "property")
        self.expect_punct(";", f"after property {name}")
        return prop

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
                ti, ptype, pref, pemb = self.type_ref(f"a parameter type in method {name}()")
                pi = self.expect_ident(f"a parameter name after type {self.vals[ti]}")
                pline, pcol = self.where(ti)
                param = MofProperty(name=self.vals[pi], type=ptype, qualifiers=pq[0], flavors=pq[1], line=pline,
                                    column=pcol, ref_class=pref, embedded_class=pemb)
                if param.name.lower() in seen:
                    raise self.error(pi, f"parameter {param.name} of method {name}() is declared twice")
                seen.add(param.name.lower())
                self.array_suffix(param)
                if self.is_punct("="):
                    self.advance()
                    vi = self.i
                    param.default = self.initializer(f"the default of parameter {param.name}")
                    param.has_default = True
                    self.check_default(param, vi, "parameter")
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
        kw = self.advance()  # instance
        self.expect_word("of", "after 'instance'")
        class_name = self.vals[self.expect_ident("a class name after 'instance of'")]
        alias = self.alias_decl()
        self.expect_punct("{", f"to open the instance of {class_name}")
        if self.depth >= _MAX_DEPTH:
            raise self.error(kw, f"instances nested more than {_MAX_DEPTH} deep")
        line, col = self.where(kw)
        inst = MofInstance(class_name, qualifiers=quals[0], flavors=quals[1], alias=alias,
                           pragmas=dict(self.pragmas), path=self.path, line=line, column=col)
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
            if word == "instance":
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


assert set(_DATA_TYPES) | {"object", "ref"} == set(ALL_TYPES)


def parse_document(text: str, path: Optional[str] = None, loader: Optional[Loader] = None) -> MofDocument:
    doc = MofDocument()
    if path is not None:
        doc.files.append(os.path.abspath(path))
    parser = _Parser(text, doc, path, loader, {}, 0, (os.path.abspath(path),) if path else ())
    parser.parse()
    return doc


def parse(text: str) -> List[MofClass]:
    return parse_document(text).classes
