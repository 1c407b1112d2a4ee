"""CPU-time measurement shared by the scaling tests and the benchmarks: CPU time, not wall time, because wall
time on a shared machine mostly measures the neighbours."""
from __future__ import annotations

import time
from typing import Callable


def best_cpu_seconds(fn: Callable[[], object], rounds: int = 3) -> float:
    """The least process CPU time fn() took over `rounds` calls."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best
