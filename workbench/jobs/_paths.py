"""Where the jobs room keeps its files: ``<root>/jobs/`` (everything in it is derived or transient).

::

    <root>/jobs/
      scheduler.lock    flock held by the one scheduler of this store for its lifetime
      scheduler.json    pid, host, start time and slots of the scheduler holding the lock
      scheduler.log     what background schedulers print
      index/<run_id>    one empty file per job ever launched here (for listing jobs)
      active/<run_id>   one empty file per job not yet finished (queued or running)

The run records are the truth: a marker whose run is gone or finished is ignored and removed,
and a scheduler re-creates the ``active`` marker of every queued or running job it finds.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from workbench.store._paths import is_run_id, validate_run_id

__all__ = ["JobPaths"]


class JobPaths:
    """Paths of the jobs room of the store at ``root``."""

    __slots__ = ("active", "dir", "index", "lock", "log", "root", "state")

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "jobs"
        self.lock = self.dir / "scheduler.lock"
        self.state = self.dir / "scheduler.json"
        self.log = self.dir / "scheduler.log"
        self.index = self.dir / "index"
        self.active = self.dir / "active"

    def ensure(self) -> None:
        self.index.mkdir(parents=True, exist_ok=True)
        self.active.mkdir(exist_ok=True)

    def mark(self, folder: Path, run_id: str) -> None:
        validate_run_id(run_id)
        try:
            fd = os.open(folder / run_id, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            self.ensure()
            fd = os.open(folder / run_id, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        os.close(fd)

    def unmark(self, folder: Path, run_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / validate_run_id(run_id))

    def listed(self, folder: Path) -> list[str]:
        """The run ids marked in ``folder``; a stray file whose name is no run id is left out."""
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        return [name for name in names if is_run_id(name)]
