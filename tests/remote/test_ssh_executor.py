"""The ``ssh:NAME`` executor against a real sshd on 127.0.0.1 (issue 5, acceptance 6).

The "remote" is a second store root on this machine, reached over SSH, with this interpreter as
its Python: the job really starts detached through sshd, its metrics come back by sync, and since
it is the same machine a test can look at the remote process group directly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _sshd import Sshd, configure, free_port, job_stores, sshd_fixture  # noqa: F401 - fixtures
from conftest import wait_for

import workbench as wb
from workbench.errors import JobError, RemoteError
from workbench.jobs import Job, list_jobs
from workbench.jobs._paths import JobPaths
from workbench.jobs.daemon import scheduler_running, stop_scheduler
from workbench.settings import load_settings
from workbench.store.records import process_alive

pytestmark = pytest.mark.slow

LOOP = """
import sys, time
import workbench as wb
steps, pause = int(sys.argv[1]), float(sys.argv[2])
with wb.init(config={"steps": steps}) as run:
    for step in range(steps):
        run.log({"loss": 1.0 / (step + 1), "acc": step / steps}, step=step)
        time.sleep(pause)
    print("trained", steps, "steps")
"""


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid`` on this machine."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            members.append(int(entry))
    return members




@pytest.fixture(name="stores")
def stores_fixture(sshd: Sshd, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A local store with remote ``gpu`` (a second root here, over sshd); the script's folder."""
    with job_stores(sshd, root, tmp_path, monkeypatch,
                    settings="cancel_grace = 2.0\nscheduler_idle_exit = 30.0\n", script=LOOP) as remote_root:
        yield remote_root


def launch(root: Path, steps: int, pause: float, **kwargs: Any) -> Job:
    return wb.launch("script", config={"command": ["python", "train.py", str(steps), str(pause)],
                                       "env": {"WORKBENCH_SYSTEM_METRICS": "0"}, "planned_steps": steps},
                     executor="ssh:gpu", root=root, **kwargs)


def test_a_script_job_runs_on_the_remote_and_its_metrics_come_back(stores: Path, root: Path) -> None:
    job = launch(root, 8, 0.1)
    assert job.wait(timeout=90) == "completed", job.error
    record = job.record
    process = record["job"]["process"]
    assert process["remote"] == "gpu" and process["pgid"] == process["pid"]
    # it ran over there: in the remote store, from the copied script, with the remote's python
    theirs = wb.get_run(job.run_id, root=stores)
    assert theirs["status"] == "completed" and theirs["remote"] is None
    assert (stores / "jobs" / "ssh" / job.run_id / "train.py").is_file()
    assert theirs["config"]["command"][1] == "./train.py"
    # here: the job's own record, completed, with the remote run's metrics and summary
    assert record["status"] == "completed" and record["remote"] is None
    assert record["job"]["exit"]["code"] == 0 and record["job"]["remote_run"]["status"] == "completed"
    assert record["summary"]["loss"] == pytest.approx(1 / 8) and record["config"]["steps"] == 8
    assert record["config"]["command"][1] == "train.py"  # the launch config stays as launched
    points = wb.history([job.run_id], keys=["loss"], root=root)
    assert list(points["step"]) == list(range(8))
    assert list(points["value"]) == pytest.approx([1 / (s + 1) for s in range(8)])
    assert "trained 8 steps" in job.logs("stdout")
    assert job.progress == 1.0
    assert wb.runs(root=root).set_index("run_id").loc[job.run_id, "status"] == "completed"
    assert group_members(process["pgid"]) == []


def test_cancel_stops_the_remote_process_group(stores: Path, root: Path) -> None:
    job = launch(root, 600, 0.05)
    # metrics arrive while it runs: the scheduler follows it by sync
    wait_for(lambda: (job.progress or 0) > 0, 60, "the first synced metrics")
    pgid = job.record["job"]["process"]["pgid"]
    members = group_members(pgid)
    assert pgid in members and len(members) >= 2  # the supervisor and the script
    assert job.cancel() == "cancelled"
    wait_for(lambda: group_members(pgid) == [], 20, "the remote group to end")
    assert not process_alive(pgid, None)  # (os.kill(pid, 0) may still see a zombie no init reaps here)
    record = job.record
    assert record["status"] == "cancelled" and record["error"]["type"] == "cancelled"
    assert 0 < len(wb.history([job.run_id], keys=["loss"], root=root)) < 600
    # the remote supervisor outlived the SIGTERM its group got, and wrote down how the job ended
    theirs = wb.get_run(job.run_id, root=stores)
    assert theirs["status"] in ("failed", "cancelled") and theirs["job"]["exit"]["code"] is not None


