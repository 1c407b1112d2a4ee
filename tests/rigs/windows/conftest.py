"""tests/rigs/windows: the Wine rig (rig.py, winctl.py, the driver) and the tests that run INSIDE the Windows CPython
(wintest_*.py; the Linux-side entry point is tests/test_windows_backend.py). Importable on Linux too."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
