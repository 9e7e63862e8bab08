"""Starting, finding and stopping the one scheduler of a store.

The scheduler holds a lock (``store/_lock.py``) on ``jobs/scheduler.lock`` for its whole life: whoever can take
that lock knows that no scheduler runs. ``launch`` starts one in the background when none does:
a short-lived helper process forks it and exits, so the scheduler belongs to no terminal or
notebook kernel (``setsid``) and outlives both.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from workbench._private import private_opener
from workbench.errors import JobError
from workbench.jobs._paths import JobPaths
from workbench.settings import Settings
from workbench.store._lock import lock_held
from workbench.store.records import process_alive

__all__ = ["ensure_scheduler", "scheduler_info", "scheduler_running", "stop_scheduler"]

# Runs in the helper: fork, let the child exec the scheduler, and exit at once, so the scheduler
# is nobody's child (init reaps it) and the caller waits only for the helper.
_FORK_AND_EXEC = "import os,sys\nif os.fork(): os._exit(0)\nos.execv(sys.argv[1], sys.argv[1:])"


def scheduler_running(paths: JobPaths) -> bool:
    """Whether a scheduler holds the lock of this store now."""
    return lock_held(paths.lock)


def scheduler_info(paths: JobPaths) -> dict[str, Any] | None:
    """pid, host, start time and slots of the running scheduler, or None when none runs."""
    if not scheduler_running(paths):
        return None
    try:
        data = json.loads(paths.state.read_bytes())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def ensure_scheduler(settings: Settings, *, wait: float = 15.0) -> bool:
    """Start a background scheduler for ``settings.root`` unless one runs; True if it started one.

    Waits (up to ``wait`` seconds) until the new scheduler holds its lock, so that launches right
    after this one find it and start no other.
    """
    paths = JobPaths(settings.root)
    if scheduler_running(paths):
        return False
    paths.check_private()  # the scheduler would refuse the store: say why now, not after `wait`
    paths.ensure()
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_RUN_ID"}
    env["WORKBENCH_ROOT"] = str(settings.root)
    argv = [
        sys.executable,
        "-m",
        "workbench.jobs.scheduler",
        "--root",
        str(settings.root),
        "--idle-exit",
        repr(settings.scheduler_idle_exit),
    ]
    with open(paths.log, "ab", opener=private_opener) as log:
        helper = subprocess.Popen(
            [sys.executable, "-S", "-c", _FORK_AND_EXEC, *argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            cwd=str(settings.root),
            env=env,
        )
    helper.wait()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if scheduler_running(paths):
            return True
        time.sleep(0.02)
    raise JobError(
        f"a scheduler for {settings.root} did not start within {wait:g} s; see {paths.log}. Queued jobs stay "
        "queued: run `workbench scheduler` to serve them"
    )


def stop_scheduler(settings: Settings, *, timeout: float | None = None) -> bool:
    """Stop the scheduler of ``settings.root`` (SIGTERM, then SIGKILL); True if one was running.

    Its running jobs get SIGTERM and go back to the queue (see docs/jobs.md).
    """
    paths = JobPaths(settings.root)
    info = scheduler_info(paths)
    if info is None:
        return False
    pid, start = info.get("pid"), info.get("pid_start")
    if not isinstance(pid, int) or not process_alive(pid, start):
        return scheduler_running(paths)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    limit = timeout if timeout is not None else settings.cancel_grace + 10.0
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and scheduler_running(paths):
        time.sleep(0.02)
    if scheduler_running(paths) and process_alive(pid, start):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and scheduler_running(paths):
            time.sleep(0.02)
    return True
