"""Recursive-descent parser for the MOF subset of switch-extension policies (see ``vmgen.mof``).

Grammar (keywords and type names case-insensitive, as in MOF)::

    mof        := { pragma | class } EOF
    pragma     := '#pragma' IDENT '(' [ value { ',' value } ] ')'
    class      := [ qualifiers ] 'class' IDENT [ ':' IDENT ] '{' { property } '}' ';'
    qualifiers := '[' qualifier { ',' qualifier } ']'
    qualifier  := IDENT [ '(' constant ')' | '{' [ constant { ',' constant } ] '}' ] [ ':' FLAVOR { FLAVOR } ]
    property   := [ qualifiers ] TYPE IDENT [ '[' [ INTEGER ] ']' ] [ '=' initializer ] ';'
    initializer:= constant | '{' [ constant { ',' constant } ] '}'
    constant   := [ '+' | '-' ] ( INTEGER | REAL ) | STRING { STRING } | CHAR | 'true' | 'false' | 'null'

Recognised but refused with a MofError naming them: instance declarations, qualifier declarations,
MOF v3 structures/enumerations/associations, methods, references, embedded objects, real32/real64,
aliases, ``#pragma include``, arrays of string or datetime.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

from ._lexer import CHAR, EOF, IDENT, INT, PRAGMA, PUNCT, REAL, STRING, Token, tokenize
from ._model import INTEGER_TYPES, TYPES, MofClass, MofProperty
from ..errors import MofError

FLAVORS = {f.lower(): f for f in ("Amended", "ToSubclass", "NotToSubclass", "DisableOverride", "EnableOverride",
                                  "Restricted", "ToInstance", "NotToInstance", "Translatable")}

_INT_RANGES = {
    "uint8": (0, 0xFF), "uint16": (0, 0xFFFF), "uint32": (0, 0xFFFFFFFF), "uint64": (0, 0xFFFFFFFFFFFFFFFF),
    "sint8": (-0x80, 0x7F), "sint16": (-0x8000, 0x7FFF), "sint32": (-0x80000000, 0x7FFFFFFF),
    "sint64": (-0x8000000000000000, 0x7FFFFFFFFFFFFFFF),
}
CIM_DATETIME_CHARS = 25  # yyyymmddHHMMSS.mmmmmmsUUU

_UNSUPPORTED_TOP = {
    "instance": "instance declaration ('instance of')",
    "qualifier": "qualifier declaration",
    "association": "association declaration (MOF v3)",
    "indication": "indication declaration (MOF v3)",
    "structure": "structure declaration (MOF v3)",
    "enumeration": "enumeration declaration (MOF v3)",
}


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


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.pragmas: Dict[str, Any] = {}

    # -- token helpers --------------------------------------------------------------------------------
    def peek(self, k: int = 0) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != EOF:
            self.i += 1
        return tok

    @staticmethod
    def error(tok: Token, message: str) -> MofError:
        return MofError(message, tok.line, tok.column)

    def unsupported(self, tok: Token, what: str) -> MofError:
        return self.error(tok, f"unsupported MOF construct: {what}")

    def is_punct(self, c: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == PUNCT and tok.value == c

    def is_word(self, word: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == IDENT and tok.value.lower() == word

    def expect_punct(self, c: str, context: str) -> Token:
        tok = self.peek()
        if tok.kind == PUNCT and tok.value == c:
            return self.advance()
        raise self.error(tok, f"expected {c!r} {context}, found {tok.describe()}")

    def expect_ident(self, what: str) -> Token:
        tok = self.peek()
        if tok.kind == IDENT:
            return self.advance()
        raise self.error(tok, f"expected {what}, found {tok.describe()}")

    # -- top level --------------------------------------------------------------------------------------
    def parse(self) -> List[MofClass]:
        classes: List[MofClass] = []
        seen: Dict[str, MofClass] = {}
        while self.peek().kind != EOF:
            tok = self.peek()
            if tok.kind == PRAGMA:
                self.pragma()
                continue
            quals: Tuple[Dict[str, Any], Dict[str, Tuple[str, ...]]] = ({}, {})
            if self.is_punct("["):
                quals = self.qualifier_list()
            tok = self.peek()
            if self.is_word("class"):
                cls = self.class_decl(quals)
                key = cls.name.lower()
                if key in seen:
                    raise MofError(f"class {cls.name} is declared twice (first at line {seen[key].line})",
                                   cls.line, cls.column)
                seen[key] = cls
                classes.append(cls)
                continue
            if tok.kind == IDENT and tok.value.lower() in _UNSUPPORTED_TOP:
                raise self.unsupported(tok, _UNSUPPORTED_TOP[tok.value.lower()])
            raise self.error(tok, f"expected 'class', '[' or '#pragma', found {tok.describe()}")
        return classes

    def pragma(self) -> None:
        self.advance()  # #pragma
        name_tok = self.expect_ident("a pragma name after #pragma")
        name = name_tok.value.lower()
        if name == "include":
            raise self.unsupported(name_tok, "#pragma include (parse the included file's text separately)")
        self.expect_punct("(", f"after #pragma {name_tok.value}")
        values: List[Any] = []
        if not self.is_punct(")"):
            while True:
                if self.peek().kind == IDENT and self.peek().value.lower() not in ("true", "false", "null"):
                    values.append(self.advance().value)  # e.g. NOFAIL, FAIL, FORCEUPDATE
                else:
                    values.append(self.constant())
                if not self.is_punct(","):
                    break
                self.advance()
        self.expect_punct(")", f"to close #pragma {name_tok.value}(")
        self.pragmas[name] = values[0] if len(values) == 1 else tuple(values)

    def class_decl(self, quals: Tuple[Dict[str, Any], Dict[str, Tuple[str, ...]]]) -> MofClass:
        kw = self.advance()  # class
        name_tok = self.expect_ident("a class name after 'class'")
        superclass = None
        if self.is_punct(":"):
            self.advance()
            superclass = self.expect_ident("a superclass name after ':'").value
        if self.is_word("as"):
            raise self.unsupported(self.peek(), "class alias ('as $alias')")
        self.expect_punct("{", f"to open the body of class {name_tok.value}")
        cls = MofClass(name=name_tok.value, superclass=superclass, qualifiers=quals[0], flavors=quals[1],
                       pragmas=dict(self.pragmas), line=kw.line, column=kw.column)
        names: Dict[str, MofProperty] = {}
        while not self.is_punct("}"):
            if self.peek().kind == EOF:
                raise self.error(self.peek(), f"expected '}}' to close class {cls.name}, found end of input")
            prop = self.property_decl()
            key = prop.name.lower()
            if key in names:
                raise MofError(f"property {prop.name} is declared twice in class {cls.name} "
                               f"(first at line {names[key].line})", prop.line, prop.column)
            names[key] = prop
            cls.properties.append(prop)
        self.advance()  # }
        self.expect_punct(";", f"after the closing '}}' of class {cls.name}")
        return cls

    # -- qualifiers -----------------------------------------------------------------------------------------
    def qualifier_list(self) -> Tuple[Dict[str, Any], Dict[str, Tuple[str, ...]]]:
        self.expect_punct("[", "to open a qualifier list")
        values: Dict[str, Any] = {}
        flavors: Dict[str, Tuple[str, ...]] = {}
        seen: Dict[str, str] = {}
        while True:
            name_tok = self.expect_ident("a qualifier name")
            name = name_tok.value
            if name.lower() in seen:
                raise self.error(name_tok, f"qualifier {name} given twice")
            seen[name.lower()] = name
            value: Any = True
            if self.is_punct("("):
                self.advance()
                value = self.constant()
                self.expect_punct(")", f"to close qualifier {name}(")
            elif self.is_punct("{"):
                value = self.array_literal(f"qualifier {name}")
            check = _QUALIFIER_CHECKS.get(name.lower())
            if check is not None:
                problem = check(value)
                if problem:
                    raise self.error(name_tok, f"qualifier {name}: {problem}, not {value!r}")
            values[name] = value
            if self.is_punct(":"):
                self.advance()
                got: List[str] = []
                while self.peek().kind == IDENT:
                    ftok = self.advance()
                    canonical = FLAVORS.get(ftok.value.lower())
                    if canonical is None:
                        raise self.error(ftok, f"unknown qualifier flavor {ftok.value!r} (known: "
                                               f"{', '.join(sorted(FLAVORS.values()))})")
                    got.append(canonical)
                if not got:
                    raise self.error(self.peek(), f"expected a flavor (e.g. Amended) after ':' in qualifier {name}, "
                                                  f"found {self.peek().describe()}")
                flavors[name] = tuple(got)
            if self.is_punct(","):
                self.advance()
                continue
            self.expect_punct("]", "or ',' in the qualifier list")
            return values, flavors

    # -- properties ------------------------------------------------------------------------------------------
    def property_decl(self) -> MofProperty:
        quals: Tuple[Dict[str, Any], Dict[str, Tuple[str, ...]]] = ({}, {})
        if self.is_punct("["):
            quals = self.qualifier_list()
        type_tok = self.expect_ident("a property type (uint8 ... string) or '}'")
        mof_type = type_tok.value.lower()
        if mof_type not in TYPES:
            if self.is_word("ref"):  # "Class REF Name"
                raise self.unsupported(type_tok, f"reference property ({type_tok.value} REF ...)")
            if mof_type in ("real32", "real64"):
                raise self.unsupported(type_tok, f"type {type_tok.value} (floating point has no serialized "
                                                 "layout here)")
            if self.peek().kind == IDENT:
                what = "embedded object" if mof_type == "object" else f"embedded object of class {type_tok.value}"
                raise self.unsupported(type_tok, f"{what} (type {type_tok.value!r})")
            raise self.error(type_tok, f"expected a property type (one of {', '.join(TYPES)}), "
                                       f"found {type_tok.describe()}")
        name_tok = self.expect_ident(f"a property name after type {type_tok.value}")
        if self.is_punct("("):
            raise self.unsupported(name_tok, f"method {name_tok.value}()")
        prop = MofProperty(name=name_tok.value, type=mof_type, qualifiers=quals[0], flavors=quals[1],
                           line=type_tok.line, column=type_tok.column)
        if self.is_punct("["):
            open_tok = self.advance()
            prop.is_array = True
            if self.peek().kind == INT:
                size_tok = self.advance()
                if size_tok.value < 1:
                    raise self.error(size_tok, f"array size of {prop.name} must be >= 1")
                prop.array_size = size_tok.value
            self.expect_punct("]", f"to close the array brackets of {prop.name}")
            if mof_type in ("string", "datetime"):
                raise self.unsupported(open_tok, f"array of {mof_type} ({prop.name})")
        if self.is_punct("="):
            self.advance()
            value_tok = self.peek()
            if self.is_punct("{"):
                prop.default = self.array_literal(f"the initializer of {prop.name}")
            else:
                prop.default = self.constant()
            prop.has_default = True
            self.check_default(prop, value_tok)
        self.expect_punct(";", f"after property {prop.name}")
        return prop

    # -- values ----------------------------------------------------------------------------------------------
    def array_literal(self, context: str) -> Tuple[Any, ...]:
        self.expect_punct("{", f"to open {context}")
        items: List[Any] = []
        if not self.is_punct("}"):
            while True:
                items.append(self.constant())
                if not self.is_punct(","):
                    break
                self.advance()
        self.expect_punct("}", f"or ',' in {context}")
        return tuple(items)

    def constant(self) -> Any:
        tok = self.peek()
        if tok.kind == PUNCT and tok.value in "+-":
            self.advance()
            num = self.peek()
            if num.kind not in (INT, REAL):
                raise self.error(num, f"expected a number after {tok.value!r}, found {num.describe()}")
            self.advance()
            return -num.value if tok.value == "-" else num.value
        if tok.kind in (INT, REAL, CHAR):
            return self.advance().value
        if tok.kind == STRING:
            parts = [self.advance().value]
            while self.peek().kind == STRING:  # "a" "b" is "ab", as in C
                parts.append(self.advance().value)
            return "".join(parts)
        if tok.kind == IDENT:
            word = tok.value.lower()
            if word in ("true", "false", "null"):
                self.advance()
                return {"true": True, "false": False, "null": None}[word]
        if self.is_punct("$"):
            raise self.unsupported(tok, "alias ($name)")
        raise self.error(tok, f"expected a value (number, string, char, true, false or null), "
                              f"found {tok.describe()}")

    def check_default(self, prop: MofProperty, tok: Token) -> None:
        value = prop.default
        if value is None:
            return
        if prop.is_array:
            if not isinstance(value, tuple):
                raise self.error(tok, f"array property {prop.name} needs an array initializer {{...}}")
            limit = prop.array_size or prop.max
            if limit is not None and len(value) > limit:
                raise self.error(tok, f"initializer of {prop.name} has {len(value)} elements, more than {limit}")
            for item in value:
                self.check_scalar(prop, item, tok)
        elif isinstance(value, tuple):
            raise self.error(tok, f"scalar property {prop.name} cannot take an array initializer")
        else:
            self.check_scalar(prop, value, tok)

    def check_scalar(self, prop: MofProperty, value: Any, tok: Token) -> None:
        t = prop.type
        bad = f"default value {value!r} does not suit {t} property {prop.name}"
        if value is None:
            return
        if t in INTEGER_TYPES:
            lo, hi = _INT_RANGES[t]
            if not _is_int(value):
                raise self.error(tok, bad)
            if not lo <= value <= hi:
                raise self.error(tok, f"default value {value} of {prop.name} is out of range for {t} ({lo}..{hi})")
        elif t == "boolean":
            if not isinstance(value, bool):
                raise self.error(tok, bad)
        elif t == "char16":
            ok = (isinstance(value, str) and len(value) == 1) or (_is_int(value) and 0 <= value <= 0xFFFF)
            if not ok:
                raise self.error(tok, bad)
        elif t == "string":
            if not isinstance(value, str):
                raise self.error(tok, bad)
            limit = prop.max_len
            units = len(value.encode("utf-16-le", "surrogatepass")) // 2
            if limit is not None and units > limit:
                raise self.error(tok, f"default of {prop.name} has {units} characters, more than MaxLen({limit})")
        elif t == "datetime":
            if not isinstance(value, str) or len(value) != CIM_DATETIME_CHARS:
                raise self.error(tok, f"default of datetime property {prop.name} must be a {CIM_DATETIME_CHARS}-"
                                      "character CIM datetime string (yyyymmddHHMMSS.mmmmmmsUUU)")


def parse(text: str) -> List[MofClass]:
    return _Parser(text).parse()
