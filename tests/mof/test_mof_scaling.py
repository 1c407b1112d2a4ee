"""Issue 13: layout() and snake_case() take time linear in their input.

Each test times n and 4n (CPU time, best of 3) and wants a ratio well under the 16 a quadratic cost gives
(linear gives about 4); the bound is generous so that a busy machine does not fail it. Before the fix:
layout 1,500 -> 6,000 properties took 19x the time (Struct.member scanned every member per accessor),
snake_case on 4,000 -> 16,000 capitals 0.5 s -> 8.6 s (the regex backtracked).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable

from vmgen import mof

from support.timing import best_cpu_seconds as _best

RATIO_LIMIT = 9.0


def _ratio(make: Callable[[int], Callable[[], object]], n: int) -> float:
    small, large = make(n), make(4 * n)
    small()   # warm caches (regex compilation, imports)
    return _best(large) / max(_best(small), 1e-4)


def _class(n: int) -> mof.MofClass:
    text = "class Big {\n" + "".join(f"  [WmiDataId({i + 1})] uint32 P{i};\n" for i in range(n)) + "};\n"
    [cls] = mof.parse(text)
    return cls


def test_layout_is_linear_in_the_property_count() -> None:
    def make(n: int) -> Callable[[], object]:
        cls = _class(n)
        return lambda: mof.layout(cls).field_specs()
    ratio = _ratio(make, 1500)
    assert ratio < RATIO_LIMIT, f"layout: 4x the properties took {ratio:.1f}x the time"


def test_layout_of_many_properties_is_right() -> None:
    lay = mof.layout(_class(3000))
    specs = lay.field_specs()
    assert len(specs) == 3000 and specs[-1][1] == "p2999" and specs[-1][2] == 4 * 2999
    assert lay.struct.size == 4 * 3000


def test_snake_case_is_linear_on_long_all_caps_names() -> None:
    def make(n: int) -> Callable[[], object]:
        name = "A" * n   # no word break anywhere: the old regex retried from every position
        return lambda: mof.snake_case(name)
    ratio = _ratio(make, 3000)
    assert ratio < RATIO_LIMIT, f"snake_case: 4x the characters took {ratio:.1f}x the time"
    assert mof.snake_case("A" * 5 + "Bc") == "aaaaa_bc"


def test_snake_case_matches_the_documented_rule() -> None:
    cases = {"IntValue8": "int_value8", "FixedLengthString": "fixed_length_string", "MACAddress": "mac_address",
             "ABCdEFg": "ab_cd_e_fg", "a1B": "a1_b", "Already_snake": "already_snake", "ÉtéX": "étéx",
             "X": "x", "": "", "HTTPServer2Go": "http_server2_go"}
    for name, want in cases.items():
        assert mof.snake_case(name) == want, name


def test_whitespace_before_a_bad_character_is_not_exponential() -> None:
    """Found by fuzz/fuzz_mof.py: the token regex backtracked through every split of a whitespace run
    before a character no token starts with (2^n: 22 blanks took 4 s, 30 would take minutes), and finditer
    retried from every position (n^2). Run in a child with a deadline, so a regression fails, not hangs."""
    code = ("from vmgen import mof\nfrom vmgen.errors import MofError\n"
            "for text in ['\\x0b' * 40 + '\\x00', 'class A {' + ' \\n' * 40 + '@', ' ' * 300000 + '@']:\n"
            "    try:\n        mof.parse(text)\n    except MofError as exc:\n        print(exc.line, exc.column)\n"
            "    try:\n        mof.parse_document(text, cpp=True)\n    except MofError:\n        pass\n")
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == ["1 41", "41 1", "1 300001"]


def test_lexing_is_linear_in_a_whitespace_run_before_an_error() -> None:
    def make(n: int) -> Callable[[], object]:
        text = " " * n + "@"

        def run() -> None:
            try:
                mof.parse(text)
            except mof.MofError:
                pass
        return run
    ratio = _ratio(make, 200_000)
    assert ratio < RATIO_LIMIT, f"lexer: 4x the blanks took {ratio:.1f}x the time"
