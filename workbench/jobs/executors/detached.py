"""``python -m workbench.jobs.executors.detached RUN_ID``: a job's supervisor where no scheduler
watches it (the remote side of the ``ssh`` executor).

The SSH executor copies the job's record into the remote store and starts this module there with
``setsid nohup``: it leads its own session and process group, so it outlives the SSH connection.
It marks the run ``running``, starts the job's command (or ``python -m workbench.jobs.worker``) in
the same process group with its output in ``runs/<id>/logs/``, waits for it, and writes how it
ended into the remote record with :func:`~workbench.jobs.outcome.settle`, the same rule the
scheduler applies. The local scheduler reads that record back by sync, and decides the local
status from it (a cancel asked for locally wins).

A cancel is SIGTERM (then SIGKILL) to the whole group: the job gets it directly; this supervisor
ignores the SIGTERM so it can still record the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from workbench._private import make_dir, private_opener
from workbench.errors import JobError, WorkbenchError
from workbench.jobs._paths import JobPaths
from workbench.jobs.executors import ExitStatus
from workbench.jobs.outcome import settle, stderr_tail
from workbench.jobs.registry import get_recipe
from workbench.settings import load_settings
from workbench.store._paths import Layout
from workbench.store.records import HOSTNAME, Record, process_start_time, update_record

__all__ = ["main"]


def _argv(record: Record) -> list[str]:
    spec = record["job"]
    recipe = get_recipe(spec["recipe"])
    if recipe.command is not None:
        return [str(a) for a in recipe.command(record.get("config") or {})]
    return [spec.get("python") or sys.executable, "-m", "workbench.jobs.worker"]


def _env(run_id: str, root: str, spec: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_RUN_ID"}
    env.update({str(k): str(v) for k, v in (spec.get("env") or {}).items()})
    env.update(WORKBENCH_RUN_ID=run_id, WORKBENCH_ROOT=root, WORKBENCH_CAPTURE_OUTPUT="0")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("PYTHONFAULTHANDLER", "1")
    return env


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m workbench.jobs.executors.detached RUN_ID (started by the ssh executor)",
              file=sys.stderr)
        return 2
    run_id = args[0]
    if os.getpgid(0) != os.getpid():  # started without setsid: lead a group of our own all the same
        try:
            os.setsid()
        except PermissionError:
            pass
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)  # the job gets it; we record the end
    settings = load_settings()
    layout = Layout(settings.root)
    now = time.time()

    def claim(record: Record) -> None:
        if record.get("status") != "queued":
            raise JobError(f"run {run_id} in {settings.root} is {record.get('status')}, not a queued job")
        record.update(status="running", started=now, heartbeat=now, ended=None, host=HOSTNAME,
                      pid=os.getpid(), pid_start=process_start_time(os.getpid()))

    record = update_record(layout, run_id, claim, fsync=settings.fsync)
    spec = record["job"]
    logs = layout.logs_dir(run_id)
    make_dir(logs)
    start_error: str | None = None
    code: int | None = None
    try:
        JobPaths(settings.root).check_private(run_id)  # the job fails, saying why, rather than run
        command = _argv(record)
        cwd = str(spec.get("cwd") or settings.root)
        os.makedirs(cwd, exist_ok=True)
        with (
            open(logs / "stdout.log", "ab", opener=private_opener) as out,
            open(logs / "stderr.log", "ab", opener=private_opener) as err,
        ):
            process = subprocess.Popen(command, cwd=cwd, env=_env(run_id, str(settings.root), spec),
                                       stdin=subprocess.DEVNULL, stdout=out, stderr=err, close_fds=True)
        code = process.wait()
    except (OSError, WorkbenchError, ValueError, TypeError) as exc:
        start_error = f"{type(exc).__name__}: {exc}"
    tail = stderr_tail(logs / "stderr.log")
    ended = time.time()

    def finish(record: Record) -> None:
        settle(record, ExitStatus(code), now=ended, tail=tail, start_error=start_error)

    update_record(layout, run_id, finish, fsync=settings.fsync)
    print(f"job {run_id}: exit {code}" + (f" ({start_error})" if start_error else ""), flush=True)
    if os.getpgid(0) == os.getpid():
        # what the job left in its group goes with it (as the local executor does); this ends us too
        os.killpg(os.getpid(), signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
