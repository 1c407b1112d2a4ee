"""The simulated backend: in-process and file-backed (shared by processes), and VMGEN_SIMULATE."""
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import vmgen
from vmgen import CounterClosed, Generation, GenerationChanged, LayoutError, NotSupported

from support.counter_pages import linux_backends, make_page, posix_only

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def py(code, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(kw.pop("env", {}))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_in_process_basics():
    with vmgen.open("simulated") as c:
        assert c.backend == "simulated"
        assert c.read() == Generation(0, 0)
        t = c.token()
        assert c.changed(t) is False
        assert c.advance() == Generation(1)
        assert c.changed(t) is True and c.read() == Generation(1)
        t = c.token()
        assert c.set(Generation(1)) == Generation(1) and not c.changed(t)   # same value: no change
        c.set(Generation(1, 7))                                            # only the high half moves
        assert c.changed(t) and c.read() == Generation(1, 7)
        c.set(2**64 - 1)
        assert c.advance() == Generation(0, 1)                             # 128-bit carry
        assert int(c.set(5)) == 5


def test_separate_in_process_counters_are_independent():
    a, b = vmgen.open("simulated"), vmgen.open("simulated")
    a.advance()
    assert b.read() == Generation(0)
    a.close(), b.close()


def test_guard():
    c = vmgen.open("simulated")
    with c.guard() as g:
        assert g == c.read()
    with pytest.raises(GenerationChanged) as ei:
        with c.guard():
            c.advance()
    assert ei.value.before == Generation(0) and ei.value.after == Generation(1)
    with pytest.raises(KeyError):            # the block's own error wins; no check
        with c.guard():
            c.advance()
            raise KeyError
    c.close()


def test_wait_wakes_and_times_out():
    c = vmgen.open("simulated")
    g = c.read()
    threading.Timer(0.05, c.advance).start()
    t0 = time.monotonic()
    assert c.wait(g, timeout=5) == Generation(1)
    assert time.monotonic() - t0 < 2
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        c.wait(c.read(), timeout=0.1)
    assert 0.09 < time.monotonic() - t0 < 1
    with pytest.raises(TimeoutError):
        c.wait(c.read(), timeout=0)
    assert c.wait(Generation(99), timeout=0) == Generation(1)    # already different: immediate
    assert c.wait(0) == Generation(1)                            # ints are accepted
    with pytest.raises(ValueError):
        c.wait(g, timeout=float("nan"))
    with pytest.raises(TypeError):
        c.wait("0:0")
    c.close()


def test_close_wakes_every_waiter_and_is_idempotent():
    c = vmgen.open("simulated")
    g = c.read()
    errors = []

    def waiter():
        try:
            c.wait(g)
        except CounterClosed as exc:
            errors.append(exc)

    threads = [threading.Thread(target=waiter) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    c.close()
    c.close()
    for t in threads:
        t.join(5)
    assert len(errors) == 4 and not any(t.is_alive() for t in threads)
    for call in (c.read, c.token, c.advance, lambda: c.changed(0), lambda: c.wait(g), c.__enter__,
                 lambda: c.subscribe(print)):
        with pytest.raises(CounterClosed):
            call()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")   # 1 / 0, reported by design
def test_subscribe():
    c = vmgen.open("simulated")
    got, ev = [], threading.Event()

    def cb(g):
        got.append(g)
        if g == Generation(3):        # the last change (a busy machine may deliver 1, 2 or 3 callbacks)
            ev.set()

    before = threading.active_count()
    h = c.subscribe(cb)
    h2 = c.subscribe(lambda g: 1 / 0)   # a failing callback does not stop the others
    for _ in range(3):
        c.advance()
        time.sleep(0.02)
    assert ev.wait(5)
    assert got[-1] == Generation(3)
    h.cancel(), h2.cancel(), h.cancel()
    assert threading.active_count() == before
    n = len(got)
    c.advance()
    time.sleep(0.05)
    assert len(got) == n              # cancelled: no callback for this change
    c.subscribe(print)
    c.close()                              # close also ends the subscription thread
    assert threading.active_count() == before


@linux_backends
def test_non_simulated_cannot_be_set(tmp_path):
    with vmgen.open("vmclock", path=make_page(tmp_path / "p")) as c:
        with pytest.raises(NotSupported):
            c.advance()
        with pytest.raises(NotSupported):
            c.set(1)


def test_file_backed_shared_and_created(tmp_path):
    f = tmp_path / "sim"
    a = vmgen.open("simulated", path=f)
    assert f.stat().st_size == 4096
    b = vmgen.open("simulated", path=str(f))
    a.set(Generation(41, 2))
    assert b.read() == Generation(41, 2)
    t = b.token()
    a.advance()
    assert b.changed(t) and b.read() == Generation(42, 2)
    a.close(), b.close()
    with vmgen.open("simulated", path=f) as c:       # persists
        assert c.read() == Generation(42, 2)


@posix_only("uses /dev/null")
def test_file_backed_rejects_other_files(tmp_path):
    with pytest.raises(LayoutError, match="VGSM"):
        vmgen.open("simulated", path=make_page(tmp_path / "vmclock-page"))   # a VMClock page, not ours
    (tmp_path / "junk").write_bytes(b"x" * 100)
    with pytest.raises(LayoutError, match="one 4096-byte page"):
        vmgen.open("simulated", path=tmp_path / "junk")
    (tmp_path / "junk4k").write_bytes(b"x" * 4096)
    with pytest.raises(LayoutError, match="magic"):
        vmgen.open("simulated", path=tmp_path / "junk4k")
    with pytest.raises(IsADirectoryError):
        vmgen.open("simulated", path=tmp_path)
    with pytest.raises(LayoutError, match="regular file"):
        vmgen.open("simulated", path="/dev/null")
    with pytest.raises(FileNotFoundError):
        vmgen.open("simulated", path=tmp_path / "no" / "such")
    with pytest.raises(ValueError):
        vmgen.open("simulated", path="a\0b")
    with pytest.raises(ValueError, match="unknown backend"):
        vmgen.open("hyperv")


def test_cross_process_wait_and_concurrent_advances(tmp_path):
    f = str(tmp_path / "sim")
    vmgen.open("simulated", path=f).close()
    p = py(f"""
        import vmgen
        c = vmgen.open("simulated", path={f!r})
        g = c.read()
        print("ready", flush=True)
        print(c.wait(g, timeout=10), flush=True)
        """)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.1)
    with vmgen.open("simulated", path=f) as c:
        c.set(Generation(7, 1))
    out, err = p.communicate(timeout=60)   # a hang guard: a loaded machine (stress mode, Wine) starts slowly
    assert p.returncode == 0, err
    assert out.strip() == "7:1"
    # writers in several processes serialise on the page's seqlock: no lost advances
    n, procs = 2000, 3
    ps = [py(f"""
        import vmgen
        c = vmgen.open("simulated", path={f!r})
        for _ in range({n}):
            c.advance()
        """) for _ in range(procs)]
    for q in ps:
        assert q.wait(60) == 0, q.stderr.read()
    with vmgen.open("simulated", path=f) as c:
        assert c.read() == Generation(7 + n * procs, 1)


def test_vmgen_simulate_env(tmp_path):
    f = str(tmp_path / "env-sim")
    p = py("""
        import vmgen
        c = vmgen.open()
        print(c.backend, c.path, c.read())
        """, env={"VMGEN_SIMULATE": f})
    out, err = p.communicate(timeout=60)   # a hang guard: a loaded machine (stress mode, Wine) starts slowly
    assert p.returncode == 0, err
    assert out.split() == ["simulated", f, "0:0"]


