"""Downsampling that keeps spikes: M4 (first, last, min, max of each bucket), plus any NaN.

Each series is cut into at most ``samples // 4`` (+1) buckets of equal step width; from each bucket the
first, last, lowest and highest points are kept (and the first NaN, so a divergence stays
visible). A line drawn through them looks like the line through every point at that width,
and no spike disappears, unlike plain striding or averaging. LTTB keeps shape but may drop a
one-point spike when its neighbours dominate; M4 never does.
"""

from __future__ import annotations

from typing import Any

__all__ = ["m4_indices"]


def m4_indices(steps: Any, values: Any, samples: int, window: tuple[int, int] | None = None) -> Any:
    """Sorted indices into one series (sorted by step) to keep, at most about ``samples``.

    The buckets are ``step // width`` with the width of :func:`workbench.store.tiles.bucket_width`
    over ``window`` (lo, hi; default the series' first to last step): aligned to multiples of the
    width, so that tiles (precomputed M4 of power-of-two buckets) give the same buckets.
    """
    import numpy as np

    from workbench.store.tiles import bucket_width

    n = len(steps)
    if n <= samples or samples < 4:
        return np.arange(n) if n <= samples else np.linspace(0, n - 1, max(samples, 1)).astype(np.int64)
    lo, hi = (int(steps[0]), int(steps[-1])) if window is None else window
    bucket = steps // bucket_width(lo, hi, samples)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], n] - 1
    positions = np.arange(n)
    finite = np.where(np.isnan(values), np.inf, values)
    counts = np.diff(np.r_[starts, n])
    mins = np.minimum.reduceat(finite, starts)
    argmin = np.minimum.reduceat(np.where(finite == np.repeat(mins, counts), positions, n), starts)
    finite_hi = np.where(np.isnan(values), -np.inf, values)
    maxs = np.maximum.reduceat(finite_hi, starts)
    argmax = np.minimum.reduceat(np.where(finite_hi == np.repeat(maxs, counts), positions, n), starts)
    nan_first = np.minimum.reduceat(np.where(np.isnan(values), positions, n), starts)
    keep = np.concatenate([starts, ends, argmin, argmax, nan_first])
    keep = keep[keep < n]
    return np.unique(keep)
