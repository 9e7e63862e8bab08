"""The ``ssh:NAME`` executor: a job runs on remote ``NAME`` and comes back by sync.

Start: connect (host key checked), check the remote's Python and workbench, copy the job there
(its record under ``runs/<id>/`` with the remote's paths, and for the ``script`` recipe every
argument that names a local file), then start ``python -m workbench.jobs.executors.detached``
with ``setsid nohup``, detached from the connection. The remote pid (its process group) goes
into the local job record.

Follow: each poll (every :data:`POLL_INTERVAL` seconds) lists the remote run, fetches its record,
new metric segments and logs in one tar stream, and merges them into the local job record (see
:func:`merge`). The job has ended when the remote record carries how it ended (``job.exit``,
written by the remote supervisor) or its process group is gone. A dropped link is no failure:
the job goes on remotely and the next poll (or a new scheduler, through :meth:`SSHExecutor.adopt`)
picks it up again.

Cancel: SIGTERM, then SIGKILL, to the remote process group over SSH; a signal the link could
not carry is sent again at the next poll.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._private import make_dir
from workbench.errors import JobError, RemoteError, StoreError
from workbench.jobs.executors import SIGNALS, ExitStatus, Launch
from workbench.settings import Settings, load_settings
from workbench.store._atomic import atomic_write_bytes, dumps_json
from workbench.store._paths import Layout
from workbench.store.records import TERMINAL, Record, parse_record, read_record, update_record

if TYPE_CHECKING:
    from workbench.remote import Remote
    from workbench.remote._connection import Connection

__all__ = ["POLL_INTERVAL", "SSHExecution", "SSHExecutor", "cancel_detached", "merge"]

#: seconds between two looks at a remote job (a sync of its run)
POLL_INTERVAL = 1.0
#: the longest wait between two tries while the link is down
_MAX_BACKOFF = 30.0
#: largest file of a script job copied to the remote (bigger data belongs in a dataset artifact)
MAX_SCRIPT_FILE = 256 * 1024 * 1024
#: largest log copied back on a poll (a bigger one stays on the remote)
MAX_LOG = 64 * 1024 * 1024
_MAX_RECORD = 16 * 1024 * 1024
_MAX_SEGMENT = 4 * 1024 * 1024 * 1024
_LOGS = ("logs/stdout.log", "logs/stderr.log")

#: record fields the remote run owns: what its process writes while it runs and when it ends
REMOTE_OWNED = (
    "status", "started", "ended", "heartbeat", "summary", "metrics", "error", "exit_code", "host", "user",
    "python", "platform", "executable", "git", "packages", "notes", "tags",
)


def _remote(settings: Settings, name: str) -> Remote:
    from workbench.remote import get_remote

    return get_remote(settings, name)


def _connect(settings: Settings, remote: Remote) -> Connection:
    from workbench.remote import known_hosts_path
    from workbench.remote._connection import connect

    return connect(remote, known_hosts_path(settings.root))


def _work_dir(remote: Remote, run_id: str) -> str:
    return f"{remote.root}/jobs/ssh/{run_id}"


def _script_files(config: dict[str, Any], spec: dict[str, Any], remote: Remote, run_id: str,
                  files: dict[str, bytes | str]) -> list[str]:
    """The script's argv for the remote; each argument naming a local file is copied there."""
    local_cwd = Path(str(config.get("cwd") or spec.get("cwd") or "."))
    out: list[str] = []
    for index, arg in enumerate(str(a) for a in config["command"]):
        if index == 0 and arg in (spec.get("python"), sys.executable):
            out.append(remote.python)
            continue
        path = Path(arg) if os.path.isabs(arg) else local_cwd / arg
        try:
            is_file = path.is_file()
        except (OSError, ValueError):  # not a path at all (a long -c program, a NUL)
            is_file = False
        if not is_file:
            out.append(arg)
            continue
        try:
            rel = path.resolve().relative_to(local_cwd.resolve()).as_posix()
        except ValueError:
            rel = f"_files/{index}/{path.name}"
        size = path.stat().st_size
        if size > MAX_SCRIPT_FILE:
            raise JobError(
                f"job {run_id}: {path} is {size} bytes, more than the {MAX_SCRIPT_FILE} the ssh executor "
                "copies with a script; log it as a dataset artifact, or put it on the remote and pass its path"
            )
        files[f"jobs/ssh/{run_id}/{rel}"] = str(path)
        out.append(f"./{rel}")
    return out


