"""scripts/build-wheels builds a manylinux2014 wheel on this Debian 12 machine (issue 15).

One wheel, for the CPython running the tests (scripts/build-wheels builds every pyenv CPython; that takes
minutes a test run need not spend): compiled by zig cc for glibc 2.17, repaired by auditwheel with
--plat manylinux2014_<arch>. Checked here: the tag, that no extension binds a glibc symbol version newer than
2.17 (the same check on the host-gcc in-place build finds 2.34: the negative control), and that the installed
wheel works with no compiler on PATH (the C engines load from site-packages and do their work).
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build-wheels"
ARCH = platform.machine()
pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux") or ARCH not in ("x86_64", "aarch64"),
                       reason="manylinux wheels: Linux x86_64 or aarch64"),
    pytest.mark.skipif(not SCRIPT.exists() or not (ROOT / ".git").exists() or shutil.which("git") is None,
                       reason="no git work tree with scripts/build-wheels (it builds from what is committed)"),
    pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf not found (apt-get install binutils)"),
]
TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"


def glibc_versions(so: Path) -> List[Tuple[int, ...]]:
    """The GLIBC_x.y symbol versions an ELF file's dynamic symbols bind."""
    out = subprocess.run(["readelf", "--dyn-syms", "-W", str(so)], capture_output=True, text=True, check=True).stdout
    return sorted({tuple(int(p) for p in m.split(".")) for m in re.findall(r"@GLIBC_([0-9.]+)", out)})


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    env = dict(os.environ, PYTHONS=sys.executable, SKIP_TESTS="1", WHEELHOUSE=str(out),
               WINDOWS="0")   # the Linux wheel only: tests/packaging/test_windows_wheel.py builds the Windows one
    for k in ("PYTHONPATH", "CC", "LDSHARED", "CFLAGS", "LDFLAGS"):
        env.pop(k, None)
    r = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, (r.stdout + r.stderr)[-5000:]
    print(r.stdout)
    built = sorted(out.glob("vmgen-*.whl"))
    assert len(built) == 1, built
    return built[0]


def test_the_wheel_is_tagged_manylinux2014(wheel: Path) -> None:
    name, version, python, abi, platforms = wheel.name[:-len(".whl")].split("-")
    assert (python, abi) == (TAG, TAG), wheel.name
    assert set(platforms.split(".")) == {f"manylinux2014_{ARCH}", f"manylinux_2_17_{ARCH}"}, wheel.name


def test_no_extension_binds_a_glibc_newer_than_2_17(wheel: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(".so")]
        zf.extractall(tmp_path, names)
    assert sorted(Path(n).name.split(".")[0] for n in names) == ["_core", "_fields"], names
    for name in names:
        versions = glibc_versions(tmp_path / name)
        assert versions and max(versions) <= (2, 17), (name, versions)


def test_the_check_sees_a_newer_glibc_in_the_host_gcc_build() -> None:
    """Negative control: the in-place build, by Debian 12's gcc, binds glibc 2.34 (pthread_* moved into libc)."""
    built = sorted((ROOT / "vmgen").glob("*/_core*.so"))
    if not built:
        pytest.skip("no in-place build to compare with (scripts/test builds one)")
    assert max(glibc_versions(built[0])) > (2, 17), glibc_versions(built[0])


def test_the_installed_wheel_works_with_no_compiler(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    nocc = tmp_path / "nocc"
    nocc.mkdir()
    for cc in ("cc", "gcc", "clang", "zig", f"{ARCH}-linux-gnu-gcc"):
        (nocc / cc).write_text("#!/bin/sh\necho 'no compiler here' >&2\nexit 1\n")
        (nocc / cc).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VMGEN_"))}
    env["PATH"] = f"{nocc}{os.pathsep}{env.get('PATH', '')}"
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-index", "--no-deps", str(wheel)],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    code = """if True:
        import threading, vmgen, vmgen.counter._core as core, vmgen.switch._fields as fields
        print(vmgen.__file__); print(core.__file__); print(fields.__file__); print(vmgen.IMPLEMENTATION)
        s = vmgen.NicSaveState.build("12345678-1234-1234-1234-123456789abc", "x", b"abc", port_id=7)
        s.validate(); assert bytes(s.save_data) == b"abc" and s.port_id == 7
        with vmgen.open("simulated") as c:
            g = c.read(); t = c.token()
            threading.Timer(0.05, c.advance).start()
            assert c.wait(g, timeout=10) != g and c.changed(t)
        print("ok")
    """
    r = subprocess.run([str(venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    site = str(venv / "lib")
    assert all(line.startswith(site) for line in lines[:3]), lines   # the wheel's files, nothing else
    assert lines[3].startswith("C ") and lines[-1] == "ok", lines
