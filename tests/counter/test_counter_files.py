"""Counter files in the wild (issue 13): a simulated counter's file or a vmclock page file truncated, replaced
or removed under a running process, and opened in directories other users can write. The other user is a real
one: as root, the tests create `vmgen-attacker` with useradd and run its steps in a forked child that drops to it.

Truncation used to kill the process with SIGBUS, so every test that truncates runs the counter in a subprocess
and checks how it ended."""
from __future__ import annotations

import asyncio
import errno
import multiprocessing
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest

import vmgen
from vmgen import LayoutError, VmgenError

from support.counter_pages import PAGE, linux_backends, make_page, posix_only

pytestmark = posix_only("POSIX file rules and SIGBUS; Windows refuses to truncate a mapped file")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ATTACKER = "vmgen-attacker"


def py_env() -> dict:
    e = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    e.pop("VMGEN_SIMULATE", None)
    return e


def run_py(code: str, *args: str, timeout: float = 60, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env or py_env(),
                          capture_output=True, text=True, timeout=timeout)


def open_file_counter(kind: str, path: str, **kw):
    if kind == "simulated":
        return vmgen.open("simulated", path=path, **kw)
    if not os.path.exists(path):
        make_page(path, gen=5)
        os.chmod(path, 0o644)
    return vmgen.open("vmclock", path=path, **kw)


FILE_KINDS = ["simulated", pytest.param("vmclock", marks=linux_backends)]

# ---- truncation ----

TRUNCATE = """
    import faulthandler, os, sys, threading, time
    import vmgen
    kind, path, when, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if when == "faulthandler-before":
        faulthandler.enable()
    if kind == "simulated":
        c = vmgen.open("simulated", path=path)
    else:
        c = vmgen.open("vmclock", path=path)
    if when == "faulthandler-after":
        faulthandler.enable()      # installed over vmgen's handler; it re-raises instead of chaining
    g = c.read()
    t = c.token()
    assert not c.changed(t)
    waited = []
    def waiter():
        try:
            waited.append(c.wait(g))
        except vmgen.VmgenError as e:
            waited.append(e)
    w = threading.Thread(target=waiter, daemon=True)
    w.start()
    time.sleep(0.2)
    os.truncate(path, size)
    print("changed", c.changed(t), c.changed(c.token()), flush=True)
    for name, call in (("read", c.read), ("wait", lambda: c.wait(g, timeout=5)), ("store", c.advance)):
        try:
            call()
            print(name, "no error")
        except vmgen.NotSupported:
            print(name, "VmgenError", True)   # vmclock cannot store: nothing to check
        except vmgen.VmgenError as e:
            print(name, "VmgenError", path in str(e) and "truncated" in str(e))
    w.join(30)   # returns when the waiter ends; the bound only matters on a stalled machine
    print("waiter", type(waited[0]).__name__ if waited else "still blocked")
    print("describe", c.describe().startswith("BROKEN"))
    c.close()
    print("alive")
"""


@pytest.mark.parametrize("kind", FILE_KINDS)
@pytest.mark.parametrize("when", ["plain", "faulthandler-before", "faulthandler-after"])
def test_truncation_to_nothing_is_survived_and_reported(tmp_path, kind, when):
    """Failed before: the process died of SIGBUS (returncode -7) at changed()."""
    path = str(tmp_path / "counter")
    if kind == "vmclock":
        make_page(path, gen=5)
    r = run_py(TRUNCATE, kind, path, when, "0")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.split("\n")[:7] == [
        "changed True True", "read VmgenError True", "wait VmgenError True", "store VmgenError True",
        "waiter VmgenError", "describe True", "alive"], (r.stdout, r.stderr)
    if when == "faulthandler-after":   # faulthandler reports the fault before our handler repairs it
        assert "Bus error" in r.stderr
    else:
        assert r.stderr == ""


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_partial_truncation_is_reported(tmp_path, kind):
    """The file shrinks but its first page survives (no SIGBUS: the tail reads as zeros).
    Failed before: read() returned a made-up generation."""
    path = str(tmp_path / "counter")
    c = open_file_counter(kind, path)
    g = c.read()
    os.truncate(path, 100)
    with pytest.raises(VmgenError, match="truncated"):
        c.read()
    with pytest.raises(VmgenError, match="truncated"):
        c.wait(g, timeout=2)
    t = c.token()
    assert c.changed(t)          # conservative from now on, whatever the token
    c.close()


