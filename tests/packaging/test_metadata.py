"""The package metadata agrees with what is built and documented (issue 15): the Pythons requires-python
admits are the ones wheels are built for and the README's table names, the metadata has project URLs, and
`vmgen --help` names the documentation files, which exist and ship in the sdist."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
in_tree = pytest.mark.skipif(not PYPROJECT.exists() or not (ROOT / "README.md").exists() or not (ROOT / "setup.py").exists(),
                             reason="no source tree (tests run against an installed package)")


def _pyproject() -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        tomllib = pytest.importorskip("tomli", reason="Python < 3.11 needs tomli")
    return tomllib.loads(PYPROJECT.read_text())


def _minor_versions(spec: str) -> list:
    """cibuildwheel's build selector "cp310-* cp311-*" -> [10, 11]."""
    return sorted(int(m) for m in re.findall(r"\bcp3(\d+)-", spec))


@in_tree
def test_requires_python_classifiers_wheels_and_readme_agree() -> None:
    meta = _pyproject()
    built = _minor_versions(meta["tool"]["cibuildwheel"]["build"])
    assert built, meta["tool"]["cibuildwheel"]["build"]
    assert meta["project"]["requires-python"] == f">=3.{built[0]}"
    classified = sorted(int(c.rsplit(".", 1)[1]) for c in meta["project"]["classifiers"]
                        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    assert classified == built
    table = re.search(r"wheel \(CPython 3\.(\d+)–3\.(\d+)\)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert table and [int(table.group(1)), int(table.group(2))] == [built[0], built[-1]]


@in_tree
def test_no_script_or_ci_step_relies_on_a_python_below_the_floor() -> None:
    floor = _minor_versions(_pyproject()["tool"]["cibuildwheel"]["build"])[0]
    for path in [ROOT / ".ci" / "run", *sorted((ROOT / "scripts").iterdir()), ROOT / "requirements-test.txt"]:
        if path.is_file():
            for m in re.finditer(r"(?:python|pyenv|cp|py)[ \-]?3\.?(\d+)\b", path.read_text(errors="replace")):
                assert int(m.group(1)) >= floor, f"{path.relative_to(ROOT)}: {m.group(0)}"


@in_tree
def test_project_urls_are_present_and_well_formed() -> None:
    urls = _pyproject()["project"]["urls"]
    assert {"Homepage", "Documentation", "Source"} <= set(urls)
    for name, url in urls.items():
        assert re.fullmatch(r"https://[a-z0-9.-]+/\S*", url), (name, url)


def test_help_points_at_the_docs() -> None:
    r = subprocess.run([sys.executable, "-m", "vmgen", "--help"], capture_output=True, text=True, timeout=60,
                       cwd=Path(__file__).resolve().parent)
    assert r.returncode == 0, r.stderr
    docs = re.search(r"docs: (.*)", " ".join(r.stdout.split()))
    assert docs, r.stdout
    named = re.findall(r"\b[\w-]+\.md\b", docs.group(1))
    assert {"README.md", "counter.md", "windows.md", "mof.md"} <= set(named), docs.group(1)
    if (ROOT / "docs").is_dir():   # in the source tree: the files exist, and MANIFEST.in ships them in the sdist
        for name in named:
            assert (ROOT / name).exists() or (ROOT / "docs" / name).exists(), name
        manifest = (ROOT / "MANIFEST.in").read_text()
        assert re.search(r"^graft docs$", manifest, re.M) and "README.md" in manifest
