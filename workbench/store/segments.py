"""Metric segments: ``runs/<id>/metrics/*.parquet``, long form (step, key, value, time).

A live run writes numbered segments ``s-<seq>.parquet``; compaction writes
``c-<first>-<last>.parquet`` holding segments first..last, and only then removes them. A reader
that lists the directory between those two steps ignores segments a compacted file covers, so
it never counts a point twice. Every file is written atomically (temp file, rename).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._private import make_dir
from workbench.store._arrow import dictionary_array, numeric_array, to_numpy
from workbench.store._atomic import atomic_file, atomic_write_bytes

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["SCHEMA_FIELDS", "compact", "compact_finish", "compact_live", "effective_files", "plan", "write_segment"]

SCHEMA_FIELDS = ("step", "key", "value", "time")
_NAME = re.compile(r"(?:s-(\d{8})|c-(\d{8})-(\d{8}))\.parquet\Z")


def preload() -> None:
    """Import what writing segments needs now, not in the middle of the first flush."""
    import numpy  # noqa: F401
    import pyarrow.parquet  # noqa: F401


def schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("step", pa.int64()),
            ("key", pa.dictionary(pa.int32(), pa.string())),
            ("value", pa.float64()),
            ("time", pa.float64()),
        ]
    )


def _parse(names: Iterable[str]) -> tuple[list[tuple[int, int, str]], list[tuple[int, str]]]:
    compacted, segments = [], []
    for name in names:
        m = _NAME.match(name)
        if not m:
            continue
        if m.group(1) is not None:
            segments.append((int(m.group(1)), name))
        else:
            compacted.append((int(m.group(2)), int(m.group(3)), name))
    return compacted, segments


def effective_files(metrics_dir: Path) -> list[Path]:
    """The files that hold each point exactly once, in order."""
    try:
        names = os.listdir(metrics_dir)
    except FileNotFoundError:
        return []
    compacted, segments = _parse(names)
    # keep compacted files not contained in a wider one (a crash between writing a wider file
    # and removing the narrower ones leaves both)
    compacted.sort(key=lambda c: (c[0], -c[1]))
    kept: list[tuple[int, int, str]] = []
    for first, last, name in compacted:
        if kept and first >= kept[-1][0] and last <= kept[-1][1]:
            continue
        kept.append((first, last, name))
    out: list[tuple[int, str]] = [(first, name) for first, _, name in kept]
    for seq, name in segments:
        if not any(first <= seq <= last for first, last, _ in kept):
            out.append((seq, name))
    out.sort()
    return [metrics_dir / name for _, name in out]


def next_sequence(metrics_dir: Path) -> int:
    """The sequence number after every segment already in ``metrics_dir`` (for a resumed run)."""
    try:
        names = os.listdir(metrics_dir)
    except FileNotFoundError:
        return 0
    compacted, segments = _parse(names)
    highest = max([last for _, last, _ in compacted] + [seq for seq, _ in segments], default=-1)
    return highest + 1


def sort_points(steps: Any, codes: Any, names: Sequence[str], values: Any, times: Any
                ) -> tuple[Any, Any, list[str], Any, Any]:
    """Points ordered by key name, then step (stable), with ``names`` sorted and ``codes`` remapped."""
    import numpy as np

    order_of_names = sorted(range(len(names)), key=names.__getitem__)
    rank = np.empty(len(names), np.int32)
    rank[order_of_names] = np.arange(len(names), dtype=np.int32)
    ranked = rank[codes]
    if len(steps) < 2 or bool((steps[1:] >= steps[:-1]).all()):
        # logged in step order (the usual case): a stable sort by key alone keeps steps sorted,
        # and is 2-3x faster than lexsort
        order = np.argsort(ranked, kind="stable")
    else:
        order = np.lexsort((steps, ranked))
    return steps[order], ranked[order], [names[i] for i in order_of_names], values[order], times[order]


def make_table(steps: Any, codes: Any, names: Sequence[str], values: Any, times: Any) -> pa.Table:
    """A segment table from sorted points (see :func:`sort_points`)."""
    import pyarrow as pa

    return pa.Table.from_arrays(
        [
            numeric_array(steps, pa.int64()),
            dictionary_array(codes, names),
            numeric_array(values, pa.float64()),
            numeric_array(times, pa.float64()),
        ],
        names=list(SCHEMA_FIELDS),
    )


def last_step(metrics_dir: Path) -> int:
    """The highest step in the run's segments (-1 for none), from the parquet statistics; a
    file without them, or unreadable, is read whole or skipped (fsck reports those)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    highest = -1
    for path in effective_files(metrics_dir):
        try:
            with pq.ParquetFile(path) as handle:
                meta = handle.metadata
                column = handle.schema_arrow.get_field_index("step")
                found = None
                for group in range(meta.num_row_groups):
                    stats = meta.row_group(group).column(column).statistics
                    if stats is None or not stats.has_min_max:
                        found = None
                        break
                    found = max(found if found is not None else -1, int(stats.max))
                if found is None and meta.num_rows:
                    steps = handle.read(columns=["step"], use_pandas_metadata=False).column("step")
                    found = int(pc.max(steps).as_py())
        except (OSError, ValueError, IndexError, TypeError):
            continue
        if found is not None:
            highest = max(highest, found)
    return highest


