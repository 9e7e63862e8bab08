"""Remote commands for jobs: check a host, send files, start a detached process, signal it, and
read back one run.

Each helper is one shell line over an open :class:`~workbench.remote._connection.Connection`
(every path and argument quoted with :func:`shlex.quote`, never a user string spliced raw). The
remote side needs a POSIX shell, GNU find and tar, and ``setsid``/``nohup`` (util-linux,
coreutils); Python only for the job itself. Every answer is framed (``_frame``): banners that
the login shell or the Python print around a command are ignored.

A process started by :func:`start_detached` leads its own session and process group
(``setsid``) and ignores SIGHUP (``nohup``): it outlives the SSH connection that started it, so a
dropped link never stops a job. Its pid is its process group id.

The remote store is private like a local one (workbench/_private.py): the store's directories
and the files sent are made under ``umask 077``, with modes 0700 and 0600.
"""

from __future__ import annotations

import dataclasses
import io
import shlex
import tarfile
from collections.abc import Mapping, Sequence

from workbench.errors import RemoteError
from workbench.remote._connection import Connection, close_channel, python_check, wait_status
from workbench.store._paths import validate_run_id

__all__ = [
    "RunListing",
    "check_host",
    "fetch_files",
    "list_run",
    "remove_run",
    "send_files",
    "signal_group",
    "start_detached",
]

#: exit status of the creation of the store root
_NO_ROOT = 4


def _q(value: str) -> str:
    return shlex.quote(value)


def _where(conn: Connection) -> str:
    remote = conn.remote
    return f"remote {remote.name!r} ({remote.host}:{remote.port})"


def check_host(conn: Connection) -> str:
    """Check that the remote's Python runs and imports workbench, and make its store root.

    Returns the remote Python's version. Raises a RemoteError that says what to install or fix.
    Banners the login shell or the Python print are ignored (see ``_frame``).
    """
    remote = conn.remote
    version, missing, _ = python_check(conn, workbench=True)
    where = _where(conn)
    if missing is not None:
        raise RemoteError(
            f"{where}: {remote.python} cannot import workbench ({missing[:300]}); install it there "
            f"(`{remote.python} -m pip install workbench-ml`) so the job's worker can run"
        )
    root = _q(remote.root)
    result = conn.run(f"(umask 077 && mkdir -p {root}/runs {root}/jobs/ssh) || exit {_NO_ROOT}",
                      what="the creation of the remote's store")
    if result.exit_status != 0:
        raise RemoteError(
            f"{where}: cannot create the store {remote.root} (runs/, jobs/ssh/): "
            f"{result.stderr.decode(errors='replace').strip()[:300]}; fix --root or its permissions"
        )
    return version


def remove_run(conn: Connection, run_id: str) -> None:
    """Delete what an earlier attempt of job ``run_id`` left on the remote (run and job files)."""
    root = conn.remote.root
    validate_run_id(run_id)
    result = conn.run(
        f"rm -rf -- {_q(f'{root}/runs/{run_id}')} {_q(f'{root}/jobs/ssh/{run_id}')}",
        what="the removal of an earlier attempt",
    )
    if result.exit_status != 0:
        raise RemoteError(
            f"cannot remove the earlier attempt of job {run_id} on {_where(conn)}: "
            f"{result.stderr.decode(errors='replace').strip()[:300]}"
        )


