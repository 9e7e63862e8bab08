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
from workbench.store._atomic import atomic_write_bytes

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["SCHEMA_FIELDS", "compact", "effective_files", "write_segment"]

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


def _read(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    # ParquetFile.read with use_pandas_metadata=False never imports pandas (read_table does)
    with pq.ParquetFile(path) as handle:
        return handle.read(use_pandas_metadata=False)


def _to_bytes(table: pa.Table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    # dictionary-encode only the key (steps, values and times rarely repeat): 2-4x faster writes
    pq.write_table(table, sink, row_group_size=65536, compression="snappy", use_dictionary=["key"],
                   column_encoding={"step": "DELTA_BINARY_PACKED"})
    data: bytes = sink.getvalue().to_pybytes()
    return data


def write_segment(metrics_dir: Path, seq: int, table: pa.Table, *, fsync: bool = True) -> Path:
    """Write one segment (a table from :func:`make_table`, sorted so readers can skip keys)."""
    make_dir(metrics_dir)
    path = metrics_dir / f"s-{seq:08d}.parquet"
    atomic_write_bytes(path, _to_bytes(table), fsync=fsync)
    return path


def compact_live(metrics_dir: Path, *, threshold: int = 16) -> None:
    """Keep a live run's file count small: merge the trailing segments once there are
    ``threshold`` of them, and every file once there are ``threshold`` compacted files."""
    files = effective_files(metrics_dir)
    segments = [p for p in files if p.name.startswith("s-")]
    if len(files) - len(segments) >= threshold:
        compact(metrics_dir, fsync=False)
    elif len(segments) >= threshold:
        compact(metrics_dir, fsync=False, files=segments)


def compact(metrics_dir: Path, *, fsync: bool = True, files: list[Path] | None = None) -> Path | None:
    """Merge ``files`` (default: every effective file) into one; a no-op for one file or none."""
    import pyarrow as pa

    if files is None:
        files = effective_files(metrics_dir)
    if len(files) <= 1:
        return files[0] if files else None
    seqs: list[int] = []
    for path in files:
        m = _NAME.match(path.name)
        assert m is not None
        seqs.extend(int(g) for g in m.groups() if g is not None)
    tables = [_read(path) for path in files]
    import numpy as np

    merged = pa.concat_tables(tables).unify_dictionaries().combine_chunks()
    if not merged.num_rows:
        return None
    keys = merged.column("key").chunk(0)
    merged = make_table(*sort_points(
        to_numpy(merged.column("step").chunk(0), np.int64),
        to_numpy(keys.indices, np.int32),
        keys.dictionary.to_pylist(),
        to_numpy(merged.column("value").chunk(0), np.float64),
        to_numpy(merged.column("time").chunk(0), np.float64),
    ))
    target = metrics_dir / f"c-{min(seqs):08d}-{max(seqs):08d}.parquet"
    atomic_write_bytes(target, _to_bytes(merged), fsync=fsync)
    for path in files:
        if path != target:
            path.unlink(missing_ok=True)
    return target
