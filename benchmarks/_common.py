"""Helpers shared by the benchmark scripts: timing and a result line format."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in seconds over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(name: str, value: float, unit: str, target: str, ok: bool, baseline: str = "") -> None:
    flag = "PASS" if ok else "FAIL"
    extra = f"  ({baseline})" if baseline else ""
    print(f"{name:<52} {value:>12.3f} {unit:<9} target {target:<12} {flag}{extra}", flush=True)
