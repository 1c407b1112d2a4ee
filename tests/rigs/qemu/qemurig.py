"""The QEMU rig: a real Linux guest (Debian sid's kernel) under QEMU (Debian sid's, TCG) with the vmclock and
vmgenid devices, running vmgen built from this source tree; booted, snapshotted over QMP and restored as clones.

Pieces (all cached under $VMGEN_QEMU_RIG_CACHE, default ~/.cache/vmgen-qemu-rig, never in the repo):
  sid/                  a Debian sid chroot (debootstrap --variant=minbase) holding QEMU, gcc, python3-dev,
                        busybox-static and a venv with Cython (/opt/build-venv). QEMU runs inside it: sid's QEMU
                        cannot run on the Debian 12 host's glibc. Everything QEMU reads or writes is below
                        sid/rig/ (seen as /rig inside), so no host folder is bind-mounted into the chroot.
  guest/                the guest's root tree: the same debootstrap (python3 included) before the builder's
                        packages went in, so the guest's CPython is the builder's, byte for byte
  sid/rig/kernel/       the Linux kernel parts (apt-get download + dpkg -x): vmlinuz, modules
  sid/rig/root-K.img    the guest root, ext4, read-only to the guest (K: hash of what went into it)
  sid/rig/initrd-K.gz   busybox + the modules the root needs (ext4, virtio_blk) + ptp_vmclock, and /init
  sid/rig/vmgen-S.img   the second disk: vmgen built in the chroot from this tree + the guest program
                        (S: hash of the sources, the guest program and the chroot's CPython): a source change
                        rebuilds only this part
  sid/rig/run-PID/      one session's QMP sockets, serial logs and snapshot (removed afterwards)

Every command inside the chroot runs in a private mount namespace (unshare -m): /dev, /proc and /sys are bound
into the chroot there, and the kernel removes those mounts when the namespace's last process exits, however it
exits (SIGKILL included). release_mounts() is the final step anyway: it unmounts whatever is still mounted below
the cache in this namespace (an older rig, a hand-made mount), and scripts/qemu-rig runs it from a trap and once
more at the end.

Used by tests/rigs/test_qemu_guest.py (module fixture) and scripts/qemu-rig (CLI).
"""
from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
GUEST_DIR = HERE / "guest"
CACHE = Path(os.environ.get("VMGEN_QEMU_RIG_CACHE", Path.home() / ".cache" / "vmgen-qemu-rig"))
MIRROR = os.environ.get("VMGEN_QEMU_MIRROR", "http://deb.debian.org/debian")
SUITE = "sid"
KERNEL_SERIES = os.environ.get("VMGEN_QEMU_KERNEL", "7.2")      # linux-image-<this>.N+debNN-amd64
BUILDER_PACKAGES = ("qemu-system-x86", "gcc", "libc6-dev", "python3-dev", "python3-venv", "busybox-static")
GUEST_PACKAGES = ("python3",)                                      # debootstrap --include: both trees have it
INITRD_MODULES = ("ext4", "virtio_blk", "ptp_vmclock")             # and their dependencies (modules.dep)
INITRD_LAYOUT = 2                                                  # bump when ensure_initrd changes what it writes
APT_CONF = ('Acquire::Check-Valid-Until "false";\n'               # sid's Release can be past Valid-Until
            'APT::Install-Recommends "false";\n'
            'Acquire::Retries "3";\n'
            'DPkg::Options { "--force-unsafe-io"; };\n')             # no fsync per file: a cache, rebuilt if torn
# What a chroot command gets instead of the caller's environment (pip's config, PYTHONPATH...)
CHROOT_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
              "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive", "PYTHONDONTWRITEBYTECODE": "1"}
# Bind /dev, /proc and /sys into the chroot inside the caller's fresh mount namespace, then exec the command.
_ENTER = ('set -e; r=$1; shift; mount --rbind /dev "$r/dev"; mount -t proc proc "$r/proc"; '
          'mount --rbind /sys "$r/sys"; exec chroot "$r" "$@"')
QEMU_MEMORY = os.environ.get("VMGEN_QEMU_MEMORY", "512")
KERNEL_CMDLINE = os.environ.get("VMGEN_QEMU_CMDLINE", "console=ttyS0 quiet panic=-1")
BOOT_TIMEOUT = float(os.environ.get("VMGEN_QEMU_BOOT_TIMEOUT", "240"))
CLONE_TIMEOUT = float(os.environ.get("VMGEN_QEMU_CLONE_TIMEOUT", "120"))
GUEST_TICKS = 10                                                   # guest.py's TICKS


class RigUnavailable(RuntimeError):
    """A tool the rig needs is missing: tests skip with this reason."""


class RigError(RuntimeError):
    """A step of the rig failed (a build, the guest, QEMU): tests fail with this text."""


def missing() -> Optional[str]:
    """Why the rig cannot run here, or None."""
    if not sys.platform.startswith("linux"):
        return "a Linux host is needed (chroot, mount namespaces)"
    if not (REPO / "setup.py").exists() or not (REPO / "csrc" / "counter" / "vg_counter_linux.c").exists():
        return "no source tree: the rig builds vmgen's .pyx and C for the guest's CPython"
    if os.geteuid() != 0:
        return "needs root (debootstrap, chroot, mount namespaces); CI runs scripts/test as root"
    for tool in ("debootstrap", "unshare", "mkfs.ext4", "dpkg"):
        if shutil.which(tool) is None:
            return f"{tool} not found (apt-get install debootstrap e2fsprogs util-linux dpkg)"
    return None


