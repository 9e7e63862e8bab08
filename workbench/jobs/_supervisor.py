"""A local job's supervisor: the subreaper that every process of the job stays under.

The local executor runs this file by its path, ``python -I -S _supervisor.py PARENT STATUS_FD
CGROUP -- COMMAND...`` (standard library only, about 30 ms to start), as the scheduler's child in
a session of its own. It

1. makes itself a child subreaper (``PR_SET_CHILD_SUBREAPER``): a process of the job whose parent
   dies is re-parented to it, not to init, whatever session or process group it moved to, so
   every process of the job stays one of its descendants while it lives;
2. asks for SIGTERM when its parent, the scheduler, dies (``PR_SET_PDEATHSIG``), and leaves at
   once if that parent (``PARENT``) is already gone;
3. joins the job's cgroup (``CGROUP``, ``-`` for none), so that it and all it starts are in it;
4. starts ``COMMAND`` in a session and process group of its own (the job's ``pgid``), with
   ``PR_SET_PDEATHSIG`` SIGKILL towards the supervisor, and reports the job's pid (or the error
   that stopped it) as one line on ``STATUS_FD``, a pipe to the scheduler (a Python literal: no
   ``json`` to import);
5. reaps whatever is re-parented to it until the job's process ends, then SIGKILLs every
   descendant left and exits with the job's status: the same code, or killed by the same signal
   (without a core file of its own), so the scheduler reads the job's end from the supervisor's.

SIGTERM, SIGINT and SIGHUP are ignored while the scheduler lives (a cancel signals every process
of the job, this one too, and the supervisor must outlive the job to clean up after it); once the
scheduler is gone, the first of them (the parent-death signal) makes it SIGKILL every descendant
and exit. :mod:`workbench.jobs._container` imports :func:`descendants` from here.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import sys
import time
from typing import Any

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
#: seconds the supervisor keeps killing and reaping before it leaves what resists to the scheduler
_CLEANUP_LIMIT = 10.0


@functools.cache
def _children_files() -> bool:
    """Whether this kernel lists a task's children in ``/proc/PID/task/TID/children``."""
    return os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                found.extend(int(word) for word in handle.read().split())
        except (OSError, ValueError):
            continue
    return found


def _children_by_parent() -> dict[int, list[int]]:
    """Every process's children, from the parent pid in each ``/proc/PID/stat``."""
    table: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                data = handle.read()
            parent = int(data[data.rindex(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        table.setdefault(parent, []).append(int(name))
    return table


def descendants(root: int) -> list[int]:
    """Every descendant of ``root`` (zombies included), parents before their children."""
    if _children_files():
        lookup = _children
    else:  # a kernel without CONFIG_PROC_CHILDREN: one pass over /proc
        table = _children_by_parent()

        def lookup(pid: int) -> list[int]:
            return table.get(pid, [])

    found: list[int] = []
    seen = {root}
    todo = [root]
    while todo:
        for child in lookup(todo.pop()):
            if child not in seen:
                seen.add(child)
                found.append(child)
                todo.append(child)
    return found


def _kill_descendants() -> None:
    """SIGKILL every descendant of this process and reap them, until it has no child left."""
    deadline = time.monotonic() + _CLEANUP_LIMIT
    me = os.getpid()
    while True:
        for pid in descendants(me):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return  # no child, so no descendant: a subreaper inherits every orphan below it
        if time.monotonic() > deadline:
            return
        time.sleep(0.005)


def _exit_like(status: int) -> None:
    """End this process the way the job's process ended."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        import resource

        with contextlib.suppress(OSError, ValueError):
            resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        time.sleep(0.1)
        os._exit(128 + signum)  # a signal this process does not die of
    os._exit(os.waitstatus_to_exitcode(status))


def _report(fd: int, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, repr(message).encode() + b"\n")  # plain values: ast.literal_eval reads it
    with contextlib.suppress(OSError):
        os.close(fd)


def main(argv: list[str]) -> int:
    if len(argv) < 5 or argv[3] != "--":
        print("usage: _supervisor.py PARENT STATUS_FD CGROUP -- COMMAND... (started by the local executor)",
              file=sys.stderr)
        return 2
    parent, status_fd, cgroup, command = int(argv[0]), int(argv[1]), argv[2], argv[4:]
    me = os.getpid()
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    cleaning: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        if os.getppid() == parent or cleaning:
            return  # a cancel or a stop: the job's processes got it too and end as they see fit
        cleaning.append(signum)  # the scheduler died: nobody else will end the job
        _kill_descendants()
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the scheduler died before the line above
        return 1
    report: dict[str, Any] = {}
    if cgroup != "-":
        try:
            fd = os.open(os.path.join(cgroup, "cgroup.procs"), os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
            report["cgroup"] = True
        except OSError as exc:
            report["cgroup_error"] = f"{cgroup}/cgroup.procs: {exc.strerror or exc}"

    def die_with_supervisor() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != me:
            os._exit(1)

    try:
        job = subprocess.Popen(command, start_new_session=True, close_fds=True,
                               preexec_fn=die_with_supervisor)  # noqa: PLW1509 - one thread here
    except OSError as exc:
        _report(status_fd, {**report, "error": exc.strerror or str(exc), "errno": exc.errno,
                            "filename": exc.filename})
        return 127
    _report(status_fd, {**report, "pid": job.pid})
    while True:
        pid, status = os.waitpid(-1, 0)  # the job's process, and every orphan re-parented to us
        if pid == job.pid:
            break
    _kill_descendants()  # what the job left behind goes with it
    _exit_like(status)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
