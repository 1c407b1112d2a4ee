"""The Windows backend, proven on Linux: Wine loads our WDM test driver (tests/rigs/windows/driver/vmgentest.c) and
the real Windows CPython 3.13 runs vmgen's mingw-built extensions against it (tests/rigs/windows/rig.py).

One pytest run inside the Windows CPython covers
  * tests/rigs/windows/wintest_backend.py - the windows backend against the driver (polling, waits, timeout,
    CancelIoEx on close, Ctrl-C, wait_async, subscribe, guard, hot path incl. a change from another Wine
    process, NotSupported, DeviceNotFound, PermissionError, 1,000-cycle handle-leak check);
  * the counter test files whose behaviour is the same on Windows (the simulated backend and Generation);
    their POSIX-only tests skip themselves there, each with its reason.
Each Linux-side test below reports one in-Wine test (or one shared file) with its failure text.

Skips (with the reason) only where wine, mingw-w64, Cython or the CPython 3.13 headers are missing.
"""
from __future__ import annotations

import ast
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
WINDIR = ROOT / "tests" / "rigs" / "windows"
sys.path.insert(0, str(WINDIR))
import rig as rigmod  # noqa: E402

WINTEST = "tests/rigs/windows/wintest_backend.py"
SHARED = ("tests/counter/test_counter_generation.py", "tests/counter/test_counter_simulated.py",
          "tests/counter/test_counter_waits.py")
# Their POSIX-only tests skip themselves on Windows (counter_pages.posix_only / linux_backends).


CRASHER = ("import ctypes, time; f = ctypes.cast(ctypes.cdll.msvcrt.strlen, ctypes.c_void_p); "
           "ctypes.windll.kernel32.CreateThread(None, 0, f, ctypes.c_void_p(0x10), 0, None); time.sleep(120)")


def _wintest_names():
    tree = ast.parse((ROOT / WINTEST).read_text())
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


@pytest.fixture(scope="module")
def wine_results(tmp_path_factory) -> Dict[str, Tuple[str, str]]:
    why = rigmod.missing()
    if why:
        pytest.skip(f"Wine rig unavailable: {why}")
    rig = rigmod.Rig()
    rig.prepare()
    junit = tmp_path_factory.mktemp("wine") / "junit.xml"
    args = [rig.winpath(ROOT / WINTEST), *(rig.winpath(ROOT / f) for f in SHARED)]
    with rig.session():
        r = rig.pytest("-q", "-rfE", *args, junit=junit, timeout=1200)
        # the negative control of the crash report: a Windows process whose native thread reads address 0x10
        # (strlen(0x10) as a thread's start routine: no ctypes exception guard around it)
        probe = rig.run_python("-X", "faulthandler", "-c", CRASHER, timeout=300)
    summary = [ln for ln in r.stdout.strip().splitlines() if " in " in ln and ("passed" in ln or "failed" in ln)]
    sys.stderr.write(f"[wine-rig] in Wine: {summary[-1] if summary else r.stdout[-300:]}; timings: {rig.timings}\n")
    # A crash (or a hang) is reported with its site first: the tail of the output is winedbg's module list.
    crash = f"the Windows process crashed or hung (rc={r.returncode}):\n{r.crash}\n\n" if r.crash else ""
    if not junit.exists():
        pytest.fail(f"{crash}the in-Wine pytest run produced no report (rc={r.returncode}):\n{r.stdout[-6000:]}\n"
                    f"{r.stderr[-3000:]}", pytrace=False)
    results: Dict[str, Tuple[str, str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/") + ".py"
        name = case.get("name", "")
        outcome, text = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                outcome = "skipped" if tag == "skipped" else "failed"
                text = (el.get("message") or "") + "\n" + (el.text or "")
                if tag != "skipped":
                    break
        prev = results.get(f"{module}::{name}")
        if prev is None or prev[0] != "failed":     # an error in teardown after a pass still fails the test
            results[f"{module}::{name}"] = (outcome, text)
    results["__output__"] = ("", crash + r.stdout[-6000:] + r.stderr[-3000:])
    results["__run__"] = (str(r.returncode), crash)
    results["__probe__"] = (str(probe.returncode), probe.crash + "\n----\n" + probe.stderr[-3000:])
    return results


def test_a_crash_under_wine_is_reported_with_its_stack(wine_results):
    rc, report = wine_results["__probe__"]
    assert rc != "0", report
    assert "Unhandled page fault on read access to 0000000000000010" in report, report    # the fault
    assert "Backtrace (top" in report and "=>0" in report and "strlen" in report, report  # the native stack


def test_the_in_wine_run_ended_cleanly(wine_results):
    """No crash, no hang, and pytest's own status: a run that dies after writing its report still fails."""
    rc, crash = wine_results["__run__"]
    assert not crash, crash
    assert rc in ("0", "1"), f"in-Wine pytest exited {rc}:\n{wine_results['__output__'][1]}"   # 1: failures above


@pytest.mark.parametrize("name", _wintest_names())
def test_windows_backend_under_wine(wine_results, name):
    key = f"{WINTEST}::{name}"
    if key not in wine_results:
        pytest.fail(f"{name} did not run under Wine:\n{wine_results['__output__'][1]}", pytrace=False)
    outcome, text = wine_results[key]
    assert outcome == "passed", f"{name} {outcome} under Wine:\n{text[-6000:]}"


@pytest.mark.parametrize("path", SHARED)
def test_shared_counter_tests_under_wine(wine_results, path):
    mine = {k: v for k, v in wine_results.items() if k.startswith(path + "::")}
    assert mine, f"no test of {path} ran under Wine:\n{wine_results['__output__'][1]}"
    bad = {k: v[1][-3000:] for k, v in mine.items() if v[0] == "failed"}
    assert not bad, "\n\n".join(f"{k}:\n{v}" for k, v in bad.items())
    assert any(v[0] == "passed" for v in mine.values())
