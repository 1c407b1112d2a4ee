"""Build vmgen's C extensions.

One extension per capability, each a Cython module over portable C:
  vmgen.switch._fields  - the zero-copy field engine behind every buffer view (csrc/switch/)
  vmgen.counter._core   - generation-counter backends, one C file per platform, psutil-style (csrc/counter/)

Environment knobs (for tests and CI, not for users):
  VMGEN_SANITIZE=1  build with -fsanitize=address,undefined (the fuzz/ASan test uses it)
  VMGEN_ONLY=NAME   build only the extension whose dotted name ends in NAME (e.g. VMGEN_ONLY=_fields);
                    VMGEN_ONLY=none builds none (scripts/test's editable install, after its in-place build)
  VMGEN_COUNTER_BACKEND=posix
                    build the portable POSIX counter (macOS's) on Linux, so its tests run here
"""
import os
import sys

from setuptools import Extension, setup

try:
    from Cython.Build import cythonize
except ImportError:  # building from a tree without Cython: fail with a clear message
    sys.exit("vmgen needs Cython>=3.3.1,<3.4 to build from source (pip installs it from pyproject.toml)")

extra_compile_args = []
extra_link_args = []
if sys.platform != "win32":
    extra_compile_args += ["-O2", "-std=c11", "-Wall", "-Wno-unused-function", "-Wno-unreachable-code"]
elif "GCC" not in sys.version:   # MSVC: C11 (_Static_assert) and acquire/release volatiles (csrc/vg_msvc_atomic.h)
    extra_compile_args += ["/std:c11", "/volatile:ms"]
if os.environ.get("VMGEN_SANITIZE"):
    flags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
    extra_compile_args += flags + ["-O1", "-g"]
    extra_link_args += flags


def ext(name, sources, include_dir, **kw):
    return Extension(
        name,
        sources,
        include_dirs=[include_dir],
        extra_compile_args=extra_compile_args,
        extra_link_args=extra_link_args,
        **kw,
    )


# One C file per platform behind csrc/counter/vg_counter.h (psutil-style).
if sys.platform == "win32":
    counter_backend = "windows"
elif sys.platform.startswith("linux"):
    counter_backend = os.environ.get("VMGEN_COUNTER_BACKEND", "linux")
else:   # macOS, the BSDs: futex-free, simulated counter only
    counter_backend = "posix"
if counter_backend not in ("windows", "linux", "posix"):
    sys.exit(f"VMGEN_COUNTER_BACKEND={counter_backend!r}: expected linux or posix")
counter_sources = ["vmgen/counter/_core.pyx", f"csrc/counter/vg_counter_{counter_backend}.c"]
counter_libraries = ["kernel32", "cfgmgr32"] if counter_backend == "windows" else []

extensions = [
    ext("vmgen.switch._fields", ["vmgen/switch/_fields.pyx"], "csrc/switch"),
    ext("vmgen.counter._core", counter_sources, "csrc/counter", libraries=counter_libraries),
]

only = os.environ.get("VMGEN_ONLY")
if only:
    extensions = [e for e in extensions if e.name.endswith("." + only)]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"embedsignature": True},
    ),
)