def test_sigbus_that_is_not_ours_still_ends_the_process(tmp_path):
    """Chaining: a fault in another mapping gets the handler that was there before vmgen's (negative control
    for the guard, which must not swallow it)."""
    code = """
        import faulthandler, mmap, os, signal, sys
        import vmgen
        path, other, mode = sys.argv[1], sys.argv[2], sys.argv[3]
        got = []
        if mode == "faulthandler":
            faulthandler.enable()
        elif mode == "python-handler":
            signal.signal(signal.SIGBUS, lambda s, f: got.append(s))
        elif mode == "ignored":
            signal.signal(signal.SIGBUS, signal.SIG_IGN)
        c = vmgen.open("simulated", path=path)     # installs vmgen's handler over the one above
        if mode in ("python-handler", "ignored"):  # a SIGBUS sent by a process reaches that handler
            os.kill(os.getpid(), signal.SIGBUS)
            print("survived", got, flush=True)
            sys.exit(0)
        with open(other, "wb") as f:
            f.write(b"x" * 4096)
        f = open(other, "r+b")
        m = mmap.mmap(f.fileno(), 4096)
        os.truncate(other, 0)
        print("faulting", flush=True)
        m[0]
        print("survived a real fault", flush=True)
    """
    env = py_env()
    if "ASAN_OPTIONS" in env:   # under the sanitizer suite, "the handler before vmgen's" would be ASan's report
        env["ASAN_OPTIONS"] += ":handle_sigbus=0"
    results = {mode: run_py(code, str(tmp_path / f"sim-{mode}"), str(tmp_path / f"other-{mode}"), mode, env=env)
               for mode in ("default", "faulthandler", "python-handler", "ignored")}
    assert results["default"].returncode == -signal.SIGBUS, results["default"]
    assert results["default"].stdout == "faulting\n"
    assert results["faulthandler"].returncode == -signal.SIGBUS
    assert "Fatal Python error: Bus error" in results["faulthandler"].stderr
    assert results["python-handler"].returncode == 0 and results["python-handler"].stdout == "survived [7]\n"
    assert results["ignored"].returncode == 0 and results["ignored"].stdout == "survived []\n"


# ---- replacement and removal ----

@pytest.mark.parametrize("kind", FILE_KINDS)
def test_replacement_by_rename_is_reported(tmp_path, kind):
    """Failed before: the old counter kept reading its old inode while new openers used the new file."""
    path = str(tmp_path / "counter")
    a = open_file_counter(kind, path)
    g = a.read()
    t = a.token()
    new = str(tmp_path / "counter.new")
    if kind == "simulated":
        vmgen.open("simulated", path=new).close()
    else:
        make_page(new, gen=9)
        os.chmod(new, 0o644)
    os.replace(new, path)
    with pytest.raises(VmgenError, match=f"{path} was replaced"):
        a.read()
    assert a.changed(t) and a.changed(a.token())   # conservative once detected
    with pytest.raises(VmgenError, match="replaced"):
        a.wait(g, timeout=1)
    assert a.describe().startswith("BROKEN") and "replaced" in a.describe()
    if kind == "simulated":
        with pytest.raises(VmgenError, match="replaced"):
            a.advance()
    a.close()
    with open_file_counter(kind, path) as b:      # whoever opens the path now gets the new file
        assert b.read() == vmgen.Generation(9 if kind == "vmclock" else 0)


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_replacement_wakes_a_blocked_waiter(tmp_path, kind):
    """A wait with no deadline notices within the re-check interval (0.25 s). Failed before: it never woke."""
    path = str(tmp_path / "counter")
    c = open_file_counter(kind, path)
    g = c.read()
    got = []

    def waiter():
        try:
            got.append(c.wait(g))
        except Exception as exc:   # noqa: BLE001 (the test inspects it)
            got.append(exc)

    w = threading.Thread(target=waiter, daemon=True)
    w.start()
    time.sleep(0.1)
    os.unlink(path)
    t0 = time.monotonic()
    w.join(5)
    assert got and isinstance(got[0], VmgenError) and "removed" in str(got[0]), got
    assert time.monotonic() - t0 < 2
    c.close()


