"""The shipped stubs type-check a user's program under mypy --strict, and the stubs themselves are clean."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import vmgen

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parents[1]
PACKAGE = Path(vmgen.__file__).resolve().parent  # the source tree, or site-packages when testing a wheel
# In the source tree the stubs are checked as files too; against an installed wheel, mypy reaches them
# through `import vmgen` (PEP 561: py.typed), from a directory without a vmgen/ of its own.
IN_TREE = PACKAGE.parent == ROOT
STUB_FILES = ("__init__.pyi", "counter/__init__.pyi", "switch/__init__.pyi", "switch/compiled.pyi", "mof/__init__.pyi")
STUBS = [str(PACKAGE / stub) for stub in STUB_FILES] if IN_TREE else []
pytest.importorskip("mypy", reason="mypy not installed (requirements-test.txt has it)")


def test_mypy_strict_on_public_api() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(TESTS / "typing" / "usage.py"), *STUBS],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_catches_a_type_error(tmp_path: Path) -> None:
    """Negative control: the stubs are really consulted."""
    bad = tmp_path / "bad.py"
    bad.write_text("import vmgen\nx: str = vmgen.NicSaveState(bytearray(600)).port_id\n")
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(bad)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "incompatible types" in result.stdout.lower()


def test_stubs_are_packaged() -> None:
    for name in ("py.typed",) + STUB_FILES:
        assert (PACKAGE / name).exists(), name
