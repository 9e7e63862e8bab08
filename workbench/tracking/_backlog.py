"""Points a run has taken from its buffer but not yet stored, and the store's refusals.

A flush turns the ``log`` calls buffered since the last one into a *batch*: numpy arrays of
steps, key codes, values and times sorted by key, then step (``segments.sort_points``), 28 bytes
a point instead of a Python tuple's ~150. Batches wait here, oldest first, until a segment write
succeeds. When the store refuses writes (a full disk, a quota, a read-only or failing
filesystem: ``store/_faults.py``) they stay, up to ``log_buffer_mb``; past that the oldest are
dropped and counted, and the run ends ``failed`` (docs/store.md, "Storage faults").
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable
from itertools import chain
from operator import itemgetter
from typing import Any

from workbench.store import segments

__all__ = ["Backlog", "Batch", "fold", "merge", "prepare"]

#: (steps int64, codes int32, names, values float64, times float64), sorted by key then step
Batch = tuple[Any, Any, list[str], Any, Any]

_first, _second, _third = itemgetter(0), itemgetter(1), itemgetter(2)
#: points in one segment written from a backlog (a backlog of many batches is written in parts,
#: so a little free space stores a part rather than nothing)
SEGMENT_POINTS = 1_000_000


def batch_bytes(batch: Batch) -> int:
    steps, codes, names, values, times = batch
    return int(steps.nbytes + codes.nbytes + values.nbytes + times.nbytes) + 64 * len(names)


def prepare(entries: list[tuple[int, float, dict[str, Any]]], columns: list[tuple[str, list[Any]]],
            clock: list[Any] | None = None) -> Batch | None:
    """The points of buffered ``log`` calls as a batch; None when they hold none.

    ``entries`` are ``(step, time, {key: value})`` (calls with several keys); ``columns`` are
    ``(key, [step, value, step, value, ...])`` (calls with one key, see ``Run._columns``), whose
    wall times come from ``clock``: ``[step, time, ...]`` pairs in call order, a point taking the
    time of the first pair with its step.
    """
    import numpy as np

    count = len(entries)
    if not count and columns:
        batch = _sorted_columns(columns, clock)
        if batch is not None:
            return batch
    # itemgetter maps, not zip(*entries): unpacking 10^5 arguments is 10x slower
    dicts = list(map(_third, entries))
    lengths = np.fromiter(map(len, dicts), np.int64, count)
    total = int(lengths.sum())
    keys = list(chain.from_iterable(dicts))
    if total + sum(len(pairs) for _, pairs in columns) == 0:
        return None
    try:
        values = np.fromiter(chain.from_iterable(map(dict.values, dicts)), np.float64, total)
    except OverflowError:  # an int beyond float64 (10**400): kept as +-inf, not lost with the rest
        values = np.fromiter(map(_as_float, chain.from_iterable(map(dict.values, dicts))), np.float64, total)
    names = list(dict.fromkeys(chain(keys, (key for key, _ in columns))))
    index = {name: i for i, name in enumerate(names)}
    codes = np.fromiter(map(index.__getitem__, keys), np.int32, total)
    steps = np.repeat(np.fromiter(map(_first, entries), np.int64, count), lengths)
    times = np.repeat(np.fromiter(map(_second, entries), np.float64, count), lengths)
    if columns:
        # the flat pairs split by slicing (C), then one conversion each: steps were checked ints
        # (or equal to one: a numpy int, True) when their step's clock pair was added
        joined = np.array(list(chain.from_iterable(pairs[0::2] for _, pairs in columns)), np.int64)
        codes = np.concatenate([codes, *(np.full(len(pairs) // 2, index[key], np.int32) for key, pairs in columns)])
        values = np.concatenate([values, np.array(list(chain.from_iterable(pairs[1::2] for _, pairs in columns)),
                                                  np.float64)])
        times = np.concatenate([times, _clock_times(joined, clock)])
        steps = np.concatenate([steps, joined])
    return segments.sort_points(steps, codes, names, values, times)


def _sorted_columns(columns: list[tuple[str, list[Any]]], clock: list[Any] | None) -> Batch | None:
    """One-key calls only, each key's steps in order (the usual case): the batch is the columns
    in key order, already sorted, no sort of the points needed; None when a key's steps go back."""
    import numpy as np

    columns = sorted(columns, key=_first)
    parts = [np.fromiter(pairs[0::2], np.int64, len(pairs) // 2) for _, pairs in columns]
    if not all(len(part) < 2 or bool((part[1:] >= part[:-1]).all()) for part in parts):
        return None
    steps = np.concatenate(parts) if len(parts) > 1 else parts[0]
    values = np.concatenate([np.fromiter(pairs[1::2], np.float64, len(pairs) // 2) for _, pairs in columns])
    codes = np.repeat(np.arange(len(parts), dtype=np.int32), [len(part) for part in parts])
    return steps, codes, [key for key, _ in columns], values, _clock_times(steps, clock)


def _clock_times(steps: Any, clock: list[Any] | None) -> Any:
    """The time of each of ``steps``: that of the first clock pair with the same step (a step's
    first call; points of a step revisited later in the same flush carry that time too)."""
    import time

    import numpy as np

    if not clock:
        return np.full(len(steps), time.time())
    pair_steps = np.array(clock[0::2], np.int64)
    pair_times = np.array(clock[1::2], np.float64)
    if len(pair_steps) < 2 or bool((pair_steps[1:] > pair_steps[:-1]).all()):
        known, at = pair_steps, pair_times  # each step once, in order (the usual case)
    else:
        # the first pair of each step: sort by step, stable, and keep the first of each run
        order = np.argsort(pair_steps, kind="stable")
        sorted_steps = pair_steps[order]
        first = np.r_[True, sorted_steps[1:] != sorted_steps[:-1]]
        known, at = sorted_steps[first], pair_times[order][first]
    low = int(known[0])
    if int(known[-1]) - low < 4 * len(known) + 1024:
        # steps close together (the usual case): a table indexed by step, no search
        table = np.full(int(known[-1]) - low + 1, np.nan)
        table[known - low] = at
        inside = (steps >= low) & (steps <= known[-1])
        found = table[np.where(inside, steps - low, 0)]
        return np.where(inside & ~np.isnan(found), found, time.time())
    where = np.clip(np.searchsorted(known, steps), 0, len(known) - 1)
    found = known[where] == steps
    return np.where(found, at[where], time.time())  # a step without a pair cannot happen; now, if it did


def merge(batches: list[Batch]) -> Batch:
    """One batch holding the points of ``batches`` (each sorted), sorted again."""
    if len(batches) == 1:
        return batches[0]
    import numpy as np

    names = list(dict.fromkeys(name for batch in batches for name in batch[2]))
    index = {name: i for i, name in enumerate(names)}
    codes = np.concatenate(
        [np.fromiter(map(index.__getitem__, batch[2]), np.int32, len(batch[2]))[batch[1]] for batch in batches]
    )
    steps, values, times = (np.concatenate([batch[i] for batch in batches]) for i in (0, 3, 4))
    return segments.sort_points(steps, codes, names, values, times)


def fold(stats: dict[str, dict[str, Any]], summary: dict[str, Any], pinned: set[str], batch: Batch) -> None:
    """Fold the points of ``batch`` into the per-key ``stats`` and the ``summary`` (the value at
    each key's highest step; ``pinned`` keys keep the value set by hand)."""
    import numpy as np

    steps, codes, names, values, _ = batch
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    with np.errstate(invalid="ignore", over="ignore"):
        mins = np.fmin.reduceat(values, starts)
        maxs = np.fmax.reduceat(values, starts)
        sums = np.add.reduceat(values, starts)
    for start, end, lo, hi, total in zip(starts.tolist(), ends.tolist(), mins.tolist(), maxs.tolist(),
                                         sums.tolist()):
        key = names[codes[start]]
        stat = stats.get(key)
        if stat is None:
            # first: the value logged first (for define_metric(summary="first")); sum: for "mean"
            stat = {"count": 0, "min": lo, "max": hi, "step": -1, "first": float(values[start]), "sum": 0.0}
            stats[key] = stat
        else:
            stat["min"] = _fmin(stat["min"], lo)
            stat["max"] = _fmax(stat["max"], hi)
        stat["sum"] = stat.get("sum", 0.0) + total
        stat["count"] += end - start
        last_step = int(steps[end - 1])
        # the value at the highest step is the summary (ties: the one logged last)
        if last_step >= stat.get("step", -1):
            stat["last"] = float(values[end - 1])
            stat["step"] = last_step
            if key not in pinned:
                summary[key] = stat["last"]


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _fmin(a: float, b: float) -> float:
    """min() that ignores a NaN on either side."""
    return b if math.isnan(a) else a if math.isnan(b) else min(a, b)


def _fmax(a: float, b: float) -> float:
    """max() that ignores a NaN on either side."""
    return b if math.isnan(a) else a if math.isnan(b) else max(a, b)


class Backlog:
    """Batches waiting to be written, oldest first, and the points given up so far."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit = limit_bytes
        self._batches: collections.deque[Batch] = collections.deque()
        self.nbytes = 0
        #: points given up: while writes failed and the backlog was over ``limit``; by finish()
        self.dropped_over_limit = 0
        self.dropped_at_finish = 0
        self.lost_steps: tuple[int, int] | None = None

    def __bool__(self) -> bool:
        return bool(self._batches)

    def __iter__(self) -> Any:
        return iter(self._batches)

    @property
    def points(self) -> int:
        return sum(len(batch[0]) for batch in self._batches)

    @property
    def lost(self) -> int:
        return self.dropped_over_limit + self.dropped_at_finish

    def append(self, batch: Batch) -> None:
        self._batches.append(batch)
        self.nbytes += batch_bytes(batch)

    def pop_group(self) -> list[Batch]:
        """The oldest batches, together at most :data:`SEGMENT_POINTS` points (at least one)."""
        group = [self._batches.popleft()]
        total = len(group[0][0])
        while self._batches and total + len(self._batches[0][0]) <= SEGMENT_POINTS:
            total += len(self._batches[0][0])
            group.append(self._batches.popleft())
        self.nbytes -= sum(map(batch_bytes, group))
        return group

    def put_back(self, group: Iterable[Batch]) -> None:
        """Return a group that was not written to the front, in its order."""
        group = list(group)
        self._batches.extendleft(reversed(group))
        self.nbytes += sum(map(batch_bytes, group))

    def drop_over_limit(self) -> int:
        """Drop the oldest batches until the backlog fits ``limit``; the points dropped."""
        dropped = 0
        while self._batches and self.nbytes > self.limit:
            dropped += self._drop_oldest()
        self.dropped_over_limit += dropped
        return dropped

    def drop_all(self) -> int:
        dropped = 0
        while self._batches:
            dropped += self._drop_oldest()
        self.dropped_at_finish += dropped
        return dropped

    def _drop_oldest(self) -> int:
        batch = self._batches.popleft()
        self.nbytes -= batch_bytes(batch)
        steps = batch[0]
        if len(steps):
            low, high = int(steps.min()), int(steps.max())
            if self.lost_steps is not None:
                low, high = min(low, self.lost_steps[0]), max(high, self.lost_steps[1])
            self.lost_steps = (low, high)
        return len(steps)
