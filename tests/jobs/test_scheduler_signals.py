"""Issue 12: ``workbench scheduler`` stops when told, as a terminal or a service manager tells it.

SIGTERM, SIGINT and SIGHUP each stop a foreground scheduler with a job running: within seconds it
has put the job back in the queue (docs/jobs.md), released its lock and exited with status 0.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _job_helpers import jobs_env, py, wait_for  # noqa: F401 - jobs_env: a fixture

import workbench as wb
from workbench.jobs._paths import JobPaths
from workbench.jobs.daemon import scheduler_running
from workbench.store.records import process_alive

pytestmark = pytest.mark.usefixtures("jobs_env")

WAITING = """
import time
while True:
    time.sleep(0.05)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_the_scheduler_stops_within_seconds_and_requeues_its_job(root: Path, signum: signal.Signals) -> None:
    scheduler = subprocess.Popen([sys.executable, "-m", "workbench", "--root", str(root), "scheduler"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_for(lambda: scheduler_running(JobPaths(root)), what="the scheduler to hold its lock")
        job = wb.launch("script", config={"command": py(WAITING)})
        process = wait_for(lambda: job.record["job"].get("process"), what="the job to start")
        start = time.monotonic()
        scheduler.send_signal(signum)
        output, _ = scheduler.communicate(timeout=10)
        seconds = time.monotonic() - start
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            scheduler.communicate()
    assert scheduler.returncode == 0, output
    assert seconds < 5, f"{seconds:.1f} s to stop:\n{output}"  # the job ends at its SIGTERM
    assert "stopped" in output.splitlines()[-1]
    assert not scheduler_running(JobPaths(root))
    assert not process_alive(process["pid"], process.get("pid_start"))
    assert job.status == "queued"  # an interrupted job goes back to the queue
