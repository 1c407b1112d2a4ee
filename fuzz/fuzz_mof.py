"""atheris harness for the MOF compiler: any text yields MofClass objects or a MofError, never another
exception. Each parsed class is also laid out (Layout or MofError), its header generated, and, when it
lays out, a zero-filled buffer built and decoded through its view on the C engine and the reference.

Run:

    python3 fuzz/fuzz_mof.py -runs=200000 [-max_len=4096] [corpus_dir]
    python3 fuzz/fuzz_mof.py -max_total_time=120

Inputs are parsed with or without ``cpp=True`` (bit 1 of the first byte) and read two ways (bit 0): the rest as UTF-8 text (replacement characters for
bad bytes), or a structure-aware mutation of a known-good MOF (seed 001 and the test suite's classes):
the fuzzer's bytes choose positions and MOF atoms to insert, delete, replace or duplicate. At exit the
harness prints, every 50000 inputs, how many parsed, how many classes laid out and how many raised MofError.
"""
from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Dict, Optional, Tuple

import atheris

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests", "mof")]  # this checkout's vmgen, and the test suite's MOF texts

with atheris.instrument_imports(include=["vmgen"]):
    from vmgen import mof
    from vmgen.errors import LayoutError, MofError

from test_mof import _ATOMS, ERRORS, LAYOUT_ERRORS, OWN_MOF, SEED_MOF  # noqa: E402
from test_mof_cpp import CPP_ERRORS, SUBSET  # noqa: E402
from test_mof_v3 import LAYOUT_REFUSALS, V3  # noqa: E402

CORPUS = ([SEED_MOF, OWN_MOF, V3, SUBSET] + [t for t, *_ in ERRORS] + [t for t, *_ in LAYOUT_ERRORS]
          + [t for t, *_ in CPP_ERRORS] + [t for t, *_ in LAYOUT_REFUSALS])
# MOF v3 and preprocessor atoms besides the test suite's
ATOMS = _ATOMS + ["structure", "enumeration", "value of", ".", "Color.", "\\\n", "#define T uint8\n", "#if 1\n",
                  "#else\n", "#endif\n", "#include \"x\"\n", "# 3 \"f.mof\"\n", "#line 9\n", "T", "defined(T)",
                  # issue 19 attack: cpp integer semantics, deep nesting, overrides, enum macros
                  "#if 0xFFFFFFFFFFFFFFFF + 1 == 0\n", "#if -1 < 0u\n", "(((", "!!!", "#define T T T\n",
                  "[Override(\"x\")]", " : ", "_Value", "#if 1 / 0\n"]
STATS = {"inputs": 0, "parse_errors": 0, "parsed": 0, "classes": 0, "laid_out": 0, "layout_errors": 0}


def _mutate(fdp: atheris.FuzzedDataProvider) -> str:
    text = CORPUS[fdp.ConsumeIntInRange(0, len(CORPUS) - 1)]
    for _ in range(fdp.ConsumeIntInRange(1, 8)):
        i = fdp.ConsumeIntInRange(0, len(text))
        j = min(len(text), i + fdp.ConsumeIntInRange(0, 16))
        op = fdp.ConsumeIntInRange(0, 3)
        atom = ATOMS[fdp.ConsumeIntInRange(0, len(ATOMS) - 1)] if fdp.ConsumeBool() else fdp.ConsumeUnicode(3)
        if op == 0:
            text = text[:i] + atom + text[i:]
        elif op == 1:
            text = text[:i] + text[j:]
        elif op == 2:
            text = text[:i] + atom + text[j:]
        else:
            text = text[:i] + text[i:j] + text[i:]
    return text


def TestOneInput(data: bytes) -> None:
    STATS["inputs"] += 1
    if STATS["inputs"] % 50000 == 0:
        _report()
    if not data:
        return
    if data[0] & 1:
        text = data[1:].decode("utf-8", "replace")
    else:
        text = _mutate(atheris.FuzzedDataProvider(data[1:]))
    try:
        # bit 1: through vmgen's C preprocessor subset (cpp=True); then every class is resolved where it can be
        doc = mof.parse_document(text, cpp=bool(data[0] & 2))
        classes = [mof.resolve(doc, c.name) if mof.can_resolve(doc.classes, c.name) else c for c in doc.classes]
    except MofError as exc:
        if exc.line < 1 or exc.column < 1:
            raise AssertionError(f"MofError without a position: {exc}") from None
        STATS["parse_errors"] += 1
        return
    STATS["parsed"] += 1
    for cls in classes:
        STATS["classes"] += 1
        if not isinstance(cls, mof.MofClass):
            raise AssertionError(type(cls))
        try:
            lay = mof.layout(cls)
        except MofError:
            STATS["layout_errors"] += 1
            continue
        STATS["laid_out"] += 1
        lay.c_header()
        if lay.struct.size > 1 << 16:
            continue
        views = _views_for(lay)
        if views is None:
            continue
        c_view, ref_view = views
        raw = bytes(memoryview(c_view.build()))
        got = c_view(raw).to_dict()
        want = ref_view(raw).to_dict()
        if got.keys() != want.keys():
            raise AssertionError((got, want))
        try:
            c_view(raw[:-1])
        except LayoutError:
            pass


# The C engine keeps every view type it makes for the life of the process (vmgen.switch._fields._layouts), about
# 3 KB each: reuse one view type per distinct layout and stop making new ones after a few thousand, or a
# long run would grow without bound.
_VIEWS: Dict[Tuple[Any, ...], Tuple[type, type]] = {}
_MAX_VIEW_TYPES = 4000


def _views_for(lay: Any) -> Optional[Tuple[type, type]]:
    key = (lay.struct.size, lay.field_specs())
    if key not in _VIEWS:
        if len(_VIEWS) >= _MAX_VIEW_TYPES:
            return None
        _VIEWS[key] = (lay.view_type, lay.reference_view_type)
    return _VIEWS[key]


def _report() -> None:
    print("fuzz_mof: " + ", ".join(f"{k}={v}" for k, v in STATS.items()), file=sys.stderr)


def main() -> None:
    warnings.simplefilter("ignore")   # a class declared again, #warning: UserWarnings, not findings
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
