"""The wheel-building configuration that cannot run here (GitHub runners) is at least checked here:
pyproject.toml against the published schemas (PEP 621 and cibuildwheel's), the build identifiers
cibuildwheel derives from it for every platform and architecture the issue names, and the workflow's
runner matrix against those architectures."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
WORKFLOW = ROOT / ".github" / "workflows" / "wheels.yml"
pytestmark = pytest.mark.skipif(not WORKFLOW.exists(),
                                reason="no source tree (tests run against an installed wheel)")
PYTHONS = ("cp310", "cp311", "cp312", "cp313", "cp314")


def _validate(text: str) -> None:
    api = pytest.importorskip("validate_pyproject.api", reason="pip install 'validate-pyproject[all]' "
                              "validate-pyproject-schema-store")
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        tomllib = pytest.importorskip("tomli", reason="Python < 3.11 needs tomli")
    api.Validator()(tomllib.loads(text))


def test_pyproject_matches_the_schemas() -> None:
    _validate(PYPROJECT.read_text())


def test_schema_check_rejects_a_misspelt_cibuildwheel_option() -> None:
    from validate_pyproject.error_reporting import ValidationError
    bad = PYPROJECT.read_text().replace('manylinux-x86_64-image = "manylinux_2_28"',
                                        'manylinux-x86_64-imag = "manylinux_2_28"')
    assert bad != PYPROJECT.read_text()
    with pytest.raises(ValidationError):
        _validate(bad)


def _identifiers(platform: str, archs: str) -> set:
    exe = shutil.which("cibuildwheel")
    if exe is None:
        pytest.skip("cibuildwheel is not installed (pip install cibuildwheel; Python >= 3.11)")
    r = subprocess.run([exe, "--print-build-identifiers", "--platform", platform, "--archs", archs],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


@pytest.mark.parametrize("platform,archs,expected", [
    ("linux", "x86_64", {f"{py}-{libc}_x86_64" for py in PYTHONS for libc in ("manylinux", "musllinux")}),
    ("linux", "aarch64", {f"{py}-{libc}_aarch64" for py in PYTHONS for libc in ("manylinux", "musllinux")}),
    ("macos", "arm64,x86_64", {f"{py}-macosx_{a}" for py in PYTHONS for a in ("arm64", "x86_64")}),
    ("windows", "AMD64", {f"{py}-win_amd64" for py in PYTHONS}),
    ("windows", "ARM64", {f"{py}-win_arm64" for py in PYTHONS}),
])
def test_cibuildwheel_builds_every_wheel_the_issue_names(platform: str, archs: str, expected: set) -> None:
    assert _identifiers(platform, archs) == expected


def test_macos_builds_both_architectures_by_default() -> None:
    # archs come from pyproject.toml here (no --archs): one macOS runner builds both.
    exe = shutil.which("cibuildwheel") or pytest.skip("cibuildwheel is not installed")
    r = subprocess.run([exe, "--print-build-identifiers", "--platform", "macos"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert set(r.stdout.split()) == {f"{py}-macosx_{a}" for py in PYTHONS for a in ("arm64", "x86_64")}


def test_workflow_has_a_runner_per_native_architecture() -> None:
    yaml = pytest.importorskip("yaml", reason="pip install pyyaml")
    wf = yaml.safe_load(WORKFLOW.read_text())
    job = wf["jobs"]["wheels"]
    runners = set(job["strategy"]["matrix"]["os"])
    # Linux and Windows build archs = native: one runner per architecture, each tests what it built.
    assert {"ubuntu-latest", "ubuntu-24.04-arm", "windows-latest", "windows-11-arm"} <= runners
    assert any(r.startswith("macos") for r in runners)
    steps = [s.get("uses", "") for s in job["steps"]]
    assert any(s.startswith("pypa/cibuildwheel@v") for s in steps)
    sdist_runs = [s.get("run", "") for s in wf["jobs"]["sdist"]["steps"]]
    assert any("scripts/check-sdist" in r for r in sdist_runs)
    assert (ROOT / "scripts" / "check-sdist").exists()
