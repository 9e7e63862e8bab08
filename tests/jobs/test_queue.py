"""The queue and the scheduler on real subprocesses: priority order (issue 4, acceptance 3),
a detached scheduler, progress, logs, retries, and a foreground scheduler."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _job_helpers import jobs_env, py, wait_for, write_settings  # noqa: F401 - jobs_env: a fixture

import workbench as wb
from workbench.jobs._paths import JobPaths
from workbench.jobs.daemon import scheduler_info, scheduler_running, stop_scheduler
from workbench.settings import load_settings

GATE = """
import os, time
while not os.path.exists({gate!r}):
    time.sleep(0.02)
"""

LOGGING_JOB = """
import workbench as wb
with wb.init() as run:
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1)})
"""


pytestmark = pytest.mark.usefixtures("jobs_env")


def blocker(gate: Path, **kwargs: object) -> wb.Job:
    """A job that holds its slot until ``gate`` exists."""
    return wb.launch("script", config={"command": py(GATE.format(gate=str(gate)))}, **kwargs)  # type: ignore[arg-type]


def test_one_slot_runs_highest_priority_first_then_oldest(root: Path, tmp_path: Path) -> None:
    write_settings(root, job_slots=1)
    gate = tmp_path / "gate"
    first = blocker(gate)
    wait_for(lambda: first.status == "running", what="the blocker to start")
    # queued while the only slot is busy, in mixed order; two share priority 5
    jobs = {}
    for label, priority in (("p3", 3), ("p1", 1), ("p5a", 5), ("p2", 2), ("p4", 4), ("p5b", 5)):
        jobs[label] = wb.launch("script", config={"command": py(LOGGING_JOB)}, priority=priority, name=label)
        time.sleep(0.002)  # distinct creation times
    assert all(job.status == "queued" for job in jobs.values())
    gate.touch()
    for job in jobs.values():
        assert job.wait(timeout=60) == "completed", job.logs()
    records = sorted((job.record for job in jobs.values()), key=lambda r: r["job"]["process"]["started"])
    assert [r["name"] for r in records] == ["p5a", "p5b", "p4", "p3", "p2", "p1"]
    # one slot: each job started after the one before it had ended
    for before, after in itertools.pairwise(records):
        assert after["job"]["process"]["started"] >= before["job"]["exit"]["time"] - 0.05
    for record in records:
        assert record["job"]["attempts"] == 1 and record["exit_code"] == 0
        assert record["metrics"]["loss"]["count"] == 3  # the script's own init() attached to the job's run
        assert record["job"]["process"]["pgid"] == record["job"]["process"]["pid"]  # a process group of its own


def test_launch_starts_one_detached_scheduler_that_serves_later_launches(root: Path) -> None:
    paths = JobPaths(root)
    assert not scheduler_running(paths)
    job = wb.launch("script", config={"command": py("print('hello')")})
    info = scheduler_info(paths)
    assert info is not None and info["slots"] == 1
    assert os.getsid(info["pid"]) != os.getsid(0)  # detached: a session of its own
    assert job.wait(timeout=30) == "completed"
    again = wb.launch("script", config={"command": py("print('again')")})
    assert again.wait(timeout=30) == "completed"
    assert scheduler_info(paths)["pid"] == info["pid"]  # the same scheduler served both
    assert job.logs("stdout") == "hello\n" and job.logs("stderr") == ""


def test_progress_is_logged_steps_against_the_planned_total(root: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    code = f"""
    import os, time, workbench as wb
    with wb.init() as run:
        for step in range(1, 6):
            run.log({{"loss": 1.0 / step}}, step=step)
        run.flush()
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.02)
        for step in range(6, 11):
            run.log({{"loss": 1.0 / step}}, step=step)
    """
    job = wb.launch("script", config={"command": py(code), "planned_steps": 10})
    wait_for(lambda: job.progress == 0.5, what="half the steps")
    assert "script running 50%" in repr(job)
    gate.touch()
    assert job.wait(timeout=30) == "completed"
    assert job.progress == 1.0


def test_a_failed_job_is_queued_again_while_its_retries_allow(root: Path, tmp_path: Path) -> None:
    marker = tmp_path / "tried"
    code = f"""
    import os, sys
    if not os.path.exists({str(marker)!r}):
        open({str(marker)!r}, "w").close()
        print("first try fails", file=sys.stderr)
        sys.exit(1)
    print("second try works")
    """
    job = wb.launch("script", config={"command": py(code)}, retries=1)
    assert job.wait(timeout=30) == "completed"
    record = job.record
    assert record["job"]["attempts"] == 2
    first = record["job"]["history"][0]
    assert first["status"] == "failed" and "first try fails" in first["error"]["stderr"]
    assert "error" not in record
    assert "second try works" in job.logs("stdout")


def test_job_environment_logs_and_prefix(root: Path) -> None:
    code = """
    import os, sys
    print("out", os.environ["WORKBENCH_RUN_ID"], os.environ["GREETING"])
    print("err line", file=sys.stderr)
    """
    job = wb.launch("script", config={"command": py(code), "env": {"GREETING": "hi"}})
    assert job.wait(timeout=30) == "completed"
    assert job.logs("stdout") == f"out {job.run_id} hi\n"
    assert job.logs("stderr") == "err line\n"
    assert job.logs(tail=1) == f"out {job.run_id} hi\nerr line\n"
    assert wb.Job(job.run_id[:11], root=root) == job  # a unique prefix finds it


def test_foreground_scheduler_serves_the_store_and_stops_on_sigint(root: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", "--root", str(root), "scheduler", "--slots", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: scheduler_running(JobPaths(root)), what="the scheduler to hold its lock")
        jobs = [wb.launch("script", config={"command": py(LOGGING_JOB)}) for _ in range(3)]
        assert scheduler_info(JobPaths(root))["pid"] == process.pid  # launch started no other
        for job in jobs:
            assert job.wait(timeout=30) == "completed"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "with 2 slot(s)" in output and "stopped" in output
    assert not scheduler_running(JobPaths(root))


def test_stopping_the_scheduler_requeues_its_running_jobs(root: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    job = blocker(gate)
    wait_for(lambda: job.status == "running", what="the job to start")
    assert stop_scheduler(load_settings(root))
    record = job.record
    assert record["status"] == "queued" and record["job"]["interruptions"] == 1
    assert record["job"]["attempts"] == 0  # an interruption is not an attempt
    gate.touch()
    assert job.wait(timeout=30) == "completed"  # wait() starts a scheduler for a queued job


def test_jobs_outlive_the_process_that_launched_them(root: Path, tmp_path: Path) -> None:
    # a notebook kernel that launches a job and is then killed (a kernel restart kills its group)
    gate = tmp_path / "gate"
    kernel_code = (
        "import sys, time, workbench as wb\n"
        f"job = wb.launch('script', config={{'command': {py(GATE.format(gate=str(gate)))!r}}})\n"
        "print(job.run_id, flush=True)\n"
        "time.sleep(120)\n"
    )
    kernel = subprocess.Popen(
        [sys.executable, "-c", kernel_code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        run_id = kernel.stdout.readline().strip()  # type: ignore[union-attr]
        job = wb.Job(run_id)
        wait_for(lambda: job.status == "running", what="the job to start")
    finally:
        os.killpg(kernel.pid, signal.SIGKILL)
        kernel.wait()
        kernel.stdout.close()  # type: ignore[union-attr]
    gate.touch()
    assert job.wait(timeout=30) == "completed"


def test_a_stray_file_among_the_markers_does_not_stop_the_scheduler(root: Path) -> None:
    paths = JobPaths(root)
    paths.ensure()
    for stray in ("README", "x", "Not A Run"):  # no run ids: read_record and unmark refuse them
        (paths.active / stray).write_text("")
    job = wb.launch("script", config={"command": py("print('served')")})
    assert job.wait(timeout=30) == "completed", job.logs()
    assert scheduler_running(paths)  # still serving


def test_a_scheduler_is_not_turned_away_by_a_probe_of_its_lock(root: Path) -> None:
    """``scheduler_running`` takes the lock for an instant; a scheduler starting then must not leave."""
    import fcntl
    import threading

    from workbench.jobs.scheduler import Scheduler

    paths = JobPaths(root)
    paths.ensure()
    scheduler = Scheduler(load_settings(root))
    probe = os.open(paths.lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a probe holds
    acquired: list[bool] = []
    thread = threading.Thread(target=lambda: acquired.append(scheduler._acquire()))
    thread.start()
    time.sleep(0.02)
    os.close(probe)  # the probe is done
    thread.join(timeout=10)
    try:
        assert acquired == [True]
    finally:
        scheduler._release()
