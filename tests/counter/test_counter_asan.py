"""The counter's C under AddressSanitizer and UBSan: both POSIX backends (csrc/counter/vg_counter_linux.c and
csrc/counter/vg_counter_posix.c) are built with -fsanitize=address,undefined into temporary copies of the tree
and the counter test suites run over them with gcc's runtimes preloaded - waits, close racing waiters,
the vmgenid listener thread and real uevents, the POSIX backend's reference-counted epoch pipes, counter
files truncated under their mapping (the SIGBUS guard), and the leak loops of thousands of open/wait/close
cycles. Any sanitizer report fails the run."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.source_tree import (ROOT, assert_no_sanitizer_report, assert_sanitized, build_in_place, copy_source_tree,
                         sanitizer_env)

pytestmark = pytest.mark.skipif(not (ROOT / "setup.py").exists(),
                                reason="no source tree to rebuild under ASan (tests run against an installed wheel)")

# Not test_counter_fork.py: gcc 12's ASan allocator is not fork-safe (a forked child whose parent had another
# thread inside malloc deadlocks on the allocator's inherited lock, in ASan's own code); plain runs cover it.
SUITES = {
    "linux": ("counter/test_counter_simulated.py", "counter/test_counter_waits.py", "counter/test_counter_vmclock.py",
              "counter/test_counter_vmgenid.py", "counter/test_counter_files.py", "counter/test_counter_subscriptions.py",
              "cli/test_counter_cli.py"),
    "posix": ("counter/test_counter_simulated.py", "counter/test_counter_waits.py", "counter/test_counter_files.py",
              "counter/test_counter_subscriptions.py", "cli/test_counter_cli.py"),
}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="builds the Linux and POSIX backends with gcc")
@pytest.mark.parametrize("backend", ["linux", "posix"])
def test_counter_suite_under_asan(tmp_path: Path, backend: str) -> None:
    tree = copy_source_tree(tmp_path / f"vmgen-{backend}-asan", tests=SUITES[backend])
    build_in_place(tree, VMGEN_SANITIZE="1", VMGEN_COUNTER_BACKEND=backend)
    assert_sanitized(next((tree / "vmgen" / "counter").glob("_core*.so")))
    env = sanitizer_env(tree)
    r = subprocess.run([sys.executable, "-c", "import vmgen.counter._core as c; print(c.__file__, c.PLATFORM)"],
                       cwd=tree, env=env, capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == [str(next((tree / "vmgen" / "counter").glob("_core*.so"))), backend], r.stderr
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests"],
                       cwd=tree, env=env, capture_output=True, text=True, timeout=1200)
    assert_no_sanitizer_report(r)
    passed = int(re.search(r"(\d+) passed", r.stdout).group(1))
    assert passed >= {"linux": 50, "posix": 20}[backend], r.stdout[-3000:]
