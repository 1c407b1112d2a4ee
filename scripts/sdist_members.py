"""What vmgen's sdist must carry, and what it must not (issue 8). Used by scripts/check-sdist and tests/packaging/test_sdist.py.

    python3 scripts/sdist_members.py dist/vmgen-0.1.0.tar.gz [--root .] [--rev HEAD]

Required: every file git tracks (at --rev, else in the index and still present) among LICENSE, README.md,
pyproject.toml, setup.py, requirements-test.txt, csrc/**: .c .h, the package's sources (vmgen/**: .py .pyx .pxd
.pxi .pyi py.typed), tests/**, benchmarks/** and fuzz/**; without git, the same paths found on disk.
Junk: compiled objects (*.so *.pyd *.o *.pyc, __pycache__/), Cython's generated C (vmgen/**/*.c), build and
tool output (build/, dist/, wheelhouse/, caches, tests/rigs/windows/build/).
Exit status 0 if the sdist has every required member and no junk, 1 otherwise (each problem on a line).
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

TOP_FILES = ("LICENSE", "README.md", "pyproject.toml", "setup.py", "requirements-test.txt")
TREES = ("tests/", "benchmarks/", "fuzz/")
PACKAGE_SUFFIXES = (".py", ".pyx", ".pxd", ".pxi", ".pyi")
# Not required even when tracked: what MANIFEST.in prunes on purpose.
NOT_REQUIRED = ("tests/rigs/windows/build/*",)

JUNK_PATTERNS = (
    "*.so", "*.pyd", "*.o", "*.obj", "*.pyc", "*.pyo", "*.whl",
    "vmgen/*.c",                     # Cython output (fnmatch: any depth) (vmgen/switch/_fields.c, vmgen/counter/_core.c): built at install
    "build/*", "dist/*", "wheelhouse/*", "tests/rigs/windows/build/*",
    ".git/*", ".hypothesis/*", ".pytest_cache/*", ".mypy_cache/*", ".benchmarks/*", ".wine-rig/*",
)
JUNK_DIRS = ("__pycache__",)


def is_required(path: str) -> bool:
    if any(fnmatch.fnmatch(path, p) for p in NOT_REQUIRED):
        return False
    if path in TOP_FILES or path.startswith(TREES):
        return True
    if path.startswith("csrc/"):
        return path.endswith((".c", ".h"))
    if path.startswith("vmgen/"):
        return path.endswith(PACKAGE_SUFFIXES) or path.rsplit("/", 1)[-1] == "py.typed"
    return False


def is_junk(path: str) -> bool:
    parts = path.split("/")
    if any(p in JUNK_DIRS for p in parts):
        return True
    return any(fnmatch.fnmatch(path, p) for p in JUNK_PATTERNS)


def required_members(files: Iterable[str]) -> List[str]:
    """The subset of a source tree's files (paths relative to its root, '/'-separated) the sdist must carry."""
    return sorted({f for f in files if is_required(f) and not is_junk(f)})


def tracked_files(root: Path, rev: Optional[str] = None) -> List[str]:
    """Files of the tree at root: git's list (at rev, else the index minus files deleted since), or a walk."""
    try:
        if rev:
            out = subprocess.run(["git", "-C", str(root), "ls-tree", "-r", "-z", "--name-only", rev],
                                 capture_output=True, check=True).stdout
            return [f for f in out.decode().split("\0") if f]
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True).stdout
        return [f for f in out.decode().split("\0") if f and (root / f).is_file()]
    except (OSError, subprocess.CalledProcessError):
        if rev:
            raise
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in JUNK_DIRS and not d.startswith(".")]
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
        files += [n if rel == "." else f"{rel}/{n}" for n in filenames]
    return files


def sdist_members(sdist: Path) -> List[str]:
    """The sdist's files, relative to its top directory (vmgen-X.Y.Z/)."""
    with tarfile.open(sdist) as tf:
        names = [m.name for m in tf.getmembers() if m.isfile()]
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) != 1:
        raise ValueError(f"{sdist}: expected one top directory, found {sorted(tops)}")
    return sorted(n.split("/", 1)[1] for n in names if "/" in n)


def check(members: Sequence[str], required: Iterable[str]) -> List[str]:
    """Problems with an sdist whose files are `members`: required files missing, junk present."""
    have = set(members)
    problems = [f"missing: {r}" for r in sorted(set(required)) if r not in have]
    problems += [f"junk: {m}" for m in sorted(have) if is_junk(m)]
    return problems


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sdist", type=Path)
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                    help="the source tree the sdist was built from (default: this script's)")
    ap.add_argument("--rev", help="take the tracked files at this git revision (default: the index)")
    ap.add_argument("--list", action="store_true", help="print every member")
    a = ap.parse_args(argv)
    members = sdist_members(a.sdist)
    required = required_members(tracked_files(a.root, a.rev))
    if a.list:
        print("\n".join(members))
    problems = check(members, required)
    by_top: dict = {}
    for m in members:
        key = m.split("/", 1)[0] + ("/" if "/" in m else "")
        by_top[key] = by_top.get(key, 0) + 1
    print(f"{a.sdist.name}: {len(members)} files (" + ", ".join(f"{k} {v}" for k, v in sorted(by_top.items()))
          + f"); {len(required)} required")
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    if problems:
        print(f"{a.sdist.name}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{a.sdist.name}: every required member present, no build junk")
    return 0


if __name__ == "__main__":
    sys.exit(main())
