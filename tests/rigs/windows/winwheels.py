"""Windows wheels built here: win_amd64 wheels for CPython 3.10-3.13, cross-compiled with mingw-w64, each proven
by pip-installing it into the official embeddable CPython of its version under Wine and running the Windows
test suite against the installed package with the test driver loaded.

Reuses the Wine rig (rig.py) for everything: the embeddable CPython, headers + pyconfig.h, the mingw build of
the two extensions, the prefix, the session and the driver. This module only assembles the wheel and runs the
install-and-test round in a fresh copy of the embeddable CPython (so nothing of the rig's stage is on its path).

    scripts/build-windows-wheels [--python 3.13 ...] [--out wheelhouse] [--no-test]
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Dict, List, Optional

import rig as rigmod

PYTHONS = ("3.10", "3.11", "3.12", "3.13")
WINTEST = "tests/rigs/windows/wintest_backend.py"
SHARED = ("tests/counter/test_counter_generation.py", "tests/counter/test_counter_simulated.py",
          "tests/counter/test_counter_waits.py")
OBJDUMP = "x86_64-w64-mingw32-objdump"
# What a .pyd may import: the interpreter's DLL and Windows' own (msvcrt.dll is Windows' C runtime, present on
# every Windows since 2000; mingw-w64 links against it by default).
SYSTEM_DLLS = {"kernel32.dll", "msvcrt.dll", "cfgmgr32.dll", "api-ms-win-crt-runtime-l1-1-0.dll"}


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def pyd_imports(pyd: Path) -> List[str]:
    """The DLLs a .pyd imports (objdump -p's 'DLL Name:' lines)."""
    out = subprocess.run([OBJDUMP, "-p", str(pyd)], capture_output=True, text=True, check=True).stdout
    return sorted({m.group(1) for m in re.finditer(r"DLL Name:\s*(\S+)", out)}, key=str.lower)


def _pure_tree(src: Path, work: Path) -> Path:
    """The package's platform-independent files and dist-info, as setuptools lays them out for a wheel."""
    lib = work / "lib"
    if not lib.exists():
        # VMGEN_ONLY matching no extension: setup.py then cythonizes nothing (these steps need no C)
        env = dict(os.environ, VMGEN_ONLY="(none: the extensions are mingw-built)")
        subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib)], cwd=src, check=True,
                       stdout=subprocess.DEVNULL, env=env)
        for junk in list(lib.rglob("*.so")) + list(lib.rglob("*.c")) + list(lib.rglob("__pycache__")):
            shutil.rmtree(junk) if junk.is_dir() else junk.unlink()
        (work / "meta").mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "setup.py", "-q", "dist_info", "--output-dir", str(work / "meta")], cwd=src,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return lib


def build_wheel(rig: "rigmod.Rig", out: Path, work: Path) -> Path:
    """vmgen-<version>-cp31X-cp31X-win_amd64.whl from rig.src, with the rig's mingw-built .pyd files."""
    rig.ensure_python()
    rig.ensure_pyinclude()
    pyds = rig.build_extensions()
    lib = _pure_tree(rig.src, work)
    dist_info = next((work / "meta").glob("*.dist-info"))
    name, version = dist_info.name[:-len(".dist-info")].split("-", 1)
    tag = f"{rig.tag}-{rig.tag}-win_amd64"
    whl = out / f"{name}-{version}-{tag}.whl"
    out.mkdir(parents=True, exist_ok=True)
    files: Dict[str, bytes] = {}
    for p in sorted(lib.rglob("*")):
        if p.is_file():
            files[p.relative_to(lib).as_posix()] = p.read_bytes()
    for (module, *_), pyd in zip(rig._extensions(), pyds):
        files[module.replace(".", "/") + rig.ext_suffix] = pyd.read_bytes()
    di = dist_info.name
    for p in sorted(dist_info.iterdir()):
        if p.is_file():
            files[f"{di}/{p.name}"] = p.read_bytes()
    files[f"{di}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: vmgen scripts/build-windows-wheels (mingw-w64)\n"
                            f"Root-Is-Purelib: false\nTag: {tag}\n").encode()
    record = io.StringIO()
    w = csv.writer(record, lineterminator="\n")
    for arc, data in files.items():
        w.writerow([arc, "sha256=" + _b64(hashlib.sha256(data).digest()), len(data)])
    w.writerow([f"{di}/RECORD", "", ""])
    files[f"{di}/RECORD"] = record.getvalue().encode()
    tmp = whl.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in files.items():
            zi = zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    tmp.replace(whl)
    return whl


