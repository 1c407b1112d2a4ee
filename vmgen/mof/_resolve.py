"""Superclass resolution: a class with everything it inherits (see vmgen.mof.resolve and docs/mof.md).

DSP0004's rules, as pywbem's compiler applies them: the superclasses' properties and methods come first,
root first; a property or method declared again by a subclass replaces the inherited one in place (an
override) and keeps the inherited qualifiers it does not set itself; a qualifier is inherited unless its
flavor is Restricted/NotToSubclass, where it is used or in its qualifier declaration (without one, the
DSP0004 qualifiers declared Restricted: Abstract, Deprecated, Experimental, Override, Version).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ..errors import MofError
from ._parser import _signature, _type_signature
from ._model import MofClass, MofDocument, MofMethod, MofProperty, MofQualifierDecl

# DSP0004 qualifiers whose declaration is Restricted (CIM 2.32 qualifiers.mof), used when the MOF read has
# no declaration of its own for them.
_RESTRICTED = frozenset({"abstract", "deprecated", "experimental", "override", "version"})
_NOT_INHERITED = frozenset({"Restricted", "NotToSubclass"})

Quals = Tuple[Dict[str, Any], Dict[str, Tuple[str, ...]]]


def _restricted_names(decls: Iterable[MofQualifierDecl]) -> frozenset:
    declared = {d.name.lower(): d for d in decls}
    names = {n for n in _RESTRICTED if n not in declared}
    names |= {k for k, d in declared.items() if _NOT_INHERITED & set(d.flavors)}
    return frozenset(names)


def _inherited(quals: Dict[str, Any], flavors: Dict[str, Tuple[str, ...]], restricted: frozenset) -> Quals:
    """The qualifiers (and their flavors) a subclass inherits."""
    out: Dict[str, Any] = {}
    out_flavors: Dict[str, Tuple[str, ...]] = {}
    for name, value in quals.items():
        fl = flavors.get(name, ())
        if _NOT_INHERITED & set(fl):
            continue
        if name.lower() in restricted and "ToSubclass" not in fl:
            continue
        out[name] = value
        if fl:
            out_flavors[name] = fl
    return out, out_flavors


def _merge(inherited: Quals, own: Dict[str, Any], own_flavors: Dict[str, Tuple[str, ...]]) -> Quals:
    """Inherited qualifiers the subclass does not set, then its own (names are case-insensitive)."""
    own_low = {k.lower() for k in own}
    quals = {k: v for k, v in inherited[0].items() if k.lower() not in own_low}
    flavors = {k: v for k, v in inherited[1].items() if k.lower() not in own_low}
    quals.update(own)
    flavors.update(own_flavors)
    return quals, flavors


def _chain(by_name: Dict[str, MofClass], cls: MofClass, files: Sequence[str]) -> List[MofClass]:
    """cls and its superclasses, root first; MofError for an unknown superclass or a cycle."""
    chain = [cls]
    seen = {cls.name.lower()}
    current = cls
    while current.superclass:
        parent = by_name.get(current.superclass.lower())
        if parent is None:
            where = f" of {current.path}" if current.path else ""
            read = f" (files read: {', '.join(files)})" if files else ""
            raise MofError(f"cannot resolve class {cls.name}: superclass {current.superclass} of class "
                           f"{current.name} (line {current.line}{where}) is not declared in the MOF read{read}; "
                           "add its file (#pragma include, or parse the files together)",
                           current.line, current.column)
        if parent.name.lower() in seen:
            raise MofError(f"cannot resolve class {cls.name}: its superclasses form a cycle "
                           f"({' -> '.join(c.name for c in chain)} -> {parent.name})", cls.line, cls.column)
        seen.add(parent.name.lower())
        chain.append(parent)
        current = parent
    chain.reverse()
    return chain


def can_resolve(classes: Sequence[MofClass], name: str) -> bool:
    """Whether every superclass of class ``name`` is among ``classes``."""
    by_name = {c.name.lower(): c for c in classes}
    cls = by_name.get(name.lower())
    seen = set()
    while cls is not None and cls.superclass:
        if cls.name.lower() in seen:
            return False
        seen.add(cls.name.lower())
        cls = by_name.get(cls.superclass.lower())
    return cls is not None


def resolve(source: Union[MofDocument, Sequence[MofClass]], name: str,
            qualifier_decls: Iterable[MofQualifierDecl] = ()) -> MofClass:
    """Class ``name`` resolved against its superclasses in ``source`` (a MofDocument or a list of classes).

    The result is a new MofClass (``resolved=True``): inherited properties and methods first, root first,
    overrides in place, each property's ``class_origin`` naming the class that introduced it, and the
    qualifiers it inherits (Key among them). The classes given are not changed. MofError if a superclass
    is not declared in ``source``."""
    files: Sequence[str] = ()
    if isinstance(source, MofDocument):
        classes: Sequence[MofClass] = source.classes
        qualifier_decls = list(qualifier_decls) + list(source.qualifier_decls)
        files = source.files
    else:
        classes = source
    by_name = {c.name.lower(): c for c in classes}
    cls = by_name.get(name.lower())
    if cls is None:
        raise MofError(f"no class {name!r} to resolve")
    restricted = _restricted_names(qualifier_decls)
    props: List[MofProperty] = []
    methods: List[MofMethod] = []
    prop_index: Dict[str, int] = {}
    method_index: Dict[str, int] = {}
    class_quals: Quals = ({}, {})
    for c in _chain(by_name, cls, files):
        last = c is cls
        class_quals = _merge(class_quals, c.qualifiers, c.flavors)
        if not last:
            class_quals = _inherited(class_quals[0], class_quals[1], restricted)
        _overlay(props, prop_index, c, c.properties, restricted, last)
        _overlay(methods, method_index, c, c.methods, restricted, last)
    return dataclasses.replace(cls, qualifiers=class_quals[0], flavors=class_quals[1], properties=props,
                               methods=methods, resolved=True)


def _type_of(x: Any) -> Tuple[str, bool]:
    """(type, is_array) of a property, or a method's return type (a REF's class may narrow: not compared)."""
    if isinstance(x, MofProperty):
        return x.type, x.is_array
    return x.return_type, x.return_is_array


def _override_target(p: Any) -> Optional[str]:
    """The name an Override qualifier gives (``[Override("x")]``), or None."""
    for k, v in p.qualifiers.items():
        if k.lower() == "override" and isinstance(v, str):
            return v
    return None


def _overlay(items: List[Any], index: Dict[str, int], cls: MofClass, own: Sequence[Any], restricted: frozenset,
             last: bool) -> None:
    """Put class ``cls``'s properties (or methods) over the inherited ones in ``items`` (``index``: name ->
    position). Each item is filtered to what subclasses inherit when it is placed (filtering is idempotent),
    so a chain of n classes costs O(its properties), not O(n * properties)."""
    for p in own:
        i = index.get(p.name.lower())
        what = "property" if isinstance(p, MofProperty) else "method"
        target = _override_target(p)
        if target is not None and target.lower() not in index:
            raise MofError(f"{what} {p.name} of class {cls.name} has Override({target!r}), but no superclass of "
                           f"{cls.name} has a {what} {target}", p.line, p.column)
        if i is None:
            quals: Quals = (dict(p.qualifiers), dict(p.flavors))
        else:
            old = items[i]
            if _type_of(old) != _type_of(p):
                shown = lambda x: _type_of(x)[0] + ("[]" if _type_of(x)[1] else "")  # noqa: E731
                raise MofError(f"{what} {p.name} of class {cls.name} overrides the {shown(old)} {what} of class "
                               f"{getattr(old, 'class_origin', None) or 'its superclass'} with another type "
                               f"({shown(p)}); an override keeps the type (an array stays an array)",
                               p.line, p.column)
            quals = _merge((old.qualifiers, old.flavors), p.qualifiers, p.flavors)
        if not last:   # what the next class down inherits: only the qualifiers that propagate
            quals = _inherited(quals[0], quals[1], restricted)
        # class_origin: the class that introduced the property (an override keeps it, as CIM-XML and pywbem)
        extra = ({"class_origin": items[i].class_origin if i is not None else cls.name}
                 if isinstance(p, MofProperty) else {})
        item = dataclasses.replace(p, qualifiers=quals[0], flavors=quals[1], **extra)
        if i is None:
            index[p.name.lower()] = len(items)
            items.append(item)
        else:
            items[i] = item


def merge_documents(docs: Sequence[MofDocument]) -> MofDocument:
    """Several files' documents as one (parse_files): a class, structure or enumeration declared again in a
    later file replaces the earlier one, with a warning when the two differ (two files that each #pragma
    include one common file declare its types twice, and say nothing)."""
    out = MofDocument()
    classes: Dict[str, int] = {}
    structures: Dict[str, int] = {}
    enumerations: Dict[str, int] = {}
    for doc in docs:
        for c in doc.classes:
            _add_or_replace(out.classes, classes, c, _signature, "class", out.warnings)
        out.instances += doc.instances
        out.qualifier_decls += doc.qualifier_decls
        out.pragmas += doc.pragmas
        out.files += [f for f in doc.files if f not in out.files]
        out.warnings += doc.warnings
        for st in doc.structures:
            _add_or_replace(out.structures, structures, st, _type_signature, "structure", out.warnings)
        for en in doc.enumerations:
            _add_or_replace(out.enumerations, enumerations, en, _type_signature, "enumeration", out.warnings)
    return out


def _add_or_replace(out: List[Any], where: Dict[str, int], item: Any, signature: Callable[[Any], Any], kind: str,
                    warnings: List[str]) -> None:
    """item appended to out, or in place of the declaration of its name (where: lower-case name -> index)
    when it says something different; an identical declaration again changes nothing."""
    i = where.get(item.name.lower())
    if i is None:
        where[item.name.lower()] = len(out)
        out.append(item)
    elif signature(item) != signature(out[i]):
        warnings.append(f"{item.path or '<MOF>'}: line {item.line}: {kind} {item.name} is declared again (first "
                        f"in {out[i].path}): the later declaration replaces it")
        out[i] = item


def resolved_or_none(doc: MofDocument, cls: MofClass) -> Optional[MofClass]:
    return resolve(doc, cls.name) if can_resolve(doc.classes, cls.name) else None