def remote_job(record: Record, remote: Remote) -> tuple[Record, dict[str, bytes | str]]:
    """The record to write on the remote for job ``record``, and the files it needs there
    (path under the remote root -> content or local path)."""
    run_id = str(record["id"])
    spec = dict(record["job"])
    if spec.get("dataset"):
        raise JobError(
            f"job {run_id}: the ssh executor does not copy datasets yet; log the dataset in the remote's "
            f"store ({remote.root}) and launch a script job there, or run this job with the local executor"
        )
    base = spec.get("base_model") or {}
    if base.get("kind") in ("path", "artifact"):
        raise JobError(
            f"job {run_id}: base model {base.get('given')!r} is local; the ssh executor passes only hub ids "
            "to the remote"
        )
    work = _work_dir(remote, run_id)
    config = dict(record.get("config") or {})
    files: dict[str, bytes | str] = {}
    from workbench.jobs.registry import get_recipe

    if get_recipe(str(spec["recipe"])).command is not None and "command" in config:
        config["command"] = _script_files(config, spec, remote, run_id, files)
    if "cwd" in config:
        config["cwd"] = work
    for key in ("process", "exit", "history", "cancel_requested", "remote_run"):
        spec.pop(key, None)
    spec.update(python=remote.python, cwd=work, attempts=1, retries=0)
    copy = {k: v for k, v in record.items() if k not in ("error", "exit_code", "pid", "pid_start")}
    copy.update(status="queued", started=None, ended=None, heartbeat=None, host=None, remote=None,
                config=config, job=spec, cwd=work, metrics={}, summary={})
    files[f"runs/{run_id}/run.json"] = dumps_json(copy)
    files[f"runs/{run_id}/logs/worker.log"] = b""
    return copy, files


def merge(local: Record, remote: Record, name: str, now: float) -> None:
    """Merge the synced remote record into the local job record, in place.

    The local record stays the job's: its id, project, name, creation, launch spec (``job``) and
    the scheduler's bookkeeping are never taken from the remote. The remote run owns what its
    process writes (:data:`REMOTE_OWNED`: status, times, summaries, error, environment, tags);
    config keys the script added with ``init(config=...)`` are added, launch keys keep their
    local values. ``pid`` stays out: it names a process on the other host.
    """
    # a cancel asked for here wins: the remote end of a cancelled job (killed by SIGTERM, so
    # "failed" over there) must not show, even for a moment, before the scheduler settles it
    cancelling = bool(local.get("job", {}).get("cancel_requested")) and remote.get("status") in TERMINAL
    if remote.get("status") != "queued":  # not yet claimed by the remote supervisor: nothing to take
        for key in REMOTE_OWNED:
            if cancelling and key in ("status", "error", "exit_code", "ended"):
                continue
            if key in remote:
                local[key] = remote[key]
            elif key in ("error", "exit_code"):
                local.pop(key, None)
        local["config"] = {**(remote.get("config") or {}), **(local.get("config") or {})}
    local["heartbeat"] = max(float(local.get("heartbeat") or 0.0), now)
    job = local["job"]
    info = dict(job.get("remote_run") or {})
    info.update(remote=name, status=remote.get("status"), contact=now, link=None,
                exit=(remote.get("job") or {}).get("exit"))
    job["remote_run"] = info