def read_table(path: Path) -> pa.Table:
    """A metric file whole (ParquetFile.read with use_pandas_metadata=False never imports pandas;
    read_table does)."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as handle:
        return handle.read(use_pandas_metadata=False)


#: how metric files are written: dictionary-encode only the key (steps, values and times rarely
#: repeat: 2-4x faster writes), steps as deltas
_WRITE_OPTIONS: dict[str, Any] = {"compression": "snappy", "use_dictionary": ["key"],
                                  "column_encoding": {"step": "DELTA_BINARY_PACKED"}}


def _to_bytes(table: pa.Table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=65536, **_WRITE_OPTIONS)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def write_segment(metrics_dir: Path, seq: int, table: pa.Table, *, fsync: bool = True) -> Path:
    """Write one segment (a table from :func:`make_table`, sorted so readers can skip keys)."""
    import pyarrow.parquet as pq

    from workbench.store import tiles

    make_dir(metrics_dir)
    path = metrics_dir / f"s-{seq:08d}.parquet"
    if table.num_rows < 1 << 20:
        atomic_write_bytes(path, _to_bytes(table), fsync=fsync)
    else:  # a big flush (a logger faster than the flusher): encoded straight into the file
        with atomic_file(path, fsync=fsync) as sink:
            pq.write_table(table, sink, row_group_size=65536, **_WRITE_OPTIONS)
    if table.num_rows >= tiles.MIN_ROWS:  # a big flush (a fast logger): tiled now, not when merged
        try:
            tiles.write(path, table, fsync=False)
        except Exception:  # noqa: BLE001 - tiles are derived: without them reads are raw, never wrong
            pass
    return path


# -- compaction -------------------------------------------------------------------------------------
#: merge this many files of one tier into one (the next tier)
FAN_IN = 8
#: tier 0 holds files of fewer points than this; tier t, up to BASE_ROWS * FAN_IN**t
BASE_ROWS = 1 << 10
#: no merge writes a file of more points than this (about 300 MB; merges stream, so memory does
#: not grow with it)
MAX_ROWS = 1 << 24
#: a file of at least this many points is full: never merged again
FULL_ROWS = MAX_ROWS // 2
_rows_cache: dict[tuple[str, int, int], int] = {}
#: what compaction wrote in this process (benchmarks and tests read it): merges, bytes, points
written = {"merges": 0, "bytes": 0, "rows": 0}


def row_count(path: Path) -> int:
    """Points in a metric file, from its footer (cached per path, size and mtime)."""
    import pyarrow.parquet as pq

    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    found = _rows_cache.get(key)
    if found is None:
        found = pq.read_metadata(path).num_rows
        if len(_rows_cache) > 4096:
            _rows_cache.clear()
        _rows_cache[key] = found
    return found


def _tier(rows: int) -> int:
    tier = 0
    while rows >= BASE_ROWS * FAN_IN ** (tier + 1):
        tier += 1
    return tier


def plan(sizes: Sequence[int], *, fan_in: int = FAN_IN) -> tuple[int, int] | None:
    """The next merge of a run's files (their point counts, oldest first) as a slice (start, end)
    of them, or None. Size-tiered: among the newest files that are not full, at tier t, the
    trailing files of tier <= t are merged once ``fan_in`` of them are of tier t (the oldest of
    them, up to MAX_ROWS points, when they hold more); files that are not full before a full one
    merge at once. Every merge lifts
    each point it rewrites at least one tier, so a run of n points rewrites O(n log n) bytes and
    keeps O(log n) files besides the full ones."""
    end = len(sizes)
    while end > 0:
        while end > 0 and sizes[end - 1] >= FULL_ROWS:
            end -= 1
        start = end
        while start > 0 and sizes[start - 1] < FULL_ROWS:
            start -= 1
        found = _plan_run(sizes, start, end, fan_in) if end == len(sizes) else _plan_stranded(sizes, start, end)
        if found is not None:
            return found
        end = start
    return None


def _plan_stranded(sizes: Sequence[int], start: int, end: int) -> tuple[int, int] | None:
    """Files that are not full before a full one (a flush that came late and big): nothing new
    joins them, so they merge at once, packed oldest first up to MAX_ROWS each."""
    for first in range(start, end - 1):
        stop = first + 1
        while stop < end and sum(sizes[first:stop + 1]) <= MAX_ROWS:
            stop += 1
        if stop - first >= 2:
            return first, stop
    return None


def _plan_run(sizes: Sequence[int], start: int, end: int, fan_in: int) -> tuple[int, int] | None:
    tiers = [_tier(n) for n in sizes[start:end]]
    for tier in sorted(set(tiers)):
        first = end
        while first > start and tiers[first - 1 - start] <= tier:
            first -= 1
        if sum(1 for t in tiers[first - start:] if t == tier) < fan_in:
            continue
        stop = end
        while stop - first > 2 and sum(sizes[first:stop]) > MAX_ROWS:
            stop -= 1  # the newest wait for the next merge: none is left behind a full file
        return first, stop
    return None


def compact_live(metrics_dir: Path, *, fan_in: int = FAN_IN) -> int:
    """Keep a live run's files few at a bounded cost (see :func:`plan`): merges done."""
    done = 0
    while True:
        files = effective_files(metrics_dir)
        span = plan([row_count(p) for p in files], fan_in=fan_in)
        if span is None:
            return done
        compact(metrics_dir, fsync=False, files=files[span[0]:span[1]])
        done += 1