def test_the_job_goes_on_through_a_dropped_link_and_a_scheduler_restart(
    stores: Path, root: Path, sshd: Sshd
) -> None:
    job = launch(root, 30, 0.1)
    wait_for(lambda: (job.progress or 0) > 0, 60, "the first synced metrics")
    pgid = job.record["job"]["process"]["pgid"]
    assert sshd.kill_sessions() >= 1  # cut the scheduler's connection (the job is no child of sshd)
    assert pgid in group_members(pgid)
    stop_scheduler(load_settings(root), timeout=20)  # the scheduler leaves; the remote job does not
    assert not scheduler_running(JobPaths(root))
    assert pgid in group_members(pgid) and job.status == "running"
    assert job.wait(timeout=90) == "completed", job.error  # a new scheduler follows it again
    assert list(wb.history([job.run_id], keys=["loss"], root=root)["step"]) == list(range(30))


def test_an_unreachable_remote_fails_the_job_with_a_clear_error(stores: Path, root: Path, sshd: Sshd) -> None:
    configure(root, sshd, stores, name="down", port=free_port(), timeout=2.0)
    job = wb.launch("script", config={"command": ["python", "train.py", "1", "0"]}, executor="ssh:down",
                    root=root)
    assert job.wait(timeout=60) == "failed"
    message = job.error["message"]
    assert "could not start" in message and "cannot reach remote 'down'" in message


def test_a_remote_without_python_fails_the_job_with_a_clear_error(stores: Path, root: Path,
                                                                 sshd: Sshd) -> None:
    configure(root, sshd, stores, name="nopy", python="/nonexistent/bin/python3")
    job = wb.launch("script", config={"command": ["python", "train.py", "1", "0"]}, executor="ssh:nopy",
                    root=root)
    assert job.wait(timeout=60) == "failed"
    assert "has no Python at /nonexistent/bin/python3" in job.error["message"]
    assert not (stores / "runs" / job.run_id).exists()  # nothing was copied or started


def test_launch_refuses_an_unknown_remote_or_a_bare_ssh(stores: Path, root: Path) -> None:
    with pytest.raises(RemoteError, match=r"no remote 'nope'.*workbench remote add nope"):
        launch_to(root, "ssh:nope")
    with pytest.raises(JobError, match="needs a remote: executor='ssh:NAME'"):
        launch_to(root, "ssh")
    with pytest.raises(JobError, match="takes no ':x' part"):
        launch_to(root, "local:x")
    assert list_jobs(root) == []


def launch_to(root: Path, executor: str) -> Job:
    return wb.launch("script", config={"command": ["python", "train.py", "1", "0"]}, executor=executor, root=root)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_cli_launch_and_a_cancel_with_no_scheduler_running(stores: Path, root: Path) -> None:
    result = cli("launch", "script", "--executor", "ssh:gpu", "--set", "planned_steps=600", "--",
                 "python", "train.py", "600", "0.05")
    assert result.returncode == 0, result.stderr
    job = list_jobs(root)[0]
    assert job.record["job"]["executor"] == "ssh:gpu"
    wait_for(lambda: (job.progress or 0) > 0, 60, "the first synced metrics")
    pgid = job.record["job"]["process"]["pgid"]
    stop_scheduler(load_settings(root), timeout=20)
    assert pgid in group_members(pgid)
    result = cli("jobs", "cancel", job.run_id)  # no scheduler: cancel signals the remote group itself
    assert result.returncode == 0, result.stderr
    assert group_members(pgid) == [] and job.status == "cancelled"


def test_a_local_cancel_wins_over_the_remote_end() -> None:
    """The remote run of a cancelled job ends "failed" (killed by SIGTERM, no cancel flag over
    there); merging it must not show that before the scheduler records the cancel."""
    from workbench.jobs.executors.ssh import merge

    local = {"id": "r", "status": "running", "config": {"a": 1},
             "job": {"cancel_requested": 1.0, "process": {"remote": "gpu", "pid": 7}}}
    remote = {"id": "r", "status": "failed", "error": {"type": "exit", "message": "SIGTERM"}, "exit_code": -15,
              "ended": 2.0, "summary": {"loss": 0.5}, "config": {"a": 1, "b": 2},
              "job": {"exit": {"code": -15, "signal": "SIGTERM", "time": 2.0}}}
    merge(local, remote, "gpu", now=3.0)
    assert local["status"] == "running" and "error" not in local and "exit_code" not in local
    assert local["summary"] == {"loss": 0.5} and local["config"] == {"a": 1, "b": 2}
    assert local["job"]["remote_run"]["status"] == "failed"  # what the remote said is kept beside
    del local["job"]["cancel_requested"]
    merge(local, remote, "gpu", now=4.0)
    assert local["status"] == "failed" and local["exit_code"] == -15
