"""The Linux counter C code under both libcs: tests/rigs/c/counter_smoke.c (which calls only the API in
csrc/counter/vg_counter.h) is compiled with csrc/counter/vg_counter_linux.c by musl-gcc -static (what the musllinux wheels
link against; cibuildwheel's musllinux images cannot run here) and by the system gcc (glibc), and run.

The program checks the in-process simulated counter (stores, the hot word, waiter threads woken by a store,
by vg_wake and by vg_close, timed waits), a file-backed simulated counter shared with a fork()ed child
(futex wakes across processes, inotify), the vmclock backend over that file, and the vmgenid backend
(netlink probe, listener thread; as root with a vmgenid device, a real kernel "change" uevent).

Debian's musl-gcc sees only musl's own headers, not the kernel's uapi headers (linux/futex.h,
linux/netlink.h), which Alpine, the musllinux base, ships in linux-headers. They do not depend on the
libc, so a directory of links to the system's copies goes on the include path.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "tests" / "rigs" / "c" / "counter_smoke.c"
LINUX_C = ROOT / "csrc" / "counter" / "vg_counter_linux.c"

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux counter backends: Linux only"),
    pytest.mark.skipif(not (ROOT / "setup.py").exists() or not LINUX_C.exists(),
                       reason="no source tree with csrc/ to compile (tests run against an installed wheel)"),
]

MUSL_GCC = shutil.which("musl-gcc")
GCC = shutil.which("gcc") or shutil.which("cc")


def _kernel_headers(cc: str, tmp: Path) -> List[str]:
    """-isystem flags that give `cc` the kernel uapi headers if it cannot find them itself."""
    probe = subprocess.run([cc, "-E", "-x", "c", "-", "-o", os.devnull], input="#include <linux/futex.h>\n",
                           capture_output=True, text=True)
    if probe.returncode == 0:
        return []
    multiarch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip() \
        if shutil.which("gcc") else ""
    wanted = {
        "linux": [Path("/usr/include/linux")],
        "asm": [Path("/usr/include") / multiarch / "asm", Path("/usr/include/asm")],
        "asm-generic": [Path("/usr/include/asm-generic")],
    }
    inc = tmp / "kernel-headers"
    inc.mkdir(exist_ok=True)
    for name, candidates in wanted.items():
        found = next((c for c in candidates if c.is_dir()), None)
        if found is None:
            pytest.skip(f"{cc} has no kernel headers and the system has no /usr/include/{name} to lend it "
                        "(apt-get install linux-libc-dev)")
        link = inc / name
        if not link.exists():
            link.symlink_to(found)
    return ["-isystem", str(inc)]


def _vmgenid_devpath() -> Optional[str]:
    """The vmgenid device, if root may send it a uevent (then the program checks a real one)."""
    if os.geteuid() != 0:
        return None
    try:
        from vmgen.counter._backends import vmgenid_devpath
    except ImportError:
        return None
    devpath = vmgenid_devpath()
    if devpath and os.access(f"/sys{devpath}/uevent", os.W_OK):
        return devpath
    return None


def _build_and_run(cc: str, static: bool, tmp_path: Path) -> str:
    exe = tmp_path / "counter_smoke"
    cmd = [cc, "-O2", "-std=c11", "-Wall", "-Wextra", "-pthread", "-I", str(ROOT / "csrc" / "counter")]
    cmd += _kernel_headers(cc, tmp_path)
    cmd += (["-static"] if static else []) + [str(SMOKE), str(LINUX_C), "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout}{r.stderr}"
    run = tmp_path / "run"
    run.mkdir()
    args = [str(exe), str(run)]
    devpath = _vmgenid_devpath()
    if devpath:
        args.append(devpath)
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert " 0 failed" in r.stdout, out
    print(f"{cc}: {out.strip()}")
    return r.stdout


@pytest.mark.skipif(MUSL_GCC is None, reason="musl-gcc not installed (apt-get install musl-tools)")
def test_counter_c_program_musl(tmp_path: Path) -> None:
    assert MUSL_GCC is not None
    out = _build_and_run(MUSL_GCC, True, tmp_path)
    assert "libc: not glibc (musl)" in out, out   # musl's headers, not glibc's, were used


@pytest.mark.skipif(GCC is None, reason="no C compiler (gcc)")
def test_counter_c_program_glibc(tmp_path: Path) -> None:
    assert GCC is not None
    out = _build_and_run(GCC, False, tmp_path)
    assert "libc: glibc" in out, out
