"""Lineage: which run made a version, which runs used it, and what a run made and used.

- the producing run is in the version's manifest (``producer``);
- each use is a line appended to ``artifacts/<name>/usage.jsonl`` (version, run, time): the
  answer to "which runs used this" without reading every run record;
- the run record keeps both sides too: ``record["artifacts"]["produced"]`` and ``["used"]``,
  lists of ``{"name", "version", "type", "time"}``.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

from workbench._private import open_private
from workbench.errors import ArtifactError, ArtifactNotFound
from workbench.store._paths import Layout
from workbench.store.records import Record, read_record, update_record

__all__ = ["read_usage", "record_produced", "record_used", "run_artifacts", "used_by"]


def _append_to_record(layout: Layout, run_id: str, side: str, entry: dict[str, Any], fsync: bool) -> None:
    def mutate(record: Record) -> None:
        artifacts = record.setdefault("artifacts", {})
        entries = artifacts.setdefault(side, [])
        entries.append(entry)

    update_record(layout, run_id, mutate, fsync=fsync)


def record_produced(
    layout: Layout, run_id: str, name: str, version: int, kind: str, *, new: bool, fsync: bool
) -> None:
    """Note in the run record that ``run_id`` logged ``name:v<version>`` (``new``: a new version)."""
    entry = {"name": name, "version": version, "type": kind, "time": time.time(), "new": new}
    _append_to_record(layout, run_id, "produced", entry, fsync)


def record_used(layout: Layout, run_id: str, name: str, version: int, kind: str, *, fsync: bool) -> None:
    """Note that ``run_id`` used ``name:v<version>``: in the usage log, then in the run record."""
    read_record(layout, run_id)  # RunNotFound before anything is written
    now = time.time()
    line = json.dumps({"version": version, "run": run_id, "time": now}) + "\n"
    path = layout.artifacts / name / "usage.jsonl"
    try:
        fd = open_private(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    except FileNotFoundError:
        raise ArtifactNotFound(f"artifact {name!r} was deleted while it was being used") from None
    except OSError as exc:
        raise ArtifactError(f"the use of {name}:v{version} by run {run_id} cannot be noted in {path} "
                            f"({exc.strerror or exc}); move that file out of the store and try again") from exc
    try:
        os.write(fd, line.encode())  # one short O_APPEND write: lines from many processes never interleave
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    _append_to_record(
        layout, run_id, "used", {"name": name, "version": version, "type": kind, "time": now}, fsync
    )


def read_usage(artifacts: Path, name: str) -> tuple[list[dict[str, Any]], str | None]:
    """Every use of ``name`` logged in its usage log, and what is wrong with the log (None when
    nothing is): a log that cannot be read, or lines that are not uses (cut short by a crash)."""
    path = artifacts / name / "usage.jsonl"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return [], None
    except OSError as exc:
        return [], f"usage log {path} cannot be read ({exc.strerror or exc}); move it away or restore it"
    out: list[dict[str, Any]] = []
    bad = 0
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            out.append({"run": str(entry["run"]), "version": int(entry["version"]), "time": entry.get("time")})
        except (ValueError, KeyError, TypeError, RecursionError):
            bad += 1
    problem = None
    if bad:
        problem = (f"usage log {path}: {bad} line(s) are not uses of a version (cut short or garbled), "
                   "so lineage may miss runs that used it")
    return out, problem


def used_by(artifacts: Path, name: str, version: int | None = None) -> list[dict[str, Any]]:
    """``{"run", "version", "time"}`` of each first use of ``name`` (or of one version), oldest first.

    A usage log that cannot be read, or lines of it, are skipped with a warning naming the file.
    """
    entries, problem = read_usage(artifacts, name)
    if problem is not None:
        warnings.warn(problem, stacklevel=2)
    seen: set[tuple[str, int]] = set()
    out = []
    for entry in entries:
        key = (entry["run"], entry["version"])
        if (version is None or key[1] == version) and key not in seen:
            seen.add(key)
            out.append(entry)
    return out


def run_artifacts(layout: Layout, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """What ``run_id`` produced and used, from its record: ``{"produced": [...], "used": [...]}``."""
    record = read_record(layout, run_id)
    artifacts = record.get("artifacts") or {}
    return {side: [dict(e) for e in artifacts.get(side) or []] for side in ("produced", "used")}
