"""Points of an imported run, written as the store's metric segments of its staged copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.importers._model import Series

__all__ = ["SEGMENT_POINTS", "Points", "series_arrays"]

#: points buffered before a segment is written (as a live run's backlog writes them)
SEGMENT_POINTS = 1_000_000


class Points:
    """New points of a run, buffered across keys and written as segments of the staged run."""

    def __init__(self, metrics_dir: Path, stats: dict[str, dict[str, Any]], summary: dict[str, Any],
                 pinned: set[str], fallback_time: float) -> None:
        from workbench.store import segments

        self.metrics_dir = metrics_dir
        self.sequence = segments.next_sequence(metrics_dir)
        self.stats, self.summary, self.pinned = stats, summary, pinned
        self.fallback_time = fallback_time
        self.parts: list[tuple[str, Any, Any, Any]] = []
        self.buffered = 0
        self.added = 0
        self.segments = 0
        self.first_time: float | None = None
        self.last_time: float | None = None

    def add(self, key: str, steps: Any, values: Any, times: Any) -> None:
        import numpy as np

        if not len(steps):
            return
        finite = times[np.isfinite(times)]
        if len(finite):
            low, high = float(finite.min()), float(finite.max())
            self.first_time = low if self.first_time is None else min(self.first_time, low)
            self.last_time = high if self.last_time is None else max(self.last_time, high)
        self.parts.append((key, steps, values, times))
        self.buffered += len(steps)
        if self.buffered >= SEGMENT_POINTS:
            self.flush()

    def flush(self) -> None:
        import numpy as np

        from workbench.store import segments
        from workbench.tracking import _backlog

        if not self.parts:
            return
        names = list(dict.fromkeys(key for key, *_ in self.parts))
        index = {name: i for i, name in enumerate(names)}
        codes = np.concatenate([np.full(len(s), index[k], np.int32) for k, s, _, _ in self.parts])
        steps = np.concatenate([s for _, s, _, _ in self.parts])
        values = np.concatenate([v for _, _, v, _ in self.parts])
        times = np.concatenate([t for _, _, _, t in self.parts])
        batch = segments.sort_points(steps, codes, names, values, times)
        segments.write_segment(self.metrics_dir, self.sequence, segments.make_table(*batch), fsync=False)
        self.sequence += 1
        self.segments += 1
        _backlog.fold(self.stats, self.summary, self.pinned, batch)
        self.added += len(steps)
        self.parts, self.buffered = [], 0


def series_arrays(series: Series, fallback_time: float) -> tuple[Any, Any, Any, str | None]:
    """Steps (int64), values (float64) and times (float64) of ``series``; a problem, or None."""
    import numpy as np

    try:
        steps = np.asarray(series.steps, dtype=np.int64)
        values = np.asarray(series.values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        return None, None, None, f"its points are not numbers ({exc})"
    if steps.ndim != 1 or values.shape != steps.shape:
        return None, None, None, f"{len(steps)} steps but {len(values)} values"
    if series.times is None:
        times = np.full(len(steps), fallback_time)
    else:
        try:
            times = np.asarray(series.times, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            return None, None, None, f"its times are not numbers ({exc})"
        if times.shape != steps.shape:
            return None, None, None, f"{len(steps)} steps but {len(times)} times"
        bad = ~np.isfinite(times) | (np.abs(times) > 2**33)
        if bad.any():
            times = np.where(bad, fallback_time, times)
    return steps, values, times, None