def mounts_below(path: Path) -> List[str]:
    """Mount points at or below `path` in this process's mount namespace, deepest first."""
    base = os.path.realpath(path)
    found = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split()[4].replace("\\040", " ")
                if point == base or point.startswith(base + "/"):
                    found.append(point)
    except OSError:
        return []
    return sorted(set(found), key=lambda p: (-p.count("/"), p))


def _mounts_of(pid: int) -> List[str]:
    """Mount points as process `pid` sees them: its mount namespace, paths relative to its root (a chrooted
    process sees only the mounts inside its chroot)."""
    try:
        with open(f"/proc/{pid}/mountinfo") as f:
            return sorted({ln.split()[4] for ln in f})
    except OSError:
        return []


def release_mounts(path: Path = CACHE) -> List[str]:
    """The final unmount step: unmount everything mounted below `path` here. Returns what was unmounted."""
    done = []
    for _ in range(3):                       # a recursive bind can reveal more after the first pass
        points = mounts_below(path)
        if not points:
            break
        for p in points:
            if subprocess.run(["umount", p], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", p], capture_output=True)
            done.append(p)
    return done


def _hash(parts: Sequence[Any]) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, Path):
            h.update(str(p.relative_to(REPO) if REPO in p.parents else p).encode() + b"\0")
            h.update(p.read_bytes())
        else:
            h.update(str(p).encode() + b"\0")
    return h.hexdigest()[:16]


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """preexec: SIGKILL this child (and what it execs) if the process that started it dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    with contextlib.suppress(Exception):
        proc.wait(10)


def run(cmd: Sequence[str], timeout: float, what: str, cwd: Optional[Path] = None,
        env: Optional[Dict[str, str]] = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run `cmd` in its own process group; on timeout (or any exception) kill the whole group. Output captured;
    a failure raises RigError with its tail."""
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise RigError(f"{what}: timed out after {timeout:.0f} s: {' '.join(cmd)[:300]}")
    except BaseException:
        _kill_group(proc)
        raise
    text = out.decode("utf-8", "replace")
    if check and proc.returncode != 0:
        raise RigError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)[:300]}\n{text[-4000:]}")
    return subprocess.CompletedProcess(list(cmd), proc.returncode, text, "")