def send_files(conn: Connection, files: Mapping[str, bytes | str]) -> None:
    """Write ``files`` (path relative to the remote root -> content, or a local file's path as
    a str) under the remote root, in one tar stream."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for relpath, content in files.items():
            if relpath.startswith("/") or ".." in relpath.split("/"):
                raise RemoteError(f"refusing to send {relpath!r}: not a path inside the remote store")
            if isinstance(content, bytes):
                info = tarfile.TarInfo(relpath)
                info.size = len(content)
                info.mode = 0o600
                archive.addfile(info, io.BytesIO(content))
            else:
                info = archive.gettarinfo(content, arcname=relpath)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o700 if info.mode & 0o111 else 0o600
                with open(content, "rb") as handle:
                    archive.addfile(info, handle)
    result = conn.run(
        f"cd {_q(conn.remote.root)} && umask 077 && exec tar -xf - --no-same-owner --no-overwrite-dir",
        buffer.getvalue(),
        what="the upload of the job's files",
    )
    if result.exit_status != 0:
        raise RemoteError(
            f"tar on {_where(conn)} could not unpack the job's files into {conn.remote.root}: "
            f"{result.stderr.decode(errors='replace').strip()[:300]}"
        )


def start_detached(
    conn: Connection, argv: Sequence[str], *, cwd: str, env: Mapping[str, str], log: str
) -> int:
    """Start ``argv`` in ``cwd`` detached from the connection (``setsid nohup ... &``), its output
    in ``log``; its pid, which is also its process group id."""
    assignments = " ".join(f"{name}={_q(value)}" for name, value in env.items())
    command = " ".join(_q(a) for a in argv)
    # a background child of a non-interactive shell leads no process group, so setsid makes it a
    # session (and group) leader without forking: $! is the job's pid and its pgid
    result = conn.run(
        f"cd {_q(cwd)} || exit 4; {assignments} setsid nohup {command} </dev/null >{_q(log)} 2>&1 & echo $!",
        what="the start of the job",
    )
    text = result.stdout.decode(errors="replace").strip()
    if result.exit_status != 0 or not text.isdigit():
        raise RemoteError(
            f"could not start the job on {_where(conn)} (exit status {result.exit_status}): "
            f"{result.stderr.decode(errors='replace').strip()[:300] or text[:300]}"
        )
    return int(text)


def signal_group(conn: Connection, pgid: int, signal_name: str) -> bool:
    """Send ``signal_name`` (``TERM``, ``KILL``) to remote process group ``pgid``; False when the
    group is gone."""
    if pgid <= 1:
        raise RemoteError(f"refusing to signal process group {pgid} on {_where(conn)}")
    result = conn.run(f"kill -s {_q(signal_name)} -- -{int(pgid)} 2>/dev/null", what="the signal to the job")
    return result.exit_status == 0


@dataclasses.dataclass(frozen=True)
class RunListing:
    """What the remote holds of one run: whether its process group lives, and its files."""

    alive: bool
    #: path relative to the run directory -> size in bytes
    files: dict[str, int]


def list_run(conn: Connection, run_id: str, pgid: int | None) -> RunListing:
    """Whether process group ``pgid`` lives, and the record, metric segments and logs of the run."""
    run_dir = f"{conn.remote.root}/runs/{validate_run_id(run_id)}"
    alive = f"kill -0 -- -{int(pgid)} 2>/dev/null && printf 'alive\\0' || printf 'dead\\0'; " if pgid else (
        "printf 'dead\\0'; "
    )
    result = conn.run(
        f"{alive}cd {_q(run_dir)} 2>/dev/null || exit 0; "
        "exec find . -maxdepth 2 -type f \\( -path ./run.json -o -path './metrics/*.parquet' "
        "-o -path ./logs/stdout.log -o -path ./logs/stderr.log \\) -printf '%P\\t%s\\0'",
        what="the listing of the job's run",
    )
    if result.exit_status != 0:
        raise RemoteError(
            f"listing run {run_id} on {_where(conn)} failed (exit status {result.exit_status}): "
            f"{result.stderr.decode(errors='replace').strip()[:300]}"
        )
    parts = result.stdout.split(b"\x00")
    files: dict[str, int] = {}
    for raw in parts[1:]:
        if not raw:
            continue
        try:
            path, size = raw.decode("utf-8").rsplit("\t", 1)
            files[path] = int(size)
        except ValueError:
            continue  # a name that does not parse is not one we asked for
    return RunListing(alive=parts[0] == b"alive", files=files)


def fetch_files(conn: Connection, run_id: str, paths: Sequence[str], limits: Mapping[str, int]) -> dict[str, bytes]:
    """The contents of ``paths`` (relative to the remote run directory) in one tar stream.

    Only regular files named in ``paths`` are read, each up to its limit in ``limits`` (by path;
    ``"*"`` for the rest); a hostile or broken remote gets a RemoteError, never a write.
    """
    if not paths:
        return {}
    run_dir = f"{conn.remote.root}/runs/{validate_run_id(run_id)}"
    wanted = set(paths)
    # the answer is framed: banners of the login shell before the tar stream are skipped
    channel, stream = conn.open_stream(
        f"cd {_q(run_dir)} && exec tar -cf - --no-recursion --ignore-failed-read -- "
        + " ".join(_q(p) for p in paths) + " 2>/dev/null",
        what=f"the transfer of run {run_id}",
    )
    out: dict[str, bytes] = {}
    try:
        channel.shutdown_write()
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                if member.name not in wanted or not member.isreg() or member.name in out:
                    raise RemoteError(
                        f"{_where(conn)} sent {member.name!r} for run {run_id}, which was not asked for "
                        "(or is not a regular file); nothing of it was used"
                    )
                limit = limits.get(member.name, limits.get("*", 0))
                if member.size > limit:
                    raise RemoteError(
                        f"{_where(conn)}: {member.name} of run {run_id} is {member.size} bytes, more than "
                        f"the {limit} allowed; nothing of it was used"
                    )
                source = archive.extractfile(member)
                out[member.name] = source.read() if source is not None else b""
    except tarfile.TarError as exc:
        close_channel(channel)
        raise conn._lost(f"the transfer of run {run_id}", exc) from exc
    except (OSError, EOFError) as exc:
        close_channel(channel)
        raise conn._lost(f"the transfer of run {run_id}", exc) from exc
    status = wait_status(channel, conn.remote.timeout)
    close_channel(channel)
    if status == -1:
        raise conn._lost(f"the transfer of run {run_id}")
    return out
