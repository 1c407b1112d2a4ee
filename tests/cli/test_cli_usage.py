"""Issue 13, command line: one-line errors (exit 1), usage errors (exit 2), capped input, options anywhere,
VMGEN_SIMULATE in status and simulate, --version and a user-facing --help. Run as a user would."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict, Optional

import pytest

import vmgen

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, stdin: Optional[bytes] = b"", env: Optional[Dict[str, str]] = None,
        **kw: object) -> "subprocess.CompletedProcess[bytes]":
    e = dict(os.environ, PYTHONPATH=str(ROOT))
    e.pop("VMGEN_SIMULATE", None)
    e.update(env or {})
    if "stdin_file" in kw:
        kw["stdin"] = kw.pop("stdin_file")
    elif stdin is not None:
        kw["input"] = stdin
    return subprocess.run([sys.executable, "-m", "vmgen", *args], capture_output=True, env=e, timeout=120,
                          **kw)  # type: ignore[call-overload]


def one_line_error(r: "subprocess.CompletedProcess[bytes]") -> str:
    err = r.stderr.decode()
    assert r.returncode == 1, (r.returncode, err)
    assert err.startswith("vmgen: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def usage_error(r: "subprocess.CompletedProcess[bytes]") -> str:
    err = r.stderr.decode()
    assert r.returncode == 2, (r.returncode, err)
    assert "usage: " in err and "Traceback" not in err, err
    return err


@pytest.fixture()
def state(tmp_path: Path) -> Path:
    f = tmp_path / "state.bin"
    f.write_bytes(bytes(memoryview(vmgen.NicSaveState.build(uuid.uuid4(), "ext", b"\x01\x02", port_id=3))))
    return f


@pytest.mark.parametrize("offset", ["9223372036854775808", str(2**64), str(10**30), "571", "0x7fffffffffffffff"])
def test_decode_offset_past_the_buffer_is_one_line(state: Path, offset: str) -> None:
    err = one_line_error(cli("decode", "nic-save-state", str(state), "--offset", offset))
    assert "past the end" in err


@pytest.mark.parametrize("offset", ["-1", "x", "1.5", ""])
def test_decode_bad_offset_is_usage(state: Path, offset: str) -> None:
    assert "--offset" in usage_error(cli("decode", "nic-save-state", str(state), "--offset", offset))


def test_decode_caps_a_device_and_an_endless_pipe() -> None:
    from vmgen.cli.decode import MAX_INPUT

    err = one_line_error(cli("decode", "nic-save-state", "/dev/zero"))
    assert f"more than {MAX_INPUT} bytes" in err
    endless = subprocess.Popen(["cat", "/dev/zero"], stdout=subprocess.PIPE)
    try:
        assert endless.stdout is not None
        r = cli("decode", "nic-save-state", "-", stdin_file=endless.stdout)
    finally:
        endless.kill()
        endless.wait()
    assert "more than" in one_line_error(r)


def test_decode_reads_exactly_the_cap(tmp_path: Path) -> None:
    from vmgen.cli.decode import MAX_INPUT

    f = tmp_path / "big.bin"
    with open(f, "wb") as out:
        out.truncate(MAX_INPUT)            # at the cap: read, then refused for what it holds, not its size
    err = one_line_error(cli("decode", "nic-save-state", str(f)))
    assert "more than" not in err


def test_options_between_kind_and_file(state: Path) -> None:
    r = cli("decode", "nic-save-state", "--json", str(state))
    assert r.returncode == 0, r.stderr
    assert b'"port_id": 3' in r.stdout
    r = cli("decode", "--json", "nic-save-state", "--offset", "0", str(state), "--binary")
    assert r.returncode == 0, r.stderr
    usage_error(cli("decode", "nic-save-state", str(state), "extra"))


def test_double_dash_ends_options_even_before_a_name_that_starts_with_a_dash(state: Path, tmp_path: Path) -> None:
    """argparse's intermixed parsing (options anywhere) dropped a '-'-named operand after '--'."""
    dashed = tmp_path / "-state.bin"
    dashed.write_bytes(state.read_bytes())
    mof = tmp_path / "-p.mof"
    mof.write_text("[WMI] class P { [WmiDataId(1)] uint32 X; };\n")
    for args in (["decode", "nic-save-state", "--json", "--", "-state.bin"],
                 ["decode", "--json", "--", "nic-save-state", "-state.bin"]):
        r = cli(*args, cwd=str(tmp_path))
        assert r.returncode == 0 and b'"port_id": 3' in r.stdout, (args, r.stderr)
    r = cli("mof2h", "--class", "P", "--", "-p.mof", cwd=str(tmp_path))
    assert r.returncode == 0 and b"UINT32 X;" in r.stdout, r.stderr
    # after '--' nothing is an option: '--json' is an operand (extra, so a usage error), and a missing file says so
    usage_error(cli("decode", "nic-save-state", "--", "-state.bin", "--json", cwd=str(tmp_path)))
    assert "--class" in one_line_error(cli("mof2h", "--", "-p.mof", "--class", cwd=str(tmp_path)))


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert "needs a VALUE" in usage_error(cli("simulate", "set", str(tmp_path / "sim")))
    assert "needs FILE" in usage_error(cli("simulate", "show"))
    assert "PROPERTY=CTYPE" in usage_error(cli("mof2h", "--c-type", "bad", str(tmp_path / "x.mof")))
    assert "unknown C type" in usage_error(cli("mof2h", "--c-type", "X=BOGUS", str(tmp_path / "x.mof")))
    assert "--guard" in usage_error(cli("mof2h", "--guard", "1x", str(tmp_path / "x.mof")))
    usage_error(cli("decode", "nic-save-state", "-", "--c-type", "bad", "--mof", str(tmp_path / "x.mof")))
    usage_error(cli("no-such-command"))


