"""Copy the source tree into a temporary directory and rebuild the extensions there differently (under
ASan+UBSan, with the portable POSIX counter) without touching the in-place build; run Python over
a sanitized build."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _ignore(directory: str, names: list) -> set:
    # No built extensions, build dirs or caches; no Cython output in vmgen/, so it is regenerated.
    return {n for n in names if n.endswith((".so", ".pyd")) or n in ("build", "__pycache__", ".pytest_cache")
            or (n.endswith(".c") and _in_package(directory))}


def _in_package(directory: str) -> bool:
    """Is directory vmgen/ or below it in the source tree (where a .c file is Cython output)?"""
    try:
        return Path(directory).resolve().relative_to(ROOT).parts[:1] == ("vmgen",)
    except ValueError:   # a copied helper directory outside the tree
        return False


# What any copied test file may import: the root conftest and the shared helpers.
TEST_HELPERS = ("conftest.py", "support")


def copy_source_tree(dest: Path, dirs: Iterable[str] = ("csrc", "vmgen"), tests: Iterable[str] = ()) -> Path:
    """setup.py, pyproject.toml and `dirs` of the source tree, copied into dest (created); and, if any test
    files are named (paths under tests/, e.g. "counter/test_counter_waits.py"), those with TEST_HELPERS into
    dest/tests, to run over dest's build."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in ("setup.py", "pyproject.toml"):
        shutil.copy2(ROOT / item, dest / item)
    for item in dirs:
        shutil.copytree(ROOT / item, dest / item, ignore=_ignore)
    tests = tuple(tests)
    if tests:
        for name in tests + TEST_HELPERS:
            src, dst = ROOT / "tests" / name, dest / "tests" / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, ignore=_ignore)
            else:
                shutil.copy2(src, dst)
    return dest


# ---- rebuilding with sanitizers ----

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: UndefinedBehaviorSanitizer",
                     "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")


# Each extension, per the knobs that change it: the ASan views serve the counter's two ASan trees and the fuzz
# tree; the plain views serve the POSIX-backend tree. (name, package dir, knobs that change its build)
EXTENSIONS = (("_fields", "switch", ("VMGEN_SANITIZE",)),
              ("_core", "counter", ("VMGEN_SANITIZE", "VMGEN_COUNTER_BACKEND")))
# What the build reads, besides its knobs: any change to these is a new build.
BUILD_INPUTS = ("setup.py", "csrc", "vmgen")
_built: Dict[str, Path] = {}   # build key -> the built extension, for this test session


def _build_key(tree: Path, name: str, knobs: Dict[str, str]) -> str:
    h = hashlib.sha256(repr((name, sorted(knobs.items()), sys.version, sys.executable)).encode())
    for var in ("CC", "CFLAGS", "LDSHARED", "LDFLAGS", "CPPFLAGS"):
        h.update(f"{var}={os.environ.get(var, '')}".encode())
    for top in BUILD_INPUTS:
        for path in sorted((tree / top).rglob("*")) if (tree / top).is_dir() else [tree / top]:
            if path.is_file() and path.suffix in (".py", ".pyx", ".pxd", ".pxi", ".c", ".h") \
                    and not (path.suffix == ".c" and _in_package_of(tree, path)):
                h.update(str(path.relative_to(tree)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _in_package_of(tree: Path, path: Path) -> bool:
    return path.relative_to(tree).parts[:1] == ("vmgen",)   # vmgen/**/*.c is Cython's output, not an input


def build_in_place(tree: Path, **env: str) -> None:
    """`setup.py build_ext --inplace` in tree with these environment knobs (see setup.py's docstring).

    An extension this session already built from the same sources with the same knobs is copied, not
    compiled again (the ASan views once for three trees, the plain views not at all for the POSIX tree)."""
    full = dict(os.environ, **env)
    full.pop("VMGEN_PURE", None)
    only = env.get("VMGEN_ONLY")
    for name, package, knob_names in EXTENSIONS:
        if only and only != name:
            continue
        key = _build_key(tree, name, {k: full.get(k, "") for k in knob_names})
        dest = tree / "vmgen" / package
        cached = _built.get(key)
        if cached is not None and cached.exists():
            shutil.copy2(cached, dest / cached.name)
            continue
        r = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tree,
                           env=dict(full, VMGEN_ONLY=name), capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        built = sorted(dest.glob(f"{name}.*.so")) + sorted(dest.glob(f"{name}.*.pyd"))
        assert len(built) == 1, built
        _built[key] = built[0]


def assert_sanitized(extension: Path) -> None:
    needed = subprocess.run(["readelf", "-d", str(extension)], capture_output=True, text=True).stdout \
        if shutil.which("readelf") else "libasan"
    assert "libasan" in needed, f"{extension.name} is not linked against libasan: VMGEN_SANITIZE was ignored"


def gcc_runtime(name: str) -> str:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.fail("no C compiler: the sanitizer build needs gcc")
    path = subprocess.run([cc, f"-print-file-name={name}"], capture_output=True, text=True, check=True).stdout.strip()
    if not os.path.isabs(path) or not os.path.exists(path):
        pytest.fail(f"gcc has no {name} (install libasan/libubsan: apt-get install gcc)")
    return os.path.realpath(path)


def sanitizer_env(tree: Path) -> Dict[str, str]:
    """Run Python over tree's sanitized extensions: gcc's runtimes preloaded, and PYTHONMALLOC=malloc so
    every Python buffer is its own malloc block with ASan red zones. Any report exits non-zero."""
    env = dict(os.environ)
    env.pop("VMGEN_PURE", None)
    env.update(
        LD_PRELOAD=f"{gcc_runtime('libasan.so')}:{gcc_runtime('libubsan.so')}",
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:exitcode=86:allocator_may_return_null=1",
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87",
        PYTHONMALLOC="malloc",
        PYTHONPATH=str(tree),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def assert_no_sanitizer_report(r: subprocess.CompletedProcess) -> None:
    out = r.stdout + r.stderr
    for marker in SANITIZER_MARKERS:
        assert marker not in out, out[-6000:]
    assert r.returncode == 0, out[-6000:]