def test_replacement_reaches_asyncio_waiters(tmp_path):
    path = str(tmp_path / "sim")
    c = vmgen.open("simulated", path=path)
    g = c.read()

    async def main():
        task = asyncio.ensure_future(c.wait_async(g))
        await asyncio.sleep(0.05)
        vmgen.open("simulated", path=path + ".new").close()
        os.replace(path + ".new", path)
        return await asyncio.wait_for(task, 5)

    with pytest.raises(VmgenError, match="replaced"):
        asyncio.run(main())
    c.close()


# ---- opening: the rules for a shared directory ----

def test_created_file_mode(tmp_path):
    old = os.umask(0o022)
    try:
        with vmgen.open("simulated", path=tmp_path / "default"):
            pass
        assert stat.S_IMODE(os.stat(tmp_path / "default").st_mode) == 0o644
        os.umask(0o077)
        with vmgen.open("simulated", path=tmp_path / "exact", mode=0o640):   # exactly, whatever the umask
            pass
        assert stat.S_IMODE(os.stat(tmp_path / "exact").st_mode) == 0o640
        with vmgen.open("simulated", path=tmp_path / "group", mode=0o664, shared_write=True):
            pass
        assert stat.S_IMODE(os.stat(tmp_path / "group").st_mode) == 0o664
    finally:
        os.umask(old)
    with pytest.raises(ValueError, match="shared_write=True"):
        vmgen.open("simulated", path=tmp_path / "x", mode=0o666)
    assert not (tmp_path / "x").exists()
    with pytest.raises(TypeError):
        vmgen.open("simulated", path=tmp_path / "x", mode="644")
    with pytest.raises(TypeError):
        vmgen.open("simulated", path=tmp_path / "x", shared_write="yes")
    with pytest.raises(ValueError):
        vmgen.open("simulated", path=tmp_path / "x", mode=0o4755)
    with pytest.raises(ValueError, match="needs path"):
        vmgen.open("simulated", mode=0o600)
    with pytest.raises(ValueError, match="only to a simulated"):
        vmgen.open("vmclock", path=tmp_path / "x", mode=0o600)


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_group_or_other_writable_file_needs_shared_write(tmp_path, kind):
    """Failed before: such a file was used as is."""
    path = str(tmp_path / "counter")
    open_file_counter(kind, path).close()
    for bits in (0o664, 0o646):
        os.chmod(path, bits)
        with pytest.raises(PermissionError, match="writable by its group or others") as e:
            open_file_counter(kind, path)
        assert e.value.errno == errno.EPERM
        with open_file_counter(kind, path, shared_write=True) as c:
            c.read()


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_symlink_at_the_end_is_never_followed(tmp_path, kind):
    """Failed before: the link was followed (and for simulated, its missing target created)."""
    target = str(tmp_path / "target")
    open_file_counter(kind, target).close()
    link = str(tmp_path / "link")
    os.symlink(target, link)
    with pytest.raises(PermissionError, match="symbolic link") as e:
        open_file_counter(kind, link)
    assert e.value.errno == errno.ELOOP
    dangling = str(tmp_path / "dangling")
    os.symlink(str(tmp_path / "created-through-link"), dangling)
    with pytest.raises(PermissionError, match="symbolic link"):
        vmgen.open("simulated", path=dangling)
    assert not os.path.exists(tmp_path / "created-through-link")
    # a directory symlink earlier in the path is fine (macOS: /tmp -> /private/tmp)
    os.symlink(str(tmp_path), str(tmp_path / "dirlink"))
    with open_file_counter(kind, str(tmp_path / "dirlink" / "target")) as c:
        c.read()


@linux_backends
def test_vmclock_device_keeps_its_own_rules(tmp_path):
    """A symlink to a character device is followed (udev may link /dev/vmclock0); the file rules do not apply.
    /dev/null is not a vmclock device: it fails for that reason, not for being a symlink or root's."""
    link = str(tmp_path / "dev-link")
    os.symlink("/dev/null", link)
    for p in ("/dev/null", link):
        with pytest.raises(OSError) as e:
            vmgen.open("vmclock", path=p)
        assert "symbolic link" not in str(e.value) and "owned by" not in str(e.value), e.value


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_fifo_is_refused_without_hanging(tmp_path, kind):
    """Failed before: open() of a vmclock FIFO blocked forever (here: the subprocess timed out)."""
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    r = run_py(f"""
        import vmgen
        try:
            vmgen.open({kind!r}, path={fifo!r})
        except vmgen.LayoutError as e:
            print("LayoutError", e)
    """, timeout=20)
    assert r.returncode == 0 and r.stdout.startswith("LayoutError") and "a FIFO, not a regular file" in r.stdout, r


