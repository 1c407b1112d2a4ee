"""A MOF-generated view vs the built-in FeatureSettings (pytest-benchmark). Run:

    python3 -m pytest benchmarks/bench_mof.py --benchmark-only -s

Both views read the same 592-byte buffer: the built-in ``vmgen.FeatureSettings`` and the view
``vmgen.mof.layout(<seed 001 MOF>, c_types={"IntValue16": "UINT32"}).view_type``. Groups: a field read,
a field write, ``to_dict()``, each timed as a loop of N operations. ``test_ratios`` measures the same
three operations interleaved (best of several rounds) against the issue's target: generated speed /
built-in speed >= 0.95 (they share the field engine, so ~1.0 is expected). Targets fail a full run and are
printed in quick mode (VMGEN_BENCH_QUICK=1, see conftest.py).

Parsing (issue 19): ``measure_parse()`` parses the DMTF CIM Core+Event corpus (212 files through
``#pragma include``) and reports MB/s of CPU time (best of several rounds; CPU time, because wall time on
a shared machine measures the neighbours), pywbem's MOF compiler on the same files where installed
(time ratio), the time of 4x the text against 1x (linear: about 4), and MB/s with ``cpp=True`` (vmgen's
C preprocessor subset first). ``test_parse_throughput``'s target: >= 1 MB/s and a 4x/1x ratio < 6.
"""
from __future__ import annotations

import os
import sys
import timeit

import pytest

_TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
sys.path[:0] = [os.path.join(_TESTS, "mof"), _TESTS]

import vmgen  # noqa: E402
from vmgen import mof  # noqa: E402
from test_mof import SEED_MOF  # noqa: E402
from support.timing import best_cpu_seconds  # noqa: E402

N = 100_000
TARGET = 0.95

VALUES = dict(int_value8=1, int_value16=2, int_value32=3, int_value64=4, fixed_length_string="fixed",
              variable_length_string="variable", fixed_length_array=[1, 2, 3], variable_length_array=[4, 5, 6, 7])
GENERATED = mof.layout(mof.parse(SEED_MOF)[0], c_types={"IntValue16": "UINT32"}).view_type
RAW = bytearray(memoryview(vmgen.FeatureSettings.build(**VALUES)))
VIEWS = {"builtin": vmgen.FeatureSettings(RAW), "generated": GENERATED(RAW)}
assert VIEWS["builtin"].to_dict().keys() == VIEWS["generated"].to_dict().keys()


def _read(v):
    for _ in range(N):
        v.int_value32


def _write(v):
    for i in range(N):
        v.int_value32 = i


def _to_dict(v):
    for _ in range(N // 10):
        v.to_dict()


OPS = {"read": _read, "write": _write, "to_dict": _to_dict}


@pytest.mark.parametrize("kind", sorted(VIEWS))
@pytest.mark.benchmark(group="field-read")
def test_read(benchmark, kind):
    benchmark(_read, VIEWS[kind])


@pytest.mark.parametrize("kind", sorted(VIEWS))
@pytest.mark.benchmark(group="field-write")
def test_write(benchmark, kind):
    benchmark(_write, VIEWS[kind])


@pytest.mark.parametrize("kind", sorted(VIEWS))
@pytest.mark.benchmark(group="to_dict")
def test_to_dict(benchmark, kind):
    benchmark(_to_dict, VIEWS[kind])


def measure_ratios(rounds: int = 15) -> dict:
    """builtin time / generated time per operation, best of ``rounds`` interleaved runs (>= 1: as fast)."""
    best = {(op, kind): float("inf") for op in OPS for kind in VIEWS}
    for _ in range(rounds):
        for op, fn in OPS.items():
            for kind in ("builtin", "generated"):
                t = timeit.timeit(lambda: fn(VIEWS[kind]), number=1)
                best[op, kind] = min(best[op, kind], t)
    return {op: best[op, "builtin"] / best[op, "generated"] for op in OPS}


def test_ratios(target):
    for attempt in range(3):  # a noisy machine gets two more tries; a real slowdown fails all three
        ratios = measure_ratios()
        print("\ngenerated vs FeatureSettings (builtin time / generated time): "
              + ", ".join(f"{op} {r:.3f}" for op, r in ratios.items()))
        if min(ratios.values()) >= TARGET:
            break
    target(min(ratios.values()) >= TARGET, f"generated/built-in speed >= {TARGET}: {ratios}")


CORPUS_TOP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "mof", "corpus",
                          "dmtf-cim-2.32.0", "cim_core_event.mof")
PARSE_TARGET_MBPS = 1.0


def measure_parse(rounds: int = 5) -> dict:
    """Parse throughput (MB/s of CPU time), 4x-text scaling, and pywbem's time / vmgen's on the same corpus."""
    doc = mof.parse_file(CORPUS_TOP)
    texts = [mof.decode_mof(open(f, "rb").read())[0] for f in doc.files]
    one = "\n".join(t for t in texts if "#pragma include" not in t)   # every file once, no includes
    size = len(one.encode("utf-8"))
    four = "\n".join(one.replace("class CIM_", f"class CIM{k}_") for k in range(4))   # 4x, distinct names
    t1 = best_cpu_seconds(lambda: mof.parse_document(one), rounds)
    t4 = best_cpu_seconds(lambda: mof.parse_document(four), max(2, rounds // 2))
    out = {"bytes": size, "mb_per_s": size / 1e6 / t1, "scaling_4x": t4 / t1, "classes": len(doc.classes)}
    # the same text through vmgen's C preprocessor subset first (cpp=True: every line is scanned for macros)
    tc = best_cpu_seconds(lambda: mof.parse_document(one, cpp=True), max(2, rounds // 2))
    out["cpp_mb_per_s"] = size / 1e6 / tc
    try:
        import pywbem
    except ImportError:
        return out

    def compile_with_pywbem() -> None:
        conn = pywbem.MOFWBEMConnection()
        pywbem.MOFCompiler(conn, search_paths=[os.path.dirname(CORPUS_TOP)], verbose=False,
                           log_func=lambda m: None).compile_file(CORPUS_TOP, "root/cimv2")

    vmgen_file = best_cpu_seconds(lambda: mof.parse_file(CORPUS_TOP), rounds)
    out["pywbem_over_vmgen"] = best_cpu_seconds(compile_with_pywbem, 2) / vmgen_file
    return out


def test_parse_throughput(target):
    for attempt in range(3):
        m = measure_parse()
        print(f"\nMOF parse: {m['bytes']} bytes of DMTF CIM MOF at {m['mb_per_s']:.2f} MB/s (CPU), 4x text "
              f"{m['scaling_4x']:.2f}x the time; with cpp=True {m['cpp_mb_per_s']:.2f} MB/s"
              + (f", pywbem {m['pywbem_over_vmgen']:.1f}x vmgen's time" if "pywbem_over_vmgen" in m else ""))
        if m["mb_per_s"] >= PARSE_TARGET_MBPS and m["scaling_4x"] < 6:
            break
    target(m["mb_per_s"] >= PARSE_TARGET_MBPS and m["scaling_4x"] < 6, f">= {PARSE_TARGET_MBPS} MB/s, 4x/1x < 6: {m}")


if __name__ == "__main__":
    print(measure_ratios())
    print(measure_parse())
