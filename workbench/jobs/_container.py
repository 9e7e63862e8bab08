"""Every process of one local job in one container, which its scheduler, or the next one, kills whole.

A job's process may start others that leave its process group or session (``setsid``, a daemon
that double-forks), and a scheduler may die without a chance to stop anything (SIGKILL, the OOM
killer). Three layers, from Linux, hold the job's processes together (docs/jobs.md, "Restart
safety"):

- **the supervisor** (``_supervisor.py``, always on Linux): the scheduler's child and the job's
  parent, a child subreaper, so the job's orphans are re-parented to it and stay its
  descendants. It kills them all when the job's process ends, and when the scheduler dies;
- **a cgroup v2** of its own, ``<the scheduler's cgroup>/workbench/<run id>.<token>``, where the
  scheduler can create one (root, or a delegated subtree; the ``job_cgroups`` setting): no
  process can leave it without privileges, and it outlives both the scheduler and the supervisor,
  so the next scheduler kills what it holds (``cgroup.kill``, or SIGKILL to each member);
- **a marker** in each process's environment, ``WORKBENCH_JOB_CONTAINER=<name>``, the last
  resort without a cgroup when the supervisor itself was killed: its orphans (re-parented to
  init) are found by reading ``/proc/*/environ``; a process started with a clean environment
  escapes it.

:class:`Container` is what the job record keeps (``job.process.container``) and what kills.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import os
import re
import secrets
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from workbench._private import make_dir
from workbench.jobs._supervisor import descendants
from workbench.store.records import process_alive, process_start_time

__all__ = ["MARKER", "Container", "cgroup_parent", "start"]

#: the environment variable that names a job's container in each of its processes
MARKER = "WORKBENCH_JOB_CONTAINER"
_SUPERVISOR = str(Path(__file__).with_name("_supervisor.py"))
#: seconds the scheduler waits for the supervisor to say it started the job
_START_WAIT = 30.0


def _alive(pid: int) -> bool:
    return process_alive(pid, None)  # a zombie is not


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return ""


def cgroup_parent() -> tuple[Path | None, str]:
    """Where this process makes job cgroups: ``(<its cgroup v2>/workbench, "")``, or ``(None, why)``."""
    if not sys.platform.startswith("linux"):
        return None, "not Linux"
    mount = None
    for line in _read(Path("/proc/self/mountinfo")).splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        if right.split()[:1] == ["cgroup2"] and len(fields) > 4:
            mount = (Path(fields[4]), fields[3])
            break
    if mount is None:
        return None, "no cgroup v2 file system is mounted"
    own = next((line[3:] for line in _read(Path("/proc/self/cgroup")).splitlines() if line.startswith("0::")), None)
    if own is None:
        return None, "this process is in no cgroup v2"
    point, mount_root = mount
    if mount_root != "/" and own.startswith(mount_root):
        own = own[len(mount_root):]
    here = point / own.lstrip("/")
    if not (here / "cgroup.procs").is_file():
        return None, f"{here} is not this process's cgroup"
    return here / "workbench", ""


def _make_cgroup(name: str) -> tuple[str | None, str]:
    parent, why = cgroup_parent()
    if parent is None:
        return None, why
    path = parent / name
    try:
        make_dir(path)
    except OSError as exc:
        return None, f"cannot create {path}: {exc.strerror or exc}"
    if not os.access(path / "cgroup.procs", os.W_OK):
        _remove_cgroup(path)
        return None, f"cannot write {path / 'cgroup.procs'}"
    return str(path), ""


def _cgroups_below(path: Path) -> list[Path]:
    """``path`` and every cgroup under it, deepest first."""
    found = []
    for folder, dirs, _ in os.walk(path, topdown=False):
        found += [Path(folder) / name for name in dirs]
    return [*found, path]


def _remove_cgroup(path: Path) -> None:
    for cgroup in _cgroups_below(path):
        with contextlib.suppress(OSError):
            os.rmdir(cgroup)


def _cgroup_members(path: Path) -> set[int]:
    members: set[int] = set()
    for cgroup in _cgroups_below(path):
        members |= {int(word) for word in _read(cgroup / "cgroup.procs").split() if word.isdigit()}
    return members


def _write(path: Path, text: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:
        return False
    try:
        os.write(fd, text.encode())
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def _marked(name: str) -> set[int]:
    """Processes whose environment carries ``MARKER=name`` (those this user may read)."""
    needle = f"{MARKER}={name}".encode()
    found = set()
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.add(int(entry))
    return found


#: a container's name: ``<run id>.<6 hex digits>`` (see :func:`start`)
_NAME = re.compile(r"[0-9a-z][0-9a-z_-]{1,63}\.[0-9a-f]{6}")


def _job_cgroup(path: str, name: str) -> bool:
    """Whether ``path`` is the job cgroup ``name`` under this process's ``workbench`` cgroup."""
    parent, _ = cgroup_parent()
    if parent is None or not os.path.isabs(path):
        return False
    resolved = Path(os.path.realpath(path))
    return resolved.name == name and resolved.parent == Path(os.path.realpath(parent))


def _owned(pid: int) -> bool:
    """Whether ``pid`` runs as this user: the only processes a job of this scheduler can have."""
    try:
        return os.stat(f"/proc/{pid}").st_uid == os.getuid()
    except OSError:
        return not os.path.isdir("/proc")


