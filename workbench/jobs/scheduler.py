"""The scheduler: one per store, it runs queued jobs in its worker slots.

It holds ``jobs/scheduler.lock`` for its life (one scheduler per root), then loops: reap ended job
processes, kill what they left behind and record how they ended, carry out cancel requests
(SIGTERM to every process of the job, SIGKILL after ``cancel_grace``), and start the
highest-priority, oldest queued job while a slot is free. A SIGCHLD wakes it at once, so a freed
slot is refilled within milliseconds.

On start it recovers what an earlier scheduler left: it kills every process still in the
container of a job left ``running`` (``job.process.container``, see ``_container.py``), and the
job becomes ``crashed`` (or queued again while its ``retries`` allow); a job process still alive
without a container (not Linux) is watched until it ends. On SIGTERM or SIGINT it stops its
running jobs and puts them back in the queue. Started by ``launch`` (``python -m
workbench.jobs.scheduler``), it exits after ``scheduler_idle_exit`` seconds with nothing to do.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from workbench.errors import JobError, StoreError, WorkbenchError
from workbench.jobs._container import MARKER, Container
from workbench.jobs._paths import JobPaths
from workbench.jobs.executors import (
    Adopted,
    Execution,
    ExitStatus,
    Launch,
    group_alive,
    signal_group,
)
from workbench.jobs.outcome import settle, stderr_tail
from workbench.jobs.registry import get_executor, get_recipe
from workbench.settings import Settings, load_settings
from workbench.store._atomic import atomic_write_json
from workbench.store._lock import HeldLock, acquire_lock
from workbench.store._paths import Layout
from workbench.store.records import (
    HOSTNAME,
    TERMINAL,
    Record,
    process_alive,
    process_start_time,
    read_record,
    update_record,
)

__all__ = ["Scheduler", "main"]

_TICK = 0.1  # seconds between looks at the queue when no signal wakes the loop
_ACQUIRE_WAIT = 0.2  # seconds a starting scheduler tries for the lock before it leaves


@dataclasses.dataclass
class _Slot:
    execution: Execution
    started: float
    term_sent: float | None = None
    killed: bool = False


class Scheduler:
    """Runs the queued jobs of one store.

    Parameters
    ----------
    settings:
        The store's settings (``job_slots``, ``cancel_grace``).
    slots:
        Worker slots (default ``settings.job_slots``).
    idle_exit:
        Exit after this many seconds with nothing queued or running (0 or None: never).
    out:
        Where to print what it does (default stdout).

    Examples
    --------
    >>> Scheduler(load_settings("/tmp/wb-doc"), slots=2).run()  # doctest: +SKIP
    """

    def __init__(
        self,
        settings: Settings,
        *,
        slots: int | None = None,
        idle_exit: float | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.settings = settings
        self.layout = Layout(settings.root)
        self.paths = JobPaths(settings.root)
        self.slots = int(slots) if slots is not None else settings.job_slots
        if self.slots < 1:
            raise JobError(f"a scheduler needs at least 1 slot, not {self.slots}")
        self.idle_exit = float(idle_exit or 0.0)
        self.grace = settings.cancel_grace
        self._out = out
        self._running: dict[str, _Slot] = {}
        self._queued: dict[str, tuple[int, float]] = {}  # run id -> (priority, created)
        self._seen: set[str] = set()  # active markers already looked at
        self._executors: dict[str, Any] = {}
        self._stop = False
        self._held: HeldLock | None = None
        self._wake_r: int | None = None
        self._refusal: JobError | None = None  # the store turned writable by others: stop, then raise
        self._cgroup_said = False  # why jobs get no cgroup, said once

    # -- output -----------------------------------------------------------------------------------
    def _say(self, message: str) -> None:
        stream = self._out or sys.stdout
        try:
            stream.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} scheduler[{os.getpid()}]: {message}\n")
            stream.flush()
        except (OSError, ValueError):
            pass

    # -- lock -------------------------------------------------------------------------------------
    def _acquire(self) -> bool:
        # a launcher that asks whether a scheduler runs (daemon.scheduler_running) holds the lock
        # for an instant: only a lock held longer than _ACQUIRE_WAIT means another scheduler
        held = acquire_lock(self.paths.lock, timeout=_ACQUIRE_WAIT)
        if held is None:
            return False
        self._held = held
        atomic_write_json(
            self.paths.state,
            {
                "pid": os.getpid(),
                "pid_start": process_start_time(os.getpid()),
                "host": HOSTNAME,
                "started": time.time(),
                "slots": self.slots,
            },
            fsync=False,
        )
        return True

    def _release(self) -> None:
        if self._held is not None:
            with contextlib.suppress(OSError):
                self.paths.state.unlink()
            self._held.release()
            self._held = None

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> int:
        """Serve the queue until stopped (or idle); 0, or 1 when another scheduler serves it.

        Raises a JobError, starting nothing, when other users could change the store (see
        ``JobPaths.check_private``). The same check before each job stops a running scheduler the
        same way (its running jobs go back to the queue) and leaves that job queued.
        """
        self.paths.check_private()
        self.paths.ensure()
        if not self._acquire():
            self._say(f"another scheduler already serves {self.settings.root}; leaving")
            return 1
        restore = self._install_signals()
        try:
            self._say(f"serving {self.settings.root} with {self.slots} slot(s)")
            self._recover()
            self._loop()
        finally:
            self._shutdown()
            restore()
            self._release()
            self._say("stopped")
        if self._refusal is not None:
            raise self._refusal
        return 0

    def stop(self) -> None:
        """Ask the loop to end (it stops its running jobs and re-queues them)."""
        self._stop = True

    def _install_signals(self) -> Callable[[], None]:
        if sys.platform == "win32":  # pragma: no cover
            return lambda: None
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        self._wake_r = read_fd
        previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

        def on_stop(signum: int, frame: Any) -> None:
            self._stop = True

        def on_child(signum: int, frame: Any) -> None:
            pass  # the wakeup fd does the work

        saved = {
            s: signal.signal(s, h)
            for s, h in (
                (signal.SIGTERM, on_stop),
                (signal.SIGINT, on_stop),
                (signal.SIGHUP, on_stop),
                (signal.SIGCHLD, on_child),
            )
        }

        def restore() -> None:
            for sig, handler in saved.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous_fd)
            os.close(read_fd)
            os.close(write_fd)
            self._wake_r = None

        return restore

    def _sleep(self, seconds: float) -> None:
        if self._wake_r is None:
            time.sleep(seconds)
            return
        import select

        ready, _, _ = select.select([self._wake_r], [], [], seconds)
        if ready:
            with contextlib.suppress(BlockingIOError, OSError):
                while os.read(self._wake_r, 512):
                    pass

    def _loop(self) -> None:
        idle_since = time.monotonic()
        while not self._stop:
            ended = self._reap()
            self._fill()
            for run_id, slot, status in ended:
                self._finish(run_id, slot, status)
            if ended:
                self._fill()  # a job queued again by its retries
            self._check_cancels()
            now = time.monotonic()
            if self._running or self._queued:
                idle_since = now
            elif self.idle_exit and now - idle_since >= self.idle_exit and self._leave_if_idle():
                return
            if not ended:
                self._sleep(_TICK)

    def _leave_if_idle(self) -> bool:
        """Release the lock; True unless a job was queued meanwhile and the lock is ours again.

        A launch writes its job before it looks for the lock, and we look for jobs after we
        release it: either we see the job, or the launch sees no scheduler and starts one.
        """
        self._release()
        self._refresh_queue()
        if not self._queued:
            return True
        return not self._acquire()  # the lock taken by a new scheduler meanwhile: it has the job

    # -- the queue --------------------------------------------------------------------------------
    def _refresh_queue(self) -> None:
        listed = set(self.paths.listed(self.paths.active))
        for run_id in list(self._queued):
            if run_id not in listed:
                del self._queued[run_id]
        self._seen &= listed
        for run_id in listed - self._seen:
            self._seen.add(run_id)
            if run_id in self._running:
                continue
            try:
                record = read_record(self.layout, run_id)
            except StoreError:
                self.paths.unmark(self.paths.active, run_id)
                continue
            status = record.get("status")
            job = record.get("job") if isinstance(record.get("job"), dict) else None
            if job is None or (status in TERMINAL and status != "crashed"):
                self.paths.unmark(self.paths.active, run_id)
            elif status == "queued":
                self._queued[run_id] = (int(job.get("priority", 0)), float(record.get("created") or 0.0))
            else:
                self._recover_one(run_id, record)

    def _fill(self) -> None:
        if len(self._running) >= self.slots:
            return
        self._refresh_queue()
        while len(self._running) < self.slots and self._queued and not self._stop:
            run_id = min(self._queued, key=lambda r: (-self._queued[r][0], self._queued[r][1], r))
            del self._queued[run_id]
            self._start(run_id)

    def _executor(self, name: str) -> Any:
        if name not in self._executors:
            self._executors[name] = get_executor(name)
        return self._executors[name]

    def _start(self, run_id: str) -> None:
        try:  # no job starts from a store that others could change; the loop ends, run() raises
            self.paths.check_private(run_id)
        except JobError as exc:
            self._refusal, self._stop = exc, True
            return
        now = time.time()

        claimed: list[bool] = []

        def claim(record: Record) -> bool:
            if record.get("status") != "queued":
                return False
            job = record["job"]
            job["attempts"] = int(job.get("attempts", 0)) + 1
            job.pop("exit", None)
            record.update(
                status="running",
                started=now,
                heartbeat=now,
                ended=None,
                host=HOSTNAME,
                pid=None,
                pid_start=None,
            )
            record.pop("error", None)
            record.pop("exit_code", None)
            claimed.append(True)
            return True

        try:
            record = update_record(self.layout, run_id, claim, fsync=self.settings.fsync)
        except StoreError as exc:
            self._say(f"job {run_id}: cannot claim it: {exc}")
            return
        if not claimed:  # cancelled (or gone) since it was queued
            if record.get("status") in TERMINAL:
                self.paths.unmark(self.paths.active, run_id)
            return
        spec = record["job"]
        layout = self.layout
        try:
            recipe = get_recipe(spec["recipe"])
            if recipe.command is not None:
                argv = [str(a) for a in recipe.command(record.get("config") or {})]
            else:
                argv = [spec.get("python") or sys.executable, "-m", "workbench.jobs.worker"]
            env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_RUN_ID", MARKER)}
            env.update({str(k): str(v) for k, v in (spec.get("env") or {}).items()})
            env.update(
                WORKBENCH_RUN_ID=run_id, WORKBENCH_ROOT=str(self.settings.root), WORKBENCH_CAPTURE_OUTPUT="0"
            )  # the executor sends the streams to logs/
            env.setdefault("PYTHONUNBUFFERED", "1")
            env.setdefault("PYTHONFAULTHANDLER", "1")  # a segfault leaves a Python traceback
            logs = layout.logs_dir(run_id)
            launch = Launch(
                run_id=run_id,
                argv=tuple(argv),
                cwd=str(spec.get("cwd") or self.settings.root),
                env=env,
                stdout=logs / "stdout.log",
                stderr=logs / "stderr.log",
                root=self.settings.root,
                cgroup=self.settings.job_cgroups,
            )
            executor = self._executor(spec.get("executor") or "local")
            execution = executor.start(launch)
        except (OSError, WorkbenchError, ValueError, TypeError) as exc:
            self._say(f"job {run_id}: could not start: {exc}")
            self._finish(run_id, None, ExitStatus(None), start_error=f"{type(exc).__name__}: {exc}")
            return
        self._running[run_id] = _Slot(execution, time.time())
        problem = getattr(executor, "cgroup_problem", None)
        if problem and not self._cgroup_said:
            self._cgroup_said = True
            self._say(f"jobs run without a cgroup of their own ({problem}); their supervisor holds their processes")
        process = {
            "pid": execution.pid,
            "pgid": execution.pgid,
            "pid_start": execution.pid_start,
            "host": HOSTNAME,
            "started": time.time(),
            "argv": argv,
            **getattr(execution, "process_info", {}),
        }
        detached = _detached(execution)

        def started(record: Record) -> None:
            record["job"]["process"] = process
            if record.get("pid") is None and not detached:  # the job may have attached (and set its own) already
                record["pid"] = execution.pid
                record["pid_start"] = execution.pid_start

        try:
            update_record(layout, run_id, started, fsync=False)
        except StoreError as exc:
            self._say(f"job {run_id}: could not record its process: {exc}")
        self._say(
            f"job {run_id} ({spec['recipe']}, priority {spec.get('priority', 0)}) started: pid "
            f"{execution.pid}"
        )

    # -- ends -------------------------------------------------------------------------------------
    def _reap(self) -> list[tuple[str, _Slot, ExitStatus]]:
        ended = []
        for run_id, slot in list(self._running.items()):
            status = slot.execution.poll()
            if status is None:
                continue
            del self._running[run_id]
            if not _detached(slot.execution):
                self._clear(run_id, slot.execution)  # what the job left behind goes with it
            ended.append((run_id, slot, status))
        return ended

    def _clear(self, run_id: str, execution: Execution) -> None:
        """Kill every process left of a job whose process ended."""
        container = getattr(execution, "container", None)
        if container is None:
            if group_alive(execution.pgid):
                signal_group(execution.pgid, signal.SIGKILL)
            return
        left = container.kill()
        if left:
            self._say(f"job {run_id}: processes {sorted(left)} outlive SIGKILL (stuck in the kernel?)")

    def _check_cancels(self) -> None:
        now = time.monotonic()
        for run_id, slot in list(self._running.items()):
            if slot.term_sent is None:
                try:
                    record = read_record(self.layout, run_id)
                except StoreError:
                    continue
                if not (record.get("job") or {}).get("cancel_requested"):
                    continue
                self._say(f"job {run_id}: cancelling (SIGTERM to every process of it)")
                slot.execution.signal(signal.SIGTERM)
                slot.term_sent = now
            elif not slot.killed and now - slot.term_sent >= self.grace:
                self._say(f"job {run_id}: still running {self.grace:g} s after SIGTERM; SIGKILL")
                slot.execution.signal(signal.SIGKILL)
                slot.killed = True

    def _finish(
        self,
        run_id: str,
        slot: _Slot | None,
        status: ExitStatus,
        *,
        interrupted: bool = False,
        start_error: str | None = None,
    ) -> None:
        """Write how the job ended into its record; queue it again when its retries allow."""
        now = time.time()
        tail = stderr_tail(self.layout.logs_dir(run_id) / "stderr.log")
        outcome: dict[str, Any] = {}

        def mutate(record: Record) -> None:
            outcome["status"], outcome["reason"] = settle(
                record,
                status,
                now=now,
                tail=tail,
                killed_after=self.grace if slot and slot.killed else None,
                interrupted=interrupted,
                start_error=start_error,
            )

        try:
            record = update_record(self.layout, run_id, mutate, fsync=self.settings.fsync)
        except StoreError as exc:
            self._say(f"job {run_id}: could not record its end: {exc}")
            return
        final = outcome.get("status")
        if final == "queued":
            job = record["job"]
            self._queued[run_id] = (int(job.get("priority", 0)), float(record.get("created") or 0.0))
            self._seen.add(run_id)
            self._say(f"job {run_id} queued again ({'interrupted' if interrupted else 'retry'})")
        else:
            self.paths.unmark(self.paths.active, run_id)
            self._seen.discard(run_id)
            self._say(f"job {run_id} {final}" + (f": {outcome['reason']}" if outcome.get("reason") else ""))

    # -- start and stop ---------------------------------------------------------------------------
    def _recover(self) -> None:
        """Take over from an earlier scheduler: every job it left is queued, watched or ended."""
        self._refresh_queue()

    def _recover_one(self, run_id: str, record: Record) -> None:
        job = record["job"]
        status = record.get("status")
        if status not in ("running", "crashed") or job.get("exit"):
            if status in TERMINAL:
                self.paths.unmark(self.paths.active, run_id)
            return
        process = job.get("process") or {}
        pid, pgid = process.get("pid"), process.get("pgid")
        if process.get("remote") and isinstance(pid, int):  # on another host: follow it from here again
            try:
                execution = self._executor(str(job.get("executor"))).adopt(self.settings, run_id, process)
            except (WorkbenchError, OSError) as exc:
                self._say(f"job {run_id}: cannot follow it on remote {process['remote']!r}: {exc}")
                self._finish(run_id, None, ExitStatus(None), start_error=f"{type(exc).__name__}: {exc}")
                return
            self._running[run_id] = _Slot(execution, time.time())
            self._say(f"job {run_id}: following it on remote {process['remote']!r} (pid {pid})")
            return
        container = Container.from_record(process.get("container")) if process.get("host") == HOSTNAME else None
        if container is not None:  # it died with its scheduler; kill whatever it left, wherever
            started = time.monotonic()
            left = container.pids()
            still = container.kill()
            if left:
                self._say(
                    f"job {run_id}: killed the {len(left)} process(es) its container still held in "
                    f"{time.monotonic() - started:.2f} s" + (f"; {sorted(still)} outlive SIGKILL" if still else "")
                )
        elif (
            process.get("host") == HOSTNAME
            and isinstance(pid, int)
            and process_alive(pid, process.get("pid_start"))
        ):
            self._running[run_id] = _Slot(
                Adopted(pid, int(pgid or pid), process.get("pid_start")), time.time()
            )
            self._say(f"job {run_id}: its process {pid} is still alive; watching it")
            return
        self._finish(run_id, None, ExitStatus(None))

    def _shutdown(self) -> None:
        for run_id, slot in list(self._running.items()):
            if _detached(slot.execution):  # it runs on its own host; the next scheduler follows it
                del self._running[run_id]
                close = getattr(slot.execution, "close", None)
                if close is not None:
                    close()
                self._say(f"job {run_id} keeps running on its remote; the next scheduler follows it")
        if not self._running:
            return
        self._say(f"stopping {len(self._running)} running job(s); they go back to the queue")
        for slot in self._running.values():
            slot.execution.signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while self._running and time.monotonic() < deadline:
            for run_id, slot, status in self._reap():
                self._finish(run_id, slot, status, interrupted=True)
            if self._running:
                time.sleep(0.05)
        for slot in self._running.values():
            slot.execution.signal(signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while self._running and time.monotonic() < deadline:
            for run_id, slot, status in self._reap():
                self._finish(run_id, slot, status, interrupted=True)
            if self._running:
                time.sleep(0.05)


def _detached(execution: Execution) -> bool:
    """Whether the job's process lives on another host (its pid means nothing here)."""
    return bool(getattr(execution, "detached", False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workbench.jobs.scheduler", description="Run the queued jobs of a workbench store."
    )
    parser.add_argument("--root", help="the store (default: WORKBENCH_ROOT, else ~/.workbench)")
    parser.add_argument("--slots", type=int, help="jobs at once (default: the job_slots setting)")
    parser.add_argument(
        "--idle-exit", type=float, default=0.0, help="exit after this many idle seconds (default 0: never)"
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.root)
        return Scheduler(settings, slots=args.slots, idle_exit=args.idle_exit).run()
    except WorkbenchError as exc:
        print(f"workbench scheduler: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
