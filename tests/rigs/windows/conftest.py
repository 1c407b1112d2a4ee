"""tests/rigs/windows: the Wine rig (rig.py, winctl.py, the driver) and the tests that run INSIDE the Windows CPython
(wintest_*.py; the Linux-side entry point is tests/test_windows_backend.py). Importable on Linux too."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def pytest_configure(config):
    # scripts/build-windows-wheels runs this suite against a pip-installed wheel: make sure that is what it tests
    if os.environ.get("VMGEN_EXPECT_INSTALLED"):
        import vmgen
        import vmgen.counter._core
        import vmgen.switch._fields
        for mod in (vmgen, vmgen.counter._core, vmgen.switch._fields):
            assert "site-packages" in mod.__file__, f"{mod.__name__} imported from {mod.__file__}, not the wheel"
