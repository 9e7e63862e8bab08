"""The per-run media index: ``runs/<id>/media/m-<seq>.parquet``, one file per flush that stored media.

A row per item: ``run_id, key, step, time, kind, digest, format, shape, caption, size, inline,
meta``. ``digest`` names the item's blob (``blobs/sha256/<ab>/<digest>``, shared with artifacts,
so the same image logged by ten runs is stored once); a histogram's counts and edges are
``inline`` (JSON), so a chart over thousands of steps reads no blob. ``meta`` is JSON: a table's
columns and image columns, a sound's sample rate, a histogram's total.

Every file is written atomically; a file that cannot be read is skipped with a warning naming it
(the rest of the index still reads), and ``fsck`` lists it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from workbench._private import make_dir
from workbench.store._atomic import atomic_write_bytes
from workbench.store._paths import Layout
from workbench.store.media_files import FILE, index_files

__all__ = ["COLUMNS", "index_files", "next_sequence", "read_index", "write_index"]

COLUMNS = ("run_id", "key", "step", "time", "kind", "digest", "format", "shape", "caption", "size", "inline",
           "meta")


def schema() -> Any:
    import pyarrow as pa

    return pa.schema([
        ("run_id", pa.string()), ("key", pa.string()), ("step", pa.int64()), ("time", pa.float64()),
        ("kind", pa.string()), ("digest", pa.string()), ("format", pa.string()), ("shape", pa.list_(pa.int64())),
        ("caption", pa.string()), ("size", pa.int64()), ("inline", pa.string()), ("meta", pa.string()),
    ])


def next_sequence(media_dir: Path) -> int:
    files = index_files(media_dir)
    return int(FILE.match(files[-1].name).group(1)) + 1 if files else 0  # type: ignore[union-attr]


def write_index(media_dir: Path, seq: int, rows: Sequence[dict[str, Any]], *, fsync: bool = False) -> Path:
    """Write ``rows`` as index file ``seq`` (atomically)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(list(rows), schema=schema())
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    make_dir(media_dir)
    path = media_dir / f"m-{seq:08d}.parquet"
    atomic_write_bytes(path, out.getvalue(), fsync=fsync)
    return path


def _read(path: Path) -> Any:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if not set(COLUMNS) <= set(table.column_names):
        raise ValueError(f"columns {table.column_names} are not a media index's")
    return table.select(list(COLUMNS)).cast(schema())


def _valid(table: Any, run_id: str) -> Any:
    """Rows a store may hold: this run's, with a real digest and a known kind (an index can come
    from a remote or a damaged disk; a row that is not sound is left out)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from workbench.media.types import KINDS

    ok = pc.and_(pc.equal(table["run_id"], run_id), pc.is_in(table["kind"], value_set=pa.array(KINDS)))
    ok = pc.and_(ok, pc.match_substring_regex(table["digest"], r"^[0-9a-f]{64}$"))
    ok = pc.and_(ok, pc.greater_equal(table["step"], 0))
    return table.filter(pc.fill_null(ok, False))


def read_index(layout: Layout, run_ids: Iterable[str], keys: Sequence[str] | None = None,
               kinds: Sequence[str] | None = None) -> Any:
    """The index rows of ``run_ids`` (a pandas DataFrame, ordered by run, key, step), optionally
    only ``keys`` and ``kinds``. Files that cannot be read are skipped, each with a warning."""
    import pandas as pd
    import pyarrow as pa

    tables = []
    for run_id in run_ids:
        for path in index_files(layout.media_dir(run_id)):
            try:
                tables.append(_valid(_read(path), run_id))
            except FileNotFoundError:
                continue
            except Exception as exc:  # noqa: BLE001 - any parquet/arrow failure: the file is damaged
                warnings.warn(f"skipping damaged media index {path}: {exc}; `workbench fsck` lists it",
                              stacklevel=3)
    table = pa.concat_tables(tables) if tables else schema().empty_table()
    frame = table.to_pandas()
    if keys is not None:
        frame = frame[frame["key"].isin(list(keys))]
    if kinds is not None:
        frame = frame[frame["kind"].isin(list(kinds))]
    frame = frame.sort_values(["run_id", "key", "step", "time"], kind="stable").reset_index(drop=True)
    frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
    frame["meta"] = [json.loads(m) if isinstance(m, str) and m else {} for m in frame["meta"]]
    for column in ("caption", "inline"):  # missing: None, not pandas' NaN (which reads as "nan")
        frame[column] = pd.Series([v if isinstance(v, str) else None for v in frame[column]], dtype=object)
    frame["shape"] = [tuple(int(n) for n in s) if s is not None else () for s in frame["shape"]]
    return frame
