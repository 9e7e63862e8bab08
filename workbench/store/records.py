"""Run records: ``runs/<id>/run.json``, the source of truth for everything but metric points.

Every change is a locked read-modify-write of the whole record, written atomically, then noted
in the change journal. Several processes may change one run (the training process owns status and
summary, a notebook may edit tags and notes): each writes only the fields it changed.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from workbench._private import make_dir
from workbench.errors import CorruptRecord, ReadOnlyRun, RunNotFound, StoreError
from workbench.store._atomic import atomic_write_bytes, dumps_json
from workbench.store._lock import file_lock
from workbench.store._paths import Layout
from workbench.store._schema import MAX_RECORD_BYTES, SchemaError, describe, load_record, read_bounded

__all__ = [
    "STATUSES",
    "TERMINAL",
    "create_record",
    "normalize_tags",
    "parse_record",
    "process_alive",
    "process_start_time",
    "read_record",
    "update_record",
]

STATUSES = ("queued", "running", "completed", "failed", "cancelled", "crashed")
TERMINAL = frozenset(("completed", "failed", "cancelled", "crashed"))

Record = dict[str, Any]


def parse_record(data: bytes, path: Path) -> Record:
    """The run record in ``data`` (read from ``path``), checked against the store's schema.

    :class:`CorruptRecord` names the path and what is wrong (the field and why); a record of a
    newer format is a :class:`StoreError` that says to upgrade. See ``_schema`` for the checks.
    """
    try:
        return load_record(data)
    except SchemaError as exc:
        if exc.newer:
            raise StoreError(f"run record {path}{describe(exc)}") from None
        fix = ("it was probably cut short by a full disk or a copy: " if exc.not_json else "")
        raise CorruptRecord(f"run record {path}{describe(exc)}; {fix}restore it from a backup, or move "
                            "the run's directory out of the store") from None


def read_record(layout: Layout, run_id: str) -> Record:
    path = layout.record(run_id)
    try:
        data = read_bounded(path, MAX_RECORD_BYTES)
    except (FileNotFoundError, NotADirectoryError):
        raise RunNotFound(f"no run {run_id!r} in {layout.root}") from None
    except OSError as exc:
        raise CorruptRecord(f"cannot read run record {path}: {exc.strerror}") from exc
    except SchemaError as exc:
        raise CorruptRecord(f"run record {path}{describe(exc)}; move it out of the store") from None
    record = parse_record(data, path)
    if record["id"] != run_id:  # a run directory copied or renamed by hand
        raise CorruptRecord(f"run record {path} names run {record['id']!r}, not {run_id!r}; give the "
                            "directory the record's id, or delete one of the copies")
    return record


def _serialize(record: Record, run_id: str) -> bytes:
    """``record`` as it will be written, checked as a reader will check it: a record this
    workbench writes is always one it can read back (StoreError, naming the field, otherwise)."""
    try:
        data = dumps_json(record)
        load_record(data)
    except SchemaError as exc:
        raise StoreError(f"run {run_id!r}: not written, the record would not be readable ({exc}); "
                         "change that value (docs/store.md lists the limits)") from None
    except (ValueError, RecursionError, UnicodeEncodeError) as exc:  # circular, too deep, lone surrogates
        raise StoreError(f"run {run_id!r}: not written, the record cannot be JSON: {exc}") from None
    return data


def create_record(layout: Layout, record: Record, *, fsync: bool = True) -> None:
    run_dir = layout.run_dir(record["id"])
    data = _serialize(record, record["id"])  # before the directory: a refused record makes no run
    try:
        make_dir(run_dir, exist_ok=False)
    except FileExistsError:
        raise StoreError(f"run {record['id']!r} already exists in {layout.root}") from None
    atomic_write_bytes(run_dir / "run.json", data, fsync=fsync)
    _remember(run_dir / "run.json", data)
    layout.note_change(record["id"])


def update_record(
    layout: Layout,
    run_id: str,
    mutate: Callable[[Record], Any],
    *,
    fsync: bool = True,
    allow_remote: bool = False,
) -> Record:
    """Apply ``mutate`` to the current record under the run's lock and write it back.

    ``mutate`` may return False to leave the record as it is.
    """
    run_dir = layout.run_dir(run_id)
    if not run_dir.is_dir():
        raise RunNotFound(f"no run {run_id!r} in {layout.root}")
    # flock on the directory itself: no lock file to create
    with file_lock(run_dir, what=f"lock of run {run_id!r}"):
        path = run_dir / "run.json"
        record = _recall(path)
        if record is None:
            record = read_record(layout, run_id)
        if record.get("remote") and not allow_remote:
            raise ReadOnlyRun(
                f"run {run_id!r} was synced from remote {record['remote']!r} and is read-only here; "
                "change it on the remote and sync again"
            )
        if mutate(record) is False:
            return record
        data = _serialize(record, run_id)
        atomic_write_bytes(path, data, fsync=fsync)
        _remember(path, data)
    layout.note_change(run_id)
    return record


# The record this process wrote last, per path: its bytes (checked when written) and the identity
# of the file (inode, size, change time). A writer that finds the file unchanged since it wrote it
# (a run's own record, rewritten at every flush) takes the record from these bytes rather than
# reading and checking the file again. Every write replaces the file (a new inode), so a file
# another process wrote since never matches; entries go with the oldest first past _REMEMBERED.
_written: dict[str, tuple[tuple[int, int, int, int, int], bytes]] = {}
_REMEMBERED = 64


def _identity(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _remember(path: Path, data: bytes) -> None:
    key = str(path)
    try:
        identity = _identity(os.stat(key))
    except OSError:
        _written.pop(key, None)
        return
    _written.pop(key, None)
    _written[key] = (identity, data)
    if len(_written) > _REMEMBERED:
        _written.pop(next(iter(_written), key), None)


def _recall(path: Path) -> Record | None:
    """The record at ``path`` when it is still the file this process wrote last, else None."""
    key = str(path)
    known = _written.get(key)
    if known is None:
        return None
    try:
        same = _identity(os.stat(key)) == known[0]
    except OSError:
        same = False
    if not same:
        _written.pop(key, None)
        return None
    record: Record = json.loads(known[1])
    return record


def normalize_tags(tags: Iterable[str] | None) -> list[str]:
    """Tags as a list without repeats; TypeError/ValueError name the bad one."""
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [tags]
    out: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise TypeError(f"tags must be non-empty strings, not {tag!r}")
        if any(ord(c) < 32 for c in tag):
            raise ValueError(f"tag {tag!r} holds control characters")
        if tag not in out:
            out.append(tag)
    return out



# -- liveness -------------------------------------------------------------------------------

HOSTNAME = socket.gethostname()


def _proc_stat(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first); None without it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    return stat[stat.rfind(b")") + 2 :].split()


def process_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (Linux), to tell a reused pid apart."""
    fields = _proc_stat(pid)
    try:
        return int(fields[19]) if fields is not None else None
    except (IndexError, ValueError):
        return None


