"""The catalog: a derived, per-process DuckDB index of run records.

Why this shape (measured, see docs/store.md): DuckDB lets one process hold a database file,
and many processes read one store at once. So every reading process keeps its own in-memory
DuckDB connection, loaded from a parquet snapshot in ``catalog/`` and kept current by the
change journal ``catalog/journal``, a file of run ids that every writer appends to after it
replaces a run record. A refresh reads only the new journal lines and re-reads those runs.
Training processes never touch the catalog. Deleting ``catalog/`` loses nothing: the next
reader rebuilds it from the run records.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import stat
import threading
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench._private import NONBLOCK, OPEN_FLAGS, make_dir, restrict
from workbench._steps import steps
from workbench.errors import CorruptRecord, StoreError
from workbench.settings import Settings
from workbench.store._atomic import atomic_write_json
from workbench.store._duckdb import connect
from workbench.store._faults import RESERVE
from workbench.store._lock import try_file_lock
from workbench.store._paths import Layout, is_run_id
from workbench.store._schema import MAX_RECORD_BYTES
from workbench.store.records import HOSTNAME, is_crashed, parse_record, process_alive, update_record

__all__ = ["Catalog", "ReindexReport"]

_SNAPSHOT_AFTER = 500  # journal lines replayed on top of a snapshot before a new one is written
_LIVENESS_EVERY = 2.0  # seconds between checks that running runs are still alive
_JOURNAL_ROTATE = 8 << 20  # bytes
_READ_ENTRIES = 64  # up to this many runs' entries are read from their records, not the tables

_RUN_COLUMNS = [
    ("run_id", "VARCHAR"), ("project", "VARCHAR"), ("name", "VARCHAR"), ("status", "VARCHAR"),
    ("created", "DOUBLE"), ("started", "DOUBLE"), ("ended", "DOUBLE"), ("heartbeat", "DOUBLE"),
    ("duration", "DOUBLE"), ("tags", "VARCHAR[]"), ("notes", "VARCHAR"), ("host", "VARCHAR"),
    ("user", "VARCHAR"), ("remote", "VARCHAR"), ("git_commit", "VARCHAR"), ("pid", "BIGINT"),
    ("notebook", "VARCHAR"), ("error", "VARCHAR"), ("group", "VARCHAR"), ("job_type", "VARCHAR"),
    ("_pid_start", "BIGINT"), ("_ino", "BIGINT"), ("_mtime", "BIGINT"), ("_size", "BIGINT"),
]
_VALUE_COLUMNS = [("run_id", "VARCHAR"), ("key", "VARCHAR"), ("num", "DOUBLE"), ("str", "VARCHAR"),
                  ("bool", "BOOLEAN"), ("json", "VARCHAR")]
_SUMMARY_COLUMNS = [*_VALUE_COLUMNS, ("min", "DOUBLE"), ("max", "DOUBLE"), ("count", "BIGINT"),
                    ("step", "BIGINT")]
_TABLES = {"_runs": _RUN_COLUMNS, "_params": _VALUE_COLUMNS, "_summaries": _SUMMARY_COLUMNS}
_PUBLIC_RUN_COLUMNS = [name for name, _ in _RUN_COLUMNS if not name.startswith("_")]
#: what the rows of a snapshot mean; another value: rebuilt from the records (2: group, job_type
#: and define_metric's flattened summaries; 3: one DuckDB database file, attached, not parquet)
_SNAPSHOT_FORMAT = 3
_SNAPSHOT_FILE = "catalog.duckdb"


@dataclass
class ReindexReport:
    """What ``reindex`` found."""

    runs: int = 0
    corrupt_records: dict[str, str] = field(default_factory=dict)
    corrupt_segments: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 1}}`` -> ``{"optim.lr": 1}``; lists and scalars stay as they are."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(inner, dict) and inner:
                out.update(flatten(inner, name))
            else:
                out[name] = inner
    return out


def _typed(value: Any) -> tuple[float | None, str | None, bool | None, str | None]:
    """(num, str, bool, json) columns of one config or summary value."""
    if value is None:
        return None, None, None, None
    if isinstance(value, bool):
        return float(value), None, value, json.dumps(value)
    if isinstance(value, (int, float)):
        number = float(value)
        return number, None, None, json.dumps(value) if math.isfinite(number) else str(value)
    if isinstance(value, str):
        return None, value, None, json.dumps(value, ensure_ascii=False)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return None, text, None, text


def _opt_float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class Entry:
    """One run as ``runs()`` shows it: base columns, flattened config, summary values."""

    base: dict[str, Any]
    config: dict[str, Any]
    summary: dict[str, Any]


class _Rows:
    """Rows of the three tables for a batch of records, as pyarrow tables."""

    def __init__(self) -> None:
        self.runs: list[tuple[Any, ...]] = []
        self.params: list[tuple[Any, ...]] = []
        self.summaries: list[tuple[Any, ...]] = []
        self.mirror: dict[str, Entry] = {}

    def add(self, record: dict[str, Any], ident: tuple[int, int, int]) -> None:
        run_id = str(record["id"])
        started = _opt_float(record.get("started"))
        ended = _opt_float(record.get("ended"))
        heartbeat = _opt_float(record.get("heartbeat"))
        end = ended if ended is not None else heartbeat
        duration = end - started if (started is not None and end is not None) else None
        git = record.get("git") or {}
        error = record.get("error") or None
        tags = record.get("tags") or []
        self.runs.append((
            run_id, str(record.get("project") or "default"), record.get("name"),
            str(record.get("status") or "running"), _opt_float(record.get("created")), started, ended,
            heartbeat, duration, [str(t) for t in tags] if isinstance(tags, list) else [],
            str(record.get("notes") or ""), record.get("host"), record.get("user"),
            record.get("remote"), git.get("commit") if isinstance(git, dict) else None,
            _opt_int(record.get("pid")), record.get("notebook"),
            (error.get("message") if isinstance(error, dict) else str(error)) if error else None,
            _opt_str(record.get("group")), _opt_str(record.get("job_type")),
            _opt_int(record.get("pid_start")), *ident,
        ))
        config = flatten(record.get("config") or {})
        for key, value in config.items():
            self.params.append((run_id, key, *_typed(value)))
        stats = record.get("metrics") or {}
        summary = record.get("summary") or {}
        summary_values: dict[str, Any] = {}
        # define_metric(summary="none") drops a key from the summary on purpose: no fallback then
        fallback = not record.get("metric_defs")
        keys = summary.keys() | stats.keys() if fallback else summary.keys()
        for key in keys:
            stat = stats.get(key) or {}
            value = summary.get(key, stat.get("last"))
            if isinstance(value, dict) and value:
                # define_metric(summary="min,max"): {"min": .., "max": ..} -> summary.loss.min, ...
                # (a real key of that name wins: one row per key)
                for inner, item in flatten(value, key).items():
                    if inner in summary or inner in stats or inner in summary_values:
                        continue
                    summary_values[inner] = item
                    self.summaries.append((run_id, inner, *_typed(item), None, None, None, None))
                if key not in stats:
                    continue
                value = stat.get("last")  # summary.loss stays the last value, with its stats
            summary_values[key] = value
            self.summaries.append((run_id, key, *_typed(value), _opt_float(stat.get("min")),
                                   _opt_float(stat.get("max")), _opt_int(stat.get("count")),
                                   _opt_int(stat.get("step"))))
        row = self.runs[-1]
        self.mirror[run_id] = Entry(dict(zip(_PUBLIC_RUN_COLUMNS, row)), config, summary_values)

    def tables(self) -> dict[str, Any]:
        import pyarrow as pa

        out = {}
        for name, rows in (("_runs", self.runs), ("_params", self.params), ("_summaries", self.summaries)):
            columns = _TABLES[name]
            arrays: list[Any] = list(zip(*rows)) if rows else [() for _ in columns]
            out[name] = pa.table({col: pa.array(list(values), type=_arrow_type(kind))
                                  for (col, kind), values in zip(columns, arrays)})
        return out


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {"VARCHAR": pa.string(), "DOUBLE": pa.float64(), "BIGINT": pa.int64(),
            "BOOLEAN": pa.bool_(), "VARCHAR[]": pa.list_(pa.string())}[kind]


class Catalog:
    """The in-memory index of one store in this process. Thread-safe; use one per process."""

    def __init__(self, layout: Layout, settings: Settings) -> None:
        self.layout = layout
        self.settings = settings
        self._lock = threading.RLock()
        self._con = connect(layout)  # reads and writes runs/ and catalog/ only; see _duckdb.py
        self._journal: tuple[int, int] | None = None  # (inode, offset) read so far
        self._since_snapshot = 0
        self._loaded = False
        self._last_liveness = 0.0
        self._bad_records: dict[str, tuple[tuple[int, int, int], str]] = {}
        # what runs() returns for each run, kept in Python: assembling a result from here is
        # much cheaper than two more DuckDB round trips (about 1-3 ms each); runs loaded from a
        # snapshot are filled in on first use
        self._mirror: dict[str, Entry] = {}
        # after a cold open from a snapshot (no full scan), the rows not yet compared with their
        # record files: every row but those in _verified, until a full scan sets _trusted; see verify
        self._trusted = True
        self._verified: set[str] = set()
        self._runs_mtime: int | None = None  # runs/'s mtime when its listing last matched the rows
        self._attached = False  # a snapshot is attached as ``snap``
        self._snapshot: Path | None = None  # its file
        self._replacing = False  # some run of the snapshot has rows in _new_* or is gone
        self._create_tables()

    # -- tables ---------------------------------------------------------------------------------
    # ``_runs``, ``_params`` and ``_summaries`` are views: the rows of the snapshot this process
    # opened (attached read-only, ``snap``; read lazily, column by column, as queries need them)
    # less the runs in ``_replaced``, plus this process's own rows in the ``_new_*`` tables
    def _create_tables(self) -> None:
        self._mirror = {}
        con = self._con
        if self._attached:
            con.execute("DETACH snap")
            self._attached = False
        statements = []
        for name, columns in _TABLES.items():
            cols = ", ".join(f'"{c}" {t}' for c, t in columns)
            statements.append(f"CREATE OR REPLACE TABLE _new{name} ({cols})")
        statements.append("CREATE OR REPLACE TABLE _replaced (run_id VARCHAR)")
        self._replacing = False
        statements += self._views()
        public = ", ".join(f'"{c}"' for c in _PUBLIC_RUN_COLUMNS)
        statements += [
            f"CREATE OR REPLACE VIEW runs AS SELECT {public} FROM _runs",
            "CREATE OR REPLACE VIEW params AS SELECT run_id, key, num, str, bool, json AS value FROM _params",
            "CREATE OR REPLACE VIEW summaries AS SELECT run_id, key, num AS value, str AS text, "
            "min, max, count, step FROM _summaries",
        ]
        con.execute(";\n".join(statements))  # one call: each costs a round trip on a cold start

    def _define_views(self) -> None:
        self._con.execute(";\n".join(self._views()))

    def _views(self) -> list[str]:
        out = []
        for name, columns in _TABLES.items():
            cols = ", ".join(f'"{c}"' for c, _ in columns)
            if not self._attached:
                body = f"SELECT {cols} FROM _new{name}"
            else:
                # the anti-join only once some snapshot run was replaced: it costs every query
                unless = " WHERE run_id NOT IN (SELECT run_id FROM _replaced)" if self._replacing else ""
                body = f"SELECT {cols} FROM snap.{name}{unless} UNION ALL SELECT {cols} FROM _new{name}"
            out.append(f"CREATE OR REPLACE VIEW {name} AS {body}")
        return out

    @property
    def connection(self) -> Any:
        return self._con

    def _apply(self, rows: _Rows, remove: Iterable[str]) -> None:
        ids = list({*remove, *(r[0] for r in rows.runs)})
        for run_id in ids:
            self._mirror.pop(run_id, None)
        self._mirror.update(rows.mirror)
        con = self._con
        if ids:
            if self._attached:
                con.execute("INSERT INTO _replaced SELECT unnest($ids) EXCEPT SELECT run_id FROM _replaced",
                            {"ids": ids})
                if not self._replacing:
                    self._replacing = True
                    self._define_views()
            for name in _TABLES:
                con.execute(f"DELETE FROM _new{name} WHERE list_contains($ids, run_id)", {"ids": ids})
        if not rows.runs:
            return
        for name, table in rows.tables().items():
            if table.num_rows:
                con.register("_delta", table)
                try:
                    con.execute(f"INSERT INTO _new{name} SELECT * FROM _delta")
                finally:
                    con.unregister("_delta")

    def entries(self, run_ids: list[str]) -> list[Entry]:
        """Mirror entries of ``run_ids`` (call under the lock, after ``refresh``)."""
        missing = [rid for rid in run_ids if rid not in self._mirror]
        if 0 < len(missing) <= _READ_ENTRIES:
            missing = self._entries_from_records(missing, self._idents(missing))
        if missing:
            self._fill_mirror(missing)
        return [self._mirror[rid] for rid in run_ids]

    def _idents(self, run_ids: list[str]) -> dict[str, tuple[int, int, int]]:
        return {row[0]: (row[1], row[2], row[3]) for row in self._con.execute(
            "SELECT run_id, _ino, _mtime, _size FROM _runs WHERE list_contains($ids, run_id)",
            {"ids": run_ids}).fetchall()}

    def _entries_from_records(self, run_ids: list[str], known: dict[str, tuple[int, int, int]]) -> list[str]:
        """Mirror entries of a few runs read from their records (cheaper than three scans of the
        tables), where the record is the very file the run's rows came from; the ids of the others."""
        rows = _Rows()
        other = []
        now = time.time()
        for run_id in run_ids:
            record, ident = self._read(run_id)
            if record is None or ident is None or known.get(run_id) != ident:
                other.append(run_id)
                continue
            if is_crashed(record, now, self.settings.crash_after):
                record = {**record, "status": "crashed"}
            rows.add(record, ident)
            if rows.mirror[run_id].base.get("status") != record.get("status"):
                other.append(run_id)  # the row says otherwise (marked crashed since): the rows win
                del rows.mirror[run_id]
        self._mirror.update(rows.mirror)
        return other

    def _fill_mirror(self, run_ids: list[str]) -> None:
        from workbench.store.store import _value

        con = self._con
        columns = ", ".join(f'"{c}"' for c in _PUBLIC_RUN_COLUMNS)
        for row in con.execute(f"SELECT {columns} FROM _runs WHERE list_contains($ids, run_id)",
                               {"ids": run_ids}).fetchall():
            self._mirror[row[0]] = Entry(dict(zip(_PUBLIC_RUN_COLUMNS, row)), {}, {})
        for table, part in (("_params", "config"), ("_summaries", "summary")):
            for run_id, key, num, text, flag, raw in con.execute(
                f"SELECT run_id, key, num, str, bool, json FROM {table} WHERE list_contains($ids, run_id)",
                {"ids": run_ids},
            ).fetchall():
                entry = self._mirror.get(run_id)
                if entry is not None:
                    getattr(entry, part)[key] = _value(num, text, flag, raw)

    # -- reading records --------------------------------------------------------------------------
    def _read(self, run_id: str) -> tuple[dict[str, Any] | None, tuple[int, int, int] | None]:
        """The record and the identity (inode, mtime, size) of exactly the bytes read."""
        path = self.layout.runs / run_id / "run.json"
        try:  # O_NONBLOCK: a fifo in a record's place must not hang every query
            fd = os.open(path, os.O_RDONLY | NONBLOCK | OPEN_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            return None, None
        except OSError as exc:
            return self._bad(run_id, (0, 0, 0), f"run record {path} cannot be read: {exc.strerror}")
        try:
            st = os.fstat(fd)
            ident = (st.st_ino, st.st_mtime_ns, st.st_size)
            bad = self._bad_records.get(run_id)
            if bad is not None and bad[0] == ident:
                return None, ident  # known bad and unchanged: not read again
            if not stat.S_ISREG(st.st_mode):
                return self._bad(run_id, ident, f"run record {path} is not a regular file")
            try:
                with os.fdopen(fd, "rb", closefd=False) as handle:
                    data = handle.read(MAX_RECORD_BYTES + 1)  # more is refused unread (parse_record)
            except OSError as exc:
                return self._bad(run_id, ident, f"run record {path} cannot be read: {exc.strerror}")
        finally:
            os.close(fd)
        try:
            record = parse_record(data, path)
            if record.get("id") != run_id:
                raise CorruptRecord(f"run record {path} names run {record.get('id')!r}, not {run_id!r}")
        except StoreError as exc:
            return self._bad(run_id, ident, str(exc))
        self._bad_records.pop(run_id, None)
        return record, ident

    def _bad(self, run_id: str, ident: tuple[int, int, int], why: str) -> tuple[None, tuple[int, int, int]]:
        """Note a record that cannot be used (until its file changes) and warn once, naming it."""
        if self._bad_records.get(run_id) != (ident, why):
            warnings.warn(f"skipping run {run_id}: {why}", stacklevel=5)
        self._bad_records[run_id] = (ident, why)
        return None, ident

    def _load_ids(self, run_ids: Iterable[str]) -> tuple[_Rows, list[str], list[dict[str, Any]]]:
        rows, gone, crashed = _Rows(), [], []
        now = time.time()
        for run_id in steps(run_ids, "reading run records"):
            record, ident = self._read(run_id)
            if record is None or ident is None:
                gone.append(run_id)
                continue
            if is_crashed(record, now, self.settings.crash_after):
                if not record.get("remote"):  # synced runs are read-only: shown as crashed only
                    crashed.append(record)
                record = {**record, "status": "crashed"}
            rows.add(record, ident)
        return rows, gone, crashed

    def _mark_crashed(self, records: list[dict[str, Any]]) -> None:
        """Persist ``crashed`` for runs whose process died; their new records reach us by the journal."""
        for record in records:
            def mutate(current: dict[str, Any]) -> bool:
                if not is_crashed(current, time.time(), self.settings.crash_after):
                    return False
                current["status"] = "crashed"
                current["ended"] = current.get("heartbeat") or time.time()
                current["error"] = {
                    "type": "crashed",
                    "message": f"process {current.get('pid')} on {current.get('host')} ended without "
                               "finishing the run (killed, out of memory, or power loss); points flushed "
                               "before that are kept",
                }
                return True

            # the space a dead run held for its final record (tracking/_reserve.py) is no longer
            # needed: give it back first, so that the mark fits on a full disk. Only when its death
            # is certain (a dead pid on this host): a stale heartbeat may be a live run on another
            # host of a shared store, stuck on that very full disk and needing the space to finish
            pid = record.get("pid")
            here = record.get("host") == HOSTNAME and not record.get("remote")
            if here and isinstance(pid, int) and not process_alive(pid, record.get("pid_start")):
                with contextlib.suppress(OSError):
                    (self.layout.run_dir(record["id"]) / RESERVE).unlink()
            try:
                update_record(self.layout, record["id"], mutate, fsync=self.settings.fsync)
            except (StoreError, OSError) as exc:  # OSError: a full or read-only disk; it reads crashed all the same
                warnings.warn(f"could not mark run {record['id']} crashed: {exc}", stacklevel=3)

    # -- journal ---------------------------------------------------------------------------------
    def _journal_stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.layout.journal)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_size

    def _read_journal(self, start: int) -> tuple[set[str], int]:
        try:
            with open(self.layout.journal, "rb") as handle:
                handle.seek(start)
                data = handle.read()
        except FileNotFoundError:
            return set(), start
        end = data.rfind(b"\n") + 1  # a line being written is read next time
        # a line that is no run id (the journal is a plain file anyone can write) never becomes a path
        ids = {line for line in data[:end].decode("utf-8", "replace").split("\n") if is_run_id(line)}
        return ids, start + end

    def _scan_ids(self) -> tuple[list[str], dict[str, tuple[int, int, int]]]:
        """Every run directory, and the identity of each run.json (a stat per run)."""
        try:
            names = os.listdir(self.layout.runs)
        except FileNotFoundError:
            return [], {}
        base = str(self.layout.runs)
        idents: dict[str, tuple[int, int, int]] = {}
        for name in names:
            if name.startswith("."):
                continue
            try:  # a string path: 100,000 of them through pathlib cost more than the stats
                st = os.stat(f"{base}/{name}/run.json")
            except (FileNotFoundError, NotADirectoryError):
                continue
            idents[name] = (st.st_ino, st.st_mtime_ns, st.st_size)
        return names, idents

    def _runs_dir_mtime(self) -> int | None:
        try:
            return os.stat(self.layout.runs).st_mtime_ns
        except OSError:
            return None

    def _list_diff(self) -> None:
        """Compare the names in ``runs/`` with the rows (no stat per run): index run directories
        that appeared and drop those that went without a journal line (copied or removed by hand)."""
        mtime = self._runs_dir_mtime()
        try:
            names = {n for n in os.listdir(self.layout.runs) if not n.startswith(".")}
        except FileNotFoundError:
            names = set()
        known = {row[0] for row in self._con.execute("SELECT run_id FROM _runs").fetchall()}
        added = [n for n in names - known if is_run_id(n) and n not in self._bad_records]
        gone = list(known - names)
        if added or gone:
            self._since_snapshot += len(added) + len(gone)
            self._verified.update(added)
            rows, missing, crashed = self._load_ids(added)
            self._apply(rows, [*gone, *missing])
            self._mark_crashed(crashed)
        self._runs_mtime = mtime

    def verify(self, run_ids: Iterable[str]) -> bool:
        """Compare the rows of ``run_ids`` with their record files, once per run after a cold open
        from a snapshot; re-read those that differ. True if any did (the query should run again).

        Call under the lock, after ``refresh``. This is what keeps a snapshot honest without a
        full scan: a record replaced without a journal line (by hand, or by a writer killed
        between its rename and its journal line) is read again before a query returns it.
        """
        if self._trusted:
            return False
        todo = [rid for rid in run_ids if rid not in self._verified]
        if not todo:
            return False
        known = self._idents(todo)
        if len(todo) <= _READ_ENTRIES:  # read them whole: runs() needs their entries next
            changed = [rid for rid in self._entries_from_records(todo, known) if rid not in self._mirror]
        else:
            base = str(self.layout.runs)
            changed = []
            for rid in todo:
                try:
                    st = os.stat(f"{base}/{rid}/run.json")
                    ident: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
                except OSError:
                    ident = None
                if ident is None or known.get(rid) != ident:
                    changed.append(rid)
        self._verified.update(todo)
        if changed:
            self._reload(changed)
            self._since_snapshot += len(changed)
        return bool(changed)

    def verify_all(self) -> None:
        """Compare every row with its record file (a full scan), once; for queries of any shape."""
        with self._lock:
            if not self._trusted:
                try:
                    self._full_scan()
                except Exception as exc:
                    if not self.recover(exc):  # a damaged snapshot: a full scan of the records anyway
                        raise

    # -- refresh ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Bring the index up to date with the files; cheap when nothing changed."""
        with self._lock:
            try:
                self._refresh()
            except Exception as exc:  # a snapshot's block found damaged as it is read
                if not self.recover(exc):
                    raise
                self._refresh()

    def _refresh(self) -> None:
        if not self._loaded:
            self._cold_load()
        else:
            self._warm_refresh()
        now = time.monotonic()
        if now - self._last_liveness >= _LIVENESS_EVERY:
            self._last_liveness = now
            self._check_liveness()

    def recover(self, exc: BaseException) -> bool:
        """After a DuckDB error: if it came from a damaged snapshot, drop it and index the records
        again (with a warning; the next snapshot replaces it) and return True: run the query again.

        DuckDB checks each block of the snapshot as it reads it, so damage shows when a query first
        reads the damaged part, not when the snapshot is attached.
        """
        import duckdb

        with self._lock:
            if not self._attached or not isinstance(exc, duckdb.Error) or isinstance(exc, _query_errors()):
                return False
            warnings.warn(f"catalog snapshot unreadable, rebuilding from run records: {self._snapshot}: {exc}",
                          stacklevel=3)
            self._create_tables()
            self._loaded = False
            self._since_snapshot = 0
            self._cold_load(use_snapshot=False)
            self._last_liveness = time.monotonic()
            return True

    def _cold_load(self, use_snapshot: bool = True) -> None:
        make_dir(self.layout.catalog)
        journal = self._journal_stat()
        state = self._load_snapshot() if use_snapshot else None
        position = _position(state)
        if (state is not None and position is not None and journal is not None
                and journal[0] == position[0] and journal[1] >= position[1]):
            # the snapshot names the journal offset it is current to, and that journal is still
            # there: what changed since is in the journal after that offset (every writer appends
            # there after it replaces a record), so no full scan. Directories copied in or removed
            # by hand show in runs/'s mtime; records replaced by hand, when a query returns them
            # (verify); a record corrupt when the snapshot was written is read (and named) again
            self._trusted = False
            self._verified = set()
            self._journal = position
            mtime = self._runs_dir_mtime()
            if mtime is None or mtime != state.get("runs_mtime"):
                self._list_diff()
            else:
                self._runs_mtime = mtime
            bad = state.get("bad")
            if isinstance(bad, list):
                self._reload(rid for rid in bad if isinstance(rid, str) and is_run_id(rid))
            ids, offset = self._read_journal(position[1])
            self._journal = (journal[0], offset)
            if ids:
                self._reload(ids)
                self._since_snapshot += len(ids)
            self._loaded = True
            if self._since_snapshot >= _SNAPSHOT_AFTER:
                self._maybe_snapshot()
            return
        # validate the snapshot (or build from nothing) against the files themselves
        self._runs_mtime = self._runs_dir_mtime()  # before the listing: a later change shows
        self._full_scan()
        self._replay_since(journal)
        self._loaded = True
        self._maybe_snapshot(force=True)

    def _full_scan(self) -> None:
        _, idents = self._scan_ids()
        known = dict(
            (row[0], (row[1], row[2], row[3]))
             for row in self._con.execute("SELECT run_id, _ino, _mtime, _size FROM _runs").fetchall()
        )
        changed = [rid for rid, ident in idents.items() if known.get(rid) != ident]
        gone = [rid for rid in known if rid not in idents]
        if changed or gone:
            rows, missing, crashed = self._load_ids(changed)
            self._apply(rows, [*gone, *missing])
            self._since_snapshot += len(changed) + len(gone)
            self._mark_crashed(crashed)
        self._trusted = True
        self._verified = set()

    def _replay_since(self, journal: tuple[int, int] | None) -> None:
        """After a full scan: re-read the runs journaled since ``journal`` was stat'ed before it."""
        self._journal = journal if journal is not None else (0, 0)
        if journal is not None:
            ids, offset = self._read_journal(journal[1])
            self._journal = (journal[0], offset)
            if ids:
                self._reload(ids)

    def _reload(self, run_ids: Iterable[str]) -> None:
        run_ids = list(run_ids)
        if not run_ids:
            return
        if not self._trusted:
            self._verified.update(run_ids)  # read from their files just now
        rows, gone, crashed = self._load_ids(run_ids)
        self._apply(rows, gone)
        self._mark_crashed(crashed)

    def _warm_refresh(self) -> None:
        journal = self._journal_stat()
        if journal is None or self._journal is None or journal[0] != self._journal[0] or journal[1] < self._journal[1]:
            # the journal was rotated or deleted: compare every record once
            self._full_scan()
            self._journal = (journal[0], 0) if journal else None
            if journal is None:
                make_dir(self.layout.catalog)
                return
        assert self._journal is not None
        if journal[1] > self._journal[1]:
            ids, offset = self._read_journal(self._journal[1])
            self._journal = (journal[0], offset)
            if ids:
                self._reload(ids)
                self._since_snapshot += len(ids)
        if self._since_snapshot >= _SNAPSHOT_AFTER:
            self._maybe_snapshot()

    def _check_liveness(self) -> None:
        running = [r[0] for r in self._con.execute(
            "SELECT run_id FROM _runs WHERE status = 'running'").fetchall()]
        if running:
            self._reload(running)

    # -- snapshots -------------------------------------------------------------------------------
    def _state_path(self) -> Path:
        return self.layout.catalog / "state.json"

    def _load_snapshot(self) -> dict[str, Any] | None:
        """Load the snapshot ``state.json`` names into the tables; its state, or None if none was."""
        try:
            state = json.loads(self._state_path().read_bytes())
            name = str(state["snapshot"])
            if state.get("format") != _SNAPSHOT_FORMAT:
                return None  # rows of another workbench (older columns or summary rows): rebuild
            directory = self.layout.catalog / name
            if not name.startswith("snapshot-") or "/" in name or not directory.is_dir():
                return None
            path = directory / _SNAPSHOT_FILE
            if not path.is_file():
                raise OSError(f"{path} is not a regular file" if os.path.lexists(path) else f"{path} is missing")
            # read-only and lazily: a query reads the columns and row groups it needs, no more. The
            # file is never written again (a new snapshot is a new directory); one removed while
            # attached stays readable through DuckDB's open descriptor
            self._con.execute(f"ATTACH '{_sql_path(path)}' AS snap (READ_ONLY)")
            self._attached = True
            self._snapshot = path
            found = self._con.execute(
                "SELECT table_name, list(column_name || ' ' || data_type ORDER BY column_index) "
                "FROM duckdb_columns() WHERE database_name = 'snap' GROUP BY table_name").fetchall()
            expected = {name: [f"{c} {t}" for c, t in columns] for name, columns in _TABLES.items()}
            if {name: list(cols) for name, cols in found} != expected:
                raise ValueError(f"{path} does not hold the catalog's tables")
            self._define_views()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._create_tables()
            if not isinstance(exc, FileNotFoundError):
                warnings.warn(f"catalog snapshot unreadable, rebuilding from run records: {exc}", stacklevel=4)
            return None
        except Exception as exc:  # noqa: BLE001 - duckdb errors: the snapshot is only a cache
            self._create_tables()
            warnings.warn(f"catalog snapshot unreadable, rebuilding from run records: {exc}", stacklevel=4)
            return None
        return state  # type: ignore[no-any-return]

    def _maybe_snapshot(self, force: bool = False) -> None:
        """Write a snapshot if no other process is writing one; snapshots only speed up cold starts."""
        if not force and self._since_snapshot < _SNAPSHOT_AFTER:
            return
        import duckdb

        if self._runs_mtime is None or self._runs_mtime != self._runs_dir_mtime():
            self._list_diff()  # runs/ changed since it was last listed: the snapshot names its mtime

        catalog = self.layout.catalog
        try:
            make_dir(catalog)
            with try_file_lock(catalog / "lock") as locked:
                if not locked:
                    return
                name = f"snapshot-{time.time_ns():x}-{os.getpid()}"
                tmp = catalog / f".{name}.tmp"
                make_dir(tmp, parents=False, exist_ok=False)
                path = tmp / _SNAPSHOT_FILE
                try:
                    self._con.execute(f"ATTACH '{_sql_path(path)}' AS _out")
                    try:
                        restrict(path)  # DuckDB creates files 0666 less the umask
                        # sorted so that a query's key = '...' skips most row groups (zone maps)
                        for table, order in (("_runs", "run_id"), ("_params", "key, run_id"),
                                             ("_summaries", "key, run_id")):
                            self._con.execute(f"CREATE TABLE _out.{table} AS SELECT * FROM {table} ORDER BY {order}")
                    finally:
                        self._con.execute("DETACH _out")
                except duckdb.Error as exc:  # DuckDB's own I/O error: a full disk, as an OSError would say
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise OSError(str(exc)) from exc
                os.rename(tmp, catalog / name)
                previous = None
                try:
                    previous = json.loads(self._state_path().read_bytes()).get("snapshot")
                except (OSError, ValueError, AttributeError):
                    pass
                state: dict[str, Any] = {"format": _SNAPSHOT_FORMAT, "snapshot": name}
                if self._journal is not None and self._journal[0]:
                    # the rows are current to this journal offset (a reader replays from here)
                    # and to this listing of runs/; records that could not be read are read again
                    state.update(journal=list(self._journal), runs_mtime=self._runs_mtime,
                                 bad=sorted(self._bad_records))
                atomic_write_json(self._state_path(), state, fsync=False)
                self._since_snapshot = 0
                # older snapshots: a reader that attached one keeps reading it through its open
                # file descriptor after it is removed here
                for old in catalog.iterdir():
                    if old.name.startswith("snapshot-") and old.name not in (name, previous):
                        shutil.rmtree(old, ignore_errors=True)
                self._maybe_rotate_journal()
        except OSError as exc:  # a read-only or full disk: queries work without snapshots
            warnings.warn(f"could not write a catalog snapshot in {catalog}: {exc}", stacklevel=4)

    def _maybe_rotate_journal(self) -> None:
        stat = self._journal_stat()
        if stat is None or stat[1] < _JOURNAL_ROTATE:
            return
        # readers that see a new journal inode compare every record once, so no change is missed
        os.replace(self.layout.journal, self.layout.catalog / "journal.old")

    # -- maintenance -----------------------------------------------------------------------------
    def rebuild(self) -> ReindexReport:
        """Forget everything and index every run record again; write a fresh snapshot."""
        started = time.perf_counter()
        with self._lock:
            self._create_tables()
            self._bad_records.clear()
            journal = self._journal_stat()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._full_scan()
                self._replay_since(journal)
            self._loaded = True
            self._maybe_snapshot(force=True)
            report = ReindexReport()
            row = self._con.execute("SELECT count(*) FROM _runs").fetchone()
            report.runs = int(row[0]) if row else 0
            report.corrupt_records = {rid: msg for rid, (_, msg) in self._bad_records.items()}
        report.seconds = time.perf_counter() - started
        return report

    @property
    def bad_records(self) -> dict[str, str]:
        return {rid: msg for rid, (_, msg) in self._bad_records.items()}

    def close(self) -> None:
        with self._lock:
            self._con.close()