@pytest.mark.parametrize("args", [
    ("decode", "nic-save-state", "/"),                       # a directory
    ("decode", "nic-save-state", "/nonexistent"),
    ("mof2h", "/"),
    ("mof2h", "/dev/zero"),                                  # capped, and not text
    ("simulate", "show", "/"),
    ("simulate", "show", "/nonexistent/dir/sim"),
    ("watch", "--path", "/tmp"),                             # --path without --backend
])
def test_run_errors_are_one_line(args: tuple) -> None:
    one_line_error(cli(*args))


def test_status_names_a_bad_vmgen_simulate(tmp_path: Path) -> None:
    r = cli("status", env={"VMGEN_SIMULATE": str(tmp_path)})
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr
    assert out.startswith(f"backend: none (VMGEN_SIMULATE={tmp_path}: ")
    [sim] = [line for line in out.splitlines() if line.split()[:1] == ["simulated"]]
    assert "unavailable" in sim and str(tmp_path) in sim          # not listed as available beside "none"
    assert cli("status", "--check", env={"VMGEN_SIMULATE": str(tmp_path)}).returncode == 1


def test_simulate_defaults_to_vmgen_simulate(tmp_path: Path) -> None:
    f = str(tmp_path / "sim")
    env = {"VMGEN_SIMULATE": f}
    assert cli("simulate", "advance", env=env).stdout.strip() == b"1:0"
    assert cli("simulate", "set", "0x10", env=env).stdout.strip() == b"10:0"
    assert cli("simulate", "show", env=env).stdout.strip() == b"10:0"
    assert cli("simulate", "show", f).stdout.strip() == b"10:0"        # the same file, named
    other = str(tmp_path / "other")
    assert cli("simulate", "advance", other, env=env).stdout.strip() == b"1:0"   # FILE beats the variable
    assert cli("simulate", "show", env=env).stdout.strip() == b"10:0"


def test_version_and_help() -> None:
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.decode().strip() == f"vmgen {vmgen.__version__}"
    r = cli("--help")
    out = r.stdout.decode()
    assert r.returncode == 0
    assert "snapshot" in out and "docs/" in out and "Exit status" in out
    assert "dispatches" not in out and "_counter_args" not in out     # not the module docstring
    for command in ("status", "watch", "simulate", "decode", "mof2h"):
        assert command in out


def test_broken_pipe_is_quiet(state: Path) -> None:
    p = subprocess.Popen([sys.executable, "-m", "vmgen", "decode", "nic-save-state", str(state), "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert p.stdout is not None and p.stderr is not None
    p.stdout.close()          # the reader leaves before anything is written
    err = p.stderr.read()
    p.wait(timeout=60)
    assert b"Traceback" not in err and b"Exception ignored" not in err, err


def test_mof2h_reads_includes_and_warns_on_windows_1252(tmp_path: Path) -> None:
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "policy.mof").write_bytes(
        '[Description("caf\u00e9")] class P { [WmiDataId(1)] uint32 X; string InstanceName; };'.encode("cp1252"))
    (tmp_path / "top.mof").write_text('#pragma autorecover\n#pragma include ("inc/policy.mof")\n')
    r = cli("mof2h", str(tmp_path / "top.mof"))
    assert r.returncode == 0, r.stderr
    assert b"typedef struct _P {" in r.stdout and b"InstanceName" not in r.stdout
    err = r.stderr.decode()
    assert err.startswith("vmgen: warning: ") and "Windows-1252" in err and err.count("\n") == 1, err
    r = cli("mof2h", "-", stdin=b'#pragma include ("inc/policy.mof")\n')
    assert "needs the including file's path" in one_line_error(r)


def test_mof2h_class_from_a_file_with_unlayable_classes() -> None:
    # issue 19: one class that cannot be laid out no longer makes the whole file unusable
    msdsm = ROOT / "tests" / "mof" / "corpus" / "windows-driver-samples" / "storage_msdsm_src_msdsm.mof"
    r = cli("mof2h", str(msdsm), "--class", "MSDSM_DEVICEPATH_PERF")
    assert r.returncode == 0 and b"typedef struct _MSDSM_DEVICEPATH_PERF {" in r.stdout, r.stderr
    err = one_line_error(cli("mof2h", str(msdsm), "--class", "MSDSM_DEVICE_PERF"))
    assert "property PerfInfo of MSDSM_DEVICE_PERF cannot be laid out in a policy struct: it is an embedded " \
           "object (class MSDSM_DEVICEPATH_PERF)" in err
