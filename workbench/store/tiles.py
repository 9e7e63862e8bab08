"""M4 tiles: a multi-resolution summary of a metric file, so a chart of any window of a long run
reads a few thousand rows instead of millions of points (docs/store.md, "Tiles").

Beside each compacted metric file ``metrics/c-<a>-<b>.parquet`` of at least :data:`MIN_ROWS`
points lies ``metrics/tiles/c-<a>-<b>.<size>.parquet`` (``size``: the metric file's size in
bytes, so a tile file never speaks for another version of its file). One row per key, level and
bucket: for level ``k`` the bucket ``b`` holds the steps ``b * 2**k .. (b + 1) * 2**k - 1``; the row
keeps the count of points and the first, last, lowest and highest point (step, value and time:
real points, not aggregates) and the first NaN (step and time). Level :data:`TOTAL` holds one row
per key for the whole file, whose ``bucket`` is the bit mask of the levels the file has.

Tiles are derived data: a missing, stale or unreadable tile file only means raw reads.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench._private import make_dir

__all__ = [
    "LEVELS",
    "MIN_ROWS",
    "TOTAL",
    "Builder",
    "bucket_width",
    "build",
    "empty",
    "from_points",
    "points",
    "reduce",
    "sidecar",
    "tile_dir",
    "usable_level",
]

#: bucket widths 2**k for these k (finer levels than these are read raw: a few hundred thousand points)
LEVELS = (8, 10, 12, 14, 16, 18, 20, 22, 24, 26)
#: a metric file with fewer points has no tiles: reading it raw is as fast (M4 of a key's
#: 100,000 points takes a few ms), and a short run's finish does not pay for building them (a
#: W1-sized run of 200,000 points paid 40-70 ms with 65,536 here)
MIN_ROWS = 1 << 20
#: a metric file smaller than this is not opened to see whether it needs tiles (rebuild)
SMALL_BYTES = 2 * 1024 * 1024
#: the level of the per-key whole-file row
TOTAL = -1
#: "no such point" in the step columns (min/max of a bucket of NaNs only; a bucket without NaN)
NONE = (1 << 63) - 1
FIELDS = ("count", "first_step", "first_value", "first_time", "last_step", "last_value", "last_time",
          "min_step", "min_value", "min_time", "max_step", "max_value", "max_time", "nan_step", "nan_time")
_STEP_FIELDS = ("first_step", "last_step", "min_step", "max_step", "nan_step")
_NAME = re.compile(r"((?:c-\d{8}-|s-)\d{8})\.(\d{1,15})\.parquet\Z")


def tile_dir(metrics_dir: Path) -> Path:
    return metrics_dir / "tiles"


def sidecar(path: Path, size: int) -> Path:
    """The tile file of metric file ``path`` when it has ``size`` bytes."""
    return tile_dir(path.parent) / f"{path.name[:-len('.parquet')]}.{int(size)}.parquet"


def available(metrics_dir: Path) -> set[str]:
    """The names in the run's tile directory (one listing; empty when there is none)."""
    try:
        return set(os.listdir(tile_dir(metrics_dir)))
    except (FileNotFoundError, NotADirectoryError):
        return set()


