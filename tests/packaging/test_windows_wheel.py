"""The CPython 3.13 win_amd64 wheel, built here with mingw-w64 and proven under Wine (issue 15).

scripts/build-windows-wheels does this for 3.10-3.13; CI builds and tests the 3.13 one: the wheel is assembled
from the Wine rig's mingw builds (tests/rigs/windows/winwheels.py), its .pyd files import nothing beyond
python313.dll and Windows' DLLs, pip installs it into a fresh copy of the official embeddable CPython 3.13
under Wine, and the Windows suite passes against the installed package with the test driver loaded.
"""
from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "rigs" / "windows"))
import rig as rigmod  # noqa: E402
import winwheels  # noqa: E402


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    why = rigmod.missing("3.13")
    if why:
        pytest.skip(f"Wine rig unavailable: {why}")
    r = rigmod.Rig(python="3.13")
    work = tmp_path_factory.mktemp("winwheel")
    whl = winwheels.build_wheel(r, work / "out", work)
    return r, whl, work


def test_wheel_contents_and_imports(built):
    r, whl, _ = built
    assert whl.name == "vmgen-0.1.0-cp313-cp313-win_amd64.whl"
    names = zipfile.ZipFile(whl).namelist()
    assert "vmgen/counter/_core.cp313-win_amd64.pyd" in names and "vmgen/switch/_fields.cp313-win_amd64.pyd" in names
    assert not [n for n in names if n.endswith((".so", ".c"))]
    assert any(n.endswith(".dist-info/RECORD") for n in names) and "vmgen/py.typed" in names
    pyds = [r.build / (m.replace(".", "_") + r.ext_suffix) for m, *_ in r._extensions()]
    imports = winwheels.check_imports(pyds, r.dllname)          # raises on any other DLL
    assert all("python313.dll" in dlls for dlls in imports.values()), imports
    # negative control: the check refuses a DLL that is neither Windows' nor the interpreter's
    with pytest.raises(RuntimeError, match="python312.dll"):
        winwheels.check_imports(pyds[:1], "python312")


def test_installed_wheel_passes_the_windows_suite(built):
    r, whl, work = built
    res = winwheels.test_wheel(r, whl, work)
    assert res["pip_rc"] == 0, res.get("error")
    assert all("site-packages" in f for f in res["imported_from"]), res["imported_from"]
    assert not res["crash"], res["crash"]
    assert res["pytest_rc"] == 0 and res["failed"] == 0, f"{res['failed_tests']}\n{res['tail']}"
    assert res["passed"] >= 30, res
