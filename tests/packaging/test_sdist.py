"""The sdist carries what a build and the tests need, and no build junk (issue 8).

The quick half of scripts/check-sdist: build the sdist (``setup.py sdist``, no isolation) from a copy of the
work tree with build junk planted in it (a compiled extension, Cython's generated C, __pycache__, build/),
then check its members with the rules in scripts/sdist_members.py: every tracked LICENSE, README.md,
pyproject.toml, setup.py, csrc/**/*.c|*.h, vmgen source (.py .pyx .pxd .pxi .pyi py.typed), tests/,
benchmarks/ and fuzz/ file present; none of the junk. scripts/check-sdist does the slow half: pip-install
the sdist into a fresh venv and run these tests against it.
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
HELPER = ROOT / "scripts" / "sdist_members.py"
no_tree = pytest.mark.skipif(not (ROOT / "setup.py").exists() or not HELPER.exists(),
                             reason="no source tree to build an sdist from (tests run against an installed package)")
no_helper = pytest.mark.skipif(not HELPER.exists(), reason="no scripts/sdist_members.py (tests run outside the source tree)")

COPY_IGNORE = shutil.ignore_patterns(".git", "build", "dist", "wheelhouse", ".wine-rig", ".hypothesis", ".mypy_cache",
                                     ".pytest_cache", ".benchmarks", "*.egg-info")
PLANTED_JUNK = (
    "vmgen/switch/_fields.c",
    "vmgen/counter/_core.c",
    "vmgen/switch/_planted.cpython-311-x86_64-linux-gnu.so",
    "vmgen/__pycache__/planted.cpython-311.pyc",
    "tests/__pycache__/planted.cpython-311.pyc",
    "csrc/planted.o",
    "build/lib/vmgen/planted.so",
    "tests/rigs/windows/build/planted.exe",
)


@pytest.fixture(scope="module")
def members() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sdist_members", HELPER)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("Cython", reason="setup.py needs Cython to build the sdist (pip install -r requirements-test.txt)")
    tree = tmp_path_factory.mktemp("sdist") / "vmgen-tree"
    shutil.copytree(ROOT, tree, ignore=COPY_IGNORE, symlinks=True)
    for junk in PLANTED_JUNK:
        path = tree / junk
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_bytes(b"/* build junk planted by tests/test_sdist.py */\n")
    out = tree.parent / "dist"
    r = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "--dist-dir", str(out)], cwd=tree,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    built = sorted(out.glob("vmgen-*.tar.gz"))
    assert len(built) == 1, built
    return built[0]


@no_tree
def test_sdist_has_every_required_member_and_no_junk(members: ModuleType, sdist: Path) -> None:
    have = members.sdist_members(sdist)
    required = members.required_members(members.tracked_files(ROOT))
    # The rules select what the issue names: a bug that emptied the list would pass vacuously.
    for must in ("LICENSE", "README.md", "pyproject.toml", "setup.py", "csrc/counter/vg_counter.h", "csrc/counter/vg_counter_linux.c",
                 "vmgen/switch/_fields.pyx", "vmgen/counter/_core.pxd", "vmgen/__init__.pyi", "vmgen/py.typed",
                 "tests/conftest.py", "tests/rigs/c/counter_smoke.c", "benchmarks/conftest.py"):
        assert must in required, f"{must} is not among the required members"
    problems = members.check(have, required)
    assert not problems, "\n".join(problems)
    for junk in PLANTED_JUNK:   # every planted file was in the tree the sdist was built from
        assert junk not in have, junk
    print(f"{sdist.name}: {len(have)} files, {len(required)} required, all present, no junk")


@no_tree
def test_sdist_main_reports_ok(members: ModuleType, sdist: Path, capsys: pytest.CaptureFixture) -> None:
    assert members.main([str(sdist), "--root", str(ROOT)]) == 0
    assert "every required member present, no build junk" in capsys.readouterr().out


@no_helper
def test_check_reports_missing_members_and_junk(members: ModuleType) -> None:
    """The checker can fail: an incomplete member list, and one with junk in it."""
    tree = ["LICENSE", "README.md", "pyproject.toml", "setup.py", "MANIFEST.in", ".gitignore", "csrc/switch/vg_fields.h",
            "csrc/counter/vg_counter_linux.c", "csrc/notes.txt", "vmgen/__init__.py", "vmgen/switch/_fields.pyx", "vmgen/counter/_core.pxd",
            "vmgen/counter/_core_async.pxi", "vmgen/switch/__init__.pyi", "vmgen/py.typed", "vmgen/switch/_pyfields.py",
            "tests/switch/test_views.py", "tests/rigs/c/counter_smoke.c", "tests/rigs/windows/build/x.exe", "benchmarks/bench_views.py",
            "fuzz/fuzz_views.py", "docs/counter.md", ".github/workflows/wheels.yml"]
    required = members.required_members(tree)
    assert required == sorted(["LICENSE", "README.md", "pyproject.toml", "setup.py", "csrc/switch/vg_fields.h",
                               "csrc/counter/vg_counter_linux.c", "vmgen/__init__.py", "vmgen/switch/_fields.pyx",
                               "vmgen/counter/_core.pxd", "vmgen/counter/_core_async.pxi", "vmgen/switch/__init__.pyi", "vmgen/py.typed",
                               "vmgen/switch/_pyfields.py", "tests/switch/test_views.py", "tests/rigs/c/counter_smoke.c",
                               "benchmarks/bench_views.py", "fuzz/fuzz_views.py"])
    assert members.check(required, required) == []

    incomplete = [m for m in required if m not in ("LICENSE", "csrc/switch/vg_fields.h", "vmgen/counter/_core.pxd", "vmgen/py.typed")]
    assert members.check(incomplete, required) == ["missing: LICENSE", "missing: csrc/switch/vg_fields.h",
                                                   "missing: vmgen/counter/_core.pxd", "missing: vmgen/py.typed"]

    junk = ["vmgen/switch/_fields.c", "vmgen/counter/_core.c", "vmgen/switch/_fields.cpython-311-x86_64-linux-gnu.so", "vmgen/counter/_core.pyd",
            "vmgen/__pycache__/views.cpython-311.pyc", "tests/__pycache__/conftest.cpython-311-pytest-8.0.0.pyc",
            "build/temp.linux-x86_64-cpython-311/csrc/counter/vg_counter_linux.o", "tests/rigs/windows/build/vmgentest.sys"]
    assert members.check(required + junk, required) == [f"junk: {j}" for j in sorted(junk)]
    # Not junk: C sources outside the package, the metadata setuptools adds.
    assert members.check(required + ["PKG-INFO", "vmgen.egg-info/SOURCES.txt", "setup.cfg"], required) == []


@no_helper
def test_main_fails_on_a_bad_sdist(members: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import tarfile
    (tmp_path / "vmgen-0.0.0" / "vmgen" / "switch").mkdir(parents=True)
    for name in ("setup.py", "vmgen/switch/_fields.c"):
        (tmp_path / "vmgen-0.0.0" / name).write_text("")
    bad = tmp_path / "vmgen-0.0.0.tar.gz"
    with tarfile.open(bad, "w:gz") as tf:
        tf.add(tmp_path / "vmgen-0.0.0", arcname="vmgen-0.0.0")
    tree = tmp_path / "tree"
    (tree / "csrc" / "counter").mkdir(parents=True)
    for name in ("setup.py", "LICENSE", "csrc/counter/vg_counter.h"):
        (tree / name).write_text("")
    assert members.main([str(bad), "--root", str(tree)]) == 1   # no git here: the tree's files on disk
    err = capsys.readouterr().err
    assert "missing: LICENSE" in err and "missing: csrc/counter/vg_counter.h" in err and "junk: vmgen/switch/_fields.c" in err
