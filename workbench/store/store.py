"""``Store``: one opened root, the queries over it, and the per-process cache of open stores."""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
        import duckdb

        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise QueryError(f"limit must be a non-negative int, not {limit!r}")
        compiled = compile_query(where, order_by if isinstance(order_by, str) or order_by is None else list(order_by))
        wanted = [parse_field(c) for c in columns] if columns is not None else None
        params = dict(compiled.params)
        conditions = [compiled.where]
        if project is not None:
            params["project"] = project
            conditions.append("r.project = $project")
        order = compiled.order or []
        order = [*order, "r.created DESC", "r.run_id DESC"]
        sql = (f"SELECT r.run_id FROM _runs r {' '.join(compiled.joins)} WHERE {' AND '.join(conditions)} "
               f"ORDER BY {', '.join(order)}")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        self.catalog.refresh()
        with self.catalog._lock:
            try:
                ids = [row[0] for row in self.catalog.connection.execute(sql, params).fetchall()]
            except duckdb.Error as exc:  # e.g. comparing text with a number
                raise QueryError(f"the query could not run: {exc}") from exc
            entries = self.catalog.entries(ids)
        return _frame(entries, wanted)

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

    def _read_metrics(self, run_ids: Sequence[str], keys: Sequence[str] | None) -> tuple[Any, list[str]]:
        """Points of ``run_ids`` as an Arrow table (run_code, [key,] step, value, time) sorted by run,
        key, step, and the run ids the codes index; corrupt files are skipped.

        Rows carry an integer run code, not a string, so that ``history(samples=)`` can pick the
        points it keeps before any run-id string is made (:meth:`_finish`). With one key the
        ``key`` column is left out for the same reason.
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
            if single:  # one key: no key strings to decode (20% faster)
                sql = "SELECT file_index, step, value, time FROM read_parquet($files) WHERE key = $key"
                params["key"] = keys[0]  # type: ignore[index]
            else:
                key_filter = "WHERE key IN (SELECT unnest($keys))" if keys is not None else ""
                sql = f"SELECT file_index, key, step, value, time FROM read_parquet($files) {key_filter}"
                if keys is not None:
                    params["keys"] = list(keys)
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
                samples: int | None = None) -> pd.DataFrame:
        """Points of ``run_ids`` (sorted by run id, key, step); see :func:`workbench.history`."""
        import numpy as np

        if isinstance(run_ids, str):
            run_ids = [run_ids]
        ids = sorted(dict.fromkeys(self.resolve(r) for r in run_ids))
        if isinstance(keys, str):
            keys = [keys]
        if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
            raise QueryError(f"samples must be a positive int, not {samples!r}")
        table, runs = self._read_metrics(ids, keys)
        if samples is not None and table.num_rows > samples:
            steps = table.column("step").to_numpy()
            values = table.column("value").to_numpy()
            run_codes = table.column("run_code").to_numpy()
            key_codes = self._key_codes(table)
            change = np.r_[True, (run_codes[1:] != run_codes[:-1]) | (key_codes[1:] != key_codes[:-1])]
            starts = np.flatnonzero(change)
            ends = np.r_[starts[1:], len(steps)]
            keep = [start + m4_indices(steps[start:end], values[start:end], samples)
                    for start, end in zip(starts.tolist(), ends.tolist())]
            table = table.take(np.concatenate(keep))
        return self._finish(table, runs, keys).to_pandas()

    # -- sql() -------------------------------------------------------------------------------------
    def sql(self, query: str) -> pd.DataFrame:
        import duckdb

        if not isinstance(query, str) or not query.strip():
            raise QueryError("sql() needs a query, e.g. \"select status, count(*) from runs group by 1\"")
        with self.catalog._lock:
            check_read_only(self.catalog.connection, query)
        self.catalog.refresh()
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
            for _, path in self.metric_files(ids):
                try:
                    if path.exists() and not path.is_file():  # a directory in its place reads as empty
                        raise OSError(f"{path} is not a regular file")
                    pq.read_table(path)
                except FileNotFoundError:
                    continue
                except Exception as exc:  # noqa: BLE001
                    report.corrupt_segments[str(path)] = str(exc)
        return report


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