class SSHExecution:
    """A job running on a remote, followed by polling."""

    #: the process lives on another host: the scheduler neither signals its group locally nor
    #: stops it when it shuts down
    detached = True

    def __init__(self, settings: Settings, remote: Remote, run_id: str, pid: int,
                 conn: Connection | None = None) -> None:
        self.settings = settings
        self.remote = remote
        self.run_id = run_id
        self.pid = pid
        self.pgid = pid  # setsid: the supervisor leads its group
        self.pid_start: int | None = None
        self.process_info = {"host": remote.host, "remote": remote.name}
        self._layout = Layout(settings.root)
        self._conn = conn
        self._next = 0.0
        self._backoff = POLL_INTERVAL
        self._pending: list[str] = []  # signals the link could not carry yet

    # -- the link ---------------------------------------------------------------------------------
    def _connection(self) -> Connection:
        if self._conn is None or not self._conn.alive():
            self.close()
            self._conn = _connect(self.settings, self.remote)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # a dead link may fail to close in many ways
                self._conn.close()
            self._conn = None

    def _link_down(self, exc: Exception) -> None:
        self.close()
        self._backoff = min(_MAX_BACKOFF, self._backoff * 2)
        self._next = time.monotonic() + self._backoff
        now = time.time()

        def note(record: Record) -> None:
            job = record["job"]
            info = dict(job.get("remote_run") or {})
            info.update(remote=self.remote.name, link=str(exc), tried=now)
            job["remote_run"] = info
            # we watch it: the job goes on over there; it is not crashed for lack of news
            record["heartbeat"] = now

        with contextlib.suppress(StoreError):
            update_record(self._layout, self.run_id, note, fsync=False)

    # -- the executor protocol ----------------------------------------------------------------------
    def poll(self) -> ExitStatus | None:
        now = time.monotonic()
        if now < self._next:
            return None
        self._next = now + POLL_INTERVAL
        try:
            status = self._follow()
        except (RemoteError, OSError, EOFError) as exc:
            self._link_down(exc)
            return None
        self._backoff = POLL_INTERVAL
        if status is not None:
            self.close()
        return status

    def signal(self, signum: int) -> None:
        self._pending.append(SIGNALS.get(signum, str(signum)).removeprefix("SIG"))
        self._send_pending()

    def _send_pending(self) -> None:
        from workbench.remote._exec import signal_group

        while self._pending:
            try:
                signal_group(self._connection(), self.pgid, self._pending[0])
            except RemoteError as exc:
                self._link_down(exc)
                return
            self._pending.pop(0)

    # -- following ----------------------------------------------------------------------------------
    def _follow(self) -> ExitStatus | None:
        from workbench.remote._exec import fetch_files, list_run
        from workbench.remote._manifest import wanted_kind

        if self._pending:
            self._send_pending()
        conn = self._connection()
        listing = list_run(conn, self.run_id, self.pgid)
        metrics = self._layout.metrics_dir(self.run_id)
        logs = self._layout.logs_dir(self.run_id)
        segments = {p: s for p, s in listing.files.items()
                    if p.startswith("metrics/") and wanted_kind(f"{self.run_id}/{p}") == "segment"}
        wanted = [p for p, size in segments.items() if _size(metrics / p.split("/", 1)[1]) != size]
        wanted += [p for p in _LOGS if p in listing.files and listing.files[p] <= MAX_LOG
                   and _size(logs / p.split("/", 1)[1]) != listing.files[p]]
        if "run.json" in listing.files:
            wanted.insert(0, "run.json")
        limits = {"run.json": _MAX_RECORD, **dict.fromkeys(_LOGS, MAX_LOG), "*": _MAX_SEGMENT}
        data = fetch_files(conn, self.run_id, wanted, limits)
        for path, content in data.items():
            if path.startswith("metrics/"):
                make_dir(metrics)
                atomic_write_bytes(metrics / path.split("/", 1)[1], content, fsync=False)
            elif path in _LOGS:
                make_dir(logs)
                atomic_write_bytes(logs / path.split("/", 1)[1], content, fsync=False)
        # segments compacted away over there go here too (readers skip covered ones meanwhile)
        keep = {p.split("/", 1)[1] for p in segments}
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(metrics):
                if wanted_kind(f"{self.run_id}/metrics/{name}") == "segment" and name not in keep:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(metrics / name)
        remote_record = self._parse(data.get("run.json"))
        now = time.time()

        def update(record: Record) -> None:
            if remote_record is not None:
                merge(record, remote_record, self.remote.name, now)

        update_record(self._layout, self.run_id, update, fsync=False)
        exit_info = ((remote_record or {}).get("job") or {}).get("exit")
        if remote_record is not None and remote_record.get("status") in TERMINAL and isinstance(exit_info, dict):
            code = exit_info.get("code")
            return ExitStatus(code if isinstance(code, int) else None)
        if not listing.alive:
            return ExitStatus(None)
        return None

    def _parse(self, data: bytes | None) -> Record | None:
        if data is None:
            return None
        try:
            record = parse_record(data, Path(f"{self.remote.name}:runs/{self.run_id}/run.json"))
        except StoreError as exc:
            raise RemoteError(f"remote {self.remote.name!r}: the record of job {self.run_id} is not "
                              f"valid: {exc}") from exc
        if record.get("id") != self.run_id:
            raise RemoteError(f"remote {self.remote.name!r}: the record at runs/{self.run_id} names run "
                              f"{record.get('id')!r}; it was not used")
        return record


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


