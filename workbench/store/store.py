"""``Store``: one opened root, the queries over it, and the per-process cache of open stores."""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import _steps
from workbench.errors import QueryError, RunNotFound
from workbench.settings import Settings, load_settings
from workbench.store import segments
from workbench.store._downsample import m4_indices
from workbench.store._paths import Layout, is_run_id, validate_run_id
from workbench.store._sql_check import check_read_only
from workbench.store._where import RUN_FIELDS, compile_query, parse_field
from workbench.store.catalog import Catalog, ReindexReport
from workbench.store.records import read_record

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Store", "open_store"]

_BASE_COLUMNS = ["run_id", "project", "name", "status", "created", "started", "ended", "duration",
                 "tags", "notes", "host", "user", "remote", "git_commit", "notebook", "error", "group",
                 "job_type"]
_TIME_COLUMNS = ("created", "started", "ended")
_BY_ENTRIES = 2000  # runs() of more runs than this with columns= builds each column by a query
_RETRIES = 5  # listings of metric files, while compaction replaces files under a query
_CHURN = "the run's metric files kept changing while they were read (compaction); try again"


class Store:
    """An opened store: queries through this process's catalog, records straight from files."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = Layout(settings.root)
        self.layout.ensure()
        self.catalog = Catalog(self.layout, settings)
        self._bad_segments: dict[tuple[str, int, int], str] = {}
        self._bad_tiles: set[str] = set()  # tile files that could not be read: raw reads instead
        self._lock = threading.RLock()

    @property
    def root(self) -> Path:
        return self.layout.root

    # -- single runs -------------------------------------------------------------------------------
    def resolve(self, run_id: str) -> str:
        """A full run id from an id or a unique prefix of one."""
        if not isinstance(run_id, str) or not run_id:
            raise RunNotFound(f"{run_id!r} is not a run id")
        if is_run_id(run_id) and (self.layout.runs / run_id / "run.json").is_file():
            return run_id
        if not run_id.isascii():  # ids are ASCII; DuckDB would refuse a lone surrogate (a byte not UTF-8)
            raise RunNotFound(f"no run with id or prefix {run_id!r} in {self.root}: run ids are letters and "
                              "digits; list runs with `workbench runs`")
        self.catalog.refresh()
        with self.catalog._lock:
            rows = self.catalog.connection.execute(
                "SELECT run_id FROM _runs WHERE starts_with(run_id, $p) ORDER BY run_id LIMIT 6",
                {"p": run_id}).fetchall()
        if not rows:
            raise RunNotFound(f"no run with id or prefix {run_id!r} in {self.root}; "
                              "list runs with `workbench runs`")
        if len(rows) > 1:
            ids = ", ".join(r[0] for r in rows[:5])
            raise RunNotFound(f"prefix {run_id!r} matches several runs ({ids}, ...); type more of the id")
        return str(rows[0][0])

    def get(self, run_id: str) -> dict[str, Any]:
        """The run record (read from its file, so always current)."""
        return read_record(self.layout, self.resolve(run_id))

    def environment(self, run_id: str) -> dict[str, str] | None:
        """Every distribution installed where the run ran (name -> version, sorted), from the
        environment file its record names; None when there is none (an older run, one synced
        without it). A damaged or misnamed file is skipped with a warning naming it (the record's
        short ``packages`` map is still there); ``workbench fsck`` reports it."""
        from workbench.errors import StoreError
        from workbench.store.environments import read_environment

        digest = self.get(run_id).get("environment")
        if digest is None:
            return None
        try:
            return read_environment(self.layout, digest)
        except StoreError as exc:
            warnings.warn(f"{exc}; `workbench fsck --repair` moves it aside", stacklevel=2)
            return None

    # -- runs() ------------------------------------------------------------------------------------
    def runs(self, project: str | None = None, where: str | None = None,
             order_by: str | Sequence[str] | None = None, limit: int | None = None,
             columns: Sequence[str] | None = None) -> pd.DataFrame:
        wanted = [parse_field(c) for c in columns] if columns is not None else None
        sql, params = self._select(project, where, order_by, limit)
        if wanted is None:
            return _frame(self._ids(sql, params, verify=True), wanted)
        with self.catalog._lock:  # the rows of these ids stay as they are until the frame is built
            ids = self._ids(sql, params, verify=True, entries=False)
            if len(ids) <= _BY_ENTRIES:
                return _frame(self.catalog.entries(ids), wanted)
            return self._frame_by_column(ids, _labels([], wanted))

    def project_counts(self, project: str | None = None, where: str | None = None) -> dict[str, int]:
        """Runs per project (one query) of those :meth:`runs` would return."""
        sql, params = self._select(project, where, None, None, "r.project, count(*)")
        return {name: int(count) for name, count in self._rows(f"{sql} GROUP BY r.project", params)}

    def _frame_by_column(self, ids: list[str], labels: list[str]) -> pd.DataFrame:
        """The ``labels`` columns of many runs, one query per column: cheaper than an entry per run
        (100,000 runs: a dict of config and summary values each) when only a few columns are shown.
        The values are those :meth:`runs` gives otherwise (``_value`` decodes them alike).
        Call under the catalog's lock, right after the query of ``ids`` (no refresh between)."""
        import pandas as pd

        where = {"ids": ids}
        order = "(SELECT unnest($ids) AS run_id, generate_subscripts($ids, 1) - 1 AS pos) i"
        data: dict[str, Any] = {}
        base = [label for label in labels if label in _BASE_COLUMNS]
        selected = ", ".join(f'r."{c}"' for c in base)
        found = self._rows(f"SELECT {selected} FROM {order} JOIN _runs r USING (run_id) ORDER BY i.pos", where,
                           refresh=False)
        if len(found) != len(ids):  # a damaged snapshot dropped meanwhile: the entries instead
            return _frame_columns(self.catalog.entries(ids), labels)
        for label in labels:
            if label in _BASE_COLUMNS:
                column: Any = [row[base.index(label)] for row in found]
                if label in _TIME_COLUMNS:
                    column = pd.to_datetime(pd.Series(column, dtype="float64"), unit="s", utc=True)
                elif label == "duration":
                    column = pd.Series(column, dtype="float64")
            elif label.startswith(("config.", "summary.")):
                table, key = ("_params", label[7:]) if label.startswith("config.") else ("_summaries", label[8:])
                column = [None] * len(ids)
                for pos, num, text, flag, raw in self._rows(
                        f"SELECT i.pos, t.num, t.str, t.bool, t.json FROM {order} JOIN {table} t USING (run_id) "
                        "WHERE t.key = $key", {**where, "key": key}, refresh=False):
                    column[pos] = _value(num, text, flag, raw)
            else:
                column = [None] * len(ids)
            data[label] = column
        return pd.DataFrame(data)

    def run_rows(self, project: str | None = None, where: str | None = None,
                 order_by: str | Sequence[str] | None = None, limit: int | None = None,
                 columns: Sequence[str] | None = None) -> tuple[list[str], list[list[Any]]]:
        """What :meth:`runs` returns as column labels and rows of plain Python values (times as
        seconds since the epoch), without pandas: for a command line's first (and only) query."""
        wanted = [parse_field(c) for c in columns] if columns is not None else None
        sql, params = self._select(project, where, order_by, limit)
        entries = self._ids(sql, params, verify=True)
        labels = _labels(entries, wanted)
        rows = []
        for e in entries:
            row: list[Any] = []
            for label in labels:
                if label.startswith("config."):
                    row.append(e.config.get(label[7:]))
                elif label.startswith("summary."):
                    row.append(e.summary.get(label[8:]))
                else:
                    row.append(e.base.get(label))
            rows.append(row)
        return labels, rows

    def count_runs(self, project: str | None = None, where: str | None = None) -> int:
        """How many runs :meth:`runs` would return (one query; no row is built)."""
        sql, params = self._select(project, where, None, None, "count(*)")
        return int(self._rows(sql, params)[0][0])

    def _rows(self, sql: str, params: dict[str, Any], refresh: bool = True) -> list[Any]:
        import duckdb

        catalog = self.catalog
        if refresh:
            catalog.refresh()
        with catalog._lock:
            try:
                return catalog.connection.execute(sql, params).fetchall()  # type: ignore[no-any-return]
            except duckdb.Error as exc:
                if not catalog.recover(exc):
                    raise QueryError(f"the query could not run: {exc}") from exc
                return catalog.connection.execute(sql, params).fetchall()  # type: ignore[no-any-return]

    @staticmethod
    def _select(project: str | None, where: str | None, order_by: str | Sequence[str] | None,
                limit: int | None, what: str = "r.run_id") -> tuple[str, dict[str, Any]]:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise QueryError(f"limit must be a non-negative int, not {limit!r}")
        compiled = compile_query(where, order_by if isinstance(order_by, str) or order_by is None else list(order_by))
        params = dict(compiled.params)
        conditions = [compiled.where]
        if project is not None:
            params["project"] = project
            conditions.append("r.project = $project")
        sql = f"SELECT {what} FROM _runs r {' '.join(compiled.joins)} WHERE {' AND '.join(conditions)}"
        if what == "r.run_id":
            order = [*(compiled.order or []), "r.created DESC", "r.run_id DESC"]
            sql += f" ORDER BY {', '.join(order)}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return sql, params

    def _ids(self, sql: str, params: dict[str, Any], verify: bool, entries: bool = True) -> list[Any]:
        """The first column of ``sql``'s rows; with ``verify``, those run ids compared with their
        records first, and with ``entries`` too, their catalog entries."""
        import duckdb

        catalog = self.catalog
        catalog.refresh()
        with catalog._lock:
            for attempt in range(2):
                try:
                    ids = [row[0] for row in catalog.connection.execute(sql, params).fetchall()]
                    if not verify:
                        return ids
                    # rows from a snapshot are compared with their files before they are returned
                    # (once each); a record that changed unannounced is read again, the query rerun
                    while catalog.verify(ids):
                        ids = [row[0] for row in catalog.connection.execute(sql, params).fetchall()]
                    return catalog.entries(ids) if entries else ids
                except duckdb.Error as exc:  # e.g. comparing text with a number
                    if attempt or not catalog.recover(exc):  # or a damaged snapshot: without it
                        raise QueryError(f"the query could not run: {exc}") from exc
            raise AssertionError("unreachable")  # pragma: no cover

    # -- history() ---------------------------------------------------------------------------------
    def metric_files(self, run_ids: Iterable[str]) -> list[tuple[str, Path]]:
        out = []
        for run_id in run_ids:
            for path in segments.effective_files(self.layout.runs / validate_run_id(run_id) / "metrics"):
                out.append((run_id, path))
        return out

    def _good_files(self, files: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
        good = []
        for run_id, path in files:
            try:
                st = path.stat()
            except FileNotFoundError:
                continue  # compacted away since the listing: its points are in the new file
            if (str(path), st.st_mtime_ns, st.st_size) not in self._bad_segments:
                good.append((run_id, path))
        return good

    def _listing(self, run_ids: Sequence[str]) -> list[tuple[str, Path]]:
        """The metric files of ``run_ids`` to read, without known corrupt ones.

        A file that vanishes between the listing and its stat was compacted into a file that the
        listing missed: list again, or the query would silently miss those points.
        """
        for _ in range(_RETRIES):
            files = self.metric_files(run_ids)
            good = self._good_files(files)
            if len(good) == len(files) or all(path.exists() for _, path in files):
                return good
        raise QueryError(_CHURN)

    def _find_bad(self, files: list[tuple[str, Path]]) -> int:
        import pyarrow.parquet as pq

        found = 0
        for _, path in files:
            try:
                if path.exists() and not path.is_file():  # a directory in its place reads as empty
                    raise OSError(f"{path} is not a regular file")
                pq.read_table(path)
            except FileNotFoundError:
                continue
            except Exception as exc:  # noqa: BLE001 - any parquet/arrow failure means corrupt
                st = path.stat()
                self._bad_segments[(str(path), st.st_mtime_ns, st.st_size)] = str(exc)
                warnings.warn(
                    f"skipping corrupt metric segment {path}: {exc}. Its points are not shown; move the "
                    "file out of the store (`workbench reindex` lists every such file)", stacklevel=4)
                found += 1
        return found

    def _read_metrics(self, run_ids: Sequence[str], keys: Sequence[str] | None,
                      window: tuple[int, int] | None = None) -> tuple[Any, list[str]]:
        """Points of ``run_ids`` as an Arrow table (run_code, [key,] step, value, time) sorted by run,
        key, step, and the run ids the codes index; corrupt files are skipped.

        Rows carry an integer run code, not a string, so that ``history(samples=)`` can pick the
        points it keeps before any run-id string is made (:meth:`_finish`). With one key the
        ``key`` column is left out for the same reason. ``window`` (lo, hi): only steps in lo..hi.
        """
        import duckdb
        import numpy as np
        import pyarrow as pa

        single = keys is not None and len(keys) == 1
        for _ in range(_RETRIES):
            good = self._listing(run_ids)  # listed again each time: compaction replaces files
            if not good:
                break
            params: dict[str, Any] = {"files": [str(p) for _, p in good]}
            conditions = []
            if window is not None:
                conditions.append("step BETWEEN $lo AND $hi")
                params["lo"], params["hi"] = window
            if single:  # one key: no key strings to decode (20% faster)
                conditions.append("key = $key")
                params["key"] = keys[0]  # type: ignore[index]
                selected = "file_index, step, value, time"
            else:
                if keys is not None:
                    conditions.append("key IN (SELECT unnest($keys))")
                    params["keys"] = list(keys)
                selected = "file_index, key, step, value, time"
            where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
            sql = f"SELECT {selected} FROM read_parquet($files) {where}"
            try:
                with self.catalog._lock:
                    table = _arrow(self.catalog.connection, sql, params)
            except (duckdb.Error, OSError) as exc:  # a file gone (compaction) or corrupt
                if not all(path.exists() for _, path in good):
                    continue  # compacted away between listing and reading: list again
                if not self._find_bad(good):
                    raise QueryError(f"reading metrics failed: {exc}") from exc
                continue
            file_runs = [run_id for run_id, _ in good]
            runs = list(dict.fromkeys(file_runs))
            code_of = {run_id: i for i, run_id in enumerate(runs)}
            file_code = np.array([code_of[r] for r in file_runs], np.int64)
            run_code = file_code[table.column("file_index").to_numpy().astype(np.int64)]
            table = table.drop_columns(["file_index"]).add_column(0, "run_code", pa.array(run_code))
            if len(runs) != len(file_runs):  # a live run's several segments: order by run, key, step
                table = self._sort_runs(table, run_code)
            return table, runs
        else:
            raise QueryError(_CHURN)
        columns = {"run_code": pa.array([], pa.int64()), "step": pa.array([], pa.int64()),
                   "value": pa.array([], pa.float64()), "time": pa.array([], pa.float64())}
        if not single:
            columns = {"run_code": columns["run_code"], "key": pa.array([], pa.string()),
                       "step": columns["step"], "value": columns["value"], "time": columns["time"]}
        return pa.table(columns), []

    @staticmethod
    def _key_codes(table: Any) -> Any:
        """Integer codes of the ``key`` column that sort like the keys (zeros with one key)."""
        import numpy as np
        import pyarrow.compute as pc

        if "key" not in table.column_names:
            return np.zeros(table.num_rows, np.int64)
        keys = pc.dictionary_encode(table.column("key")).combine_chunks()
        names = keys.dictionary.to_pylist()
        rank = np.argsort(np.argsort(np.array(names, dtype=object)))
        return rank[keys.indices.to_numpy()]

    def _sort_runs(self, table: Any, run_code: Any) -> Any:
        import numpy as np

        order = np.lexsort((table.column("step").to_numpy(), self._key_codes(table), run_code))
        return table.take(order)

    @staticmethod
    def _finish(table: Any, runs: list[str], keys: Sequence[str] | None) -> Any:
        """The public columns (run_id, key, step, value, time): strings made only for kept rows."""
        import numpy as np
        import pyarrow as pa

        run_ids = pa.array(runs, pa.string()).take(table.column("run_code"))
        table = table.drop_columns(["run_code"]).add_column(0, "run_id", run_ids)
        if "key" not in table.column_names:
            key = keys[0] if keys else ""
            constant = pa.array([key], pa.string()).take(pa.array(np.zeros(table.num_rows, np.int32)))
            table = table.add_column(1, "key", constant)
        return table

    def history(self, run_ids: str | Sequence[str], keys: str | Sequence[str] | None = None,
                samples: int | None = None, *,
                range: tuple[float | None, float | None] | None = None) -> pd.DataFrame:
        """Points of ``run_ids`` (sorted by run id, key, step); see :func:`workbench.history`."""
        import numpy as np

        if isinstance(run_ids, str):
            run_ids = [run_ids]
        ids = sorted(dict.fromkeys(self.resolve(r) for r in run_ids))
        if isinstance(keys, str):
            keys = [keys]
        if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
            raise QueryError(f"samples must be a positive int, not {samples!r}")
        window = step_window(range)
        if samples is not None and samples >= 4:
            sampled = self._sampled(ids, keys, window, samples)
            if sampled is not None:
                return self._finish(*sampled, keys).to_pandas()
        table, runs = self._read_metrics(ids, keys, window)
        if samples is not None and table.num_rows > samples:
            steps = table.column("step").to_numpy()
            values = table.column("value").to_numpy()
            run_codes = table.column("run_code").to_numpy()
            key_codes = self._key_codes(table)
            change = np.r_[True, (run_codes[1:] != run_codes[:-1]) | (key_codes[1:] != key_codes[:-1])]
            starts = np.flatnonzero(change)
            ends = np.r_[starts[1:], len(steps)]
            keep = [start + m4_indices(steps[start:end], values[start:end], samples,
                                       _series_window(window, steps[start:end]))
                    for start, end in zip(starts.tolist(), ends.tolist())]
            table = table.take(np.concatenate(keep))
        return self._finish(table, runs, keys).to_pandas()

    # -- history(samples=) from tiles ---------------------------------------------------------------
    def _sampled(self, ids: Sequence[str], keys: Sequence[str] | None, window: tuple[int, int] | None,
                 samples: int) -> tuple[Any, list[str]] | None:
        """M4 points from the tiles of metric files that have them (docs/store.md, "Tiles") and
        raw points of the rest; None when no file has tiles (the caller reads raw). Equal to M4
        over the raw points with the same buckets: a tile that cannot be read means raw reads."""
        import duckdb

        for _ in range(_RETRIES):
            good = self._listing(ids)
            tiled, plain = self._split_tiled(good)
            if not tiled:
                return None
            try:
                return self._sample_files(tiled, plain, keys, window, samples)
            except (KeyError, ValueError, IndexError, TypeError):  # a tile file not as written: raw reads
                self._bad_tiles.update(str(side) for _, _, side in tiled)
                continue
            except (duckdb.Error, OSError) as exc:
                if not all(path.exists() for _, path, _ in tiled) or not all(path.exists() for _, path in plain):
                    continue  # compacted away meanwhile: list again
                found = self._find_bad(plain + [(run_id, path) for run_id, path, _ in tiled])
                found += self._find_bad_tiles(tiled)
                if not found:
                    raise QueryError(f"reading metrics failed: {exc}") from exc
        raise QueryError(_CHURN)

    def _split_tiled(self, files: list[tuple[str, Path]]
                     ) -> tuple[list[tuple[str, Path, Path]], list[tuple[str, Path]]]:
        from workbench.store import tiles

        names: dict[Path, set[str]] = {}
        tiled, plain = [], []
        for run_id, path in files:
            if path.parent not in names:
                names[path.parent] = tiles.available(path.parent)
            side = None
            if names[path.parent]:
                try:
                    side = tiles.sidecar(path, path.stat().st_size)
                except OSError:
                    side = None
                if side is not None and (side.name not in names[path.parent] or str(side) in self._bad_tiles):
                    side = None
            if side is None:
                plain.append((run_id, path))
            else:
                tiled.append((run_id, path, side))
        return tiled, plain

    def _find_bad_tiles(self, tiled: list[tuple[str, Path, Path]]) -> int:
        import pyarrow.parquet as pq

        from workbench.store import tiles

        found = 0
        for _, _, side in tiled:
            try:
                names = set(pq.read_table(side).schema.names)
                if not names.issuperset(("key", "level", "bucket", *tiles.FIELDS)):
                    raise ValueError(f"{side} lacks tile columns")
            except Exception:  # noqa: BLE001 - any failure: the file's points are read raw
                self._bad_tiles.add(str(side))
                found += 1
        return found

    def _sample_files(self, tiled: list[tuple[str, Path, Path]], plain: list[tuple[str, Path]],
                      keys: Sequence[str] | None, window: tuple[int, int] | None,
                      samples: int) -> tuple[Any, list[str]]:
        import numpy as np
        import pyarrow as pa

        from workbench.store import tiles

        lo_w, hi_w = window if window is not None else _INT64
        runs = list(dict.fromkeys([run_id for run_id, _, _ in tiled] + [run_id for run_id, _ in plain]))
        runs.sort()
        con = self.catalog.connection
        key_filter, key_params = "", {}
        if keys is not None:
            key_filter, key_params = " AND key IN (SELECT unnest($keys))", {"keys": list(keys)}
        # raw points of the files without tiles (a live run's segments, small files)
        raw: dict[tuple[str, str], list[Any]] = {}
        if plain:
            with self.catalog._lock:
                table = _arrow(con, "SELECT file_index, key::VARCHAR AS key, step, value, time "
                               f"FROM read_parquet($files) WHERE step BETWEEN $lo AND $hi{key_filter}",
                               {"files": [str(p) for _, p in plain], "lo": lo_w, "hi": hi_w, **key_params})
            _group_points(table, [run_id for run_id, _ in plain], raw)
        # the whole-file row of each key of each tiled file
        with self.catalog._lock:
            totals = _arrow(con, "SELECT file_index, key::VARCHAR AS key, bucket, first_step, last_step "
                            f"FROM read_parquet($files) WHERE level = {tiles.TOTAL}{key_filter}",
                            {"files": [str(side) for _, _, side in tiled], **key_params})
        per_series: dict[tuple[str, str], list[tuple[int, int, int, int]]] = {}
        t_file = totals.column("file_index").to_numpy()
        t_key = totals.column("key").to_pylist()
        t_mask = totals.column("bucket").to_numpy()
        t_first = totals.column("first_step").to_numpy()
        t_last = totals.column("last_step").to_numpy()
        for i in np.argsort(t_file, kind="stable").tolist():
            if t_last[i] < lo_w or t_first[i] > hi_w:
                continue  # no point of the window
            run_id = tiled[int(t_file[i])][0]
            per_series.setdefault((run_id, t_key[i]), []).append(
                (int(t_file[i]), int(t_mask[i]), int(t_first[i]), int(t_last[i])))
        code_of = {run_id: i for i, run_id in enumerate(runs)}
        out_run, out_key, out_step, out_value, out_time = [], [], [], [], []
        for run_id, key in sorted(set(per_series) | set(raw)):
            parts = raw.get((run_id, key), [])
            files = per_series.get((run_id, key), [])
            lo = lo_w if lo_w != _INT64[0] else min([f[2] for f in files] + [int(p[0][0]) for p in parts if len(p[0])])
            hi = hi_w if hi_w != _INT64[1] else max([f[3] for f in files] + [int(p[0][-1]) for p in parts if len(p[0])])
            width = tiles.bucket_width(lo, hi, samples)
            rows, groups, total = [], [], 0
            edges: dict[tuple[tuple[int, int], ...], list[str]] = {}
            for steps, values, times in parts:
                rows.append(tiles.from_points(steps, values, times))
                groups.append(steps // width)
                total += len(steps)
            by_level: dict[tuple[int, int, int], list[str]] = {}
            for index, mask, _, _ in files:
                level = tiles.usable_level(width, mask)
                path, side = str(tiled[index][1]), str(tiled[index][2])
                first = -(-lo >> level) if level is not None else 0
                end = (hi + 1) >> level if level is not None else 0
                if level is None or first >= end:
                    edges.setdefault(((lo, hi),), []).append(path)
                    continue
                by_level.setdefault((level, first, end - 1), []).append(side)
                ranges = tuple(r for r in ((lo, (first << level) - 1), (end << level, hi)) if r[0] <= r[1])
                if ranges:
                    edges.setdefault(ranges, []).append(path)
            for (level, first, last), sides in by_level.items():
                with self.catalog._lock:
                    found = _arrow(con, f"SELECT bucket, {', '.join(tiles.FIELDS)} FROM read_parquet($files) "
                                   "WHERE key = $key AND level = $level AND bucket BETWEEN $first AND $last",
                                   {"files": sides, "key": key, "level": level, "first": first, "last": last})
                part = {name: found.column(name).to_numpy() for name in tiles.FIELDS}
                rows.append(part)
                groups.append((found.column("bucket").to_numpy() << level) // width)
                total += int(part["count"].sum())
            for ranges, paths in edges.items():
                steps, values, times = self._raw_ranges(paths, key, ranges)
                rows.append(tiles.from_points(steps, values, times))
                groups.append(steps // width)
                total += len(steps)
            if not total:
                continue
            if total <= samples:  # few points: every one of them
                steps, values, times = self._raw_ranges([str(tiled[f[0]][1]) for f in files], key, ((lo, hi),))
                steps = np.concatenate([steps] + [p[0] for p in parts])
                values = np.concatenate([values] + [p[1] for p in parts])
                times = np.concatenate([times] + [p[2] for p in parts])
                order = np.argsort(steps, kind="stable")
                steps, values, times = steps[order], values[order], times[order]
            else:
                merged = {name: np.concatenate([r[name] for r in rows]) for name in tiles.FIELDS}
                group = np.concatenate(groups)
                order = np.argsort(group, kind="stable")
                _, reduced = tiles.reduce({name: column[order] for name, column in merged.items()}, group[order])
                steps, values, times = tiles.points(reduced)
            out_run.append(np.full(len(steps), code_of[run_id], np.int64))
            out_key.extend([key] * len(steps))
            out_step.append(steps)
            out_value.append(values)
            out_time.append(times)
        if not out_step:
            return pa.table({"run_code": pa.array([], pa.int64()), "key": pa.array([], pa.string()),
                             "step": pa.array([], pa.int64()), "value": pa.array([], pa.float64()),
                             "time": pa.array([], pa.float64())}), runs
        table = pa.table({"run_code": np.concatenate(out_run), "key": pa.array(out_key, pa.string()),
                          "step": np.concatenate(out_step), "value": np.concatenate(out_value),
                          "time": np.concatenate(out_time)})
        if keys is not None and len(keys) == 1:
            table = table.drop_columns(["key"])
        return table, runs

    def _raw_ranges(self, paths: list[str], key: str, ranges: tuple[tuple[int, int], ...]) -> tuple[Any, Any, Any]:
        """Steps, values and times of ``key`` in ``paths`` within the step ranges, by step."""
        import numpy as np

        if not paths:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
        parts = " UNION ALL ".join(
            f"SELECT step, value, time FROM read_parquet($files) WHERE key = $key AND step BETWEEN $lo{i} AND $hi{i}"
            for i in range(len(ranges)))
        params: dict[str, Any] = {"files": paths, "key": key}
        for i, (lo, hi) in enumerate(ranges):
            params[f"lo{i}"], params[f"hi{i}"] = lo, hi
        with self.catalog._lock:
            table = _arrow(self.catalog.connection, parts, params)
        steps = table.column("step").to_numpy()
        order = np.argsort(steps, kind="stable")
        return steps[order], table.column("value").to_numpy()[order], table.column("time").to_numpy()[order]

    # -- sql() -------------------------------------------------------------------------------------
    def sql(self, query: str) -> pd.DataFrame:
        import duckdb

        if not isinstance(query, str) or not query.strip():
            raise QueryError("sql() needs a query, e.g. \"select status, count(*) from runs group by 1\"")
        with self.catalog._lock:
            check_read_only(self.catalog.connection, query)
        self.catalog.refresh()
        self.catalog.verify_all()  # any query over any rows: each compared with its file once
        with self.catalog._lock:
            con = self.catalog.connection
            ids = [r[0] for r in con.execute("SELECT run_id FROM _runs").fetchall()]
            for _ in range(_RETRIES):
                files = self._listing(ids)
                try:  # defining the view reads the files' footers already
                    self._define_metrics_view(con, files)
                    self._define_media_view(con, ids)
                    return con.execute(query).df()
                except duckdb.PermissionException as exc:  # the connection's own limit (_duckdb.py)
                    raise QueryError(
                        "sql() reads only the views and the store's files under "
                        f"{self.layout.runs} and {self.layout.catalog}: no other file, no URL, no "
                        f"extension ({exc})") from exc
                except duckdb.Error as exc:
                    if not all(path.exists() for _, path in files):
                        continue  # a file was compacted away meanwhile: list again
                    if "parquet" in str(exc).lower() and self._find_bad(files):
                        continue  # the listing now leaves the corrupt files out
                    if self.catalog.recover(exc):
                        continue  # a damaged catalog snapshot: answered from the records instead
                    raise QueryError(f"the SQL failed: {exc}") from exc
            raise QueryError(_CHURN)

    def _define_metrics_view(self, con: Any, files: list[tuple[str, Path]]) -> None:
        """``metrics``: every point of every run; ``file_index`` maps each row to its run."""
        import pyarrow as pa

        con.execute("DROP VIEW IF EXISTS metrics")
        if not files:
            con.execute("CREATE TEMP VIEW metrics AS SELECT NULL::VARCHAR AS run_id, "
                        "NULL::VARCHAR AS key, NULL::BIGINT AS step, NULL::DOUBLE AS value, "
                        "NULL::DOUBLE AS time WHERE false")
            return
        index = pa.table({"file_index": pa.array(range(len(files)), pa.uint64()),
                          "run_id": pa.array([run_id for run_id, _ in files], pa.string())})
        con.register("_metric_index", index)
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE _metric_files AS SELECT * FROM _metric_index")
        finally:
            con.unregister("_metric_index")
        listing = ", ".join("'" + str(p).replace("'", "''") + "'" for _, p in files)
        con.execute(
            "CREATE TEMP VIEW metrics AS SELECT f.run_id, m.key::VARCHAR AS key, m.step, m.value, m.time "
            f"FROM read_parquet([{listing}]) m JOIN _metric_files f ON f.file_index = m.file_index")

    def _define_media_view(self, con: Any, ids: Sequence[str]) -> None:
        """``media``: every media item of every run (workbench/media/index.py), bytes not included."""
        from workbench.store.media_files import index_files

        con.execute("DROP VIEW IF EXISTS media")
        files = [path for run_id in ids for path in index_files(self.layout.media_dir(run_id))]
        columns = ("run_id, key, step, time, kind, digest, format, shape, caption, size, inline, meta")
        if not files:
            con.execute("CREATE TEMP VIEW media AS SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS key, "
                        "NULL::BIGINT AS step, NULL::DOUBLE AS time, NULL::VARCHAR AS kind, NULL::VARCHAR AS digest, "
                        "NULL::VARCHAR AS format, NULL::BIGINT[] AS shape, NULL::VARCHAR AS caption, "
                        "NULL::BIGINT AS size, NULL::VARCHAR AS inline, NULL::VARCHAR AS meta WHERE false")
            return
        listing = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
        # a row names its run; only rows whose run_id is the run of their folder count (an index
        # copied from elsewhere cannot speak for another run)
        con.execute(f"CREATE TEMP VIEW media AS SELECT {columns} FROM read_parquet([{listing}], filename=true) "
                    "WHERE ends_with(parse_dirpath(parse_dirpath(filename)), '/' || run_id)")

    # -- maintenance -------------------------------------------------------------------------------
    def reindex(self, verify_segments: bool = True) -> ReindexReport:
        report = self.catalog.rebuild()
        if verify_segments:
            import pyarrow.parquet as pq

            with self.catalog._lock:  # one connection for every thread of the process
                ids = [r[0] for r in self.catalog.connection.execute("SELECT run_id FROM _runs").fetchall()]
            ids += list(report.corrupt_records)
            for _, path in _steps.steps(self.metric_files(ids), "checking metric files"):
                try:
                    if path.exists() and not path.is_file():  # a directory in its place reads as empty
                        raise OSError(f"{path} is not a regular file")
                    pq.read_table(path)
                except FileNotFoundError:
                    continue
                except Exception as exc:  # noqa: BLE001
                    report.corrupt_segments[str(path)] = str(exc)
            from workbench.store import tiles

            # tiles are derived: missing or stale ones are written again
            for run_id in _steps.steps(dict.fromkeys(ids), "rebuilding tiles"):
                if is_run_id(run_id):
                    tiles.rebuild(self.layout.metrics_dir(run_id))
            self._bad_tiles.clear()
        return report


def _labels(entries: list[Any], wanted: list[Any] | None) -> list[str]:
    """The columns of the runs() DataFrame of ``entries`` (as :func:`_frame` makes them)."""
    if wanted is not None:
        return list(dict.fromkeys(["run_id"] + [f.label if f.kind != "run" else RUN_FIELDS[f.name] for f in wanted]))
    extra: dict[str, None] = {}
    for entry in entries:
        for prefix, values in (("config.", entry.config), ("summary.", entry.summary)):
            for key in values:
                extra[prefix + key] = None
    return [*_BASE_COLUMNS, *sorted(extra, key=lambda c: (not c.startswith("config."), c))]


def _frame(entries: list[Any], wanted: list[Any] | None) -> pd.DataFrame:
    """The runs() DataFrame: base columns, then config.* and summary.* columns, sorted by name."""
    import pandas as pd

    count = len(entries)
    if wanted is not None:  # build only the wanted columns: 10,000 runs x 3 columns, not x 30
        labels = list(dict.fromkeys(["run_id"] + [f.label if f.kind != "run" else RUN_FIELDS[f.name]
                                                  for f in wanted]))
        return _frame_columns(entries, labels)
    data: dict[str, list[Any]] = {name: [e.base[name] for e in entries] for name in _BASE_COLUMNS}
    for name in _TIME_COLUMNS:
        data[name] = pd.to_datetime(pd.Series(data[name], dtype="float64"), unit="s", utc=True)
    data["duration"] = pd.Series(data["duration"], dtype="float64")
    extra: dict[str, list[Any]] = {}
    for i, entry in enumerate(entries):
        for prefix, values in (("config.", entry.config), ("summary.", entry.summary)):
            for key, value in values.items():
                column = extra.get(prefix + key)
                if column is None:
                    column = extra[prefix + key] = [None] * count
                column[i] = value
    for name in sorted(extra, key=lambda c: (not c.startswith("config."), c)):
        data[name] = extra[name]
    return pd.DataFrame(data)


def _frame_columns(entries: list[Any], labels: list[str]) -> pd.DataFrame:
    """The columns ``labels`` of the runs() DataFrame, each built from the entries directly."""
    import pandas as pd

    count = len(entries)
    data: dict[str, Any] = {}
    for label in labels:
        if label in _BASE_COLUMNS:
            column: Any = [e.base[label] for e in entries]
            if label in _TIME_COLUMNS:
                column = pd.to_datetime(pd.Series(column, dtype="float64"), unit="s", utc=True)
            elif label == "duration":
                column = pd.Series(column, dtype="float64")
        elif label.startswith("config."):
            column = [e.config.get(label[7:]) for e in entries]
        elif label.startswith("summary."):
            column = [e.summary.get(label[8:]) for e in entries]
        else:
            column = [None] * count
        data[label] = column
    return pd.DataFrame(data)


_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def _series_window(window: tuple[int, int] | None, steps: Any) -> tuple[int, int]:
    """The M4 window of one series: the asked one, its open ends closed at the series' points."""
    lo, hi = window if window is not None else _INT64
    return (int(steps[0]) if lo == _INT64[0] else lo, int(steps[-1]) if hi == _INT64[1] else hi)


def _group_points(table: Any, file_runs: list[str], out: dict[tuple[str, str], list[Any]]) -> None:
    """Add the points of ``table`` (file_index, key, step, value, time) to ``out`` per (run, key)."""
    import numpy as np

    if not table.num_rows:
        return
    files = table.column("file_index").to_numpy().astype(np.int64)
    run_of = np.array([sorted(set(file_runs)).index(r) for r in file_runs], np.int64)[files]
    run_names = sorted(set(file_runs))
    keys = table.column("key").to_pylist()
    key_names = sorted(set(keys))
    key_code = np.array([key_names.index(k) for k in key_names], np.int64)
    lookup = {k: i for i, k in enumerate(key_names)}
    codes = key_code[np.array([lookup[k] for k in keys], np.int64)]
    steps = table.column("step").to_numpy()
    values = table.column("value").to_numpy()
    times = table.column("time").to_numpy()
    order = np.lexsort((steps, codes, run_of))
    run_of, codes, steps, values, times = run_of[order], codes[order], steps[order], values[order], times[order]
    starts = np.flatnonzero(np.r_[True, (run_of[1:] != run_of[:-1]) | (codes[1:] != codes[:-1])])
    ends = np.r_[starts[1:], len(steps)]
    for start, end in zip(starts.tolist(), ends.tolist()):
        out.setdefault((run_names[run_of[start]], key_names[codes[start]]), []).append(
            (steps[start:end], values[start:end], times[start:end]))


def step_window(window: Any) -> tuple[int, int] | None:
    """``history(range=(lo, hi))`` as inclusive int64 step bounds (None: no bounds); either end
    may be None (open). A bad window is a :class:`QueryError` naming it."""
    import math
    import numbers

    if window is None:
        return None
    if isinstance(window, (str, bytes)) or not isinstance(window, (tuple, list)) or len(window) != 2:
        raise QueryError(f"range must be a (lo, hi) pair of steps, e.g. range=(1000, 5000), not {window!r}")
    bounds: list[float | None] = []
    for end, value in zip(("lo", "hi"), window):
        if value is None:
            bounds.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
            raise QueryError(f"range {end} must be a number of steps or None, not {value!r}")
        bounds.append(float(value) if not isinstance(value, numbers.Integral) else int(value))
    lo, hi = bounds
    if lo is not None and hi is not None and lo > hi:
        raise QueryError(f"range lo must not be above hi: {lo!r} > {hi!r}")
    if lo == math.inf or hi == -math.inf:
        return 1, 0  # no step is in it
    low = _INT64[0] if lo is None or lo == -math.inf else max(_INT64[0], min(_INT64[1], math.ceil(lo)))
    high = _INT64[1] if hi is None or hi == math.inf else max(_INT64[0], min(_INT64[1], math.floor(hi)))
    return low, high


def _arrow(con: Any, sql: str, params: dict[str, Any]) -> Any:
    """The result of ``sql`` as a pyarrow Table, without an extra copy (duckdb 2.0 names)."""
    relation = con.sql(sql, params=params)
    to_table = getattr(relation, "to_arrow_table", None) or relation.arrow
    return to_table()


def _value(num: float | None, text: str | None, flag: bool | None, raw: str | None) -> Any:
    if flag is not None:
        return flag
    if num is not None:
        if raw is not None and raw.lstrip("-").isdigit():
            return int(raw)
        return num
    if raw is not None and text is not None and raw != json.dumps(text, ensure_ascii=False):
        try:
            return json.loads(raw)  # a list or other JSON value
        except ValueError:
            return text
    return text


_stores: dict[tuple[Path, tuple[tuple[str, Any], ...]], Store] = {}
_stores_lock = threading.Lock()


def open_store(root: str | os.PathLike[str] | None = None, **settings: Any) -> Store:
    """The process's :class:`Store` for ``root``, opened once and kept (its catalog stays warm)."""
    resolved = load_settings(root, **settings)
    key = (resolved.root, tuple(sorted((k, v) for k, v in settings.items() if v is not None)))
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = Store(resolved)
            _stores[key] = store
        return store
