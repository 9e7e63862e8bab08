"""The ``local`` executor: a subprocess in its own session and process group.

The job dies with the scheduler that started it (Linux ``PR_SET_PDEATHSIG``), so a scheduler
killed outright leaves no orphan holding memory or a GPU; its successor marks the job
``crashed`` (or queues it again, as its ``retries`` allow).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable

from workbench._private import make_dir, private_opener
from workbench.jobs.executors import ExitStatus, Launch, signal_group
from workbench.store.records import process_start_time

__all__ = ["LocalExecution", "LocalExecutor"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec hook that makes the child get SIGKILL when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the hook ran
            os._exit(1)

    return hook


class LocalExecution:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self.pid = process.pid
        self.pgid = process.pid  # start_new_session: the job leads its own group
        self.pid_start = process_start_time(process.pid)

    def poll(self) -> ExitStatus | None:
        code = self._process.poll()
        return None if code is None else ExitStatus(code)

    def signal(self, signum: int) -> None:
        if self._process.returncode is None or signum == signal.SIGKILL:
            signal_group(self.pgid, signum)


class LocalExecutor:
    """Runs each job as a subprocess of the scheduler, in its own session."""

    name = "local"

    def __init__(self) -> None:
        self._hook = _die_with_parent_hook()

    def start(self, launch: Launch) -> LocalExecution:
        make_dir(launch.stdout.parent)
        with (
            open(launch.stdout, "ab", opener=private_opener) as out,
            open(launch.stderr, "ab", opener=private_opener) as err,
        ):
            process = subprocess.Popen(
                list(launch.argv),
                cwd=launch.cwd,
                env=launch.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                close_fds=True,
                preexec_fn=self._hook,  # noqa: PLW1509 - the scheduler has a single thread
            )
        return LocalExecution(process)
