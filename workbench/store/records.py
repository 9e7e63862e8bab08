"""Run records: ``runs/<id>/run.json``, the source of truth for everything but metric points.

Every change is a locked read-modify-write of the whole record, written atomically, then noted
in the change journal. Several processes may change one run (the training process owns status and
summary, a notebook may edit tags and notes): each writes only the fields it changed.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from workbench.errors import CorruptRecord, ReadOnlyRun, RunNotFound, StoreError
from workbench.store._atomic import atomic_write_json
from workbench.store._lock import file_lock
from workbench.store._paths import FORMAT, Layout

__all__ = [
    "STATUSES",
    "TERMINAL",
    "create_record",
    "normalize_tags",
    "process_alive",
    "process_start_time",
    "read_record",
    "update_record",
]

STATUSES = ("queued", "running", "completed", "failed", "cancelled", "crashed")
TERMINAL = frozenset(("completed", "failed", "cancelled", "crashed"))

Record = dict[str, Any]


def parse_record(data: bytes, path: Path) -> Record:
    try:
        record = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptRecord(
            f"run record {path} is not valid JSON ({exc}); it was probably cut short by a full disk "
            "or a copy: restore it from a backup, or delete the run's directory"
        ) from exc
    if not isinstance(record, dict) or "id" not in record:
        raise CorruptRecord(f"run record {path} is not a workbench run record (no 'id')")
    fmt = record.get("format", 1)
    if isinstance(fmt, bool) or not isinstance(fmt, int):
        raise CorruptRecord(f"run record {path} has format {fmt!r}, not a number; restore it from a backup")
    if fmt > FORMAT:
        raise StoreError(
            f"run record {path} has format {record.get('format')}, newer than this workbench "
            f"understands ({FORMAT}); upgrade workbench to read it"
        )
    return record


def read_record(layout: Layout, run_id: str) -> Record:
    path = layout.record(run_id)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RunNotFound(f"no run {run_id!r} in {layout.root}") from None
    record = parse_record(data, path)
    if record["id"] != run_id:  # a run directory copied or renamed by hand
        raise CorruptRecord(f"run record {path} names run {record['id']!r}, not {run_id!r}; give the "
                            "directory the record's id, or delete one of the copies")
    return record


def create_record(layout: Layout, record: Record, *, fsync: bool = True) -> None:
    run_dir = layout.run_dir(record["id"])
    try:
        run_dir.mkdir(parents=True)
    except FileExistsError:
        raise StoreError(f"run {record['id']!r} already exists in {layout.root}") from None
    atomic_write_json(run_dir / "run.json", record, fsync=fsync)
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
        record = read_record(layout, run_id)
        if record.get("remote") and not allow_remote:
            raise ReadOnlyRun(
                f"run {run_id!r} was synced from remote {record['remote']!r} and is read-only here; "
                "change it on the remote and sync again"
            )
        if mutate(record) is False:
            return record
        atomic_write_json(run_dir / "run.json", record, fsync=fsync)
    layout.note_change(run_id)
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


def process_alive(pid: int, start_time: int | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
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