def _kill(pids: set[int] | list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


@dataclasses.dataclass(frozen=True)
class Container:
    """The processes of one run of a local job: what its record says under ``job.process.container``.

    ``name`` is also the value of :data:`MARKER` in their environment; ``supervisor`` and
    ``supervisor_start`` (clock ticks since boot, against a reused pid) name the subreaper;
    ``cgroup`` is the path of the job's cgroup v2, None when it has none.
    """

    name: str
    supervisor: int | None = None
    supervisor_start: int | None = None
    cgroup: str | None = None

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, data: object) -> Container | None:
        """The container a job record describes; None for a record without one (an older one).

        A record is a file: what it names is checked before anything is signalled. The name must
        be one this module makes, the cgroup one of this scheduler's job cgroups of that name, and
        a supervisor needs its start time (a pid alone may have been reused).
        """
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not _NAME.fullmatch(data["name"]):
            return None
        supervisor, start, cgroup = data.get("supervisor"), data.get("supervisor_start"), data.get("cgroup")
        has_start = isinstance(start, int) and not isinstance(start, bool)
        return cls(
            name=data["name"],
            supervisor=supervisor if isinstance(supervisor, int) and not isinstance(supervisor, bool)
            and supervisor > 1 and has_start else None,
            supervisor_start=start if has_start else None,
            cgroup=cgroup if isinstance(cgroup, str) and _job_cgroup(cgroup, data["name"]) else None,
        )

    def _supervisor_alive(self) -> bool:
        return (self.supervisor is not None and process_alive(self.supervisor, self.supervisor_start)
                and _owned(self.supervisor))

    def pids(self) -> set[int]:
        """Every live process of the job (its supervisor included); without a cgroup and with the
        supervisor gone, those that carry the marker."""
        found: set[int] = set()
        if self.cgroup is not None:
            found |= _cgroup_members(Path(self.cgroup))
        if self._supervisor_alive():
            assert self.supervisor is not None
            found |= {self.supervisor, *descendants(self.supervisor)}
        elif self.cgroup is None:
            found |= _marked(self.name)
        return {pid for pid in found if pid != os.getpid() and _alive(pid)}

    def empty(self) -> bool:
        """Whether no process of the job lives any more."""
        return not self.pids()

    def signal(self, signum: int) -> int:
        """Send ``signum`` to every process of the job (SIGKILL: see :meth:`kill`); how many got it.

        The supervisor ignores SIGTERM, SIGINT and SIGHUP while its scheduler lives.
        """
        pids = self.pids()
        if signum == signal.SIGKILL:
            self.kill()
        else:
            _kill(pids, signum)
        return len(pids)

    def kill(self, timeout: float = 5.0) -> set[int]:
        """SIGKILL every process of the job and wait (up to ``timeout`` seconds) until none lives;
        then remove its cgroup. The processes that still live (uninterruptible in the kernel)."""
        deadline = time.monotonic() + timeout
        cgroup = Path(self.cgroup) if self.cgroup is not None else None
        while True:
            if self._supervisor_alive():
                # the supervisor last: while it lives, what is killed is re-parented to it and reaped
                assert self.supervisor is not None
                others = self.pids() - {self.supervisor}
                _kill(others or {self.supervisor}, signal.SIGKILL)
            elif cgroup is not None:
                if cgroup.is_dir() and not _write(cgroup / "cgroup.kill", "1"):
                    _kill(_cgroup_members(cgroup), signal.SIGKILL)  # a kernel before 5.14
            else:
                _kill(_marked(self.name), signal.SIGKILL)
            left = self.pids()
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if cgroup is not None and not left:
            _remove_cgroup(cgroup)
        return left


def start(
    argv: list[str],
    *,
    run_id: str,
    cwd: str,
    env: dict[str, str],
    stdout: IO[bytes],
    stderr: IO[bytes],
    cgroup: bool,
) -> tuple[subprocess.Popen[bytes], int, Container, str]:
    """Start ``argv`` under a new supervisor, in a cgroup of its own when ``cgroup`` and one can be
    made: ``(the supervisor's Popen, the job's pid, its container, why it has no cgroup)``.

    Raises OSError when the job cannot start (its program or ``cwd`` missing), as Popen would.
    """
    name = f"{run_id}.{secrets.token_hex(3)}"
    path, why = _make_cgroup(name) if cgroup else (None, "the job_cgroups setting is off")
    read_fd, write_fd = os.pipe()
    try:
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", _SUPERVISOR, str(os.getpid()), str(write_fd), path or "-", "--", *argv],
                cwd=cwd,
                env={**env, MARKER: name},
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
                close_fds=True,
                pass_fds=(write_fd,),
            )
        finally:
            os.close(write_fd)
        report = _read_report(read_fd, process)
    except BaseException:
        if path is not None:
            _remove_cgroup(Path(path))
        raise
    finally:
        os.close(read_fd)
    if "error" in report:
        process.wait()
        if path is not None:
            _remove_cgroup(Path(path))
        errno = report.get("errno")
        raise OSError(errno, report["error"], report.get("filename")) if errno else OSError(report["error"])
    if path is not None and not report.get("cgroup"):
        why = report.get("cgroup_error") or f"could not join {path}"
        _remove_cgroup(Path(path))
        path = None
    container = Container(name, process.pid, process_start_time(process.pid), path)
    return process, int(report["pid"]), container, why


def _read_report(fd: int, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    data = b""
    deadline = time.monotonic() + _START_WAIT
    timed_out = False
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            timed_out = True
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    try:
        report = ast.literal_eval(data.decode("utf-8", errors="replace").strip())
        if isinstance(report, dict) and ("error" in report or isinstance(report.get("pid"), int)):
            return report
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    if process.poll() is None:
        process.kill()
    code = process.wait()
    if timed_out:
        raise OSError(f"the job's supervisor did not start the job within {_START_WAIT:g} s")
    raise OSError(f"the job's supervisor ({_SUPERVISOR}) ended with code {code} before it started the job")
