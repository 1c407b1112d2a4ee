"""Measurements of the windows backend, run INSIDE the Windows CPython under Wine (benchmarks/bench_windows.py
starts it through the rig). Prints one JSON object.

    python win_measure.py [--quick]

hot path: per-call cost of c.changed(token) vs a polling IOCTL per check (ctypes DeviceIoControl on an open
handle, and vmgen's own c.read()) vs len(b'') (the cost of the cheapest C call, the floor).
wake latency: driver "set" (a DeviceIoControl on the control device) -> c.wait() returns, p50/p99, with the
set made by this process (another thread) and by another Wine process; plus set -> changed() turns True.
"""
import ctypes
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import timeit
from ctypes import wintypes

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "rigs", "windows"))

import winctl  # noqa: E402

import vmgen  # noqa: E402
from vmgen import Generation  # noqa: E402

QUICK = "--quick" in sys.argv


def per_call_ns(stmt, glb, number):
    t = min(timeit.repeat(stmt, globals=glb, number=number, repeat=5))
    return t / number * 1e9


def pct(values, p):
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def hot_path(c):
    t = c.token()
    h = winctl._open(winctl.COUNTER_PATH)
    buf = ctypes.create_string_buffer(16)
    n = wintypes.DWORD()
    ioctl = winctl.k32.DeviceIoControl
    code = winctl.IOCTL_VMGENCOUNTER_READ
    nref = ctypes.byref(n)
    glb = dict(c=c, t=t, ioctl=ioctl, h=h, code=code, buf=buf, nref=nref)
    number = 20000 if QUICK else 1000000
    res = {
        "len_ns": per_call_ns("len(b'')", glb, number),
        "changed_ns": per_call_ns("c.changed(t)", glb, number),
        "ioctl_ctypes_ns": per_call_ns("ioctl(h, code, None, 0, buf, 16, nref, None)", glb, max(200, number // 100)),
        "read_ns": per_call_ns("c.read()", glb, max(200, number // 100)),
    }
    winctl.k32.CloseHandle(h)
    return res


def wake_same_process(c, rounds):
    lat, hot = [], []
    for i in range(rounds):
        g = c.read()
        new = Generation(g.count + 1, g.count_high)
        out = {}
        ready = threading.Event()

        def waiter():
            ready.set()
            c.wait(g, timeout=10)
            out["t1"] = time.perf_counter_ns()

        th = threading.Thread(target=waiter)
        th.start()
        ready.wait()
        time.sleep(0.003)                    # let the IOCTL reach the driver
        t = c.token()
        t0 = time.perf_counter_ns()
        winctl.set_generation(new.count, new.count_high)
        while not c.changed(t):              # hot path: the background watcher publishes
            pass
        hot.append(time.perf_counter_ns() - t0)
        th.join()
        lat.append(out["t1"] - t0)
    return lat, hot


CHILD = r"""
import sys, time
sys.path.insert(0, %r)
import winctl
base, high, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for i in range(1, rounds + 1):
    time.sleep(0.008)
    t0 = time.perf_counter_ns()
    winctl.set_generation(base + i, high)
    print(base + i, t0, flush=True)
"""


def wake_cross_process(c, rounds):
    g = c.read()
    got = {}

    def waiter():
        seen = g
        while len(got) < rounds:
            try:
                new = c.wait(seen, timeout=20)
            except TimeoutError:
                return
            got[new.count] = time.perf_counter_ns()
            seen = new

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.05)
    code = CHILD % os.path.join(os.path.dirname(HERE), "tests", "rigs", "windows")
    p = subprocess.run([sys.executable, "-c", code, str(g.count), str(g.count_high), str(rounds)],
                       capture_output=True, text=True, timeout=300)
    th.join(30)
    lat = []
    for line in p.stdout.split("\n"):
        if line.strip():
            count, t0 = map(int, line.split())
            if count in got:
                lat.append(got[count] - t0)
    return lat


def summary(ns):
    us = [v / 1000 for v in ns]
    return {"n": len(us), "p50_us": round(statistics.median(us), 1), "p99_us": round(pct(us, 99), 1),
            "min_us": round(min(us), 1), "max_us": round(max(us), 1)}


def main():
    winctl.set_flags(0)
    rounds = 30 if QUICK else 300
    with vmgen.open("windows") as c:
        hp = hot_path(c)
        same, hot = wake_same_process(c, rounds)
        cross = wake_cross_process(c, rounds)
    res = {
        "hot_path": {k: round(v, 1) for k, v in hp.items()},
        "ratios": {
            "ioctl_ctypes_per_changed": round(hp["ioctl_ctypes_ns"] / hp["changed_ns"], 1),
            "read_per_changed": round(hp["read_ns"] / hp["changed_ns"], 1),
            "changed_per_len": round(hp["changed_ns"] / hp["len_ns"], 2),
        },
        "wake_same_process": summary(same),
        "changed_after_set_same_process": summary(hot),
        "wake_cross_process": summary(cross) if cross else None,
        "python": sys.version.split()[0],
        "quick": QUICK,
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main()
