"""Copy the source tree into a temporary directory, for tests that rebuild the extensions differently
(under ASan, with the portable POSIX counter) without touching the in-place build."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parent.parent


def _ignore(directory: str, names: list) -> set:
    # No built extensions, build dirs or caches; no Cython output in vmgen/, so it is regenerated.
    return {n for n in names if n.endswith((".so", ".pyd")) or n in ("build", "__pycache__", ".pytest_cache")
            or (n.endswith(".c") and directory.endswith("vmgen"))}


def copy_source_tree(dest: Path, dirs: Iterable[str] = ("csrc", "vmgen")) -> Path:
    """setup.py, pyproject.toml and `dirs` of the source tree, copied into dest (created)."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in ("setup.py", "pyproject.toml"):
        shutil.copy2(ROOT / item, dest / item)
    for item in dirs:
        shutil.copytree(ROOT / item, dest / item, ignore=_ignore)
    return dest
