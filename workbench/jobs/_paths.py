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
import shlex
from pathlib import Path

from workbench._private import exposure, make_dir, open_private
from workbench.errors import JobError
from workbench.store._paths import is_run_id, validate_run_id

__all__ = ["JobPaths"]


def _owner(path: Path) -> int | None:
    try:
        return os.stat(path).st_uid
    except OSError:
        return None


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
        make_dir(self.index)
        make_dir(self.active)

    def check_private(self, run_id: str | None = None) -> None:
        """Raise a JobError when users other than this process's could change what a job executes.

        Looks at the root, ``workbench.toml``, ``runs/``, ``jobs/``, ``artifacts/`` and ``blobs/``
        (and, given ``run_id``, the run's directory and record): each must be owned by this user
        and writable by neither its group nor others. Paths not made yet pass (workbench makes them
        private). A scheduler calls it when it starts and before it starts each job; ``launch``
        before it queues one. A few ``stat`` calls.
        """
        root = self.root
        paths = [root, root / "workbench.toml", root / "runs", self.dir, self.active, root / "artifacts",
                 root / "blobs"]
        if run_id is not None:
            paths += [root / "runs" / validate_run_id(run_id), root / "runs" / run_id / "run.json"]
        problems = [(path, why) for path in paths if (why := exposure(path)) is not None]
        if not problems:
            return
        me = os.geteuid()
        quoted = " ".join(shlex.quote(str(path)) for path, _ in problems)
        fix = f"`chmod go-w {quoted}` (or `chmod -R go-rwx {shlex.quote(str(root))}` for a private store)"
        if any(_owner(path) not in (me, None) for path, _ in problems):
            fix = f"use a store of your own (WORKBENCH_ROOT or --root), or `chown -R` it to you and run {fix}"
        raise JobError(
            f"refusing to run jobs from the store {root}: other users could change what they execute: "
            f"{'; '.join(why for _, why in problems)}. Fix: {fix}"
        )

    def mark(self, folder: Path, run_id: str) -> None:
        validate_run_id(run_id)
        try:
            fd = open_private(folder / run_id, os.O_WRONLY | os.O_CREAT)
        except FileNotFoundError:
            self.ensure()
            fd = open_private(folder / run_id, os.O_WRONLY | os.O_CREAT)
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
