"""``sync(name)``: copy the runs that changed on a remote into the local store.

One command lists the remote's runs (a manifest: paths, sizes, mtimes); the run records and metric
segments of every run that changed since the cursor come in one streamed tar archive, each member
checked (see ``_manifest``) and written into a staging directory under the local root. Only when
the whole archive has arrived does any run move into place, each by one rename (a run synced
before is swapped with its new copy by ``renameat2(RENAME_EXCHANGE)``): a cut connection leaves
the store as it was, and a run appears whole or not at all.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import dataclasses
import json
import os
import shlex
import shutil
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

from workbench.config import Settings, load_settings
from workbench.errors import RemoteError, StoreError
from workbench.remote._config import Remote, get_remote
from workbench.remote._connection import Connection, connect, raise_for_checks, wait_status
from workbench.remote._manifest import Entry, parse_manifest, size_limit, unsafe_reason, wanted_kind
from workbench.store._atomic import atomic_write_json, dumps_json, sync_filesystem, write_all
from workbench.store._lock import file_lock
from workbench.store._paths import Layout
from workbench.store.records import parse_record

__all__ = ["SyncResult", "known_hosts_path", "state_dir", "sync_remote"]

_CURSOR_FORMAT = 1


@dataclasses.dataclass
class SyncResult:
    """What one sync did: runs placed, files and bytes copied, entries refused."""

    remote: str
    runs: list[str] = dataclasses.field(default_factory=list)
    files: int = 0
    bytes: int = 0
    #: one message per refused entry or run (a hostile or broken remote); those runs were not copied
    refused: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0


def state_dir(root: Path, name: str) -> Path:
    return root / "remote" / name


def known_hosts_path(root: Path) -> Path:
    return root / "remote" / "known_hosts"


def _manifest_command(remote: Remote) -> str:
    python, root = shlex.quote(remote.python), shlex.quote(remote.root)
    # exit statuses 3/4/5: see raise_for_checks; find is GNU find (-printf)
    return (f"[ -x {python} ] || exit 3; [ -d {root} ] || exit 4; cd {root}/runs 2>/dev/null || exit 5; "
            "exec find . -mindepth 1 -maxdepth 3 -printf '%y\\t%P\\t%s\\t%T@\\0'")


def _archive_command(remote: Remote) -> str:
    return (f"cd {shlex.quote(remote.root)}/runs && "
            "exec tar -cf - --null --no-recursion --ignore-failed-read -T - 2>/dev/null")


def _read_cursor(path: Path) -> dict[str, list[list[Any]]]:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # a damaged cursor only costs a full sync
    if not isinstance(data, dict) or data.get("format") != _CURSOR_FORMAT or not isinstance(data.get("runs"), dict):
        return {}
    return data["runs"]  # type: ignore[no-any-return]


def _signature(entries: list[Entry]) -> list[list[Any]]:
    return [[e.path, e.size, e.mtime] for e in entries]


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically (Linux renameat2); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the filesystem cannot exchange
        return False
    raise OSError(err, f"cannot swap {a} and {b}: {os.strerror(err)}")


class _Bar:
    def __init__(self, total: int, files: int, name: str, mode: str) -> None:
        self._bar: Any = None
        tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        if mode == "always" or (mode == "auto" and tty):
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=total, desc=f"sync {name}", unit="B", unit_scale=True, unit_divisor=1024,
                             leave=False, file=sys.stderr, mininterval=0.2)
            self._files = files
            self._done = 0

    def file_done(self, size: int) -> None:
        if self._bar is not None:
            self._done += 1
            self._bar.update(size)
            self._bar.set_postfix_str(f"{self._done}/{self._files} files", refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _send_list(channel: Any, paths: list[str], errors: list[BaseException]) -> None:
    try:
        channel.sendall(b"".join(p.encode() + b"\x00" for p in paths))
        channel.shutdown_write()
    except Exception as exc:  # noqa: BLE001 - any failure here is a lost link; the reader reports it
        errors.append(exc)


class _Lost(Exception):
    """A network read failed inside a local write loop (its cause is the network error)."""


#: segments up to this size are read whole and written by the writer threads
_POOLED_BYTES = 8 * 1024 * 1024


def _write_file(path: Path, data: bytes) -> None:
    os.makedirs(path.parent, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


def _write_stream(path: Path, source: Any) -> None:
    os.makedirs(path.parent, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        while True:
            try:
                chunk = source.read(1 << 20)
            except (OSError, EOFError) as exc:  # the network side
                raise _Lost(exc) from exc
            if not chunk:
                break
            write_all(fd, chunk)
    finally:
        os.close(fd)


def _local_failure(staging: Path, path: str, name: str, exc: BaseException) -> StoreError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return StoreError(f"cannot write {path} under {staging} while syncing remote {name!r}: {reason}; "
                      f"free space or fix permissions there, then sync again")


def _marked_record(data: bytes, path: str, name: str) -> bytes | str:
    """The record with ``remote`` set to ``name``; why it is refused, as a string, if it is not valid."""
    run_id = path.split("/", 1)[0]
    try:
        record = parse_record(data, Path(path))
    except StoreError as exc:
        return str(exc)
    if record.get("id") != run_id:
        return f"the record names run {record.get('id')!r}, not {run_id!r}"
    record["remote"] = name
    return dumps_json(record)


def _receive(conn: Connection, paths: list[str], staging: Path, result: SyncResult,
             refused_runs: set[str], bar: _Bar) -> set[str]:
    """Stream the archive of ``paths`` into ``staging``; the paths that arrived."""
    expected = set(paths)
    arrived: set[str] = set()
    # small files are written by a few threads: creating a file or directory costs ~0.2 ms of
    # filesystem time here, which then overlaps with reading and parsing the stream
    writers = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="workbench-sync")
    pending: list[concurrent.futures.Future[None]] = []
    channel = conn.open_channel(_archive_command(conn.remote))
    errors: list[BaseException] = []
    sender = threading.Thread(target=_send_list, args=(channel, paths, errors), daemon=True)
    sender.start()
    name = conn.remote.name

    def refuse(path: str, why: str) -> None:
        result.refused.append(f"remote {name!r}: refused archive member {path!r}: {why}")
        first = path.split("/", 1)[0]
        if unsafe_reason(path) is None or first not in ("", ".."):
            refused_runs.add(first)

    try:
        stream = channel.makefile("rb")
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                path = member.name
                why = unsafe_reason(path)
                if why is not None:
                    refuse(path, why)
                    continue
                if path not in expected:
                    refuse(path, "it was not asked for")
                    continue
                if not member.isreg():
                    refuse(path, "not a regular file (a symlink, hard link, device or directory)")
                    continue
                kind = wanted_kind(path)
                if kind is None or member.size > size_limit(kind):
                    refuse(path, f"{member.size} bytes is more than a {kind} may hold ({size_limit(kind or '')})")
                    continue
                if path in arrived:
                    refuse(path, "it came twice")
                    continue
                source = archive.extractfile(member)
                if source is None:
                    refuse(path, "it has no content")
                    continue
                run_dir = staging / path.split("/", 1)[0]
                record = b""
                if kind == "record":
                    marked = _marked_record(source.read(), path, name)
                    if isinstance(marked, str):
                        refuse(path, marked)
                        continue
                    record = marked
                if kind == "segment" and member.size <= _POOLED_BYTES:
                    try:
                        data = source.read()
                    except (OSError, EOFError) as exc:
                        raise _Lost(exc) from exc
                    pending.append(writers.submit(_write_file, staging / path, data))
                elif kind == "record":
                    pending.append(writers.submit(_write_file, run_dir / "run.json", record))
                else:
                    try:
                        _write_stream(staging / path, source)
                    except OSError as exc:
                        raise _local_failure(staging, path, name, exc) from exc
                arrived.add(path)
                result.files += 1
                result.bytes += member.size
                bar.file_done(member.size)
    except tarfile.TarError as exc:
        if wait_status(channel, 0.5) == -1 or not conn.alive():
            raise conn._lost("the transfer", exc) from exc
        raise RemoteError(f"remote {name!r} sent an archive that is not a valid tar stream ({exc}); "
                          "nothing was changed here") from exc
    except _Lost as lost:
        raise conn._lost("the transfer", lost.__cause__) from lost.__cause__
    except (OSError, EOFError) as exc:
        raise conn._lost("the transfer", exc) from exc
    finally:
        sender.join(conn.remote.timeout)
        writers.shutdown(wait=True)
    for future in pending:
        failure = future.exception()
        if failure is not None:
            path = getattr(failure, "filename", None) or "a staged file"
            raise _local_failure(staging, str(path), name, failure) from failure
    status = wait_status(channel, conn.remote.timeout)
    channel.close()
    if status == -1 or errors:
        raise conn._lost("the transfer", errors[0] if errors else None)
    if status not in (0, 1):  # 1: a file vanished or changed while tar read it (a live run)
        raise RemoteError(f"tar on remote {name!r} failed with exit status {status}; nothing was changed here")
    return arrived


def _stage_records(layout: Layout, staging: Path, run_ids: list[str], name: str,
                   result: SyncResult) -> list[str]:
    """The staged runs that may move into place: none over a local run or another remote's."""
    ready = []
    for run_id in run_ids:
        local = layout.record(run_id)
        if local.parent.exists():
            try:
                existing = json.loads(local.read_bytes())
            except (OSError, ValueError):
                existing = {}
            if not isinstance(existing, dict) or existing.get("remote") != name:
                origin = existing.get("remote") if isinstance(existing, dict) else None
                what = f"synced from remote {origin!r}" if origin else "a local run"
                result.refused.append(f"remote {name!r}: refused run {run_id!r}: a run with that id already "
                                      f"exists here ({what}); it is left as it is")
                continue
        ready.append(run_id)
    return ready


