"""Every ```python block in README.md and docs/*.md runs, as written, as a test.

Each block runs on its own in a fresh interpreter (blocks do not share names: a reader can copy any one
of them), from a temporary directory, with this tree's vmgen on the path. A block that cannot run here
says why in a marker on the line just above its fence, ``<!-- example: skip: REASON -->``, and the test
is skipped with that reason; a block without a marker must run and exit 0.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
if not (ROOT / "README.md").exists():  # tests copied beside an installed wheel, without the docs
    pytest.skip("README.md and docs/ are not beside these tests", allow_module_level=True)
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```python[ \t]*$")
SKIP = re.compile(r"^<!--\s*example:\s*skip:\s*(?P<reason>.+?)\s*-->\s*$")


def python_blocks(path: Path) -> List[Tuple[int, str, str]]:
    """(line of the fence, code, skip reason or "") for each ```python block of a markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if FENCE.match(lines[i]):
            start = i
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            assert j < len(lines), f"{path.name}:{start + 1}: unterminated ```python block"
            marker = SKIP.match(lines[start - 1]) if start else None
            blocks.append((start + 1, "\n".join(lines[start + 1:j]) + "\n", marker.group("reason") if marker else ""))
            i = j
        i += 1
    return blocks


CASES = [(path, line, code, reason) for path in DOCS for line, code, reason in python_blocks(path)]


def test_the_docs_have_python_examples() -> None:
    names = {path.name for path, _, _, _ in CASES}
    assert "README.md" in names and "switch.md" in names, names


def test_the_extractor_finds_blocks_and_markers(tmp_path: Path) -> None:
    """Negative control for the extractor: a marked and an unmarked block, and a sh block it ignores."""
    md = tmp_path / "x.md"
    md.write_text("text\n<!-- example: skip: needs a Windows guest -->\n```python\nraise SystemExit(1)\n```\n"
                  "```sh\nfalse\n```\n\n```python\nx = 1\n```\n", encoding="utf-8")
    assert python_blocks(md) == [(3, "raise SystemExit(1)\n", "needs a Windows guest"), (10, "x = 1\n", "")]


def test_a_failing_block_fails(tmp_path: Path) -> None:
    """Negative control for the runner: a block that raises makes the run fail."""
    r = _run("import vmgen\nraise ValueError('boom')\n", tmp_path)
    assert r.returncode != 0 and "boom" in r.stderr


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("VMGEN_SIMULATE", None)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("path,line,code,reason", CASES,
                         ids=[f"{p.relative_to(ROOT)}:{line}" for p, line, _, _ in CASES])
def test_example_runs(path: Path, line: int, code: str, reason: str, tmp_path: Path) -> None:
    if reason:
        pytest.skip(f"{path.relative_to(ROOT)}:{line}: {reason}")
    r = _run(code, tmp_path)
    assert r.returncode == 0, f"{path.relative_to(ROOT)}:{line} failed:\n{code}\n{r.stdout}\n{r.stderr}"