def test_directories_short_files_and_sizes(tmp_path):
    with pytest.raises(IsADirectoryError):
        vmgen.open("simulated", path=tmp_path)
    short = tmp_path / "short"
    short.write_bytes(b"\0" * 100)
    os.chmod(short, 0o644)
    with pytest.raises(LayoutError, match="one 4096-byte page"):
        vmgen.open("simulated", path=short)
    with vmgen.open("simulated", path=tmp_path / "sim"):
        pass
    with open(tmp_path / "sim", "r+b") as f:   # a page that claims more bytes than its file holds
        f.seek(4)
        f.write((8192).to_bytes(4, "little"))
    with pytest.raises(LayoutError, match="larger than the file"):
        vmgen.open("simulated", path=tmp_path / "sim")


@linux_backends
def test_vmclock_directory_and_short_file(tmp_path):
    with pytest.raises(LayoutError, match="a directory, not a regular file"):
        vmgen.open("vmclock", path=tmp_path)
    with pytest.raises(LayoutError, match="too small"):
        vmgen.open("vmclock", path=make_page(str(tmp_path / "p"), length=64))


@linux_backends
@pytest.mark.parametrize("size,length", [(112, 4096), (4096, 4096), (8192, 8192), (65536, 65536), (200, 200)])
def test_vmclock_accepts_the_sizes_the_kernel_accepts(tmp_path, size, length):
    """ptp_vmclock.c accepts any size up to its resource (8192; 64 KiB pages on arm64). Failed before: only
    4096 was accepted."""
    p = make_page(str(tmp_path / "p"), size=size, length=length, gen=3)
    with vmgen.open("vmclock", path=p) as c:
        assert c.read() == vmgen.Generation(3)


@linux_backends
@pytest.mark.parametrize("size,length,match", [(8192, 4096, "larger than the file"),
                                               (4096, 2048, "larger than the file"),
                                               (111, 4096, "smaller than the 112 bytes")])
def test_vmclock_size_is_checked_against_the_file(tmp_path, size, length, match):
    """Failed before: a size larger than the file holding the page was not noticed."""
    p = make_page(str(tmp_path / "p"), size=size, length=length)
    with pytest.raises(LayoutError, match=match):
        vmgen.open("vmclock", path=p)


# ---- another user ----

@pytest.fixture(scope="module")
def attacker():
    """(uid, gid) of a real second user; created with useradd (and removed) when run as root."""
    if os.geteuid() != 0:
        pytest.skip("acting as a second user needs root (CI runs the suite as root)")
    created = False
    try:
        pw = pwd.getpwnam(ATTACKER)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            pytest.skip("useradd not installed (apt-get install passwd)")
        subprocess.run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ATTACKER],
                       check=True, capture_output=True)
        created = True
        pw = pwd.getpwnam(ATTACKER)
    yield pw.pw_uid, pw.pw_gid
    if created:
        subprocess.run([shutil.which("userdel") or "userdel", ATTACKER], capture_output=True)


def as_user(user, fn, *args):
    """fn(*args) in a forked child running as user=(uid, gid): its result, or (exception name, message)."""
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()

    def child():
        try:
            os.setgroups([])
            os.setgid(user[1])
            os.setuid(user[0])
            q.put(("ok", fn(*args)))
        except Exception as exc:   # noqa: BLE001 (reported to the parent)
            q.put((type(exc).__name__, str(exc)))

    p = ctx.Process(target=child)
    p.start()
    r = q.get(timeout=60)
    p.join(10)
    return r


@pytest.fixture
def shared_dir():
    """A directory every user may write, like /tmp but without the sticky bit (so renames over another user's
    file work, and fs.protected_symlinks does not hide what vmgen itself does)."""
    d = tempfile.mkdtemp(prefix="vmgen-shared-", dir="/tmp")
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _plant_counter(path, mode):
    c = vmgen.open("simulated", path=path)
    c.set(41)
    c.close()
    os.chmod(path, mode)
    return os.stat(path).st_uid


def _plant_page(path):
    make_page(path, gen=7)
    os.chmod(path, 0o644)
    return os.stat(path).st_uid


def _plant_symlink(link, target):
    os.symlink(target, link)
    return True


