"""Restore hooks: register_after_restore & co. (vmgen/counter/hooks.py).

The cross-process and fork tests run their subject in a fresh interpreter, so the process-wide registry
and watcher thread of this test process stay out of it.
"""
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import vmgen
from vmgen.counter import hooks
from vmgen.pytest_plugin import vm_restore  # noqa: F401 (the fixture, whether or not the entry point is installed)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def script(code, env=None):
    e = dict(os.environ, PYTHONPATH=ROOT)
    e.pop("VMGEN_SIMULATE", None)
    e.update(env or {})
    return subprocess.Popen([sys.executable, "-u", "-c", textwrap.dedent(code)], env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "vmgen", *args], env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=60)


def test_hooks_fire_once_per_change_in_order_when_another_process_advances(tmp_path):
    sim = str(tmp_path / "sim")
    p = script("""
        import threading, vmgen
        def first(tag):
            print("first", tag, threading.current_thread().name, vmgen.open().read())
        def boom():
            raise ZeroDivisionError("hook 2 fails")
        @vmgen.register_after_restore
        def third():
            print("third")
        vmgen.unregister_after_restore(third)             # registration order is what counts, so re-add:
        vmgen.register_after_restore(first, tag="A")
        vmgen.register_after_restore(boom)
        vmgen.register_after_restore(third)
        print("armed")
        threading.Event().wait(60)
        """, env={"VMGEN_SIMULATE": sim})
    try:
        assert p.stdout.readline() == "armed\n"
        lines = []
        for n in range(1, 4):   # another process ("vmgen simulate advance") restores three times
            assert cli("simulate", "advance", sim).stdout.strip() == f"{n}:0"
            for _ in range(2):
                lines.append(p.stdout.readline().strip())
        time.sleep(0.3)         # room for a spurious extra round to show up
    finally:
        p.kill()
    rest, err = p.communicate(timeout=30)
    assert lines == ["first A vmgen-restore-hooks 1:0", "third",
                     "first A vmgen-restore-hooks 2:0", "third",
                     "first A vmgen-restore-hooks 3:0", "third"], (lines, err)
    assert rest == ""
    assert err.count("ZeroDivisionError: hook 2 fails") == 3, err
    assert err.count("Exception in thread vmgen-restore-hooks") == 3
    if sys.version_info >= (3, 11):
        assert "raised in vmgen after-restore hook boom" in err


def test_a_forked_child_rearms_its_own_watcher(tmp_path):
    sim = str(tmp_path / "sim")
    p = script("""
        import os, threading, vmgen
        from vmgen.counter import hooks
        r, w = os.pipe()
        vmgen.register_after_restore(
            lambda: os.write(w, f"{os.getpid()} {threading.current_thread().name}\\n".encode()))
        c = vmgen.open()
        g0 = c.read()
        pid = os.fork()
        if pid == 0:            # the watcher thread does not survive fork(); the child must start its own
            g = c.wait(g0, 20)
            hooks._wait_ran(g, 20)
            os._exit(0)
        hooks._wait_ran(c.advance(), 20)
        os.waitpid(pid, 0)
        seen = os.read(r, 400).decode().split("\\n")
        print(sorted(x for x in seen if x), os.getpid(), pid)
        """, env={"VMGEN_SIMULATE": sim})
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    seen, parent, child = out.rsplit(" ", 2)
    assert sorted([f"{parent} vmgen-restore-hooks", f"{child.strip()} vmgen-restore-hooks"]) == eval(seen), out


def test_registering_where_no_source_sees_changes_warns_once_and_runs_nothing():
    try:
        vmgen.open().close()
        pytest.skip("this machine has a generation source; the no-source case cannot be shown here")
    except vmgen.DeviceNotFound:
        pass
    p = script("""
        import threading, warnings, vmgen
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            vmgen.register_after_restore(print, "never")
            vmgen.register_after_restore(print, "never either")
        print(len(w), w[0].category.__name__, str(w[0].message))
        print(sorted(t.name for t in threading.enumerate()))
        """)
    out, err = p.communicate(timeout=60)
    first, threads = out.splitlines()
    assert first.startswith("1 RuntimeWarning vmgen: after-restore hooks are registered but will not run")
    assert "vmgen doctor" in first
    assert threads == "['MainThread']"


def test_decorator_and_snapshot_restore_py_signatures(vm_restore):
    calls = []

    @vmgen.register_after_restore
    def plain():
        calls.append("plain")

    assert plain() is None and calls == ["plain"]     # the decorator returns the function itself
    calls.clear()
    assert vmgen.register_after_restore(calls.append, "x") == calls.append
    vmgen.register_after_restore(lambda *a, **k: calls.append((a, k)), 2, arg1="Lambda", arg2="SnapStart")
    vm_restore.restore()
    assert calls == ["plain", "x", ((2,), {"arg1": "Lambda", "arg2": "SnapStart"})]
    vmgen.unregister_after_restore(plain)
    vmgen.unregister_after_restore(plain)             # unknown now: ignored
    calls.clear()
    vm_restore.restore()
    assert calls[0] == "x" and "plain" not in calls
    with pytest.raises(TypeError):
        vmgen.register_after_restore(42)


def test_before_snapshot_hooks_run_only_when_the_platform_asks_in_reverse_order(vm_restore, monkeypatch):
    reported = []
    monkeypatch.setattr(threading, "excepthook", reported.append)   # where hook failures are reported
    calls = []
    vmgen.register_before_snapshot(calls.append, 1)
    vmgen.register_before_snapshot(lambda: 1 / 0)
    vmgen.register_before_snapshot(calls.append, 3)
    vm_restore.restore()
    assert calls == []                                # a guest cannot see a snapshot coming
    failed = vmgen.run_before_snapshot()
    assert calls == [3, 1]
    assert [type(e) for e in failed] == [ZeroDivisionError]
    assert [r.exc_value for r in reported] == failed and reported[0].thread is threading.current_thread()
    vmgen.unregister_before_snapshot(calls.append)
    calls.clear()
    assert len(vmgen.run_before_snapshot()) == 1 and calls == []


def test_run_after_restore_runs_hooks_in_the_calling_thread(vm_restore):
    names = []
    vmgen.register_after_restore(lambda: names.append(threading.current_thread().name))
    assert vmgen.run_after_restore() == []
    assert names == [threading.current_thread().name]


def test_the_watcher_ends_with_the_last_hook_and_follows_the_fixture(vm_restore):
    def hook():
        pass

    assert hooks._source() is None
    vmgen.register_after_restore(hook)
    assert hooks._source() == f"simulated ({vm_restore.path})"
    assert any(t.name == "vmgen-restore-hooks" for t in threading.enumerate())
    vmgen.unregister_after_restore(hook)
    assert hooks._source() is None
    assert not any(t.name == "vmgen-restore-hooks" for t in threading.enumerate())


def test_a_hook_may_unregister_itself_from_the_watcher_thread(vm_restore):
    ran = []

    def once():
        ran.append(1)
        vmgen.unregister_after_restore(once)

    vmgen.register_after_restore(once)
    vm_restore.restore()
    for _ in range(200):
        if not any(t.name == "vmgen-restore-hooks" for t in threading.enumerate()):
            break
        time.sleep(0.01)
    assert ran == [1] and hooks._source() is None
    assert not any(t.name == "vmgen-restore-hooks" for t in threading.enumerate())
