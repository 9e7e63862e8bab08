"""The ``local`` executor: a subprocess of the scheduler, with every process it starts in one container.

On Linux the job runs under a supervisor of its own, a child subreaper, in a cgroup v2 of its own
where one can be made (:mod:`workbench.jobs._container`): cancel, the end of the job's process and
the death of the scheduler all end every process of the job, whatever session or process group it
moved to. The job's process leads its own session and process group (``pgid``). Elsewhere the job
is a subprocess in its own session and its process group is what gets signalled.
"""

from __future__ import annotations

import signal
import subprocess
import sys

from workbench._private import make_dir, private_opener
from workbench.jobs._container import Container
from workbench.jobs._container import start as start_contained
from workbench.jobs.executors import ExitStatus, Launch, signal_group
from workbench.store.records import process_start_time

__all__ = ["LocalExecution", "LocalExecutor"]


class LocalExecution:
    """A job started by :class:`LocalExecutor`: ``pid`` is the job's process, which leads its group;
    ``container`` holds all of its processes (None off Linux)."""

    def __init__(self, process: subprocess.Popen[bytes], pid: int, container: Container | None) -> None:
        self._process = process  # the supervisor (off Linux: the job's process itself)
        self.pid = pid
        self.pgid = pid  # the job leads its own session and group
        self.pid_start = process_start_time(pid)
        self.container = container
        self.process_info = {"container": container.record()} if container is not None else {}

    def poll(self) -> ExitStatus | None:
        code = self._process.poll()  # the supervisor ends as the job's process did
        return None if code is None else ExitStatus(code)

    def signal(self, signum: int) -> None:
        """``signum`` to every process of the job; SIGKILL also after the job's process ended (what it
        left behind), and waits until they are gone."""
        if self._process.returncode is not None and signum != signal.SIGKILL:
            return
        if self.container is not None:
            self.container.signal(signum)
        else:
            signal_group(self.pgid, signum)


class LocalExecutor:
    """Runs each job as a subprocess of the scheduler (see the module's docstring)."""

    name = "local"

    def __init__(self) -> None:
        #: why jobs get no cgroup (the first failure; None while they do or none was tried)
        self.cgroup_problem: str | None = None

    def start(self, launch: Launch) -> LocalExecution:
        make_dir(launch.stdout.parent)
        with (
            open(launch.stdout, "ab", opener=private_opener) as out,
            open(launch.stderr, "ab", opener=private_opener) as err,
        ):
            if not sys.platform.startswith("linux"):
                process = subprocess.Popen(
                    list(launch.argv), cwd=launch.cwd, env=launch.env, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=err, start_new_session=True, close_fds=True,
                )
                return LocalExecution(process, process.pid, None)
            want_cgroup = launch.cgroup and self.cgroup_problem is None
            process, pid, container, why = start_contained(
                list(launch.argv), run_id=launch.run_id, cwd=launch.cwd, env=launch.env, stdout=out,
                stderr=err, cgroup=want_cgroup,
            )
        if want_cgroup and container.cgroup is None:
            self.cgroup_problem = why  # not again for this scheduler's jobs
        return LocalExecution(process, pid, container)
