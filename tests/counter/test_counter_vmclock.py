"""The vmclock backend over files holding a VMClock page (no /dev/vmclock0 on this machine), and the
seqlock reader's reliability, modelled on AWS-LC's snapsafe tests."""
import mmap
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from support.counter_pages import linux_backends

pytestmark = linux_backends

import vmgen
from vmgen import Generation, LayoutError, VmgenError

from support.counter_pages import GEN_PRESENT, NOTIFY_PRESENT, PAGE, SEQ_OFF, VmclockAbi, make_page, write_gen

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
A, B = 0xAAAAAAAAAAAAAAAA, 0x5555555555555555


def test_layout_matches_independent_definition():
    assert VmclockAbi.magic.offset == 0 and VmclockAbi.seq_count.offset == 12
    assert VmclockAbi.flags.offset == 24 and VmclockAbi.counter_value.offset == 40
    assert VmclockAbi.vm_generation_counter.offset == 104 and __import__("ctypes").sizeof(VmclockAbi) == 112


def test_reads_hot_path_and_waits(tmp_path):
    p = make_page(tmp_path / "page", gen=5)
    with vmgen.open("vmclock", path=p) as c, open(p, "r+b") as f, mmap.mmap(f.fileno(), PAGE) as mm:
        assert c.backend == "vmclock" and "re-read every 5 ms" in c.describe()
        assert c.read() == Generation(5, 0)          # count = vm_generation_counter, count_high = 0
        t = c.token()
        assert not c.changed(t)
        write_gen(mm, 6)
        assert c.changed(t) and c.read() == Generation(6)
        threading.Timer(0.05, write_gen, (mm, 7)).start()
        assert c.wait(Generation(6), timeout=5) == Generation(7)
        with pytest.raises(TimeoutError):
            c.wait(Generation(7), timeout=0.05)


def test_notification_flag_on_a_plain_file_falls_back_to_rereading(tmp_path):
    # poll() means nothing on a regular file (always readable): only the device gets poll waits
    p = make_page(tmp_path / "page", flags=GEN_PRESENT | NOTIFY_PRESENT)
    with vmgen.open("vmclock", path=p) as c:
        assert "re-read" in c.describe()
        with pytest.raises(TimeoutError):
            c.wait(c.read(), timeout=0.05)


@pytest.mark.parametrize("kw,match", [
    (dict(magic=0x12345678), "bad magic"),
    (dict(size=100), "bad size"),
    (dict(size=8192), "bad size"),
    (dict(version=2), "version"),
    (dict(length=64), "too small"),
])
def test_bad_pages_raise_clear_errors(tmp_path, kw, match):
    p = make_page(tmp_path / "bad", **kw)
    with pytest.raises(LayoutError, match=match):
        vmgen.open("vmclock", path=p)


def test_missing_device_and_empty_file(tmp_path):
    with pytest.raises(vmgen.DeviceNotFound):
        vmgen.open("vmclock", path=tmp_path / "absent")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(LayoutError):
        vmgen.open("vmclock", path=tmp_path / "empty")


def test_wedged_seq_count_raises_in_bounded_time(tmp_path):
    p = make_page(tmp_path / "page", seq=0x7FFFFFFF)     # AWS-LC's wedged value: odd forever
    c = vmgen.open("vmclock", path=p)
    for call in (c.read, lambda: c.wait(Generation(0), timeout=5)):
        t0 = time.monotonic()
        with pytest.raises(VmgenError, match="wedged"):
            call()
        assert time.monotonic() - t0 < 5.0                # the 1 s deadline, on a loaded machine
    assert isinstance(c.changed(c.token()), bool)        # the hot path is a plain load: never blocks
    c.close()


def _hammer(path, seconds, ready):
    """Writer process: alternate all-ones-and-zeros patterns, each stored in two halves under the seqlock."""
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), PAGE) as mm:
        ready.set()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for v in (A, B):
                write_gen(mm, v, split=True)


