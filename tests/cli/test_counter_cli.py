"""`vmgen` status / watch / simulate, run as a user would (subprocess, exit codes)."""
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def vmgen_cli(*args, env=None, **kw):
    e = dict(os.environ, PYTHONPATH=ROOT)
    e.pop("VMGEN_SIMULATE", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "vmgen", *args], env=e, capture_output=True, text=True,
                          timeout=30, **kw)


def test_status_lists_every_backend():
    r = vmgen_cli()
    lines = r.stdout.splitlines()
    assert lines[0].startswith("backend: ")
    for name in ("windows", "vmclock", "vmgenid", "simulated"):
        assert any(line.split()[:1] == [name] for line in lines), r.stdout
    assert r.returncode == 0 and "Traceback" not in r.stderr   # a report, whatever it says
    check = vmgen_cli("status", "--check")
    assert check.returncode == (0 if "generation: " in check.stdout else 1)


def test_simulate_drives_status(tmp_path):
    f = str(tmp_path / "sim")
    assert vmgen_cli("simulate", "show", f).stdout.strip() == "0:0"
    assert vmgen_cli("simulate", "advance", f).stdout.strip() == "1:0"
    assert vmgen_cli("simulate", "set", "0x20", f).stdout.strip() == "20:0"
    assert vmgen_cli("simulate", "set", "ff:1", f).stdout.strip() == "ff:1"   # status's own printed form
    r = vmgen_cli("status", env={"VMGEN_SIMULATE": f})
    assert r.returncode == 0
    assert "backend: simulated" in r.stdout and "generation: ff:1" in r.stdout
    r = vmgen_cli("status", "--backend", "simulated", "--path", f)
    assert r.returncode == 0 and "generation: ff:1" in r.stdout


def test_simulate_bad_input_is_one_line_exit_1(tmp_path):
    f = str(tmp_path / "sim")
    for args in (("simulate", "set", "banana", f), ("simulate", "set", "-1", f),
                 ("simulate", "show", str(tmp_path))):
        r = vmgen_cli(*args)
        assert r.returncode == 1, (args, r)
        assert r.stderr.startswith("vmgen: error:") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    (tmp_path / "junk").write_bytes(b"x" * 4096)
    r = vmgen_cli("simulate", "show", str(tmp_path / "junk"))
    assert r.returncode == 1 and "magic" in r.stderr
    assert vmgen_cli("simulate", "bogus", f).returncode == 2   # argparse usage error
    r = vmgen_cli("simulate", "set", f)   # issue 13: a missing VALUE is a usage error
    assert r.returncode == 2 and "needs a VALUE" in r.stderr and "usage: vmgen simulate" in r.stderr


def test_watch_prints_changes_and_ctrl_c_exits_0(tmp_path):
    f = str(tmp_path / "sim")
    e = dict(os.environ, PYTHONPATH=ROOT, VMGEN_SIMULATE=f)
    p = subprocess.Popen([sys.executable, "-m", "vmgen", "watch"], env=e, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert "watching simulated" in p.stdout.readline()
    for _ in range(2):
        vmgen_cli("simulate", "advance", f)
    first, second = p.stdout.readline(), p.stdout.readline()
    assert first.rstrip().endswith("changed: 1:0") and second.rstrip().endswith("changed: 2:0")
    assert first[:4].isdigit()            # an ISO timestamp leads each line
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0 and "Traceback" not in err, err


def test_simulate_help_shows_a_per_user_directory_and_refuses_unsafe_files(tmp_path):
    r = vmgen_cli("simulate", "--help")
    assert r.returncode == 0 and "$XDG_RUNTIME_DIR/vmgen-sim" in r.stdout and "/tmp/" not in r.stdout
    f = tmp_path / "sim"
    assert vmgen_cli("simulate", "show", str(f)).stdout.strip() == "0:0"
    assert (f.stat().st_mode & 0o777) == 0o644 & ~_umask()
    os.chmod(f, 0o666)   # writable by others: refused with one line, exit 1
    r = vmgen_cli("simulate", "advance", str(f))
    assert r.returncode == 1 and "writable by its group or others" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    os.chmod(f, 0o644)
    os.symlink(f, tmp_path / "link")
    r = vmgen_cli("simulate", "advance", str(tmp_path / "link"))
    assert r.returncode == 1 and "symbolic link" in r.stderr


def _umask():
    old = os.umask(0)
    os.umask(old)
    return old