def _pip_dir(rig: "rigmod.Rig") -> Path:
    """PyPI's pip wheel, unpacked (pip runs from it inside the embeddable CPython; no get-pip)."""
    d = rig.cache / "pip"
    if not (d / ".vmgen-ready").exists():
        dl = rig.cache / "downloads" / "pip"
        dl.mkdir(parents=True, exist_ok=True)
        if not list(dl.glob("pip-*.whl")):
            rigmod._run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                         "pip", "-d", str(dl)], timeout=600)
        shutil.rmtree(d, ignore_errors=True)
        with zipfile.ZipFile(sorted(dl.glob("pip-*.whl"))[-1]) as z:
            z.extractall(d)
        (d / ".vmgen-ready").write_text("ok\n")
    return d


def _fresh_python(rig: "rigmod.Rig", where: Path) -> Path:
    """A copy of the embeddable CPython whose path is: stdlib, its dir, Lib\\site-packages, pytest, pip."""
    if where.exists():
        shutil.rmtree(where)
    shutil.copytree(rig.pydir, where)
    (where / "Lib" / "site-packages").mkdir(parents=True)
    (where / f"{rig.dllname}._pth").write_text("{}.zip\n.\nLib\\site-packages\n{}\n{}\nimport site\n".format(
        rig.dllname, rig.winpath(rig.site), rig.winpath(_pip_dir(rig))))
    return where / "python.exe"


def test_wheel(rig: "rigmod.Rig", whl: Path, work: Path) -> Dict[str, object]:
    """pip-install `whl` into a fresh embeddable CPython under Wine, then run the Windows suite against it."""
    rig.ensure_prefix()
    rig.ensure_site()
    rig.build_driver()
    exe = _fresh_python(rig, work / f"py-{rig.tag}")
    empty = work / f"cwd-{rig.tag}"           # run from here: `import vmgen` must not find a source tree
    empty.mkdir(exist_ok=True)
    junit = work / f"junit-{rig.tag}.xml"
    res: Dict[str, object] = {"python": rig.pyminor, "wheel": whl.name, "size": whl.stat().st_size}
    with rig.session():
        t = time.monotonic()
        for attempt in (1, 2):     # WINDOWS_RIG.md: a first pip run in a fresh session once crashed in Wine
            pip = rig.run_python("-m", "pip", "install", "--no-index", "--no-deps", "--disable-pip-version-check",
                                 rig.winpath(whl), exe=exe, cwd=empty, timeout=600)
            if pip.returncode == 0:
                break
            rig.log(f"pip install failed (attempt {attempt}, rc={pip.returncode}):\n{pip.crash or pip.stderr[-2000:]}")
        res["pip_rc"], res["pip_s"] = pip.returncode, round(time.monotonic() - t, 1)
        if pip.returncode != 0:
            res["error"] = f"pip install failed:\n{pip.stdout[-2000:]}\n{pip.stderr[-3000:]}"
            return res
        where = rig.run_python("-c", "import json, vmgen, vmgen.counter._core as c, vmgen.switch._fields as f; "
                               "print(json.dumps([vmgen.__file__, c.__file__, f.__file__]))",
                               exe=exe, cwd=empty, timeout=300)
        res["imported_from"] = json.loads(where.stdout.strip().splitlines()[-1]) if where.returncode == 0 else None
        t = time.monotonic()
        # default (prepend) import mode: it puts only test directories first on sys.path, none holds a vmgen/
        r = rig.pytest("-q", "-rfE", rig.winpath(rigmod.REPO / WINTEST),
                       *(rig.winpath(rigmod.REPO / f) for f in SHARED), junit=junit, exe=exe, cwd=empty,
                       env={"VMGEN_EXPECT_INSTALLED": "1"}, timeout=1200)
        res["pytest_rc"], res["pytest_s"] = r.returncode, round(time.monotonic() - t, 1)
        res["crash"] = r.crash
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failed: List[str] = []
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            bad = case.find("failure") is not None or case.find("error") is not None
            if bad:
                counts["failed"] += 1
                failed.append(f"{case.get('classname')}::{case.get('name')}")
            elif case.find("skipped") is not None:
                counts["skipped"] += 1
            else:
                counts["passed"] += 1
    res.update(counts, failed_tests=failed, tail=(r.stdout[-3000:] + r.stderr[-2000:]) if r.returncode else "")
    return res


