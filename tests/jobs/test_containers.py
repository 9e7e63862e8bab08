"""No orphan processes (issue 12, acceptance 2): every process a job starts, in whatever session or
process group, ends with the job: when its scheduler is killed outright, when the supervisor that
holds them is killed too (the next scheduler kills them), when the job is cancelled, and when the
job's own process ends. Real schedulers, jobs and ``fork``; each test runs twice: with a cgroup v2
per job, and with the documented fallback, the supervisor (a subreaper) and the environment
marker alone (``job_cgroups = false``). Without a writable cgroup v2 the first is skipped, except
in CI, where it fails (CI runs as root on a machine with cgroup v2).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from _job_helpers import jobs_env, py, wait_for, write_settings  # noqa: F401 - jobs_env: a fixture
from conftest import IN_CI

import workbench as wb
from workbench.jobs._container import MARKER, Container
from workbench.jobs._paths import JobPaths
from workbench.jobs.daemon import ensure_scheduler, scheduler_info, scheduler_running
from workbench.settings import load_settings
from workbench.store.records import process_alive, process_start_time

pytestmark = pytest.mark.usefixtures("jobs_env")

# The job: its process starts a child in a session of its own (which starts a grandchild there),
# a child in a process group of its own and a child that ignores SIGTERM; each writes its pid.
FAMILY = """
import os, signal, time

def note():
    with open({pidfile!r}, "a") as handle:
        handle.write(f"{{os.getpid()}}\\n")

def stay():
    while True:
        time.sleep(1)

def child(setup):
    if os.fork() == 0:
        setup()
        note()
        stay()

def own_session():
    os.setsid()
    if os.fork() == 0:  # a grandchild, in that session
        note()
        stay()