def check_snapshot(directory: Path) -> list[tuple[Path, str]]:
    """Problems of the snapshot in ``directory`` (for fsck): every block of its tables is read, so
    DuckDB checks each one's checksum."""
    import duckdb

    path = directory / _SNAPSHOT_FILE
    try:
        if not path.is_file():
            raise OSError("not a regular file" if os.path.lexists(path) else "missing")
        con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                                 "autoload_known_extensions": False})
        try:
            con.execute(f"ATTACH '{_sql_path(path)}' AS snap (READ_ONLY)")
            for table, columns in _TABLES.items():
                sums = ", ".join(f'count("{c}")' for c, _ in columns)  # reads every column's blocks
                con.execute(f"SELECT {sums}, sum(hash(*COLUMNS(*))) FROM snap.{table}").fetchall()
        finally:
            con.close()
    except Exception as exc:  # noqa: BLE001 - any DuckDB or OS failure: the snapshot is damaged
        return [(path, str(exc))]
    return []


def _query_errors() -> tuple[type[BaseException], ...]:
    import duckdb

    return (duckdb.ParserException, duckdb.BinderException, duckdb.ConversionException,
            duckdb.InvalidInputException, duckdb.CatalogException, duckdb.OutOfRangeException,
            duckdb.TypeMismatchException, duckdb.NotImplementedException, duckdb.PermissionException,
            duckdb.InterruptException, duckdb.OutOfMemoryException)


def _position(state: dict[str, Any] | None) -> tuple[int, int] | None:
    """The journal (inode, offset) a snapshot's rows are current to, if its state names one."""
    if not isinstance(state, dict):
        return None
    value = state.get("journal")
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)):
        return value[0], value[1]
    return None


def _sql_path(path: Path) -> str:
    """A path as a SQL string literal body (our own paths; quotes doubled)."""
    return str(path).replace("'", "''")