def check_imports(pyd_paths: List[Path], dllname: str) -> Dict[str, List[str]]:
    """{pyd: [imported DLLs]}; raises if one imports a DLL that is neither Windows' nor the interpreter's."""
    report = {}
    for p in pyd_paths:
        dlls = pyd_imports(p)
        extra = [d for d in dlls if d.lower() not in SYSTEM_DLLS and d.lower() != f"{dllname}.dll"]
        if extra:
            raise RuntimeError(f"{p.name} imports {extra}: not a system DLL nor {dllname}.dll")
        report[p.name] = dlls
    return report


def main(argv: Optional[List[str]] = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="scripts/build-windows-wheels", description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", action="append", choices=PYTHONS, help="default: all of " + ", ".join(PYTHONS))
    ap.add_argument("--out", default=str(rigmod.REPO / "wheelhouse"))
    ap.add_argument("--src", default=None, help="source tree (default: `git archive HEAD` of this repository)")
    ap.add_argument("--no-test", action="store_true", help="build only")
    ap.add_argument("--json", help="write the per-version results here")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="vmgen-winwheels-"))
    try:
        if a.src:
            src = Path(a.src).resolve()
        else:                      # build from what is committed, as scripts/build-wheels does
            src = work / "src"
            src.mkdir()
            archive = subprocess.run(["git", "archive", "HEAD"], cwd=rigmod.REPO, check=True, capture_output=True)
            subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
        results = []
        status = 0
        for py in a.python or PYTHONS:
            why = rigmod.missing(py)
            if why:
                print(f"== CPython {py}: cannot build: {why}", file=sys.stderr)
                status = 1
                continue
            rig = rigmod.Rig(python=py, src=src)
            t = time.monotonic()
            whl = build_wheel(rig, Path(a.out), work)
            pyds = [rig.build / (m.replace(".", "_") + rig.ext_suffix) for m, *_ in rig._extensions()]
            imports = check_imports(pyds, rig.dllname)
            res: Dict[str, object] = {"python": py, "wheel": whl.name, "size": whl.stat().st_size,
                                      "build_s": round(time.monotonic() - t, 1), "imports": imports}
            print(f"== CPython {py}: {whl.name} ({whl.stat().st_size} bytes)")
            for pyd, dlls in imports.items():
                print(f"   {pyd} imports {', '.join(dlls)}")
            if not a.no_test:
                res.update(test_wheel(rig, whl, work))
                ok = res.get("pytest_rc") == 0 and not res.get("crash") and res.get("failed") == 0 \
                    and res.get("passed", 0) > 0
                status |= 0 if ok else 1
                print(f"   pip install {res.get('pip_s')} s; imported from {res.get('imported_from')}")
                print(f"   in-Wine tests: {res.get('passed')} passed, {res.get('failed')} failed, "
                      f"{res.get('skipped')} skipped in {res.get('pytest_s')} s -> {'OK' if ok else 'FAILED'}")
                if not ok:
                    print(res.get("error") or res.get("crash") or res.get("tail"), file=sys.stderr)
            results.append(res)
        if a.json:
            Path(a.json).write_text(json.dumps(results, indent=2) + "\n")
        return status
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
