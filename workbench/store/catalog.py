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
#: and define_metric's flattened summaries)
_SNAPSHOT_FORMAT = 2


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
        self._create_tables()

    # -- tables ---------------------------------------------------------------------------------
    def _create_tables(self) -> None:
        self._mirror = {}
        con = self._con
        for name, columns in _TABLES.items():
            cols = ", ".join(f'"{c}" {t}' for c, t in columns)
            con.execute(f"CREATE OR REPLACE TABLE {name} ({cols})")
        public = ", ".join(f'"{c}"' for c in _PUBLIC_RUN_COLUMNS)
        con.execute(f"CREATE OR REPLACE VIEW runs AS SELECT {public} FROM _runs")
        con.execute("CREATE OR REPLACE VIEW params AS SELECT run_id, key, num, str, bool, json AS value FROM _params")
        con.execute("CREATE OR REPLACE VIEW summaries AS SELECT run_id, key, num AS value, str AS text, "
                    "min, max, count, step FROM _summaries")

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
            for name in _TABLES:
                con.execute(f"DELETE FROM {name} WHERE list_contains($ids, run_id)", {"ids": ids})
        for name, table in rows.tables().items():
            if table.num_rows:
                con.register("_delta", table)
                try:
                    con.execute(f"INSERT INTO {name} SELECT * FROM _delta")
                finally:
                    con.unregister("_delta")

    def entries(self, run_ids: list[str]) -> list[Entry]:
        """Mirror entries of ``run_ids`` (call under the lock, after ``refresh``)."""
        missing = [rid for rid in run_ids if rid not in self._mirror]
        if missing:
            self._fill_mirror(missing)
        return [self._mirror[rid] for rid in run_ids]

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
        for run_id in run_ids:
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
        idents: dict[str, tuple[int, int, int]] = {}
        for name in names:
            if name.startswith("."):
                continue
            try:
                st = os.stat(self.layout.runs / name / "run.json")
            except (FileNotFoundError, NotADirectoryError):
                continue
            idents[name] = (st.st_ino, st.st_mtime_ns, st.st_size)
        return names, idents

    # -- refresh ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Bring the index up to date with the files; cheap when nothing changed."""
        with self._lock:
            if not self._loaded:
                self._cold_load()
            else:
                self._warm_refresh()
            now = time.monotonic()
            if now - self._last_liveness >= _LIVENESS_EVERY:
                self._last_liveness = now
                self._check_liveness()

    def _cold_load(self) -> None:
        make_dir(self.layout.catalog)
        journal = self._journal_stat()
        used_snapshot = self._load_snapshot()
        # validate the snapshot (or build from nothing) against the files themselves
        self._full_scan()
        self._replay_since(journal)
        self._loaded = True
        if not used_snapshot or self._since_snapshot:
            self._maybe_snapshot(force=not used_snapshot)

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

    def _replay_since(self, journal: tuple[int, int] | None) -> None:
        """After a full scan: re-read the runs journaled since ``journal`` was stat'ed before it."""
        self._journal = journal if journal is not None else (0, 0)
        if journal is not None:
            ids, offset = self._read_journal(journal[1])
            self._journal = (journal[0], offset)
            if ids:
                self._reload(ids)

    def _reload(self, run_ids: Iterable[str]) -> None:
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

    def _load_snapshot(self) -> bool:
        try:
            state = json.loads(self._state_path().read_bytes())
            name = str(state["snapshot"])
            if state.get("format") != _SNAPSHOT_FORMAT:
                return False  # rows of another workbench (older columns or summary rows): rebuild
            directory = self.layout.catalog / name
            if not name.startswith("snapshot-") or "/" in name or not directory.is_dir():
                return False
            for name in _TABLES:
                # by name: columns in the table's order whatever the file's
                self._con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM read_parquet($p)",
                                  {"p": str(directory / f"{name[1:]}.parquet")})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._create_tables()
            if not isinstance(exc, FileNotFoundError):
                warnings.warn(f"catalog snapshot unreadable, rebuilding from run records: {exc}", stacklevel=4)
            return False
        except Exception as exc:  # noqa: BLE001 - duckdb errors: the snapshot is only a cache
            self._create_tables()
            warnings.warn(f"catalog snapshot unreadable, rebuilding from run records: {exc}", stacklevel=4)
            return False
        return True

    def _maybe_snapshot(self, force: bool = False) -> None:
        """Write a snapshot if no other process is writing one; snapshots only speed up cold starts."""
        if not force and self._since_snapshot < _SNAPSHOT_AFTER:
            return
        import duckdb

        catalog = self.layout.catalog
        try:
            make_dir(catalog)
            with try_file_lock(catalog / "lock") as locked:
                if not locked:
                    return
                name = f"snapshot-{time.time_ns():x}-{os.getpid()}"
                tmp = catalog / f".{name}.tmp"
                make_dir(tmp, parents=False, exist_ok=False)
                try:
                    for table in _TABLES:
                        self._con.execute(f"COPY {table} TO '{_sql_path(tmp / (table[1:] + '.parquet'))}' "
                                          "(FORMAT parquet, COMPRESSION zstd)")
                        restrict(tmp / (table[1:] + ".parquet"))  # DuckDB creates files 0666 less the umask
                except duckdb.Error as exc:  # DuckDB's own I/O error: a full disk, as an OSError would say
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise OSError(str(exc)) from exc
                os.rename(tmp, catalog / name)
                previous = None
                try:
                    previous = json.loads(self._state_path().read_bytes()).get("snapshot")
                except (OSError, ValueError, AttributeError):
                    pass
                atomic_write_json(self._state_path(), {"format": _SNAPSHOT_FORMAT, "snapshot": name}, fsync=False)
                self._since_snapshot = 0
                # older snapshots: any reader loads a snapshot whole at its start, so they can go
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


def _sql_path(path: Path) -> str:
    """A path as a SQL string literal body (our own paths; quotes doubled)."""
    return str(path).replace("'", "''")