def compact_finish(metrics_dir: Path, *, keep: int = 4, fsync: bool = False) -> None:
    """At finish: when more than ``keep`` files are left, merge each run of consecutive files
    that are not full into as few as MAX_ROWS allows (full files stay as they are: rewriting
    them adds nothing)."""
    files = effective_files(metrics_dir)
    if len(files) <= keep:
        return
    sizes = [row_count(p) for p in files]
    group: list[Path] = []
    total = 0
    for path, rows in [*zip(files, sizes), (None, FULL_ROWS)]:
        if path is None or rows >= FULL_ROWS or (group and total + rows > MAX_ROWS):
            if len(group) > 1:
                compact(metrics_dir, fsync=fsync, files=group)
            group, total = [], 0
        if path is not None and rows < FULL_ROWS:
            group.append(path)
            total += rows


def key_ranges(handle: Any) -> list[tuple[str, int, int]]:
    """(key, first row, end row) of each key of a metric file (sorted by key: one range each),
    from its key column, one row group at a time."""
    import numpy as np

    out: list[tuple[str, int, int]] = []
    offset = 0
    for group in range(handle.metadata.num_row_groups):
        column = handle.read_row_group(group, columns=["key"], use_pandas_metadata=False).column("key")
        for chunk in column.chunks:
            names = chunk.dictionary.to_pylist()
            codes = to_numpy(chunk.indices, np.int32) if chunk.indices.type.bit_width == 32 \
                else chunk.indices.to_numpy(zero_copy_only=False)
            if not len(codes):
                continue
            starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
            ends = np.r_[starts[1:], len(codes)]
            for start, end in zip(starts.tolist(), ends.tolist()):
                name = names[codes[start]]
                if out and out[-1][0] == name and out[-1][2] == offset + start:
                    out[-1] = (name, out[-1][1], offset + end)
                else:
                    out.append((name, offset + start, offset + end))
            offset += len(codes)
    return out


