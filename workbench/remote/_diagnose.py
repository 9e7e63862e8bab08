"""``workbench remote test NAME``: the real protocol, end to end, and what is wrong if it fails.

Each step is one framed command (``_frame``), as sync, fetch and jobs send them: the login shell
(its banners are named, and tolerated), the remote's Python (a missing, failing, Python 2 or too
old interpreter; whether it imports workbench, which jobs need), the store (the root and its
``runs/``), GNU tar and find, and a round trip of a record: a run record goes to a scratch folder
under the root in a tar stream (as a job's files do), comes back in a tar stream (as sync reads runs)
and from fetch's blob server run by the remote's Python (as fetch reads blobs), is compared byte for
byte and checked against the store's schema, and the scratch folder is removed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shlex
import tarfile
import time

from workbench.errors import RemoteError
from workbench.remote._connection import Connection, close_channel, python_check, wait_status
from workbench.remote._frame import new_frame, show

__all__ = ["Diagnosis", "diagnose"]


@dataclasses.dataclass
class Diagnosis:
    """What ``remote test`` found: ``problems`` (each names the fix) and ``notes`` (tolerated)."""

    rtt: float = 0.0
    python_version: str | None = None
    problems: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    passed: list[str] = dataclasses.field(default_factory=list)


_QUIET = ("print only in interactive shells: in ~/.bashrc, put it after `case $- in *i*) ;; *) return;; esac` "
          "(or test `[ -t 1 ]`)")


def diagnose(conn: Connection) -> Diagnosis:
    remote = conn.remote
    found = Diagnosis()
    start = time.perf_counter()
    first = conn.run("true", what="a round trip")
    found.rtt = time.perf_counter() - start
    if first.noise_out or first.noise_err:
        streams = " and ".join(n for n, b in (("stdout", first.noise_out), ("stderr", first.noise_err)) if b)
        found.notes.append(f"banner: the login shell prints on {streams} before each command "
                           f"({show(first.noise_out + b' ' + first.noise_err)!r}); workbench ignores it (its "
                           f"answers are framed), but it costs time on every command; to silence it, {_QUIET}")
    else:
        found.passed.append("shell: no banner")
    python_ok = False
    try:
        version, missing, banner = python_check(conn, workbench=True)
    except RemoteError as exc:
        found.problems.append(f"python: {exc}")
    else:
        python_ok = True
        found.python_version = version
        found.passed.append(f"python: Python {version} at {remote.python}")
        if banner.strip():
            found.notes.append(f"banner: {remote.python} prints {show(banner)!r} before it runs a program; "
                               "workbench ignores it (its answers are framed)")
        if missing is not None:
            found.problems.append(
                f"python: {remote.python} cannot import workbench ({missing[:200]}): jobs (`ssh:{remote.name}`) "
                f"need it; install it with `{remote.python} -m pip install workbench-ml` (sync and fetch do not)")
    root = shlex.quote(remote.root)
    tools = conn.run(f"[ -d {root} ] || exit 4; [ -d {root}/runs ] || exit 5; "
                     f"[ -r {root}/runs ] && [ -x {root}/runs ] || exit 6; "
                     "tar --version 2>/dev/null | head -n 1; find --version 2>/dev/null | head -n 1",
                     what="the check of the store and tools")
    where = f"remote {remote.name!r}"
    if tools.exit_status == 4:
        found.problems.append(f"store: {where} has no directory {remote.root}: fix --root, or create the store "
                              f"there (`workbench remote add {remote.name} ... --init`, or any workbench run "
                              "with that root)")
        return found
    if tools.exit_status == 5:
        found.problems.append(f"store: {remote.root} on {where} is not a workbench store (it has no runs/): "
                              f"fix --root, or create the store there (`workbench remote add {remote.name} ... "
                              "--init`)")
        return found
    if tools.exit_status == 6:
        found.problems.append(f"permissions: {remote.root}/runs on {where} cannot be read by user "
                              f"{remote.user or '(default)'}: fix its permissions, or log in as its owner (--user)")
        return found
    found.passed.append(f"store: {remote.root}")
    text = tools.stdout.decode("utf-8", "replace")
    if "GNU tar" not in text or "GNU findutils" not in text:
        found.problems.append(f"tools: {where} needs GNU tar and GNU find (it has {show(tools.stdout)!r}): "
                              "install them (packages tar and findutils)")
        return found
    found.passed.append("tools: GNU tar and find")
    _round_trip(conn, found, python_ok)
    return found


def _round_trip(conn: Connection, found: Diagnosis, python_ok: bool) -> None:
    from workbench.remote._exec import send_files
    from workbench.store._atomic import dumps_json
    from workbench.store._paths import new_run_id
    from workbench.store._schema import SchemaError, load_record

    remote = conn.remote
    scratch = f".workbench-test-{new_frame().nonce[:12]}"
    run_id = new_run_id()
    data = dumps_json({"id": run_id, "project": "remote-test", "name": "remote-test", "status": "completed",
                       "created": time.time()})
    relpath = f"runs/{run_id}/run.json"
    digest = hashlib.sha256(data).hexdigest()
    try:
        try:
            send_files(conn, {f"{scratch}/{relpath}": data, f"{scratch}/blobs/sha256/{digest[:2]}/{digest}": data})
        except RemoteError as exc:
            found.problems.append(f"permissions: cannot write into {remote.root} ({exc}); jobs need to write "
                                  f"there (sync and fetch only read): fix its permissions, or --root")
            return
        channel, stream = conn.open_stream(
            f"cd {shlex.quote(remote.root + '/' + scratch)} && exec tar -cf - --null --no-recursion -T - 2>/dev/null",
            what="the tar stream of the round trip")
        try:
            channel.sendall(relpath.encode() + b"\0")
            channel.shutdown_write()
            back: dict[str, bytes] = {}
            with tarfile.open(fileobj=stream, mode="r|") as archive:
                for member in archive:
                    if member.name != relpath or back:  # one file was asked for: a hostile remote's rest
                        raise tarfile.TarError(f"it sent {member.name!r}, which was not asked for")
                    source = archive.extractfile(member)
                    back[member.name] = source.read(1 << 20) if source is not None else b""
            wait_status(channel, remote.timeout)
        except (tarfile.TarError, OSError, EOFError) as exc:
            found.problems.append(f"tar: the record sent to {remote.root} did not come back in a tar stream "
                                  f"({exc}); check that tar on the remote is GNU tar")
            return
        finally:
            close_channel(channel)
        try:
            same = back.get(relpath) == data and load_record(back[relpath])["id"] == run_id
        except SchemaError:
            same = False
        if not same:
            found.problems.append(f"tar: the record sent to {remote.root} came back changed "
                                  f"({len(back.get(relpath, b''))} of {len(data)} bytes)")
            return
        found.passed.append("round trip: a record written by tar, read back by tar")
        if python_ok:
            _python_reads(conn, found, scratch, digest, data)
    finally:
        conn.run(f"rm -rf -- {shlex.quote(remote.root + '/' + scratch)}", what="the removal of the test files")


def _python_reads(conn: Connection, found: Diagnosis, scratch: str, digest: str, data: bytes) -> None:
    """Fetch's blob server (``_fetch._SERVER``, run by the remote's Python) sends the record back as
    the blob it was stored as."""
    from workbench.remote._fetch import _SERVER

    remote = conn.remote
    frame = new_frame()
    program = f"import sys\n{frame.python()}\n{_SERVER}"
    problem = f"python: {remote.python} could not serve a file of {remote.root} as fetch does"
    try:
        channel, stream = conn.open_stream(f"cd {shlex.quote(remote.root + '/' + scratch)} && exec "
                                           f"{shlex.quote(remote.python)} -c {shlex.quote(program)}",
                                           what="the blob server's round trip", frame=frame)
    except RemoteError as exc:
        found.problems.append(f"{problem} ({exc})")
        return
    try:
        channel.sendall(f"{digest} 0\n".encode())
        channel.shutdown_write()
        header = stream.readline(200)
        body = stream.read(len(data)) if header == f"{digest} 0 {len(data)}\n".encode() else b""
    except (OSError, EOFError) as exc:
        header, body = str(exc).encode(), b""
    finally:
        close_channel(channel)
    if body != data:
        found.problems.append(f"{problem} (it answered {show(header)!r}): check the permissions of its blobs/")
        return
    found.passed.append(f"round trip: the record served by {remote.python} as fetch serves blobs")