def _place(layout: Layout, staging: Path, run_ids: list[str]) -> None:
    trash = staging / ".replaced"
    trash.mkdir(exist_ok=True)
    for run_id in run_ids:
        staged = staging / run_id
        target = layout.run_dir(run_id)
        if target.exists():
            if not _exchange(staged, target):
                # no atomic swap here: the old copy goes aside, then the new one in (a short gap)
                os.rename(target, trash / run_id)
                os.rename(staged, target)
        else:
            os.rename(staged, target)
        layout.note_change(run_id)


def sync_remote(settings: Settings, name: str, *, progress: str | None = None) -> SyncResult:
    remote = get_remote(settings, name)
    started = time.perf_counter()
    result = SyncResult(remote=name)
    layout = Layout(settings.root)
    layout.ensure()
    state = state_dir(settings.root, name)
    state.mkdir(parents=True, exist_ok=True)
    with file_lock(state, what=f"sync of remote {name!r}"):
        for leftover in state.glob("staging-*"):  # from a sync that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        with connect(remote, known_hosts_path(settings.root)) as conn:
            listing = conn.run(_manifest_command(remote), what="the listing of runs")
            raise_for_checks(remote, listing)
            manifest = parse_manifest(listing.stdout, name)
            result.refused.extend(manifest.refused)
            cursor_path = state / "cursor.json"
            cursor = _read_cursor(cursor_path)
            changed = [run_id for run_id, entries in sorted(manifest.runs.items())
                       if cursor.get(run_id) != _signature(entries) or not layout.run_dir(run_id).is_dir()]
            if changed:
                staging = state / f"staging-{os.getpid()}-{os.urandom(4).hex()}"
                staging.mkdir()
                try:
                    paths = [e.path for run_id in changed for e in manifest.runs[run_id]]
                    bar = _Bar(sum(e.size for run_id in changed for e in manifest.runs[run_id]), len(paths),
                               name, progress or settings.progress)
                    refused_runs = set(manifest.refused_runs)
                    try:
                        arrived = _receive(conn, paths, staging, result, refused_runs, bar)
                    finally:
                        bar.close()
                    # a run whose files did not all arrive (it changed meanwhile) waits for the next sync
                    complete = [run_id for run_id in changed if run_id not in refused_runs
                                and all(e.path in arrived for e in manifest.runs[run_id])]
                    ready = _stage_records(layout, staging, complete, name, result)
                    if ready and settings.fsync:
                        sync_filesystem(staging)
                    _place(layout, staging, ready)
                    if ready and settings.fsync:  # the renames are durable before the cursor says so
                        sync_filesystem(settings.root)
                    for run_id in ready:
                        cursor[run_id] = _signature(manifest.runs[run_id])
                        result.runs.append(run_id)
                    atomic_write_json(cursor_path, {"format": _CURSOR_FORMAT, "runs": cursor}, fsync=settings.fsync)
                finally:
                    shutil.rmtree(staging, ignore_errors=True)
    result.seconds = time.perf_counter() - started
    return result


def sync(name: str, *, root: str | os.PathLike[str] | None = None, progress: str | None = None) -> SyncResult:
    return sync_remote(load_settings(root), name, progress=progress)
