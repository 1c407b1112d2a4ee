"""The pytest plugin (vmgen/pytest_plugin.py), run as a user's test suite would run it (pytester)."""
import os
import sys
from importlib import metadata

import pytest

pytest_plugins = ["pytester"]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _plugin_args():
    """-p vmgen.pytest_plugin unless an installed vmgen already registers it through its entry point."""
    try:
        eps = metadata.entry_points(group="pytest11") if sys.version_info >= (3, 10) else \
            metadata.entry_points().get("pytest11", [])
    except Exception:
        eps = []
    return [] if any(ep.value == "vmgen.pytest_plugin" for ep in eps) else ["-p", "vmgen.pytest_plugin"]


RESTORE_HANDLER_EXAMPLE = '''
import random
import vmgen

sessions = {}

@vmgen.register_after_restore
def forget_sessions():                 # the application's restore handler under test
    sessions.clear()

def test_restore_handler_runs(vm_restore):
    sessions["a"] = 1
    g = vm_restore.restore()           # returns once every after-restore hook has run
    assert sessions == {}
    assert vmgen.open().read() == g    # vmgen.open() is the simulated counter during the test

def test_clones_differ_once_reseeded(vm_restore):
    assert len(set(vm_restore.clones(3, random.random))) == 1
    vmgen.reseed_on_restore()
    assert len(set(vm_restore.clones(3, random.random))) == 3

def test_a_failing_clone_is_reported(vm_restore):
    def boom():
        raise ValueError("in the clone")
    try:
        vm_restore.clones(2, boom)
    except RuntimeError as exc:
        assert "ValueError: in the clone" in str(exc)
    else:
        raise AssertionError("no error")
'''


BROKEN = (RESTORE_HANDLER_EXAMPLE.replace("sessions.clear()", "pass")
          .replace("def test_clones", "def _no_clones").replace("def test_a_failing", "def _no_f"))


def test_the_documented_example_passes_and_a_broken_handler_fails(pytester):
    """The broken copy is the negative control: the fixture really waits for the hooks, so a handler
    that does nothing fails the user's test."""
    pytester.makepyfile(test_example=RESTORE_HANDLER_EXAMPLE, test_broken=BROKEN)
    result = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: assert {'a': 1} == {}*", "test_broken.py:*: AssertionError"])


def test_the_plugin_is_inert_unless_used_and_the_fixture_undoes_itself(pytester):
    pytester.makepyfile(test_a_inert='''
        import sys, threading

        def test_nothing_loaded():
            assert "vmgen.pytest_plugin" in sys.modules           # the plugin is loaded and has started nothing
            assert [t.name for t in threading.enumerate()] == ["MainThread"]
        ''', test_b_undo='''
        import os, threading, vmgen

        def test_uses_it(vm_restore):
            from vmgen.counter import hooks
            vmgen.register_after_restore(print)
            assert os.environ["VMGEN_SIMULATE"] == vm_restore.path
            assert hooks._source() == "simulated (%s)" % vm_restore.path

        def test_after():
            from vmgen.counter import hooks
            assert "VMGEN_SIMULATE" not in os.environ
            assert hooks._after == () and hooks._source() is None
            assert not any(t.name == "vmgen-restore-hooks" for t in threading.enumerate())
        ''')
    env_before = os.environ.pop("VMGEN_SIMULATE", None)
    try:
        result = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider")
    finally:
        if env_before is not None:
            os.environ["VMGEN_SIMULATE"] = env_before
    result.assert_outcomes(passed=3)


def test_the_entry_point_is_declared():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["entry-points"]["pytest11"] == {"vmgen": "vmgen.pytest_plugin"}