if sys.platform == "win32":

    def _windows_process_alive(pid: int) -> bool:
        """Whether ``pid`` runs, asked of Windows (where ``os.kill(pid, 0)`` would send it a Ctrl-C)."""
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return bool(ctypes.get_last_error() == 5)  # ERROR_ACCESS_DENIED: it exists, another user's
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)


def process_alive(pid: int, start_time: int | None) -> bool:
    if sys.platform == "win32":
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: still compare start times (/proc/PID/stat is readable by all)
    fields = _proc_stat(pid)
    if fields is None:
        # no /proc entry for a pid that signals: gone meanwhile, or a system without /proc
        return not (start_time is not None and os.path.isdir("/proc"))
    if start_time is not None and fields[19:20] != [str(start_time).encode()]:
        return False  # the pid was reused by another process
    # a zombie (killed but not yet reaped by its parent) is dead for our purposes
    return fields[:1] != [b"Z"]


def is_crashed(record: Record, now: float, crash_after: float) -> bool:
    """A running run whose process is gone: dead pid on this host, or a stale heartbeat elsewhere."""
    if record.get("status") != "running":
        return False
    heartbeat = record.get("heartbeat") or record.get("started") or record.get("created") or 0.0
    pid = record.get("pid")
    if record.get("host") == HOSTNAME and not record.get("remote") and isinstance(pid, int):
        return not process_alive(pid, record.get("pid_start"))
    return now - float(heartbeat) > crash_after
