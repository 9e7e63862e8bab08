"""A job's files are private, and a scheduler refuses a store that other users can write (issue 11,
acceptance 3): at its start, before each job, from the CLI (no traceback, exit 1), and at launch.

Real schedulers and job processes, under the common umask 0o022.
"""

from __future__ import annotations

import fcntl
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _job_helpers import py, stop_everything, wait_for
from _modes import open_to_others
from conftest import IN_CI

import workbench as wb
from workbench.errors import JobError
from workbench.jobs._paths import JobPaths
from workbench.jobs.daemon import scheduler_running
from workbench.jobs.scheduler import Scheduler
from workbench.settings import load_settings, save_settings

LOGGING_JOB = """
import workbench as wb
with wb.init() as run:
    print("hello from the job")
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1)})
"""

GATE = """
import os, time
while not os.path.exists({gate!r}):
    time.sleep(0.02)
"""


@pytest.fixture
def private_env(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``root`` made by workbench (settings saved through the API) under umask 0o022; every scheduler
    and job of it stopped afterwards."""
    previous = os.umask(0o022)
    monkeypatch.setenv("WORKBENCH_SYSTEM_METRICS", "0")
    save_settings(root, cancel_grace=2.0, scheduler_idle_exit=30.0)
    try:
        yield root
    finally:
        stop_everything(root)
        os.umask(previous)


def queue_without_a_scheduler(root: Path, *commands: list[str]) -> list[wb.Job]:
    """Launch jobs while the scheduler lock is held here, so no scheduler starts: they stay queued."""
    paths = JobPaths(root)
    paths.ensure()
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        jobs = [wb.launch("script", config={"command": command}) for command in commands]
    finally:
        os.close(fd)
    assert not scheduler_running(paths) and {job.status for job in jobs} == {"queued"}
    return jobs


def assert_never_started(job: wb.Job) -> None:
    record = job.record
    assert record["status"] == "queued" and record["job"]["attempts"] == 0 and "process" not in record["job"]
    assert not (job.root / "runs" / job.run_id / "logs").exists()


def test_a_job_and_its_scheduler_write_only_private_files(private_env: Path) -> None:
    job = wb.launch("script", config={"command": py(LOGGING_JOB)})
    assert job.wait(timeout=60) == "completed", job.logs()
    assert "hello from the job" in job.logs()
    names = {p.name for p in private_env.rglob("*") if p.is_file()}
    assert {"scheduler.lock", "scheduler.json", "scheduler.log", "stdout.log", "stderr.log", job.run_id} <= names
    assert open_to_others(private_env) == []


@pytest.mark.parametrize(
    ("where", "mode"),
    [(".", 0o777), (".", 0o720), ("runs", 0o707), ("jobs", 0o770), ("workbench.toml", 0o666),
     ("artifacts", 0o777)],
)
def test_a_scheduler_refuses_a_store_that_others_can_write(private_env: Path, where: str, mode: int) -> None:
    marker = private_env.parent / "ran"
    (job,) = queue_without_a_scheduler(private_env, py(f"open({str(marker)!r}, 'w').close()"))
    path = private_env / where
    if not path.exists():
        path.mkdir()  # artifacts/ exists once an artifact is logged
    path.chmod(mode)
    out = io.StringIO()
    with pytest.raises(JobError) as caught:
        Scheduler(load_settings(private_env), out=out).run()
    message = str(caught.value)
    assert message.startswith(f"refusing to run jobs from the store {private_env}: other users could change")
    assert f"{path} is writable by" in message
    assert f"(mode {mode:04o})" in message and "chmod go-w" in message
    assert not marker.exists()
    assert_never_started(job)


def test_a_world_writable_job_record_is_refused_before_that_job_starts(private_env: Path) -> None:
    marker = private_env.parent / "ran"
    (job,) = queue_without_a_scheduler(private_env, py(f"open({str(marker)!r}, 'w').close()"))
    record = private_env / "runs" / job.run_id / "run.json"
    record.chmod(0o666)
    with pytest.raises(JobError, match=rf"{record} is writable by its group and every user \(mode 0666\)"):
        Scheduler(load_settings(private_env), out=io.StringIO()).run()
    assert not marker.exists()
    assert_never_started(job)


def test_a_store_owned_by_another_user_is_refused(private_env: Path) -> None:
    if os.geteuid() != 0:  # CI runs as root: there this test must run, never skip
        if IN_CI:
            pytest.fail("CI must run as root to give a directory to another user")
        pytest.skip("giving a directory to another user takes root")
    (job,) = queue_without_a_scheduler(private_env, py("pass"))
    os.chown(private_env / "runs", 65534, -1)
    with pytest.raises(JobError, match=r"runs is owned by .*uid 65534.*use a store of your own"):
        Scheduler(load_settings(private_env), out=io.StringIO()).run()
    assert_never_started(job)


def test_a_running_scheduler_stops_before_the_next_job_when_the_store_turns_writable(
    private_env: Path,
) -> None:
    gate = private_env.parent / "gate"
    marker = private_env.parent / "ran"
    first = wb.launch("script", config={"command": py(GATE.format(gate=str(gate)))})
    wait_for(lambda: first.status == "running", what="the first job to start")
    second = wb.launch("script", config={"command": py(f"open({str(marker)!r}, 'w').close()")})
    assert second.status == "queued"
    (private_env / "runs").chmod(0o777)
    gate.touch()
    paths = JobPaths(private_env)
    wait_for(lambda: not scheduler_running(paths), timeout=60, what="the scheduler to stop")
    assert first.record["status"] == "completed"
    assert not marker.exists()
    assert_never_started(second)
    log = paths.log.read_text()
    assert f"refusing to run jobs from the store {private_env}" in log and "Traceback" not in log


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKBENCH_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True,
                          timeout=120, check=False, env=env)


def test_the_cli_says_why_and_exits_1_without_a_traceback(private_env: Path) -> None:
    (job,) = queue_without_a_scheduler(private_env, py("pass"))
    (private_env / "jobs").chmod(0o777)
    for args in (["scheduler"], ["launch", "script", "--", sys.executable, "-c", "pass"]):
        result = cli(private_env, *args)
        assert result.returncode == 1, result
        assert result.stderr.startswith("workbench: error: refusing to run jobs from the store"), result.stderr
        assert f"chmod go-w {private_env / 'jobs'}" in result.stderr and "Traceback" not in result.stderr
    assert_never_started(job)
    assert [p.name for p in (private_env / "runs").iterdir()] == [job.run_id]  # the launch made nothing


def test_launch_and_wait_refuse_at_once(private_env: Path) -> None:
    (job,) = queue_without_a_scheduler(private_env, py("pass"))
    private_env.chmod(0o775)
    with pytest.raises(JobError, match="refusing to run jobs"):
        wb.launch("script", config={"command": py("pass")})
    with pytest.raises(JobError, match="refusing to run jobs"):
        job.wait(timeout=30)  # starts no scheduler that would refuse 15 s later
    assert not scheduler_running(JobPaths(private_env))
    assert [p.name for p in (private_env / "runs").iterdir()] == [job.run_id]
    assert_never_started(job)
