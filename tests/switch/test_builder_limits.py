"""Issue 13: builders check every length against its field before copying anything.

The data is a 5 GiB memoryview over a sparse file mapped read-only (no memory behind it) or an object whose
len() is huge (range). The check runs in a child process whose address space is capped just above what it
has mapped, so a copy cannot succeed (MemoryError) and cannot hurt the machine, and tracemalloc's peak
shows that nothing was allocated. Negative controls in the same child: copying 64 MiB of the mapping shows
up in the peak, and copying all of it hits the cap.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(r'''
    import mmap, os, resource, sys, tracemalloc, uuid
    engine = sys.argv[2]
    if engine == "ref":
        import vmgen._reference as v
    else:
        import vmgen as v
    from vmgen import BufferTooShort

    GIB = 1 << 30
    with open(sys.argv[1], "wb") as f:
        f.truncate(5 * GIB)                                   # sparse: no blocks, no memory
    with open(sys.argv[1], "rb") as f:
        huge = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    assert huge.nbytes == 5 * GIB

    def vm_size():
        with open("/proc/self/status") as st:
            return next(int(l.split()[1]) * 1024 for l in st if l.startswith("VmSize:"))
    cap = vm_size() + 512 * (1 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    EXT = uuid.UUID(int=1)
    cases = {
        "NicSaveState.build": lambda: v.NicSaveState.build(EXT, "x", huge),
        "NicSaveState.build(into=)": lambda: v.NicSaveState.build(EXT, "x", huge, into=bytearray(600)),
        "NicSaveState.fill": lambda: v.NicSaveState.fill(bytearray(600), extension_id=EXT,
                                                          extension_friendly_name="x", save_data=huge),
        "PropertyCustom.build": lambda: v.PropertyCustom.build(huge),
        "PortPropertyParameters.build": lambda: v.PortPropertyParameters.build(
            port_id=1, property_id=EXT, property_version="1", property_instance_id=EXT, payload=huge),
        "SwitchPropertyParameters.build": lambda: v.SwitchPropertyParameters.build(
            property_id=EXT, property_version="1", property_instance_id=EXT, payload=huge),
        "FeatureSettings.build(array)": lambda: v.FeatureSettings.build(variable_length_array=range(1 << 32)),
        "FeatureSettings.build(string)": lambda: v.FeatureSettings.build(variable_length_string=big_text),
    }
    big_text = "x" * (200 << 20)  # 200 MiB of str: encoding it would allocate 400 MiB
    for name, call in cases.items():
        tracemalloc.start()
        try:
            call()
        except OverflowError as exc:
            outcome = "OverflowError"
        except BufferTooShort as exc:
            outcome = f"BufferTooShort(bytes_needed={exc.bytes_needed})"
        except MemoryError:
            outcome = "MemoryError"
        else:
            outcome = "no error"
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"{name}|{outcome}|{peak}")

    # negative controls: the measure sees a copy, and the cap stops a full one
    tracemalloc.start()
    part = bytes(huge[:64 << 20])
    print(f"control-copy|{len(part)}|{tracemalloc.get_traced_memory()[1]}")
    tracemalloc.stop()
    del part
    try:
        bytes(huge)
        print("control-full|copied")
    except MemoryError:
        print("control-full|MemoryError")
''')


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and RLIMIT_AS")
@pytest.mark.parametrize("engine", ["c", "ref"])
def test_huge_data_is_refused_before_it_is_copied(tmp_path: Path, engine: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("VMGEN_PURE", None)
    r = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "sparse"), engine], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = {line.split("|")[0]: line.split("|")[1:] for line in r.stdout.splitlines()}
    controls = rows.pop("control-copy"), rows.pop("control-full")
    assert int(controls[0][1]) >= 64 << 20, "tracemalloc must see a 64 MiB copy"
    assert controls[1] == ["MemoryError"], "the address-space cap must stop a 5 GiB copy"
    assert len(rows) == 8
    for name, (outcome, peak) in rows.items():
        assert outcome == "OverflowError", (name, outcome)
        assert int(peak) < 1 << 20, f"{name} allocated {int(peak)} bytes before refusing"
