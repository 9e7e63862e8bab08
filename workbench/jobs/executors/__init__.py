"""Executors: where and how a job's process runs: ``local`` and ``ssh:NAME``; a cluster engine
plugs into the same seam (entry point group ``workbench.executors``).

The scheduler hands an executor a :class:`Launch` and gets back an :class:`Execution`, which it
polls and signals. An execution it finds still alive after a restart is watched through
:class:`Adopted`.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path
from typing import Protocol

from workbench.store.records import process_alive

__all__ = ["Adopted", "Execution", "Executor", "ExitStatus", "Launch"]


@dataclasses.dataclass(frozen=True)
class Launch:
    """Everything needed to start one job's process."""

    run_id: str
    argv: tuple[str, ...]
    cwd: str
    env: dict[str, str]
    stdout: Path
    stderr: Path
    #: the store the job belongs to (an executor that copies the job elsewhere reads it there)
    root: Path | None = None
    #: put the job's processes in a cgroup v2 of their own where one can be made (``job_cgroups``)
    cgroup: bool = True


@dataclasses.dataclass(frozen=True)
class ExitStatus:
    """How a job's process ended: ``code`` as Popen reports it (negative: killed by that signal),
    or None when nobody could see it (a process the scheduler adopted after a restart)."""

    code: int | None

    @property
    def signal(self) -> int | None:
        return -self.code if self.code is not None and self.code < 0 else None


class Execution(Protocol):
    """A started job process."""

    #: pid and process group of the job on this host (the group is signalled as a whole)
    pid: int
    pgid: int
    #: start time of ``pid`` (clock ticks since boot) to tell a reused pid apart
    pid_start: int | None

    def poll(self) -> ExitStatus | None:
        """None while it runs; how it ended once it has."""

    def signal(self, signum: int) -> None:
        """Send ``signum`` to every process of the job."""

    # An execution may also say ``detached = True``: its process lives on another host (ssh),
    # so the scheduler never signals its pid locally and leaves it running when it stops; a
    # ``process_info`` dict goes into the record's ``job.process``; ``close()`` frees a connection.
    # A local execution may have a ``container`` (workbench.jobs._container.Container): every process
    # of the job, killed whole when the job's process ends.


class Executor(Protocol):
    """Starts job processes."""

    name: str

    def start(self, launch: Launch) -> Execution:
        """Start the job; raise OSError (or JobError) when it cannot start at all."""


def signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to process group ``pgid``; False when the group is gone."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still exists (zombies included)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class Adopted:
    """A job process left running by an earlier scheduler, found alive by a new one."""

    def __init__(self, pid: int, pgid: int, pid_start: int | None) -> None:
        self.pid = pid
        self.pgid = pgid
        self.pid_start = pid_start

    def poll(self) -> ExitStatus | None:
        if process_alive(self.pid, self.pid_start):
            return None
        return ExitStatus(None)

    def signal(self, signum: int) -> None:
        if process_alive(self.pid, self.pid_start):
            signal_group(self.pgid, signum)


SIGNALS = {int(s): s.name for s in signal.Signals}
