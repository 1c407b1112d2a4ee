"""The README's commands work verbatim, from the repository root of a fresh clone, in a fresh venv (issue 15).

The commands are parsed from README.md, so the test follows the README rather than a copy of it:
the "Set-up" block's two commands (install and run; test) and the "Benchmarks" block's commands, run in the
order a reader meets them, in one venv made for the run (what a new user has: a Python with pip, no vmgen).

Each is run exactly as written, through bash, from the clone's root. Two knobs, both documented by the script
they steer, keep this from repeating the whole suite inside itself:
  * the test command (``bash scripts/test``) gets pytest's own PYTEST_ADDOPTS naming a few test files: the
    script still installs every requirement, builds in place and installs, and pytest runs those files;
  * the benchmark commands get VMGEN_BENCH_QUICK=1 (scripts/bench): each benchmark runs once, as a test.

The clone is the repository's files as they stand (tracked and not ignored), copied: a fresh clone of a commit of
this work tree, uncommitted changes included. Nothing from the surrounding environment leaks in (no PYTHONPATH,
no VMGEN_* settings other than the rig's, no active venv), and pip's own cache is used as a user's would be.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
pytestmark = [
    pytest.mark.skipif(not (ROOT / ".git").exists() or shutil.which("git") is None,
                       reason="no git work tree to clone (tests run against an installed package or an sdist)"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the README's commands are for Debian"),
]

# Test files the test command runs here: the CLI as a user runs it (`python -m vmgen`, the in-place build) and
# the C views (a missing C extension fails there, it does not skip).
TEST_SELECTION = "tests/cli/test_counter_cli.py tests/switch/test_zero_copy.py"


def _blocks(markdown: str) -> List[Tuple[str, List[str]]]:
    """(the nearest heading or paragraph line before it, commands) for every ```sh block."""
    out: List[Tuple[str, List[str]]] = []
    lines = markdown.splitlines()
    i = 0
    context = ""
    while i < len(lines):
        line = lines[i]
        if line.startswith("```sh"):
            j = i + 1
            cmds = []
            while not lines[j].startswith("```"):
                cmd = re.sub(r"\s{2,}#.*$", "", lines[j]).strip()   # a trailing "  # comment"
                if cmd and not cmd.startswith("#"):
                    cmds.append(cmd)
                j += 1
            out.append((context, cmds))
            i = j + 1
            continue
        if line.strip():
            context = line.strip()
        i += 1
    return out


def readme_commands() -> Dict[str, List[str]]:
    """{"setup": [install-and-run, test], "bench": [...]} as README.md states them."""
    text = README.read_text(encoding="utf-8")
    setup_at = text.index("## Set-up")
    setup = _blocks(text[setup_at:])[0][1]
    bench = next(cmds for context, cmds in _blocks(text[setup_at:]) if context.startswith("Benchmarks"))
    return {"setup": setup, "bench": bench}


def test_readme_has_the_commands_this_test_runs() -> None:
    """The parse finds what the README promises: two set-up commands (the first installs), benchmark commands."""
    cmds = readme_commands()
    assert len(cmds["setup"]) == 2, cmds
    install, test = cmds["setup"]
    assert install.startswith("pip install .") and "scripts/test" in test, cmds
    assert cmds["bench"] and all("bench" in c for c in cmds["bench"]), cmds


def _fresh_clone(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if not src.exists():     # deleted in the work tree, not yet committed
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / name)
    return dest


def _user_env(venv: Path) -> Dict[str, str]:
    """A shell in an activated fresh venv: nothing of this test run's own environment that would steer vmgen."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "PYTEST", "VIRTUAL_ENV", "CONDA")) and not k.startswith("VMGEN_")}
    for keep in ("VMGEN_WINE_RIG_CACHE", "VMGEN_PY313_INCLUDE"):   # where the Wine rig lives, not what vmgen does
        if keep in os.environ:
            env[keep] = os.environ[keep]
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run(cmd: str, cwd: Path, env: Dict[str, str], timeout: int = 1800) -> subprocess.CompletedProcess:
    t = time.monotonic()
    r = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    print(f"$ {cmd}  [{time.monotonic() - t:.0f} s, exit {r.returncode}]")
    return r


def _tail(r: subprocess.CompletedProcess) -> str:
    return f"\n--- stdout ---\n{r.stdout[-5000:]}\n--- stderr ---\n{r.stderr[-5000:]}"


def test_readme_commands_work_verbatim_in_a_fresh_clone(tmp_path: Path) -> None:
    cmds = readme_commands()
    install, test = cmds["setup"]
    clone = _fresh_clone(tmp_path / "vmgen")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = _user_env(venv)

    # 1. Install and run: builds, installs into the venv, runs the installed command.
    r = _run(install, clone, env)
    assert r.returncode == 0, _tail(r)
    lines = r.stdout.splitlines()
    report = [i for i, line in enumerate(lines) if line.startswith("backend: ")]   # after pip's own output
    assert report, _tail(r)
    lines = lines[report[-1]:]
    for name in ("windows", "vmclock", "vmgenid", "simulated"):
        assert any(line.split()[:1] == [name] for line in lines), _tail(r)
    assert "Traceback" not in r.stderr, _tail(r)
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import vmgen; print(vmgen.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr   # installed, not found by accident

    # 2. The test command, verbatim; pytest runs the selection (PYTEST_ADDOPTS: see the module docstring).
    r = _run(test, clone, dict(env, PYTEST_ADDOPTS=TEST_SELECTION))
    assert r.returncode == 0, _tail(r)
    summary = r.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary) and "failed" not in summary and "error" not in summary, _tail(r)
    assert list((clone / "vmgen" / "switch").glob("_fields*.so")), "scripts/test did not build in place"
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import vmgen.switch._fields as f, vmgen.counter._core as c; print(f.__file__); print(c.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0 and all(line.startswith(str(clone)) for line in where.stdout.splitlines()), \
        where.stdout + where.stderr   # the editable install: this clone's in-place build, from any directory

    # 3. The benchmark commands, verbatim, each benchmark once.
    for bench in cmds["bench"]:
        r = _run(bench, clone, dict(env, VMGEN_BENCH_QUICK="1", PYTEST_ADDOPTS="-rA"))
        assert r.returncode == 0, _tail(r)
        if "--ratios" in bench:
            for op in ("read", "write", "wrap", "decode"):
                assert re.search(rf"^{op}\s+\S+.*\d+\.\d+x", r.stdout, re.M), _tail(r)
        elif "--callgrind" in bench:   # the instruction-count table, one row per hot path, a ratio in each
            for row in ("c.changed(t)", "vmgen.NicSaveState(buf)", "v.port_id", "v.port_id = 5"):
                assert re.search(rf"^\| `{re.escape(row)}`.* \| \d+\.\d+x", r.stdout, re.M), _tail(r)
        else:
            for op in ("read", "write", "wrap", "decode"):   # the C engine's views ran
                assert f"PASSED benchmarks/bench_views.py::test_{op}_vmgen" in r.stdout, _tail(r)
            assert re.search(r"\b\d+ passed\b", r.stdout.strip().splitlines()[-1]), _tail(r)
