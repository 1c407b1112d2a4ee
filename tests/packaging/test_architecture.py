"""The package's rooms depend one way: no import circle among vmgen's modules, lazy imports included.

Every ``import``/``from ... import`` in vmgen's .py and .pyx files (at module level or inside a function)
is an edge; a package's ``__init__`` counts as the module of that name. The graph must have no cycle, and
the layout descriptions must not import the engines, the view definitions or the header generator.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Set

import pytest

import vmgen

PKG = Path(vmgen.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(current: str, is_package: bool, level: int, target: str) -> str:
    if level == 0:
        return target
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _imports(path: Path, modules: Set[str]) -> Set[str]:
    text = path.read_text()
    if path.suffix == ".pyx":   # keep Python-level imports only; cimports are C-level declarations
        text = "\n".join(ln for ln in text.splitlines() if re.match(r"\s*(from\s+\S+\s+import|import)\s", ln)
                         and "cimport" not in ln)
        text = "\n".join(ln.strip() for ln in text.splitlines())
    tree = ast.parse(text)
    name = _module_name(path)
    is_package = path.stem == "__init__"
    found: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node.level, node.module or "")
            # `from pkg import mod` names a module when pkg.mod is one; otherwise it names pkg's attribute
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in modules and t != name}
    return found


def import_graph() -> Dict[str, Set[str]]:
    files = [p for p in PKG.rglob("*") if p.suffix in (".py", ".pyx") and "__pycache__" not in p.parts]
    if not any(p.suffix == ".pyx" for p in files):
        pytest.skip("no .pyx sources beside the installed package (a wheel without them)")
    modules = {_module_name(p) for p in files}
    return {_module_name(p): _imports(p, modules) for p in files}


def _cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    found, state, stack = [], {}, []   # state: 1 on the stack, 2 done

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_import_graph_sees_real_edges() -> None:
    """The control: known edges are found, so an empty cycle list means something."""
    g = import_graph()
    assert "vmgen.switch.layout" in g["vmgen.switch._viewdefs"]
    assert "vmgen.counter._core" in g["vmgen.counter._aio_win"]
    assert "vmgen.errors" in g["vmgen.switch._fields"]   # a .pyx file's import
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_circles() -> None:
    assert _cycles(import_graph()) == []


def test_layout_descriptions_import_none_of_their_consumers() -> None:
    g = import_graph()
    consumers = {"vmgen.switch._fields", "vmgen.switch._pyfields", "vmgen.switch._viewdefs", "vmgen.switch.codegen",
                 "vmgen.switch.compiled", "vmgen.switch._engine", "vmgen.switch", "vmgen.mof"}
    assert not (g["vmgen.switch.layout"] & consumers), g["vmgen.switch.layout"]


def test_asyncio_glue_depends_on_the_core_not_on_the_counter() -> None:
    g = import_graph()
    for glue in ("vmgen.counter._aio", "vmgen.counter._aio_win"):
        assert "vmgen.counter" not in g[glue], (glue, g[glue])
