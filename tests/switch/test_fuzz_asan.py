"""The atheris harness (fuzz/fuzz_views.py) against a -fsanitize=address,undefined build of the views.

The sanitized ``vmgen.switch._fields`` is built into a temporary copy of the tree (the in-place build stays as
it is), then the harness runs a bounded number of inputs in a subprocess with gcc's libasan and libubsan
preloaded and PYTHONMALLOC=malloc (so every buffer is its own malloc block with ASan red zones). The
run must exit 0 with no sanitizer report. A canary proves the same environment does catch an
out-of-bounds read.

VMGEN_FUZZ_RUNS overrides the number of inputs (default 20000).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.source_tree import (assert_no_sanitizer_report, assert_sanitized, build_in_place, copy_source_tree,
                         sanitizer_env)

pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris; it has wheels for CPython 3.10 and 3.11)")

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not (ROOT / "setup.py").exists(),
                                reason="no source tree to rebuild under ASan (tests run against an installed wheel)")
RUNS = int(os.environ.get("VMGEN_FUZZ_RUNS", "20000"))


@pytest.fixture(scope="module")
def asan_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = copy_source_tree(tmp_path_factory.mktemp("asan") / "vmgen-asan", ("csrc", "vmgen", "fuzz"))
    build_in_place(tree, VMGEN_SANITIZE="1")   # both: `import vmgen` loads the counter core too
    built = list((tree / "vmgen" / "switch").glob("_fields*.so"))
    assert built, "the sanitizer build produced no vmgen/switch/_fields*.so"
    assert_sanitized(built[0])
    return tree


def test_sanitizer_canary(asan_tree: Path) -> None:
    """The environment is armed: an out-of-bounds read of a bytearray is reported (and fails the run)."""
    code = ("import ctypes; b = bytearray(1000); "
            "a = ctypes.addressof((ctypes.c_char * 1000).from_buffer(b)); ctypes.string_at(a + 1000, 16)")
    r = subprocess.run([sys.executable, "-c", code], cwd=asan_tree, env=sanitizer_env(asan_tree),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "AddressSanitizer" in r.stderr, r.stderr[-3000:]


def test_views_import_under_asan(asan_tree: Path) -> None:
    code = ("import vmgen.switch._fields as f, vmgen, sys; print(f.__file__); "
            "s = vmgen.NicSaveState.build('12345678-1234-1234-1234-123456789abc', 'x', b'abc'); "
            "assert bytes(s.save_data) == b'abc'; s.validate()")
    r = subprocess.run([sys.executable, "-c", code], cwd=asan_tree, env=sanitizer_env(asan_tree),
                       capture_output=True, text=True, timeout=120)
    assert_no_sanitizer_report(r)
    assert r.stdout.strip().startswith(str(asan_tree)), r.stdout


def test_fuzz_views_under_asan(asan_tree: Path) -> None:
    # Phase 1, without sanitizers: coverage-guided (atheris instruments the Python side: the reference
    # engine, builders, validate), to grow a corpus. Under LD_PRELOAD=libasan, gcc's runtime provides the
    # __sanitizer_cov_* symbols and atheris loses its coverage feedback, so phase 2 mutates that corpus
    # (-keep_seed=1) against the sanitized build.
    corpus = asan_tree / "corpus"
    corpus.mkdir(exist_ok=True)
    plain = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONMALLOC="malloc")
    plain.pop("VMGEN_PURE", None)
    r = subprocess.run([sys.executable, "fuzz/fuzz_views.py", "-runs=30000", "-max_len=2048", "-len_control=0",
                        str(corpus)], cwd=asan_tree, env=plain, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    assert any(corpus.iterdir()), "phase 1 found no corpus"
    cmd = [sys.executable, "fuzz/fuzz_views.py", f"-runs={RUNS}", "-max_len=2048", "-len_control=0",
           "-keep_seed=1", "-timeout=30", "-rss_limit_mb=4096", str(corpus)]
    r = subprocess.run(cmd, cwd=asan_tree, env=sanitizer_env(asan_tree), capture_output=True, text=True,
                       timeout=900)
    assert_no_sanitizer_report(r)
    out = r.stdout + r.stderr
    assert f"vmgen.switch._fields from {asan_tree}" in out, out[-3000:]  # the sanitized build, not the in-place one
    assert f"Done {RUNS} runs" in out, out[-3000:]
