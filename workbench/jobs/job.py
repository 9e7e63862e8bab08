"""``Job``: a handle on a launched job (its run), to watch, wait for, cancel and read logs of."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import warnings
from pathlib import Path
from typing import Any

from workbench.errors import JobError, RunNotFound, StoreError
from workbench.jobs._container import Container
from workbench.jobs._paths import JobPaths
from workbench.settings import Settings, load_settings
from workbench.store._paths import Layout
from workbench.store.records import (
    HOSTNAME,
    TERMINAL,
    Record,
    is_crashed,
    process_alive,
    read_record,
    update_record,
)

__all__ = ["Job", "cancel_job", "job_progress", "list_jobs"]

_STREAMS = ("stdout", "stderr", "both")


def job_progress(record: Record) -> float | None:
    """The highest step logged against the planned steps (0..1); 1.0 once completed."""
    if record.get("status") == "completed":
        return 1.0
    planned = (record.get("job") or {}).get("planned_steps")
    if not planned:
        return None
    steps = [
        int(stat.get("step", -1))
        for key, stat in (record.get("metrics") or {}).items()
        if not key.startswith("sys/") and isinstance(stat, dict)
    ]
    if not steps:
        return 0.0
    return max(0.0, min(1.0, max(steps) / float(planned)))


def _view_status(record: Record, settings: Settings) -> str:
    """The status as readers should see it: a running job whose process is gone is ``crashed``."""
    status = str(record.get("status"))
    if (
        status == "running"
        and record.get("pid") is not None
        and is_crashed(record, time.time(), settings.crash_after)
    ):
        return "crashed"
    return status


def _resolve(settings: Settings, run_id: str) -> str:
    layout = Layout(settings.root)
    if not isinstance(run_id, str) or not run_id:
        raise JobError(f"{run_id!r} is not a job id")
    with contextlib.suppress(StoreError):
        if layout.record(run_id).is_file():
            return run_id
    matches = sorted(
        r for r in JobPaths(settings.root).listed(JobPaths(settings.root).index) if r.startswith(run_id)
    )
    if not matches:
        raise RunNotFound(
            f"no job with id or prefix {run_id!r} in {settings.root}; list them with `workbench jobs ls`"
        )
    if len(matches) > 1:
        raise RunNotFound(
            f"prefix {run_id!r} matches several jobs ({', '.join(matches[:5])}, ...); type more of it"
        )
    return matches[0]


def _settled(record: Record, status: str, running: bool) -> bool:
    """Whether the job's end is final: the scheduler wrote how its process ended, it never had a
    process, or it finished its run itself and no scheduler is left to add the exit code.

    A ``crashed`` job is final only once a scheduler has looked at it: its retries may queue it
    again.
    """
    job = record.get("job") or {}
    if job.get("exit") or not job.get("process"):
        return True
    return status != "crashed" and not running


class Job:
    """A launched job: a run with status ``queued`` until the scheduler starts it.

    Get one from :func:`workbench.launch`, or by id (a unique prefix is enough).

    Examples
    --------
    >>> import workbench as wb
    >>> job = wb.launch("script", config={"command": ["python", "train.py"]})  # doctest: +SKIP
    >>> job.wait(timeout=600)  # doctest: +SKIP
    'completed'
    >>> wb.Job(job.run_id).logs(tail=5)  # doctest: +SKIP
    """

    def __init__(self, run_id: str, *, root: str | os.PathLike[str] | None = None) -> None:
        self._settings = load_settings(root)
        self._layout = Layout(self._settings.root)
        self.run_id: str = _resolve(self._settings, run_id)
        self._check()

    @classmethod
    def _at(cls, settings: Settings, run_id: str) -> Job:
        """The job ``run_id`` of an opened store (no settings to resolve, no prefix)."""
        job = cls.__new__(cls)
        job._settings = settings
        job._layout = Layout(settings.root)
        job.run_id = run_id
        return job

    def _check(self) -> None:
        record = self.record
        if not isinstance(record.get("job"), dict):
            raise JobError(
                f"run {self.run_id} is not a job (it was not launched); use workbench.get_run() for it"
            )

    # -- reading ----------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self._settings.root

    @property
    def record(self) -> dict[str, Any]:
        """The run record, read now."""
        return read_record(self._layout, self.run_id)

    @property
    def status(self) -> str:
        """``queued``, ``running``, ``completed``, ``failed``, ``cancelled`` or ``crashed``."""
        return _view_status(self.record, self._settings)

    @property
    def progress(self) -> float | None:
        """Logged steps against the planned total, 0..1 (None when the job plans no steps)."""
        return job_progress(self.record)

    @property
    def recipe(self) -> str:
        return str(self.record["job"].get("recipe"))

    @property
    def error(self) -> dict[str, Any] | None:
        """How it failed: ``type``, ``message``, ``traceback`` and the tail of ``stderr``."""
        error = self.record.get("error")
        return dict(error) if isinstance(error, dict) else None

    def logs(self, stream: str = "both", tail: int | None = None) -> str:
        """The job's output: ``stdout``, ``stderr`` or ``both`` (stdout, then stderr); ``tail``
        keeps the last lines of each."""
        if stream not in _STREAMS:
            raise ValueError(f"stream must be one of {', '.join(_STREAMS)}, not {stream!r}")
        parts = []
        for name in ("stdout", "stderr") if stream == "both" else (stream,):
            try:
                text = (self._layout.logs_dir(self.run_id) / f"{name}.log").read_text(
                    encoding="utf-8", errors="replace"
                )
            except FileNotFoundError:
                text = ""
            if tail is not None:
                lines = text.splitlines(keepends=True)
                text = "".join(lines[-tail:]) if tail > 0 else ""
            parts.append(text)
        return "".join(parts)

    # -- acting -----------------------------------------------------------------------------------
    def wait(self, timeout: float | None = None, poll: float = 0.2) -> str:
        """Block until the job ends; its final status.

        Starts a scheduler if the job is queued (or crashed with its scheduler) and none runs.

        Raises
        ------
        JobError
            If ``timeout`` seconds pass first (the job keeps running).
        """
        from workbench.jobs.daemon import ensure_scheduler, scheduler_running

        deadline = None if timeout is None else time.monotonic() + timeout
        paths = JobPaths(self._settings.root)
        checked = 0.0
        while True:
            record = self.record
            status = _view_status(record, self._settings)
            now = time.monotonic()
            if status in TERMINAL and _settled(record, status, scheduler_running(paths)):
                return status
            following = status == "running" and bool((record["job"].get("process") or {}).get("remote"))
            if (status in ("queued", "crashed") or following) and now - checked > 2.0:
                # nobody serves the queue (a scheduler was stopped, or died with the job): start
                # one; it runs a queued job, ends or re-queues a crashed one, and follows a job
                # that runs on a remote (the ssh executor) again
                checked = now
                if not scheduler_running(paths):
                    ensure_scheduler(self._settings)
            if deadline is not None and now >= deadline:
                raise JobError(
                    f"job {self.run_id} is still {status} after {timeout:g} s; wait longer, or "
                    "cancel it with job.cancel()"
                )
            time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - now)))

    def cancel(self, wait: bool = True) -> str:
        """Cancel the job: a queued one at once; a running one gets SIGTERM to every process of it,
        then SIGKILL after ``cancel_grace`` seconds (docs/jobs.md). Its status (``cancelled`` once it
        has ended, or the final status it reached first)."""
        return cancel_job(self._settings, self.run_id, wait=wait)

    def __repr__(self) -> str:
        try:
            record = self.record
        except StoreError:
            return f"<Job {self.run_id} (gone)>"
        progress = job_progress(record)
        shown = f" {progress:.0%}" if progress is not None and record.get("status") == "running" else ""
        return (
            f"<Job {self.run_id} {record['job'].get('recipe')} {_view_status(record, self._settings)}{shown}>"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and (other.run_id, other.root) == (self.run_id, self.root)

    def __hash__(self) -> int:
        return hash((self.run_id, str(self.root)))


def cancel_job(settings: Settings, run_id: str, *, wait: bool = True) -> str:
    """Cancel ``run_id`` (see :meth:`Job.cancel`); its status afterwards."""
    from workbench.jobs.daemon import scheduler_running

    layout = Layout(settings.root)
    paths = JobPaths(settings.root)
    now = time.time()
    seen: dict[str, Any] = {}

    def mutate(record: Record) -> bool:
        status = record.get("status")
        seen["status"] = status
        job = record.get("job")
        if not isinstance(job, dict) or status in TERMINAL:
            return False
        job["cancel_requested"] = job.get("cancel_requested") or now
        if status == "queued":
            record.update(
                status="cancelled",
                ended=now,
                error={"type": "cancelled", "message": "cancelled before it started"},
            )
        seen["process"] = job.get("process")
        return True

    record = update_record(layout, run_id, mutate, fsync=settings.fsync)
    status = seen.get("status")
    if status in TERMINAL:
        return str(status)
    if status == "queued":
        paths.unmark(paths.active, run_id)
        return "cancelled"
    if scheduler_running(paths):  # it sends the signals and records the end
        if not wait:
            return str(record.get("status"))
        deadline = time.monotonic() + settings.cancel_grace + 30.0
        current = None
        while time.monotonic() < deadline:
            latest = read_record(layout, run_id)
            current = latest.get("status")
            job = latest.get("job")
            # the end as the scheduler records it (job.exit, the cancel's own error), not the
            # job's own SIGTERM handler writing "cancelled" a moment before its processes are gone
            if current in TERMINAL and isinstance(job, dict) and job.get("exit") is not None:
                return str(current)
            time.sleep(0.05)
        if current in TERMINAL:
            return str(current)
        raise JobError(
            f"job {run_id} did not end within {settings.cancel_grace + 30:g} s of its cancel; "
            "check `workbench jobs show` and the scheduler log (jobs/scheduler.log)"
        )
    # no scheduler watches the job: stop its process ourselves and record the end
    process = seen.get("process") or {}
    pid = process.get("pid")
    pgid = int(process.get("pgid") or pid or 0)
    killed = False
    if process.get("remote") and isinstance(pid, int):  # the ssh executor: the group is over there
        from workbench.jobs.executors.ssh import cancel_detached

        killed = cancel_detached(settings, run_id, process, settings.cancel_grace)
    elif process.get("host") == HOSTNAME and (container := Container.from_record(process.get("container"))):
        # every process of the job, the ones its dead scheduler's supervisor could not end included
        def main_alive() -> bool:
            return isinstance(pid, int) and process_alive(pid, process.get("pid_start"))

        if container.signal(signal.SIGTERM):
            deadline = time.monotonic() + settings.cancel_grace
            while time.monotonic() < deadline and main_alive():
                time.sleep(0.05)
        killed = main_alive()
        container.kill()  # what it left (a process that ignores SIGTERM), and its cgroup
    elif (
        process.get("host") == HOSTNAME
        and isinstance(pid, int)
        and process_alive(pid, process.get("pid_start"))
    ):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + settings.cancel_grace
        while time.monotonic() < deadline and process_alive(pid, process.get("pid_start")):
            time.sleep(0.05)
        if process_alive(pid, process.get("pid_start")):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            killed = True

    def finish(record: Record) -> bool:
        if record.get("status") in ("completed", "failed") and record.get("job", {}).get("exit"):
            return False
        record.update(
            status="cancelled",
            ended=record.get("ended") or time.time(),
            error={
                "type": "cancelled",
                "message": "cancelled while running" + ("; killed with SIGKILL" if killed else ""),
            },
        )
        record["job"]["exit"] = {"code": None, "signal": "SIGKILL" if killed else None, "time": time.time()}
        return True

    final = update_record(layout, run_id, finish, fsync=settings.fsync)
    paths.unmark(paths.active, run_id)
    return str(final.get("status"))


def list_jobs(root: str | os.PathLike[str] | None = None, *, status: str | None = None) -> list[Job]:
    """Every job of the store, newest first (optionally only those with ``status``).

    A job whose record cannot be read is skipped with a warning that names the file and what is
    wrong (as ``runs()`` skips it); ``workbench fsck`` lists it too.
    """
    settings = load_settings(root)
    paths = JobPaths(settings.root)
    out = []
    for run_id in sorted(paths.listed(paths.index), reverse=True):
        try:
            job = Job._at(settings, run_id)
            record = job.record
            if isinstance(record.get("job"), dict) and status in (None, _view_status(record, settings)):
                out.append(job)
        except RunNotFound:
            continue  # deleted meanwhile, or a marker written just before its record
        except StoreError as exc:
            warnings.warn(f"skipping job {run_id}: {exc}", stacklevel=2)
    return out
