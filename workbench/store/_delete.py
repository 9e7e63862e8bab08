"""Deleting a run: its directory leaves the store whole, in one rename."""

from __future__ import annotations

import os
import shutil
import time

from workbench.errors import StoreError
from workbench.settings import Settings
from workbench.store._paths import Layout
from workbench.store.records import is_crashed, read_record

__all__ = ["delete_run"]


def delete_run(layout: Layout, settings: Settings, run_id: str) -> None:
    """Remove ``runs/<run_id>``; refuse while the run is queued or its process still runs.

    The directory is first renamed to a hidden name inside ``runs/`` (readers skip those), so
    the run disappears whole; the files are removed after that.
    """
    record = read_record(layout, run_id)
    status = record.get("status")
    if status == "queued" or (status == "running" and not is_crashed(record, time.time(), settings.crash_after)):
        raise StoreError(
            f"run {run_id} is {status}; stop it first (`workbench jobs cancel {run_id}`, or finish it), "
            "then delete it"
        )
    run_dir = layout.run_dir(run_id)
    trash = layout.runs / f".deleted-{run_id}-{os.urandom(4).hex()}"
    os.rename(run_dir, trash)
    layout.note_change(run_id)
    shutil.rmtree(trash, ignore_errors=True)