def _open_and_read(kind, path, shared_write=False):
    with vmgen.open(kind, path=path, shared_write=shared_write) as c:
        return str(c.read())


def _truncate(path):
    os.truncate(path, 0)
    return True


def _replace_with_own(path):
    vmgen.open("simulated", path=path + ".mine").close()
    os.replace(path + ".mine", path)
    return True


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_file_owned_by_another_user_is_refused(attacker, shared_dir, kind):
    """Failed before: root used the other user's file (who could then forge a restore or wedge the counter)."""
    path = os.path.join(shared_dir, "counter")
    plant = (_plant_counter, path, 0o644) if kind == "simulated" else (_plant_page, path)
    assert as_user(attacker, *plant) == ("ok", attacker[0])
    for kw in ({}, {"shared_write": True}):   # shared_write waives the mode rule, never the owner rule
        with pytest.raises(PermissionError, match=f"owned by uid {attacker[0]}, neither you"):
            vmgen.open(kind, path=path, **kw)
    # the other way round: a file root owns is fine for the other user
    os.unlink(path)
    (_plant_counter(path, 0o644) if kind == "simulated" else _plant_page(path))
    assert as_user(attacker, _open_and_read, kind, path) == ("ok", "29:0" if kind == "simulated" else "7:0")


def test_symlink_planted_by_another_user_creates_nothing(attacker, shared_dir):
    """Failed before: root followed the link and created (or would overwrite) the file it points to."""
    victim_dir = tempfile.mkdtemp(prefix="vmgen-victim-")   # root's own, 0700
    victim = os.path.join(victim_dir, "victim")
    link = os.path.join(shared_dir, "sim")
    try:
        assert as_user(attacker, _plant_symlink, link, victim) == ("ok", True)
        with pytest.raises(PermissionError, match="symbolic link"):
            vmgen.open("simulated", path=link)
        assert not os.path.exists(victim)
    finally:
        shutil.rmtree(victim_dir)


def test_shared_write_file_truncated_by_another_user(attacker, shared_dir):
    """A file shared on purpose (root's, mode 0666): the other user truncates it; the root process lives on and
    is told. Runs the root side in a subprocess: before, it died of SIGBUS."""
    path = os.path.join(shared_dir, "shared")
    _plant_counter(path, 0o666)
    code = f"""
        import sys, time, vmgen
        c = vmgen.open("simulated", path={path!r}, shared_write=True)
        t = c.token()
        print("ready", flush=True)
        sys.stdin.readline()
        print("changed", c.changed(t), flush=True)
        try:
            c.read()
        except vmgen.VmgenError as e:
            print("VmgenError", "truncated" in str(e))
    """
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=py_env(), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    assert as_user(attacker, _truncate, path) == ("ok", True)
    out, err = p.communicate("go\n", timeout=60)
    assert p.returncode == 0, (p.returncode, out, err)
    assert out == "changed True\nVmgenError True\n", (out, err)


def test_replacement_by_another_user_is_reported(attacker, shared_dir):
    path = os.path.join(shared_dir, "sim")
    with vmgen.open("simulated", path=path) as c:
        c.read()
        assert as_user(attacker, _replace_with_own, path) == ("ok", True)
        with pytest.raises(VmgenError, match="replaced"):
            c.read()
    with pytest.raises(PermissionError, match="owned by uid"):   # and the replacement is not trusted either
        vmgen.open("simulated", path=path)


def _create_or_read(path):
    try:
        with vmgen.open("simulated", path=path) as c:
            g = str(c.read())
            try:
                c.advance()
                return g, "stored"
            except PermissionError:
                return g, "read-only"
    except PermissionError as exc:
        return "PermissionError", exc.errno


def test_directory_the_user_cannot_write(attacker):
    """Creating in a directory the user may not write is EACCES; an existing root file there opens read-only."""
    d = tempfile.mkdtemp(prefix="vmgen-ro-", dir="/tmp")
    try:
        os.chmod(d, 0o755)
        path = os.path.join(d, "sim")
        assert as_user(attacker, _create_or_read, path) == ("ok", ("PermissionError", errno.EACCES))
        assert not os.path.exists(path)
        vmgen.open("simulated", path=path).close()   # root's, 0644
        assert as_user(attacker, _create_or_read, path) == ("ok", ("0:0", "read-only"))
    finally:
        shutil.rmtree(d)