# ---------- QEMU processes, QMP, the guest's serial lines ----------
class Qmp:
    """A minimal QMP client over the monitor's unix socket. Events are kept (with QEMU's host timestamps)."""

    def __init__(self, path: Path, timeout: float, alive: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        self.events: List[Dict[str, Any]] = []
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(5)
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline or not alive():
                    raise RigError(f"QMP socket {path} did not come up (QEMU {'ran' if alive() else 'exited'})")
                time.sleep(0.02)
        self.buf = b""
        self._read()                                   # the greeting
        self.cmd("qmp_capabilities")

    def _read(self) -> Dict[str, Any]:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RigError("QMP connection closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def cmd(self, name: str, **args: Any) -> Any:
        self.sock.sendall(json.dumps({"execute": name, **({"arguments": args} if args else {})}).encode() + b"\n")
        while True:
            msg = self._read()
            if "event" in msg:
                msg["host_received"] = time.time()
                self.events.append(msg)
            elif "error" in msg:
                raise RigError(f"QMP {name}: {msg['error']}")
            elif "return" in msg:
                return msg["return"]

    def event_time(self, name: str) -> Optional[float]:
        """QEMU's own timestamp (host CLOCK_REALTIME) of the first event `name` seen so far."""
        for e in self.events:
            if e["event"] == name:
                return e["timestamp"]["seconds"] + e["timestamp"]["microseconds"] / 1e6
        return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Guest:
    """One QEMU process in the chroot (a first boot, or a clone restored with -incoming)."""

    def __init__(self, rig: "Rig", run: Path, name: str, incoming: Optional[str] = None) -> None:
        self.rig, self.run, self.name, self.incoming = rig, run, name, incoming
        self.results = run / f"results-{name}.log"
        self.console = run / f"console-{name}.log"
        self.qmp_path = run / f"qmp-{name}.sock"
        if len(str(self.qmp_path)) > 100:
            raise RigError(f"{self.qmp_path}: too long for a unix socket path (set VMGEN_QEMU_RIG_CACHE shorter)")
        self.proc: Optional[subprocess.Popen] = None
        self.qmp: Optional[Qmp] = None
        self.seen: Dict[str, float] = {}              # event -> host time.time() the line was first read
        self._lines: List[Dict[str, Any]] = []
        self._pos = 0
        self.started = 0.0

    def inner(self, p: Path) -> str:
        return "/" + str(p.relative_to(self.rig.sid))

    def command(self) -> List[str]:
        r = self.rig
        cmd = ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-m", QEMU_MEMORY,
               "-smp", "1", "-display", "none", "-no-reboot", "-nodefaults",
               "-kernel", self.inner(r.kernel / "vmlinuz"), "-initrd", self.inner(r.initrd),
               "-append", KERNEL_CMDLINE,
               "-device", "vmclock", "-device", "vmgenid,guid=auto",
               "-drive", f"file={self.inner(r.root_image)},format=raw,if=virtio,readonly=on",
               "-drive", f"file={self.inner(r.vmgen_image)},format=raw,if=virtio,readonly=on",
               "-serial", f"file:{self.inner(self.console)}", "-serial", f"file:{self.inner(self.results)}",
               "-qmp", f"unix:{self.inner(self.qmp_path)},server=on,wait=off"]
        if self.incoming:
            cmd += ["-incoming", f"file:{self.inner(self.run / self.incoming)}"]
        return cmd

    def start(self) -> "Guest":
        log = open(self.run / f"qemu-{self.name}.log", "wb")
        self.started = time.time()
        self.proc = subprocess.Popen(self.rig.chroot_cmd(self.rig.sid, *self.command()), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        log.close()
        self.qmp = Qmp(self.qmp_path, 60, self.alive)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def lines(self) -> List[Dict[str, Any]]:
        """The guest's JSON lines so far (complete lines only)."""
        try:
            with open(self.results, "rb") as f:
                f.seek(self._pos)
                data = f.read()
        except FileNotFoundError:
            return self._lines
        end = data.rfind(b"\n")
        if end >= 0:
            now = time.time()
            for raw in data[:end].split(b"\n"):
                raw = raw.strip(b"\r\0 ")
                if raw:
                    try:
                        msg = json.loads(raw)
                    except ValueError:
                        msg = {"event": "garbled", "raw": raw.decode("utf-8", "replace")[:2000]}
                    msg["host_seen"] = now
                    self.seen.setdefault(msg.get("event", "?"), now)
                    self._lines.append(msg)
            self._pos += end + 1
        return self._lines

    def event(self, name: str) -> Optional[Dict[str, Any]]:
        return next((m for m in self.lines() if m.get("event") == name), None)

    def count(self, name: str) -> int:
        return sum(1 for m in self.lines() if m.get("event") == name)

    def wait_for(self, name: str, timeout: float, count: int = 1) -> Dict[str, Any]:
        """The guest's (first) `name` line, once `count` of them came; RigError (with the console's tail) on
        timeout, on an `error` line, or if QEMU exits first. Polls every 2 ms (host-side times are this coarse)."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.event(name)
            if msg is not None and self.count(name) >= count:
                return msg
            err = self.event("error")
            if err is not None:
                raise RigError(f"guest {self.name}: {err.get('traceback')}\n{self.tail()}")
            if not self.alive():
                raise RigError(f"guest {self.name}: QEMU exited ({self.proc.returncode if self.proc else '?'}) "
                               f"before '{name}'\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RigError(f"guest {self.name}: no '{name}' within {timeout:.0f} s\n{self.tail()}")
            time.sleep(0.002)

    def tail(self, n: int = 4000) -> str:
        parts = []
        for p in (self.run / f"qemu-{self.name}.log", self.console):
            try:
                parts.append(f"--- {p.name} ---\n" + p.read_bytes()[-n:].decode("utf-8", "replace"))
            except OSError:
                pass
        return "\n".join(parts)

    def stop(self) -> None:
        """quit over QMP, then SIGKILL the process group whatever happened (every exit path comes here)."""
        try:
            if self.qmp is not None and self.alive():
                with contextlib.suppress(Exception):
                    self.qmp.sock.settimeout(5)
                    self.qmp.cmd("quit")
                if self.proc is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.proc.wait(10)
        finally:
            if self.qmp is not None:
                self.qmp.close()
            if self.proc is not None:
                _kill_group(self.proc)


class Rig:
    def __init__(self, cache: Path = CACHE, log: Optional[Callable[[str], None]] = None, src: Path = REPO) -> None:
        why = missing()
        if why:
            raise RigUnavailable(why)
        self.cache = Path(cache)
        self.src = Path(src)
        self.sid = self.cache / "sid"
        self.guest = self.cache / "guest"
        self.rig = self.sid / "rig"                   # /rig inside the chroot
        self.kernel = self.rig / "kernel"
        self.log = log or (lambda msg: print(f"[qemu-rig] {msg}", file=sys.stderr, flush=True))
        self.timings: Dict[str, float] = {}
        self.facts: Dict[str, Any] = {}
        self._lock_fd: Optional[int] = None

    # ---------- helpers ----------

    @contextlib.contextmanager
    def timed(self, what: str) -> Iterator[None]:
        t = time.monotonic()
        try:
            yield
        finally:
            self.timings[what] = round(time.monotonic() - t, 2)

    def chroot_cmd(self, root: Path, *cmd: str) -> List[str]:
        """`cmd` in chroot `root`, in a private mount namespace with /dev, /proc, /sys bound, clean environment."""
        return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", _ENTER, "sh", str(root),
                "/usr/bin/env", "-i", *[f"{k}={v}" for k, v in CHROOT_ENV.items()], *cmd]

    def chroot(self, root: Path, *cmd: str, timeout: float = 600, what: str = "") -> str:
        return run(self.chroot_cmd(root, *cmd), timeout, what or " ".join(cmd[:3])).stdout

    def lock(self) -> None:
        """One rig at a time per cache (builds and sessions)."""
        if self._lock_fd is None:
            self.cache.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(str(self.cache / ".lock"), os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ---------- the chroots ----------

    def _debootstrap_key(self) -> str:
        return _hash([SUITE, MIRROR, ",".join(GUEST_PACKAGES), ",".join(BUILDER_PACKAGES), APT_CONF])

    def ensure_chroots(self) -> None:
        marker = self.sid / ".vmgen-rig-ready"
        key = self._debootstrap_key()
        if marker.exists() and marker.read_text().strip() == key and (self.guest / ".vmgen-rig-ready").exists():
            return
        tmp, gtmp = self.cache / "sid.tmp", self.cache / "guest.tmp"
        for d in (tmp, gtmp, self.sid, self.guest):
            release_mounts(d)
            shutil.rmtree(d, ignore_errors=True)
        with self.timed("debootstrap"):
            # dpkg in the new tree reads this from its first run: no fsync per unpacked file (a cache, rebuilt if torn)
            (tmp / "etc" / "dpkg" / "dpkg.cfg.d").mkdir(parents=True)
            (tmp / "etc" / "dpkg" / "dpkg.cfg.d" / "vmgen-rig-unsafe-io").write_text("force-unsafe-io\n")
            self.log(f"debootstrap --variant=minbase {SUITE} (with {', '.join(GUEST_PACKAGES)}) from {MIRROR}")
            # its own mounts (proc, sys) die with the namespace if it is killed half-way
            run(["unshare", "--mount", "--propagation", "private", "--", "debootstrap", "--variant=minbase",
                 f"--include={','.join(GUEST_PACKAGES)}", SUITE, str(tmp), MIRROR], 900, "debootstrap")
        (tmp / "etc/apt/apt.conf.d/99vmgen-rig").write_text(APT_CONF)
        shutil.copy2("/etc/resolv.conf", tmp / "etc/resolv.conf")     # the chroot shares our network
        with self.timed("guest tree"):
            # the guest: the tree as debootstrap left it (python3 in), without apt's downloads and docs
            run(["cp", "-a", str(tmp), str(gtmp)], 300, "copying the guest tree")
            for sub in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
                        "usr/share/locale", "usr/share/info"):
                d = gtmp / sub
                if d.is_dir():
                    for child in d.iterdir():
                        if child.is_dir() and not child.is_symlink():
                            shutil.rmtree(child, ignore_errors=True)
                        else:
                            child.unlink()
            (gtmp / "opt" / "vmgen-rig").mkdir(parents=True, exist_ok=True)     # the second disk's mount point
            (gtmp / ".vmgen-rig-ready").write_text(key + "\n")
        with self.timed("builder packages"):
            self.log(f"apt-get install {' '.join(BUILDER_PACKAGES)} (in the {SUITE} chroot)")
            self.chroot(tmp, "apt-get", "-q", "update", timeout=600, what="apt-get update (sid chroot)")
            self.chroot(tmp, "apt-get", "-y", "-q", "install", *BUILDER_PACKAGES, timeout=900,
                        what="apt-get install (sid chroot)")
            self.chroot(tmp, "apt-get", "clean", what="apt-get clean")
        (tmp / "rig").mkdir(exist_ok=True)
        marker_tmp = tmp / ".vmgen-rig-ready"
        marker_tmp.write_text(key + "\n")
        release_mounts(tmp)
        os.rename(gtmp, self.guest)
        os.rename(tmp, self.sid)

    def python_version(self) -> Tuple[int, int]:
        out = self.chroot(self.sid, "python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])").strip()
        major, minor = out.split(".")
        return int(major), int(minor)

    # ---------- the kernel ----------

    def ensure_kernel(self) -> Path:
        marker = self.kernel / ".vmgen-rig-ready"
        if marker.exists():
            self.facts["kernel"] = marker.read_text().strip()
            return self.kernel
        with self.timed("kernel"):
            out = self.chroot(self.sid, "apt-cache", "search", "--names-only",
                              f"^linux-image-{re.escape(KERNEL_SERIES)}\\.[0-9]+.*-amd64$")
            # the generic flavour: not -rt-, -cloud-, -dbg, -unsigned
            names = sorted({ln.split()[0] for ln in out.splitlines()
                            if re.match(rf"linux-image-{re.escape(KERNEL_SERIES)}\.\d+\+deb\d+-amd64 ", ln)},
                           key=lambda n: [int(x) for x in re.findall(r"\d+", n)])
            if not names:
                raise RigError(f"no linux-image-{KERNEL_SERIES}.*-amd64 in {SUITE} ({MIRROR})")
            image = names[-1]
            release = image[len("linux-image-"):]
            deps = self.chroot(self.sid, "apt-cache", "depends", "--no-recommends", "--no-suggests",
                               "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", image)
            parts = [image] + sorted({m for m in re.findall(r"Depends: (linux-\S+)", deps) if release in m})
            self.log(f"kernel {release}: apt-get download {' '.join(parts)}")
            debs = self.rig / "kernel-debs"
            shutil.rmtree(debs, ignore_errors=True)
            debs.mkdir(parents=True)
            self.chroot(self.sid, "sh", "-c", f"cd /rig/kernel-debs && apt-get -q download {' '.join(parts)}",
                        timeout=900, what="apt-get download (kernel)")
            tmp = self.rig / "kernel.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            for deb in sorted(debs.glob("*.deb")):
                run(["dpkg", "-x", str(deb), str(tmp)], 300, f"dpkg -x {deb.name}")
            # Linux 7.2's packages: vmlinuz beside the modules (no modules.dep: depmod runs at install)
            mods = next(iter(sorted(tmp.glob("usr/lib/modules/*/kernel")) +
                             sorted(tmp.glob("lib/modules/*/kernel"))), None)
            vmlinuz = next(iter(sorted(tmp.glob("boot/vmlinuz-*")) +
                                ([mods.parent / "vmlinuz"] if mods and (mods.parent / "vmlinuz").exists() else [])),
                           None)
            if vmlinuz is None or mods is None:
                raise RigError(f"kernel packages {parts} hold no vmlinuz or modules")
            shutil.copy2(vmlinuz, tmp / "vmlinuz")
            (tmp / "modules").symlink_to(os.path.relpath(mods.parent, tmp))
            shutil.rmtree(debs, ignore_errors=True)
            shutil.rmtree(self.kernel, ignore_errors=True)
            os.rename(tmp, self.kernel)
            (self.kernel / ".vmgen-rig-ready").write_text(release + "\n")
            self.facts["kernel"] = release
        return self.kernel

    # ---------- the initrd and the root image ----------

    def _module_order(self) -> List[str]:
        """Paths (relative to the modules dir) to insmod, dependencies first, for INITRD_MODULES; built-in ones
        skipped. The packages carry no modules.dep (depmod runs at install), so each module's own
        `depends=` (its .modinfo section) is followed."""
        mdir = self.kernel / "modules"
        by_name: Dict[str, str] = {}
        for p in (mdir / "kernel").rglob("*.ko*"):
            by_name[_module_name(p.name)] = str(p.relative_to(mdir))
        builtin = set()
        if (mdir / "modules.builtin").exists():
            builtin = {_module_name(x) for x in (mdir / "modules.builtin").read_text().split()}
        order: List[str] = []

        def visit(name: str, path: Tuple[str, ...]) -> None:
            if name in builtin or by_name.get(name) in order:
                return
            if name not in by_name:
                raise RigError(f"module {name} (needed by {' <- '.join(path) or 'the rig'}) is neither built in "
                               f"nor in {mdir}")
            if name in path:
                raise RigError(f"module dependency loop: {' <- '.join(path + (name,))}")
            for dep in _modinfo(_module_bytes(mdir / by_name[name])).get("depends", "").split(","):
                if dep:
                    visit(dep.replace("-", "_"), path + (name,))
            order.append(by_name[name])

        for name in INITRD_MODULES:
            visit(name, ())
        return order

    def ensure_initrd(self) -> Path:
        init = GUEST_DIR / "init"
        busybox = self.sid / "bin" / "busybox"
        order = self._module_order()
        key = _hash([INITRD_LAYOUT, init, self.facts.get("kernel", ""), *order, busybox.stat().st_size])
        out = self.rig / f"initrd-{key}.gz"
        if out.exists():
            return out
        with self.timed("initrd"):
            files: List[Tuple[str, int, bytes]] = [("init", 0o755, init.read_bytes()),
                                                  ("bin/busybox", 0o755, busybox.read_bytes())]
            names = []
            for rel in order:
                data = _module_bytes(self.kernel / "modules" / rel)
                name = re.sub(r"\.(xz|gz)$", "", os.path.basename(rel))
                files.append((f"lib/modules/{name}", 0o644, data))
                names.append(name)
            files.append(("modules", 0o644, ("\n".join(names) + "\n").encode()))
            dirs = [(d, 0o40755, b"") for d in ("bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules")]
            files = dirs + files                    # parents before what they hold
            tmp = out.with_suffix(".tmp")
            with gzip.open(tmp, "wb", compresslevel=1) as f:
                f.write(_cpio_newc(files))
            for old in self.rig.glob("initrd-*.gz"):
                old.unlink()
            tmp.replace(out)
        return out

    def ensure_root_image(self) -> Path:
        key = _hash([(self.guest / ".vmgen-rig-ready").read_text()])
        out = self.rig / f"root-{key}.img"
        if out.exists():
            return out
        with self.timed("root image"):
            self.log("mkfs.ext4 -d guest/ (the guest's read-only root)")
            used = int(run(["du", "-sm", str(self.guest)], 120, "du").stdout.split()[0])
            tmp = out.with_suffix(".tmp")
            tmp.unlink(missing_ok=True)
            run(["mkfs.ext4", "-q", "-F", "-L", "vmgenroot", "-O", "^has_journal", "-E", "root_owner=0:0",
                 "-d", str(self.guest), str(tmp), f"{used + 128}M"], 300, "mkfs.ext4 (root)")
            for old in self.rig.glob("root-*.img"):
                old.unlink()
            tmp.replace(out)
        return out

    # ---------- vmgen for the guest ----------

    def _build_requires(self) -> List[str]:
        text = (self.src / "pyproject.toml").read_text()
        m = re.search(r"^requires\s*=\s*\[(.*?)\]", text, re.M | re.S)
        if not m:
            raise RigError("pyproject.toml has no [build-system] requires")
        return re.findall(r'"([^"]+)"', m.group(1))

    def ensure_build_venv(self) -> None:
        """/opt/build-venv in the chroot with the build requirements, from wheels the host's pip downloads (its
        index and mirrors: the chroot has no pip configuration of its own)."""
        reqs = self._build_requires()
        major, minor = self.python_version()
        key = _hash(reqs + [f"{major}.{minor}"])
        marker = self.sid / "opt" / "build-venv" / ".vmgen-rig-ready"
        if marker.exists() and marker.read_text().strip() == key:
            return
        with self.timed("build venv"):
            wheels = self.rig / "wheels"
            shutil.rmtree(wheels, ignore_errors=True)
            self.log(f"pip download {' '.join(reqs)} for CPython {major}.{minor} (the guest's)")
            run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary",
                 ":all:", "--python-version", f"{major}.{minor}", "--implementation", "cp", "--platform",
                 "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64",
                 "-d", str(wheels), *reqs], 600, "pip download (build requirements)")
            shutil.rmtree(self.sid / "opt" / "build-venv", ignore_errors=True)
            self.chroot(self.sid, "python3", "-m", "venv", "/opt/build-venv", what="python3 -m venv")
            self.chroot(self.sid, "/opt/build-venv/bin/pip", "install", "-q", "--disable-pip-version-check",
                        "--no-index", "--find-links", "/rig/wheels", *reqs, timeout=600, what="pip install (chroot)")
            marker.write_text(key + "\n")

    def _source_files(self) -> List[Path]:
        files = [self.src / n for n in ("setup.py", "pyproject.toml") if (self.src / n).exists()]
        for top in ("vmgen", "csrc"):
            for p in sorted((self.src / top).rglob("*")):
                if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".so", ".pyd", ".o") and \
                        not (p.suffix == ".c" and top == "vmgen"):
                    files.append(p)
        return files

    def ensure_vmgen_image(self) -> Path:
        """vmgen built in the chroot (setup.py build_ext --inplace, the venv's Cython) from this tree, byte-
        compiled by the guest's CPython, plus the guest program, on a small ext4 image (the guest's /opt/vmgen-rig)."""
        sources = self._source_files()
        guest_files = sorted(p for p in GUEST_DIR.iterdir() if p.is_file() and p.name != "init")
        venv_key = (self.sid / "opt" / "build-venv" / ".vmgen-rig-ready").read_text().strip()
        src_key = _hash([venv_key, *sources])
        key = _hash([src_key, *guest_files])
        out = self.rig / f"vmgen-{key}.img"
        self.facts["vmgen_image"] = out.name
        if out.exists():
            return out
        build = self.rig / "build"
        tree = build / f"src-{src_key}"
        if not (tree / ".built").exists():
            with self.timed("vmgen build"):
                shutil.rmtree(build, ignore_errors=True)
                tree.mkdir(parents=True)
                for p in sources:
                    dst = tree / p.relative_to(self.src)
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(p, dst)
                self.log(f"building vmgen for the guest's CPython (setup.py build_ext --inplace, key {src_key})")
                inner = f"/rig/build/{tree.name}"
                self.chroot(self.sid, "sh", "-c", f"cd {inner} && /opt/build-venv/bin/python setup.py -q "
                            "build_ext --inplace -j 2 && python3 -m compileall -q vmgen",
                            timeout=900, what="building vmgen in the chroot")
                (tree / ".built").write_text(src_key + "\n")
        with self.timed("vmgen image"):
            stage = build / "stage"
            shutil.rmtree(stage, ignore_errors=True)
            shutil.copytree(tree / "vmgen", stage / "vmgen", ignore=shutil.ignore_patterns("*.c", "build"))
            for p in guest_files:
                shutil.copy2(p, stage / p.name)
            tmp = out.with_suffix(".tmp")
            tmp.unlink(missing_ok=True)
            run(["mkfs.ext4", "-q", "-F", "-L", "vmgenrig", "-O", "^has_journal", "-E", "root_owner=0:0",
                 "-d", str(stage), str(tmp), "64M"], 120, "mkfs.ext4 (vmgen)")
            for old in self.rig.glob("vmgen-*.img"):
                old.unlink()
            tmp.replace(out)
            shutil.rmtree(stage, ignore_errors=True)
        return out

    def prepare(self) -> "Rig":
        """Build or reuse every piece. Safe to repeat; cached steps are skipped."""
        self.lock()
        try:
            release_mounts(self.cache)
            with self.timed("prepare"):
                self.ensure_chroots()
                self.ensure_kernel()
                self.initrd = self.ensure_initrd()
                self.root_image = self.ensure_root_image()
                self.ensure_build_venv()
                self.vmgen_image = self.ensure_vmgen_image()
        finally:
            release_mounts(self.cache)
        return self

    # ---------- the session ----------

    @contextlib.contextmanager
    def session(self) -> Iterator[Path]:
        """A run folder under /rig; every QEMU started in it is killed and the folder removed on exit, and the
        final unmount step runs (logs of the last session stay in cache/last-run for a look afterwards)."""
        self.lock()
        for stale in self.rig.glob("run-*"):         # a killed session's (SIGKILL skips every finally)
            shutil.rmtree(stale, ignore_errors=True)
        run = self.rig / f"run-{os.getpid()}"
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir(parents=True)
        self._guests: List[Guest] = []
        try:
            yield run
        finally:
            for g in self._guests:
                g.stop()
            last = self.cache / "last-run"
            shutil.rmtree(last, ignore_errors=True)
            with contextlib.suppress(OSError):
                shutil.copytree(run, last, ignore=shutil.ignore_patterns("*.bin", "*.sock"))
            shutil.rmtree(run, ignore_errors=True)
            release_mounts(self.cache)
            self.unlock()

    def start_guest(self, run: Path, name: str, incoming: Optional[str] = None) -> Guest:
        g = Guest(self, run, name, incoming)
        self._guests.append(g)
        return g.start()

    def snapshot_and_restore(self, clones: int = 2) -> Dict[str, Any]:
        """Boot, wait for the guest's `ready`, snapshot over QMP (migrate to a file), quit, restore `clones`
        clones one after the other. Returns every guest line, QMP facts and host timings."""
        out: Dict[str, Any] = {"clones": [], "kernel": self.facts.get("kernel")}
        with self.session() as run:
            t = time.monotonic()
            src = self.start_guest(run, "boot")
            out["guid_boot"] = src.qmp.cmd("query-vm-generation-id").get("guid")
            # the chroot's binds exist in QEMU's mount namespace, and never in ours
            out["mounts"] = {"qemu_namespace": _mounts_of(src.proc.pid) if src.proc else [],
                             "qemu_root": os.readlink(f"/proc/{src.proc.pid}/root") if src.proc else None,
                             "ours_during": mounts_below(self.cache)}
            out["boot"] = src.wait_for("boot", BOOT_TIMEOUT)
            out["ready"] = src.wait_for("ready", BOOT_TIMEOUT)
            self.timings["boot to ready"] = round(time.monotonic() - t, 2)
            t = time.monotonic()
            src.qmp.cmd("migrate", uri=f"file:{src.inner(run / 'state.bin')}")
            deadline = time.monotonic() + 120
            while True:
                info = src.qmp.cmd("query-migrate")
                if info.get("status") == "completed":
                    break
                if info.get("status") in ("failed", "cancelled") or time.monotonic() > deadline:
                    raise RigError(f"migrate to file: {info}\n{src.tail()}")
                time.sleep(0.05)
            out["snapshot"] = {"status": src.qmp.cmd("query-status").get("status"),
                               "bytes": (run / "state.bin").stat().st_size, "migrate": info}
            self.timings["snapshot"] = round(time.monotonic() - t, 2)
            src.stop()
            for i in range(clones):
                t = time.monotonic()
                c = self.start_guest(run, f"clone{i}", incoming="state.bin")
                result = c.wait_for("result", CLONE_TIMEOUT)
                woke = c.event("woke")
                c.wait_for("tick", 30, count=GUEST_TICKS)
                # the host clock onto the guest's: each line carries the guest's CLOCK_MONOTONIC when written, and
                # the host's time when read; the smallest difference is the one with the least delay in between
                sync = min(m["host_seen"] - m["mono_ns"] / 1e9 for m in c.lines() if "mono_ns" in m)
                guid = c.qmp.cmd("query-vm-generation-id").get("guid")
                status = c.qmp.cmd("query-status").get("status")
                resume = c.qmp.event_time("RESUME")
                woke_seen = c.seen.get("woke")
                out["clones"].append({
                    "result": result, "woke": woke, "guid": guid, "status": status,
                    "resume_guest_ns": None if resume is None else round((resume - sync) * 1e9),
                    "host": {"launch_to_resume_s": None if resume is None else round(resume - c.started, 3),
                             "resume_to_woke_seen_ms": None if resume is None or woke_seen is None
                             else round((woke_seen - resume) * 1000, 1),
                             "launch_to_result_s": round(c.seen["result"] - c.started, 3)}})
                out["clones"][-1]["latency_ms"] = latencies(out["clones"][-1])
                c.stop()
                self.timings[f"clone{i}"] = round(time.monotonic() - t, 2)
        out["after"] = {"mounts_below_cache": mounts_below(self.cache),
                        "qemu_alive": [g.name for g in self._guests if g.alive()]}
        return out


def latencies(clone: Dict[str, Any]) -> Dict[str, Any]:
    """One clone's restore latencies, in ms of the guest's CLOCK_MONOTONIC (which does not advance while the VM is
    stopped: the snapshot leaves no gap in it). Three reference points:
      resume: QEMU's RESUME event (the clone's vCPUs start), a host timestamp moved onto the guest's clock through
              the serial lines (each carries the guest's CLOCK_MONOTONIC at write; the host notes when it reads it
              (2 ms poll); the smallest read-minus-write difference maps one clock onto the other, so this point
              is early, and the latencies from it long, by at most that line's serial delay and poll, a few ms);
              the primary reference
      probe:  the first moment the clone's user space ran, as seen by a 1 ms pure-Python poll of the mapped page's
              disruption_marker (QEMU bumps it before the clone runs); the resume lies within probe_window_ms
              before it (the poll's previous iteration saw the old value)
      kernel: the kernel's record of the restore, "crng reseeded due to virtual machine fork" (the vmgenid
              driver's ACPI notify handler), its printk timestamp moved onto CLOCK_MONOTONIC with the offset the
              guest measured after the restore (a record written between two clock reads)
    Events: wake (the thread blocked in c.wait() since before the snapshot returns), subscribe (a subscribe()
    callback starts), reseed (reseed_on_restore reaches a register_rng object: after its wait for the kernel's
    record and its first hashlib import), hook (the first after-restore hook starts), kmsg_reader (a thread
    blocked in read(/dev/kmsg) gets the kernel's record). host_resume_to_woke: host side, QEMU's RESUME event to
    the host reading the waiter's serial line (polled every 2 ms; includes the serial path).
    """
    r = clone["result"]
    events = {"wake": r.get("waiter", {}).get("wake_ns"),
              "subscribe": r.get("marks", {}).get("subscribe"),
              "reseed": r.get("marks", {}).get("reseed"),
              "hook": r["hook_calls"][0]["mono_ns"] if r.get("hook_calls") else None,
              "kmsg_reader": r.get("reader_woke_ns")}
    probe = r.get("probe") or {}
    offset = (r.get("offset_after") or [None])[0]
    refs = {"resume": clone.get("resume_guest_ns"),
            "probe": probe.get("seen_ns"),
            "kernel": None if offset is None or r.get("reseed_ts_us") is None else r["reseed_ts_us"] * 1000 - offset}
    out: Dict[str, Any] = {}
    for name, ref in refs.items():
        out[f"from_{name}"] = {k: None if v is None or ref is None else round((v - ref) / 1e6, 2)
                               for k, v in events.items()}
    out["references_after_resume"] = {k: None if v is None or refs["resume"] is None else
                                      round((v - refs["resume"]) / 1e6, 2) for k, v in refs.items() if k != "resume"}
    out["probe_window_ms"] = None if "before_ns" not in probe else round((probe["seen_ns"] - probe["before_ns"]) / 1e6, 2)
    out["host_resume_to_woke"] = clone["host"].get("resume_to_woke_seen_ms")
    return out


def _module_name(filename: str) -> str:
    return re.sub(r"\.ko(\.\w+)?$", "", os.path.basename(filename)).replace("-", "_")


def _module_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".zst"):
        raise RigError(f"{path.name}: zstd-compressed modules are not handled (Debian's are xz)")
    return data


def _modinfo(elf: bytes) -> Dict[str, str]:
    """key=value strings of a kernel module's .modinfo section (ELF64 little-endian)."""
    import struct
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise RigError("not an ELF64 little-endian kernel module")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    secs = [struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    strtab = secs[shstrndx]
    info: Dict[str, str] = {}
    for name_off, _, _, _, off, size in secs:
        start = strtab[4] + name_off
        if elf[start:elf.index(b"\0", start)] == b".modinfo":
            for item in elf[off:off + size].split(b"\0"):
                k, eq, v = item.decode("utf-8", "replace").partition("=")
                if eq:
                    info.setdefault(k, v)
    return info


def _cpio_newc(files: Sequence[Tuple[str, int, bytes]]) -> bytes:
    """A cpio archive in the "newc" format the kernel unpacks as an initramfs: (name, mode, data); a mode with
    0o40000 set is a directory, others regular files."""
    out = bytearray()

    def entry(name: str, mode: int, data: bytes, ino: int) -> None:
        full = mode if mode & 0o170000 else (0o100000 | mode)
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (ino, full, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0))
        out.extend(hdr.encode() + nb)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    for i, (name, mode, data) in enumerate(files, 1):
        entry(name, mode, data, i)
    entry("TRAILER!!!", 0, b"", 0)
    return bytes(out)


def main(argv: Optional[List[str]] = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="scripts/qemu-rig", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("prepare", help="build or reuse every piece; print the timings as JSON")
    r = sub.add_parser("run", help="prepare, boot, snapshot, restore clones; print everything as JSON")
    r.add_argument("--clones", type=int, default=int(os.environ.get("VMGEN_QEMU_CLONES", "2")))
    r.add_argument("-o", "--output", help="also write the JSON here")
    sub.add_parser("info", help="print the cache's paths as JSON")
    sub.add_parser("release", help="the final unmount step only: unmount anything left below the cache")
    sub.add_parser("clean", help="remove the whole cache")
    a = ap.parse_args(argv)
    if a.cmd == "release":
        for p in release_mounts(CACHE):
            print(f"unmounted {p}", file=sys.stderr)
        return 0
    rig = Rig()
    if a.cmd == "info":
        print(json.dumps({"cache": str(rig.cache), "sid": str(rig.sid), "guest": str(rig.guest),
                          "mounts_below_cache": mounts_below(rig.cache)}, indent=2))
        return 0
    if a.cmd == "clean":
        release_mounts(rig.cache)
        shutil.rmtree(rig.cache, ignore_errors=True)
        return 0
    rig.prepare()
    if a.cmd == "prepare":
        print(json.dumps({"timings": rig.timings, "facts": rig.facts}))
        return 0
    res = rig.snapshot_and_restore(a.clones)
    res["timings"] = rig.timings
    text = json.dumps(res, indent=1)
    if a.output:
        Path(a.output).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