class SSHExecutor:
    """Runs jobs on one remote (``executor="ssh:NAME"``)."""

    name = "ssh"

    def __init__(self, remote: str | None = None) -> None:
        if not remote:
            raise JobError("the ssh executor needs a remote: executor='ssh:NAME' (list them with "
                           "`workbench remote ls`)")
        self.remote_name = remote

    def check(self, settings: Settings) -> None:
        """At launch: the remote extra is installed (MissingExtra) and the remote configured (a
        RemoteError naming the fix if not): refused up front, not when the scheduler starts it."""
        from workbench._extras import check

        check("fabric", "paramiko", extra="remote", feature=f"launching on ssh:{self.remote_name}")
        _remote(settings, self.remote_name)

    def start(self, launch: Launch) -> SSHExecution:
        from workbench.remote._exec import check_host, remove_run, send_files, start_detached

        settings = load_settings(launch.root)
        remote = _remote(settings, self.remote_name)
        record = read_record(Layout(settings.root), launch.run_id)
        _, files = remote_job(record, remote)
        conn = _connect(settings, remote)
        try:
            check_host(conn)
            remove_run(conn, launch.run_id)  # what an earlier attempt left
            send_files(conn, files)
            pid = start_detached(
                conn,
                [remote.python, "-m", "workbench.jobs.executors.detached", launch.run_id],
                cwd=remote.root,
                env={"WORKBENCH_ROOT": remote.root, "PYTHONUNBUFFERED": "1"},
                log=f"{remote.root}/runs/{launch.run_id}/logs/worker.log",
            )
        except BaseException:
            conn.close()
            raise
        return SSHExecution(settings, remote, launch.run_id, pid, conn)

    def adopt(self, settings: Settings, run_id: str, process: Mapping[str, Any]) -> SSHExecution:
        """Follow a job an earlier scheduler started on the remote."""
        return SSHExecution(settings, _remote(settings, self.remote_name), run_id, int(process["pid"]))


def cancel_detached(settings: Settings, run_id: str, process: Mapping[str, Any], grace: float) -> bool:
    """Stop remote job ``run_id`` that no scheduler watches: SIGTERM to its process group, SIGKILL
    after ``grace`` seconds; True when SIGKILL was needed."""
    from workbench.remote._exec import list_run, signal_group

    remote = _remote(settings, str(process["remote"]))
    pgid = int(process["pgid"])
    with _connect(settings, remote) as conn:
        if not signal_group(conn, pgid, "TERM"):
            return False
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if not list_run(conn, run_id, pgid).alive:
                return False
        return signal_group(conn, pgid, "KILL")