def pieces(handle: Any, first: int, end: int) -> Iterable[tuple[Any, Any, Any]]:
    """Steps, values and times of rows first..end of a metric file, a row group at a time."""
    import numpy as np

    meta = handle.metadata
    offset = 0
    for group in range(meta.num_row_groups):
        rows = meta.row_group(group).num_rows
        if offset + rows > first and offset < end:
            table = handle.read_row_group(group, columns=["step", "value", "time"], use_pandas_metadata=False)
            lo, hi = max(first - offset, 0), min(end - offset, rows)
            table = table.slice(lo, hi - lo).combine_chunks()
            yield (to_numpy(table.column("step").chunk(0), np.int64).copy(),
                   to_numpy(table.column("value").chunk(0), np.float64).copy(),
                   to_numpy(table.column("time").chunk(0), np.float64).copy()) if table.num_rows else (
                np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        offset += rows
        if offset >= end:
            break


def _ordered(spans: list[tuple[Any, int, int]]) -> bool:
    """Whether the rows of one key across files (in file order) are sorted by step."""
    import numpy as np

    last = None
    for handle, first, end in spans:
        meta = handle.metadata
        offset = 0
        for group in range(meta.num_row_groups):
            rows = meta.row_group(group).num_rows
            if offset + rows > first and offset < end:
                column = handle.read_row_group(group, columns=["step"], use_pandas_metadata=False).column("step")
                steps = to_numpy(column.slice(max(first - offset, 0), min(end - offset, rows) - max(first - offset, 0))
                                 .combine_chunks(), np.int64)
                if len(steps):
                    if (last is not None and steps[0] < last) or bool((steps[1:] < steps[:-1]).any()):
                        return False
                    last = int(steps[-1])
            offset += rows
    return True


def compact(metrics_dir: Path, *, fsync: bool = True, files: list[Path] | None = None) -> Path | None:
    """Merge ``files`` (default: every effective file; consecutive ones) into one, with its
    tile file; a no-op for one file or none.

    Streamed key by key and row group by row group: memory is about a row group, not the
    files (a key whose steps in a later file go back below an earlier file's is sorted whole).
    """
    import numpy as np
    import pyarrow.parquet as pq

    from workbench.store import tiles

    if files is None:
        files = effective_files(metrics_dir)
    if len(files) <= 1:
        return files[0] if files else None
    seqs: list[int] = []
    for path in files:
        m = _NAME.match(path.name)
        assert m is not None
        seqs.extend(int(g) for g in m.groups() if g is not None)
    handles = [pq.ParquetFile(path) for path in files]
    try:
        ranges = [key_ranges(handle) for handle in handles]
        names = sorted({name for found in ranges for name, _, _ in found})
        if not names:
            return None
        target = metrics_dir / f"c-{min(seqs):08d}-{max(seqs):08d}.parquet"
        builder = tiles.Builder()
        rows = 0
        with atomic_file(target, fsync=fsync) as sink, pq.ParquetWriter(sink, schema(), **_WRITE_OPTIONS) as writer:
            for code, name in enumerate(names):
                spans = [(handle, first, end) for handle, found in zip(handles, ranges)
                         for key, first, end in found if key == name]
                if _ordered(spans):  # the usual case: streamed, about 64k points at a time
                    buffered: list[tuple[Any, Any, Any]] = []
                    for piece in (p for handle, first, end in spans for p in pieces(handle, first, end)):
                        buffered.append(piece)
                        if sum(len(p[0]) for p in buffered) >= 65536:
                            rows += _write_key(writer, code, names, buffered, builder)
                            buffered = []
                    if buffered:
                        rows += _write_key(writer, code, names, buffered, builder)
                else:  # a later file logged earlier steps: this key is sorted whole
                    whole = [p for handle, first, end in spans for p in pieces(handle, first, end)]
                    steps = np.concatenate([p[0] for p in whole])
                    order = np.argsort(steps, kind="stable")
                    rows += _write_key(writer, code, names, [(
                        steps[order], np.concatenate([p[1] for p in whole])[order],
                        np.concatenate([p[2] for p in whole])[order])], builder)
                builder.end_key(name)
    finally:
        for handle in handles:
            handle.close()
    written["merges"] += 1
    written["bytes"] += target.stat().st_size
    written["rows"] += rows
    try:
        builder.write(target)
    except Exception:  # noqa: BLE001 - tiles are derived: without them reads are raw, never wrong
        pass
    for path in files:
        if path != target:
            path.unlink(missing_ok=True)
    tiles.remove_stale(metrics_dir)
    return target


def _write_key(writer: Any, code: int, names: list[str], pieces: list[tuple[Any, Any, Any]],
               builder: Any) -> int:
    """Write consecutive points of one key (sorted by step) as row groups; their count."""
    import numpy as np

    steps = np.concatenate([p[0] for p in pieces]) if len(pieces) > 1 else pieces[0][0]
    values = np.concatenate([p[1] for p in pieces]) if len(pieces) > 1 else pieces[0][1]
    times = np.concatenate([p[2] for p in pieces]) if len(pieces) > 1 else pieces[0][2]
    builder.add(steps, values, times)
    table = make_table(steps, np.full(len(steps), code, np.int32), names, values, times)
    writer.write_table(table, row_group_size=65536)
    return len(steps)