def test_seqlock_torture_never_torn(tmp_path):
    p = str(make_page(tmp_path / "page", gen=A))
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    w = ctx.Process(target=_hammer, args=(p, 60, ready))   # ended below, once the readers are done
    w.start()
    assert ready.wait(10)
    seen, bad, errors = set(), [], []

    def reader():
        try:
            _read_until_overlap()
        except BaseException as exc:   # a reader that dies must fail the test, not just warn
            errors.append(exc)

    def _read_until_overlap():
        with vmgen.open("vmclock", path=p) as c:
            # at least 1 s, and on a loaded machine (stress mode) until the writer has been seen at work
            end, cap = time.monotonic() + 1.0, time.monotonic() + 30
            while time.monotonic() < end or (len(seen) < 2 and time.monotonic() < cap):
                v = c.read().count
                seen.add(v)
                if v not in (A, B):
                    bad.append(hex(v))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.terminate()
    w.join(10)
    assert not errors, errors
    assert not bad, bad[:5]
    assert seen == {A, B}, "the writer and the readers never overlapped; the test proved nothing"


def test_seqlock_torture_simulated_128_bit(tmp_path):
    """Two processes storing (A, A) / (B, B) through vmgen's own writer; readers never see a mix."""
    p = str(tmp_path / "sim")
    vmgen.open("simulated", path=p).close()
    code = f"""
import time, vmgen
c = vmgen.open("simulated", path={p!r})
c.set(vmgen.Generation({A}, {A}))
print("writing", flush=True)
end = time.monotonic() + 1.2
while time.monotonic() < end:
    c.set(vmgen.Generation({A}, {A})); c.set(vmgen.Generation({B}, {B}))
"""
    env = dict(os.environ, PYTHONPATH=ROOT)
    w = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    assert w.stdout.readline().strip() == "writing"   # from here on only (A, A) or (B, B) may be read
    mixed, seen = [], set()
    with vmgen.open("simulated", path=p) as c:
        end = time.monotonic() + 0.8
        while time.monotonic() < end:
            g = c.read()
            seen.add(g.count)
            if g.count != g.count_high or g.count not in (A, B):
                mixed.append(g)
    assert w.wait(10) == 0
    assert not mixed, mixed[:3]
    assert {A, B} <= seen


def _as_nobody(fn, *args):
    """Run fn(*args) in a forked child that dropped root (vmgen is already imported there);
    return its result or the exception's (type name, errno, message)."""
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()

    def child():
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            q.put(("ok", fn(*args)))
        except Exception as exc:
            q.put((type(exc).__name__, getattr(exc, "errno", None), str(exc)))

    p = ctx.Process(target=child)
    p.start()
    r = q.get(timeout=30)
    p.join(10)
    return r


def _open_vmclock(path):
    vmgen.open("vmclock", path=path).close()


def _read_then_advance(path):
    c = vmgen.open("simulated", path=path)
    g = str(c.read())
    try:
        c.advance()
    except PermissionError as exc:
        return g, "PermissionError", str(exc)
    return g, "stored"


@pytest.fixture
def shared_dir():
    d = tempfile.mkdtemp(prefix="vmgen-perm-")
    os.chmod(d, 0o755)
    yield d
    for n in os.listdir(d):
        os.unlink(os.path.join(d, n))
    os.rmdir(d)


def test_unreadable_page_gives_permission_error(shared_dir):
    p = make_page(os.path.join(shared_dir, "page"))
    os.chmod(p, 0o000 if os.geteuid() else 0o600)
    kind, errno_, msg = _as_nobody(_open_vmclock, p)
    assert (kind, errno_) == ("PermissionError", 13), msg
    assert "needs read access" in msg and p in msg


def test_read_only_simulated_file_reads_but_cannot_store(shared_dir):
    p = os.path.join(shared_dir, "sim")
    vmgen.open("simulated", path=p).close()
    os.chmod(p, 0o444)
    r = _as_nobody(_read_then_advance, p)
    assert r[0] == "ok" and r[1][:2] == ("0:0", "PermissionError"), r
