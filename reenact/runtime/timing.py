"""Wall-clock timing of repeated calls: the one loop every benchmark in reenact uses.

Standard library only, so the networks (`reenact.nn.export`) and the tools can use it
without importing a backend.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def time_calls(fn: Callable[[], object], runs: int, warmup: int) -> list[float]:
    """Seconds per call of `fn` over `runs` calls after `warmup` untimed ones."""
    if runs < 1 or warmup < 0:
        raise ValueError(f"need runs >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_ms(fn: Callable[[], object], runs: int = 50, warmup: int = 5) -> float:
    """Median wall time of one call of `fn`, in milliseconds."""
    return statistics.median(time_calls(fn, runs, warmup)) * 1e3