child(own_session)
child(lambda: os.setpgid(0, 0))
child(lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
note()
{then}
"""
FAMILY_SIZE = 5  # the job's process, three children, one grandchild
#: docs/jobs.md: every process of a job is gone within a second of its scheduler's death, of a
#: cancel (its process ends on SIGTERM), or of the start of the next scheduler
LIMIT = 1.0


@pytest.fixture(params=["cgroup", "supervisor"])
def mechanism(request: pytest.FixtureRequest, root: Path) -> str:
    write_settings(root, cancel_grace=2.0, scheduler_idle_exit=30.0, job_cgroups=request.param == "cgroup")
    return str(request.param)


def start_family(tmp_path: Path, mechanism: str, then: str = "stay()") -> tuple[wb.Job, dict[int, int | None]]:
    pidfile = tmp_path / "family.pids"
    job = wb.launch("script", config={"command": py(FAMILY.format(pidfile=str(pidfile), then=then))})
    pids = wait_for(
        lambda: (lines := pidfile.read_text().split() if pidfile.exists() else []) and len(lines) == FAMILY_SIZE
        and lines, what="the job's family to start",
    )
    family = {int(pid): process_start_time(int(pid)) for pid in pids}
    process = wait_for(lambda: job.record["job"].get("process"), what="the job's process to be recorded")
    assert process["pid"] in family and os.getpgid(process["pid"]) == process["pgid"] == process["pid"]
    container = process["container"]
    if mechanism == "cgroup":
        if container["cgroup"] is None:
            why = "cannot create a cgroup v2 here (needs root or a delegated cgroup)"
            if IN_CI:
                pytest.fail(f"CI must allow cgroup v2 for jobs: {why}")
            pytest.skip(why)
        members = {int(pid) for pid in Path(container["cgroup"], "cgroup.procs").read_text().split()}
        assert set(family) | {container["supervisor"]} == members
    else:
        assert container["cgroup"] is None
    for pid in family:  # each carries the marker (the last resort without a cgroup)
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert f"{MARKER}={container['name']}".encode() in environ
    sessions = {os.getsid(pid) for pid in family}
    groups = {os.getpgid(pid) for pid in family}
    assert len(sessions) == 2 and len(groups) == 3  # they left the job's session and group
    return job, family


def alive(family: dict[int, int | None]) -> list[int]:
    return [pid for pid, start in family.items() if process_alive(pid, start)]


def gone_within(family: dict[int, int | None], limit: float, what: str) -> float:
    """Seconds until no process of ``family`` lives; fails after ``limit``."""
    started = time.monotonic()
    wait_for(lambda: not alive(family), timeout=limit, what=what, interval=0.01)
    return time.monotonic() - started


def kill_scheduler(root: Path) -> None:
    info = scheduler_info(JobPaths(root))
    assert info and isinstance(info.get("pid"), int)
    os.kill(info["pid"], signal.SIGKILL)
    wait_for(lambda: not scheduler_running(JobPaths(root)), what="the lock to be free")


def test_a_scheduler_killed_outright_takes_every_process_of_its_jobs_along(
    root: Path, tmp_path: Path, mechanism: str
) -> None:
    job, family = start_family(tmp_path, mechanism)
    kill_scheduler(root)
    gone_within(family, LIMIT, "the job's processes to die with their scheduler")
    assert ensure_scheduler(load_settings(root))  # the next scheduler
    assert job.wait(timeout=30) == "crashed"
    record = job.record
    assert "no scheduler watched it" in record["error"]["message"]
    container = Container.from_record(record["job"]["process"]["container"])
    assert container is not None and container.empty()
    if container.cgroup is not None:
        assert not Path(container.cgroup).exists()  # the next scheduler removed it


def test_the_next_scheduler_kills_what_a_killed_supervisor_left(root: Path, tmp_path: Path, mechanism: str) -> None:
    job, family = start_family(tmp_path, mechanism)
    process = job.record["job"]["process"]
    supervisor = process["container"]["supervisor"]
    info = scheduler_info(JobPaths(root))
    assert info is not None
    for pid in (info["pid"], supervisor):  # both at once: the OOM killer, `kill -9` of both
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not process_alive(process["pid"], process["pid_start"]), timeout=LIMIT,
             what="the job's process to die with its supervisor")
    wait_for(lambda: not scheduler_running(JobPaths(root)), what="the lock to be free")
    time.sleep(0.3)
    orphans = alive(family)
    assert len(orphans) == FAMILY_SIZE - 1  # the issue: nothing else ends them
    assert ensure_scheduler(load_settings(root))  # returns once it holds the lock, before it recovers
    gone_within(family, LIMIT, "the next scheduler to kill the orphans")
    assert job.wait(timeout=30) == "crashed"
    assert "no scheduler watched it" in job.record["error"]["message"]


def test_cancel_ends_every_process_of_the_job(root: Path, tmp_path: Path, mechanism: str) -> None:
    job, family = start_family(tmp_path, mechanism)
    container = Container.from_record(job.record["job"]["process"]["container"])
    assert container is not None
    started = time.monotonic()
    assert job.cancel() == "cancelled"
    assert time.monotonic() - started < LIMIT  # its process ends on SIGTERM: no wait for the grace
    assert alive(family) == []  # the child that ignores SIGTERM too
    assert container.empty()
    if container.cgroup is not None:
        assert not Path(container.cgroup).exists()
    record = job.record
    assert record["status"] == "cancelled" and record["error"]["type"] == "cancelled"


def test_cancel_with_no_scheduler_kills_what_a_killed_supervisor_left(
    root: Path, tmp_path: Path, mechanism: str
) -> None:
    job, family = start_family(tmp_path, mechanism)
    process = job.record["job"]["process"]
    info = scheduler_info(JobPaths(root))
    assert info is not None
    for pid in (info["pid"], process["container"]["supervisor"]):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not scheduler_running(JobPaths(root)), what="the lock to be free")
    wait_for(lambda: len(alive(family)) == FAMILY_SIZE - 1, timeout=LIMIT, what="the job's process to die")
    assert job.cancel() == "cancelled"  # no scheduler runs: cancel kills them itself
    assert alive(family) == []
    assert not scheduler_running(JobPaths(root))
    assert job.record["status"] == "cancelled"


def test_what_the_job_leaves_behind_ends_with_its_process(root: Path, tmp_path: Path, mechanism: str) -> None:
    gate = tmp_path / "gate"
    then = f"import pathlib\nwhile not pathlib.Path({str(gate)!r}).exists():\n    time.sleep(0.02)\nprint('done')"
    job, family = start_family(tmp_path, mechanism, then=then)
    gate.touch()
    assert job.wait(timeout=30) == "completed"
    assert alive(family) == []  # killed before the job's end was recorded
    assert job.logs("stdout") == "done\n"


def test_both_ways_of_listing_a_process_tree_agree(tmp_path: Path) -> None:
    """The supervisor lists descendants from /proc/PID/task/TID/children, or, on a kernel without
    them (CONFIG_PROC_CHILDREN), from the parent pid of every process: both see the same tree."""
    import subprocess

    from workbench.jobs._supervisor import _children, _children_by_parent, descendants

    tree = subprocess.Popen(["sh", "-c", "sleep 30 & (sleep 30 & wait) & wait"], start_new_session=True)
    try:
        wait_for(lambda: len(descendants(tree.pid)) == 3, what="the tree to start")
        table = _children_by_parent()
        for pid in [tree.pid, *descendants(tree.pid)]:
            assert sorted(table.get(pid, [])) == sorted(_children(pid))
    finally:
        os.killpg(tree.pid, signal.SIGKILL)
        tree.wait()


def test_a_record_cannot_point_the_kill_at_other_processes() -> None:
    """A job record is a file: a cgroup outside this scheduler's, or a pid without its start time,
    is not taken (killing by it could hit processes that are not the job's)."""
    from workbench.jobs._container import Container

    assert Container.from_record({"name": "x; rm", "supervisor": 1}) is None
    forged = Container.from_record({"name": "abc.0a1b2c", "cgroup": "/sys/fs/cgroup", "supervisor": os.getppid()})
    assert forged is not None and forged.cgroup is None and forged.supervisor is None
    assert forged.pids() == set()  # no cgroup, no supervisor, and no process carries its marker
    other = Container.from_record({"name": "abc.0a1b2c", "supervisor": 1, "supervisor_start": 1})
    assert other is not None and not other._supervisor_alive()  # pid 1 started at another time