def bucket_width(lo: int, hi: int, samples: int) -> int:
    """The step width of the M4 buckets of ``samples`` points over steps lo..hi.

    At least ``span / (samples // 4)``, rounded up to a multiple of a power of two at most a
    quarter of it (so within 25%): buckets are ``step // width``, aligned to multiples of the
    width, and a tile level ``k`` with ``2**k`` dividing the width fills whole buckets.
    """
    buckets = max(samples // 4, 1)
    span = max(hi - lo + 1, 1)
    want = -(-span // buckets)
    grain = 1 << max(want.bit_length() - 1 - 2, 0)
    return -(-want // grain) * grain


def usable_level(width: int, mask: int) -> int | None:
    """The coarsest level in ``mask`` (bit k: level k) whose buckets tile buckets of ``width`` and
    are at most a quarter of it; None when there is none (read raw)."""
    best = None
    for level in range(63):
        if mask >> level & 1 and width % (1 << level) == 0 and (1 << level) * 4 <= width:
            best = level
    return best


# -- building ---------------------------------------------------------------------------------------
def from_points(steps: Any, values: Any, times: Any) -> dict[str, Any]:
    """Points as one-point tiles (the form :func:`reduce` takes)."""
    import numpy as np

    nan = np.isnan(values)
    return {"count": np.ones(len(steps), np.int64),
            "first_step": steps, "first_value": values, "first_time": times,
            "last_step": steps, "last_value": values, "last_time": times,
            "min_step": steps, "min_value": values, "min_time": times,
            "max_step": steps, "max_value": values, "max_time": times,
            "nan_step": np.where(nan, steps, NONE), "nan_time": times}


def reduce(rows: dict[str, Any], groups: Any) -> tuple[Any, dict[str, Any]]:
    """Merge tiles ``rows`` (numpy columns of :data:`FIELDS`, sorted by ``groups``) per group: the
    groups and their tiles. Exact: the lowest point of a group is the lowest of its rows' (the
    earliest step among equals), as M4 over the raw points picks it."""
    import numpy as np

    n = len(groups)
    if not n:
        return groups[:0], {f: rows[f][:0] for f in FIELDS}
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    counts = np.diff(np.r_[starts, n])
    positions = np.arange(n)
    out: dict[str, Any] = {"count": np.add.reduceat(rows["count"], starts)}

    def pick(mask: Any) -> Any:  # the first row of each group where mask holds (n: none)
        return np.minimum.reduceat(np.where(mask, positions, n), starts)

    def take(name: str, at: Any, none_step: bool) -> None:
        found = at < n
        safe = np.where(found, at, 0)
        out[f"{name}_step"] = np.where(found, rows[f"{name}_step"][safe], NONE) if none_step \
            else rows[f"{name}_step"][safe]
        if f"{name}_value" in rows:
            out[f"{name}_value"] = np.where(found, rows[f"{name}_value"][safe], np.nan)
        out[f"{name}_time"] = np.where(found, rows[f"{name}_time"][safe], np.nan)

    first = np.minimum.reduceat(rows["first_step"], starts)
    take("first", pick(rows["first_step"] == np.repeat(first, counts)), False)
    last = np.maximum.reduceat(rows["last_step"], starts)
    is_last = rows["last_step"] == np.repeat(last, counts)
    at_last = np.maximum.reduceat(np.where(is_last, positions, -1), starts)
    take("last", at_last, False)
    for name, ufunc, fill in (("min", np.minimum, np.inf), ("max", np.maximum, -np.inf)):
        values = rows[f"{name}_value"]
        filled = np.where(np.isnan(values), fill, values)
        best = ufunc.reduceat(filled, starts)
        hit = (values == np.repeat(best, counts)) & (rows[f"{name}_step"] != NONE)
        step = np.minimum.reduceat(np.where(hit, rows[f"{name}_step"], NONE), starts)
        take(name, pick(hit & (rows[f"{name}_step"] == np.repeat(step, counts))), True)
    nan_step = np.minimum.reduceat(rows["nan_step"], starts)
    at_nan = pick((rows["nan_step"] == np.repeat(nan_step, counts)) & (rows["nan_step"] != NONE))
    take("nan", at_nan, True)
    return groups[starts], out


def _finest(steps: Any, values: Any, times: Any, level: int) -> tuple[Any, dict[str, Any]]:
    """``reduce(from_points(steps, values, times), steps >> level)`` in a third of the passes over
    the points (the finest level sees every point: most of a build's time): the points are sorted
    by step, so a bucket's first point is its first row and its last point its last row."""
    import numpy as np

    n = len(steps)
    groups = steps >> level
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    ends = np.r_[starts[1:], n]
    counts = ends - starts
    positions = np.arange(n)
    last = ends - 1
    out: dict[str, Any] = {
        "count": counts.astype(np.int64),
        "first_step": steps[starts], "first_value": values[starts], "first_time": times[starts],
        "last_step": steps[last], "last_value": values[last], "last_time": times[last],
    }
    nan = np.isnan(values)

    def take(name: str, at: Any, with_value: bool) -> None:  # the point at ``at`` (n: none)
        found = at < n
        safe = np.where(found, at, 0)
        out[f"{name}_step"] = np.where(found, steps[safe], NONE)
        if with_value:
            out[f"{name}_value"] = np.where(found, values[safe], np.nan)
        out[f"{name}_time"] = np.where(found, times[safe], np.nan)

    for name, ufunc, fill in (("min", np.minimum, np.inf), ("max", np.maximum, -np.inf)):
        best = ufunc.reduceat(np.where(nan, fill, values), starts)
        # the first point equal to the best: the earliest step among equals (a NaN equals nothing)
        take(name, np.minimum.reduceat(np.where(values == np.repeat(best, counts), positions, n), starts), True)
    take("nan", np.minimum.reduceat(np.where(nan, positions, n), starts), False)
    return groups[starts], out


def _levels(steps: Any, values: Any, times: Any, levels: Sequence[int]) -> list[tuple[int, Any, dict[str, Any]]]:
    """(level, buckets, tiles) of points of one key (sorted by step): the finest level from the
    points, each coarser one from the level below."""
    out: list[tuple[int, Any, dict[str, Any]]] = []
    ordered = sorted(levels)
    if not ordered:
        return out
    base, rows = _finest(steps, values, times, ordered[0])
    shift = ordered[0]
    out.append((shift, base, rows))
    for level in ordered[1:]:
        base, rows = reduce(rows, base >> (level - shift))
        shift = level
        out.append((level, base, rows))
    return out


class Builder:
    """Tiles of a metric file written key by key (sorted), each key's points in step order,
    a piece at a time: memory is the pieces' tiles, not the points."""

    def __init__(self, levels: Sequence[int] = LEVELS) -> None:
        self.levels = tuple(sorted(levels))
        self.rows = 0
        self._pieces: list[list[tuple[int, Any, dict[str, Any]]]] = []
        self._done: list[tuple[str, int, Any, dict[str, Any]]] = []

    def add(self, steps: Any, values: Any, times: Any) -> None:
        if len(steps) > 1 and bool((steps[1:] < steps[:-1]).any()):  # not from a sorted file
            import numpy as np

            order = np.argsort(steps, kind="stable")
            steps, values, times = steps[order], values[order], times[order]
        if len(steps):
            self._pieces.append(_levels(steps, values, times, self.levels))
            self.rows += len(steps)

    def end_key(self, name: str) -> None:
        import numpy as np

        if not self._pieces:
            return
        finest = None
        for i, level in enumerate(self.levels):
            parts = [piece[i] for piece in self._pieces]
            buckets = np.concatenate([p[1] for p in parts])
            rows = {f: np.concatenate([p[2][f] for p in parts]) for f in FIELDS}
            if len(parts) > 1:  # a bucket cut by two pieces: one row
                order = np.argsort(buckets, kind="stable")
                buckets, rows = reduce({f: c[order] for f, c in rows.items()}, buckets[order])
            self._done.append((name, level, buckets, rows))
            finest = rows if finest is None else finest
        assert finest is not None
        _, total = reduce(finest, np.zeros(len(finest["count"]), np.int64))
        mask = sum(1 << level for level in self.levels)
        self._done.append((name, TOTAL, np.full(1, mask, np.int64), total))
        self._pieces = []

    def table(self) -> Any:
        import numpy as np
        import pyarrow as pa

        from workbench.store._arrow import dictionary_array, numeric_array

        parts = sorted(self._done, key=lambda p: (p[0], p[1]))
        names = sorted({p[0] for p in parts})
        code = {name: i for i, name in enumerate(names)}
        sizes = [len(p[2]) for p in parts]
        columns: dict[str, Any] = {
            "key": dictionary_array(np.repeat(np.array([code[p[0]] for p in parts], np.int32), sizes), names),
            "level": numeric_array(np.repeat(np.array([p[1] for p in parts], np.int8), sizes), pa.int8()),
            "bucket": numeric_array(np.concatenate([p[2] for p in parts]).astype(np.int64), pa.int64()),
        }
        for name in FIELDS:
            data = np.concatenate([p[3][name] for p in parts])
            integer = name == "count" or name in _STEP_FIELDS
            columns[name] = numeric_array(data.astype(np.int64 if integer else np.float64),
                                          pa.int64() if integer else pa.float64())
        return pa.Table.from_arrays(list(columns.values()), names=list(columns))

    def write(self, path: Path, *, fsync: bool = False) -> Path | None:
        """Write the tile file of metric file ``path`` (just written from these points); None
        for too few points. Older tile files of ``path`` go."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from workbench.store._atomic import atomic_write_bytes

        if not self._done or (self.rows < MIN_ROWS and self.levels == LEVELS):
            return None
        target = sidecar(path, path.stat().st_size)
        make_dir(target.parent)
        sink = pa.BufferOutputStream()
        pq.write_table(self.table(), sink, row_group_size=8192, compression="snappy", use_dictionary=["key"])
        atomic_write_bytes(target, sink.getvalue().to_pybytes(), fsync=fsync)
        stem = path.name[:-len(".parquet")]
        for name in available(path.parent):
            m = _NAME.match(name)
            if m and m.group(1) == stem and name != target.name:
                with contextlib.suppress(OSError):
                    (target.parent / name).unlink()
        return target


def build(table: Any, levels: Sequence[int] = LEVELS) -> Builder:
    """The tiles of a metric table (sorted by key, then step)."""
    import numpy as np

    from workbench.store._arrow import to_numpy

    builder = Builder(levels)
    if not table.num_rows:
        return builder
    table = table.combine_chunks()
    keys = table.column("key").chunk(0)
    names = keys.dictionary.to_pylist()
    codes = to_numpy(keys.indices, np.int32)
    steps = to_numpy(table.column("step").chunk(0), np.int64)
    values = to_numpy(table.column("value").chunk(0), np.float64)
    times = to_numpy(table.column("time").chunk(0), np.float64)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    for start, end in zip(starts.tolist(), ends.tolist()):
        builder.add(steps[start:end], values[start:end], times[start:end])
        builder.end_key(names[codes[start]])
    return builder


def write(path: Path, table: Any, *, fsync: bool = False, levels: Sequence[int] = LEVELS) -> Path | None:
    """Build and write the tile file of metric file ``path`` (holding ``table``); None when it
    gets none. Errors propagate (callers treat tiles as optional)."""
    if table.num_rows < MIN_ROWS and tuple(sorted(levels)) == LEVELS:
        return None
    return build(table, levels).write(path, fsync=fsync)


def remove_stale(metrics_dir: Path) -> None:
    """Remove tile files whose metric file is gone (compacted away) or changed size, and
    leftover temp files of a writer that died."""
    for name in available(metrics_dir):
        m = _NAME.match(name)
        leftover = name.startswith(".") and name.endswith(".tmp")
        if m is not None:
            try:
                stale = (metrics_dir / f"{m.group(1)}.parquet").stat().st_size != int(m.group(2))
            except FileNotFoundError:
                stale = True
            except OSError:
                stale = False
        if (m is not None and stale) or leftover:
            with contextlib.suppress(OSError):
                (tile_dir(metrics_dir) / name).unlink()


def rebuild(metrics_dir: Path, *, fsync: bool = False) -> int:
    """Write the missing or stale tile files of a run's metric files; how many were written.
    An unreadable metric file is skipped (fsck reports it)."""
    from workbench.store import segments

    names = available(metrics_dir)
    written = 0
    try:
        files = segments.effective_files(metrics_dir)
    except OSError:
        return 0
    for path in files:
        try:
            size = path.stat().st_size
            # a small file (a short run's: most of a store) is skipped without opening it
            if size < SMALL_BYTES or sidecar(path, size).name in names or segments.row_count(path) < MIN_ROWS:
                continue
            import pyarrow.parquet as pq

            builder = Builder()
            with pq.ParquetFile(path) as handle:  # a key and a row group at a time: bounded memory
                for name, first, end in segments.key_ranges(handle):
                    for piece in segments.pieces(handle, first, end):
                        builder.add(*piece)
                    builder.end_key(name)
            if path.stat().st_size == size and builder.write(path, fsync=fsync) is not None:
                written += 1
        except Exception:  # noqa: BLE001 - corrupt or vanished: no tiles, raw reads
            continue
    remove_stale(metrics_dir)
    return written


# -- reading ----------------------------------------------------------------------------------------
def empty() -> dict[str, Any]:
    import numpy as np

    return {f: np.zeros(0, np.int64 if f == "count" or f in _STEP_FIELDS else np.float64) for f in FIELDS}


def points(tiles: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The M4 points (steps, values, times, sorted by step) of reduced tiles, each point once."""
    import numpy as np

    steps, values, times = [], [], []
    for name in ("first", "last", "min", "max", "nan"):
        step = tiles[f"{name}_step"]
        keep = step != NONE
        steps.append(step[keep])
        values.append(tiles[f"{name}_value"][keep] if name != "nan" else np.full(int(keep.sum()), np.nan))
        times.append(tiles[f"{name}_time"][keep])
    s, v, t = np.concatenate(steps), np.concatenate(values), np.concatenate(times)
    if not len(s):
        return s, v, t
    # one row per distinct point (first may be min, and so on): same step, time and value bits
    order = np.lexsort((v.view(np.int64), t, s))
    s, v, t = s[order], v[order], t[order]
    bits = v.view(np.int64)
    keep = np.r_[True, (s[1:] != s[:-1]) | (t[1:] != t[:-1]) | (bits[1:] != bits[:-1])]
    return s[keep], v[keep], t[keep]
