"""``sync(name)``: copy the runs that changed on a remote into the local store.

One command lists the remote's runs and artifacts (a manifest: paths, sizes, mtimes). The unit of
change is the file: of every run that changed since the cursor, the files the remote lists with
the size and mtime they had when this store placed them are hard-linked from the local copy into
the run's new copy in staging (``_reuse``), and only the others are asked for. Those run
records, metric segments and captured logs, and the
manifests and alias file of every artifact that changed, and the environment files
(``environments/<digest>.json``) this store lacks, come in one streamed tar archive, each
member checked (its path, see ``_manifest``; every record, manifest and alias file against the
store's schema, see ``workbench/store/_schema.py``) and written into a staging directory under
the local root.
Only when the whole archive has arrived does any run move into place, each by one rename (a run
synced before is swapped with its new copy by ``renameat2(RENAME_EXCHANGE)``): a cut connection
leaves the store as it was, and a run appears whole or not at all. Artifacts go to the remote's
mirror (``_mirror``), never over local ones; their blobs come on demand (``_fetch``).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import shlex
import shutil
import stat
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench._private import make_dir, open_private
from workbench.errors import RemoteError, StoreError
from workbench.remote._config import Remote, get_remote
from workbench.remote._connection import Connection, close_channel, connect, raise_for_checks, wait_status
from workbench.remote._manifest import (
    Entry,
    artifact_kind,
    parse_manifest,
    size_limit,
    unsafe_reason,
    wanted_kind,
)
from workbench.remote._mirror import check_staged, place_artifacts
from workbench.settings import Settings, load_settings
from workbench.store import tiles
from workbench.store._atomic import atomic_write_json, dumps_json, exchange_dirs, sync_filesystem, write_all
from workbench.store._lock import file_lock
from workbench.store._paths import Layout
from workbench.store._schema import (
    MAX_RECORD_BYTES,
    SchemaError,
    describe,
    load_environment,
    load_record,
    read_bounded,
)
from workbench.store.environments import encode_environment, is_environment_file

__all__ = ["ProgressCallback", "SyncResult", "known_hosts_path", "last_sync", "state_dir", "sync_remote"]

#: ``callback(files_done, files_total, bytes_done, bytes_total)``, called as files arrive
ProgressCallback = Callable[[int, int, int, int], None]

_CURSOR_FORMAT = 1


@dataclasses.dataclass
class SyncResult:
    """What one sync did: runs placed, files and bytes copied, entries refused."""

    remote: str
    runs: list[str] = dataclasses.field(default_factory=list)
    files: int = 0
    bytes: int = 0
    #: one message per refused entry, run or artifact (a hostile or broken remote: an unsafe path, or
    #: a record, manifest or alias file that fails the store's schema), naming the path and the
    #: reason; those runs and artifacts were not copied, and their copies here stay as they were
    refused: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    #: artifacts whose manifests (and aliases) were placed in the remote's mirror
    artifacts: list[str] = dataclasses.field(default_factory=list)
    #: runs of the remote that an ``ssh:NAME`` job here follows (the job's own run, kept current by
    #: the job's executor): skipped, neither downloaded nor refused
    followed: list[str] = dataclasses.field(default_factory=list)
    #: files of changed runs that were not downloaded: the remote lists them with the size and mtime
    #: they had when this store placed them, so the new copy hard-links the local file
    reused: int = 0


def state_dir(root: Path, name: str) -> Path:
    return root / "remote" / name


def known_hosts_path(root: Path) -> Path:
    return root / "remote" / "known_hosts"


def _manifest_command(remote: Remote) -> str:
    python, root = shlex.quote(remote.python), shlex.quote(remote.root)
    # exit statuses 3/4/5: see raise_for_checks; find is GNU find (-printf). The listing names every
    # file of the store with its size and mtime, and is sent at every sync even when nothing changed:
    # through gzip -1 where the remote has it (full paths repeat their run's prefix: 10-20x smaller;
    # rsync compresses its file list the same way), with the status of the finds kept (fd 4, as in
    # _archive_command)
    listing = ("find . -mindepth 1 -maxdepth 3 -printf '%y\\t%P\\t%s\\t%T@\\0' || return $?; "
               f"if cd {root}/artifacts 2>/dev/null; then "
               "find . -mindepth 1 -maxdepth 2 -printf 'A%y\\t%P\\t%s\\t%T@\\0' || return $?; fi; "
               f"cd {root}/environments 2>/dev/null || return 0; "
               "find . -mindepth 1 -maxdepth 1 -printf 'E%y\\t%P\\t%s\\t%T@\\0'")
    return (f"[ -x {python} ] || exit 3; [ -d {root} ] || exit 4; cd {root}/runs 2>/dev/null || exit 5; "
            f"wb_list() {{ {listing}; }}; "
            "command -v gzip >/dev/null 2>&1 || { wb_list; exit $?; }; "
            "exec 3>&1; s=$( { { wb_list; echo $? >&4; } | gzip -1 >&3; } 4>&1 ); exit \"${s:-2}\"")


#: the most a listing may hold once decompressed (100,000 runs of a dozen files are about 100 MB)
_MAX_LISTING = 1 << 28


def _listing_bytes(data: bytes, name: str) -> bytes:
    """The listing as find printed it: ``data`` itself, or gunzipped (bounded: a hostile remote's
    gzip bomb is refused, not inflated)."""
    if not data.startswith(b"\x1f\x8b"):
        return data
    import zlib

    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflate.decompress(data, _MAX_LISTING)
    except zlib.error as exc:
        raise RemoteError(f"remote {name!r} sent a damaged listing ({exc}); sync again") from exc
    if inflate.unconsumed_tail:
        raise RemoteError(f"remote {name!r} sent a listing of more than {_MAX_LISTING >> 20} MiB; "
                          "refused (is it a workbench store?)")
    if not inflate.eof:
        raise RemoteError(f"remote {name!r} sent a damaged listing (it ends before its gzip stream does); "
                          "sync again")
    return out


#: an archive of at most this many bytes of files comes through ``gzip -1`` where the remote has it:
#: a small delta (an edited record, a live run's new segment) is otherwise dominated by tar's
#: padding (the last 10 KiB record) and by JSON that compresses 3-5x; a bigger one is mostly parquet,
#: which gzip shrinks little at about 35 MB/s of the remote's CPU
_COMPRESS_BYTES = 1 << 20


def _archive_command(remote: Remote, *, compress: bool = False) -> str:
    # members are named runs/..., artifacts/... and environments/... (relative to the remote root)
    tar = "tar -cf - --null --no-recursion --ignore-failed-read -T - 2>/dev/null"
    if not compress:
        return f"cd {shlex.quote(remote.root)} && exec {tar}"
    # tar's exit status through the pipe (POSIX sh has no pipefail): fd 4 carries it out of the
    # pipeline into $s while the compressed stream goes to the real stdout (fd 3)
    return (f"cd {shlex.quote(remote.root)} || exit 1; command -v gzip >/dev/null 2>&1 || exec {tar}; "
            f"exec 3>&1; s=$( {{ {{ {tar}; echo $? >&4; }} | gzip -1 >&3; }} 4>&1 ); exit \"${{s:-2}}\"")


def _read_cursor(path: Path) -> tuple[dict[str, list[list[Any]]], dict[str, list[list[Any]]]]:
    """``(runs, artifacts)``: the signature of each as last placed."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}, {}  # missing or damaged: a damaged cursor only costs a full sync
    if not isinstance(data, dict) or data.get("format") != _CURSOR_FORMAT or not isinstance(data.get("runs"), dict):
        return {}, {}
    artifacts = data.get("artifacts")
    return data["runs"], artifacts if isinstance(artifacts, dict) else {}


def last_sync(root: Path, name: str) -> dict[str, Any] | None:
    """What the last completed sync of ``name`` did (time, runs, artifacts, files, bytes); None if none."""
    try:
        data = json.loads((state_dir(root, name) / "last.json").read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _signature(entries: list[Entry]) -> list[list[Any]]:
    return [[e.path, e.size, e.mtime] for e in entries]


class _Bar:
    def __init__(self, total: int, files: int, name: str, mode: str,
                 callback: ProgressCallback | None = None) -> None:
        self._bar: Any = None
        self._callback = callback
        self._total, self._files, self._done, self._bytes = total, files, 0, 0
        tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        if mode == "always" or (mode == "auto" and tty):
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=total, desc=f"sync {name}", unit="B", unit_scale=True, unit_divisor=1024,
                             leave=False, file=sys.stderr, mininterval=0.2)

    def file_done(self, size: int) -> None:
        self._done += 1
        self._bytes += size
        if self._bar is not None:
            self._bar.update(size)
            self._bar.set_postfix_str(f"{self._done}/{self._files} files", refresh=False)
        if self._callback is not None:
            self._callback(self._done, self._files, self._bytes, self._total)

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


#: the staging subdirectory of artifact manifests (a run id never starts with a dot)
_ARTIFACTS = ".artifacts"
_ENVIRONMENTS = ".environments"
#: segments up to this size are read whole and written by the writer threads
_POOLED_BYTES = 8 * 1024 * 1024


def _write_file(path: Path, data: bytes) -> None:
    make_dir(path.parent)
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


def _write_stream(path: Path, source: Any) -> None:
    make_dir(path.parent)
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
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
    """The record with ``remote`` set to ``name``; why it is refused, as a string, if it does not
    pass the store's schema (``workbench/store/_schema.py``) or names another run."""
    run_id = path.split("/", 1)[0]
    try:
        record = load_record(data)
    except SchemaError as exc:
        return f"the run record{describe(exc)}"
    if record["id"] != run_id:
        return f"the record names run {record['id']!r}, not {run_id!r}"
    record["remote"] = name
    return dumps_json(record)


def _receive(conn: Connection, paths: list[str], staging: Path, result: SyncResult,
             refused_runs: set[str], bar: _Bar, *, compress: bool = False) -> set[str]:
    """Stream the archive of ``paths`` into ``staging``; the paths that arrived. ``compress``: ask
    for it through gzip (a remote without gzip sends it plain: either is read)."""
    expected = set(paths)
    arrived: set[str] = set()
    # small files are written by a few threads: creating a file or directory costs ~0.2 ms of
    # filesystem time here, which then overlaps with reading and parsing the stream
    writers = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="workbench-sync")
    pending: list[concurrent.futures.Future[None]] = []
    # framed: banners the remote's login shell prints before the tar stream are skipped (_frame)
    channel, stream = conn.open_stream(_archive_command(conn.remote, compress=compress), what="the transfer")
    errors: list[BaseException] = []
    sender = threading.Thread(target=_send_list, args=(channel, paths, errors), daemon=True)
    sender.start()
    name = conn.remote.name

    def refuse(full: str, why: str) -> None:
        # members are runs/<id>/... or artifacts/<name>/...: a refused member refuses its run or artifact
        artifact = full.startswith("artifacts/")
        path = full.removeprefix("runs/")
        result.refused.append(f"remote {name!r}: refused archive member {path!r}: {why}")
        first = full.removeprefix("artifacts/").split("/", 1)[0] if artifact else path.split("/", 1)[0]
        if unsafe_reason(full) is None or first not in ("", ".."):
            refused_runs.add(f"artifacts/{first}" if artifact else first)

    try:
        with tarfile.open(fileobj=stream, mode="r|*") as archive:
            for member in archive:
                full = member.name
                why = unsafe_reason(full)
                if why is not None:
                    refuse(full, why)
                    continue
                if full not in expected:
                    refuse(full, "it was not asked for")
                    continue
                if full.startswith("environments/"):  # refuses no run: runs without it read on
                    why = _stage_environment(archive, member, staging)
                    if why is not None:
                        result.refused.append(f"remote {name!r}: refused archive member {full!r}: {why}")
                        continue
                    arrived.add(full)
                    result.files += 1
                    result.bytes += member.size
                    bar.file_done(member.size)
                    continue
                if not member.isreg():
                    refuse(full, "not a regular file (a symlink, hard link, device or directory)")
                    continue
                if full.startswith("artifacts/"):
                    path = full.removeprefix("artifacts/")
                    kind = artifact_kind(path)
                    target = staging / _ARTIFACTS / path
                else:
                    path = full.removeprefix("runs/")
                    kind = wanted_kind(path)
                    target = staging / path
                if kind is None or member.size > size_limit(kind):
                    refuse(full, f"{member.size} bytes is more than a {kind} may hold ({size_limit(kind or '')})")
                    continue
                if full in arrived:
                    refuse(full, "it came twice")
                    continue
                source = archive.extractfile(member)
                if source is None:
                    refuse(full, "it has no content")
                    continue
                run_dir = staging / path.split("/", 1)[0]
                record = b""
                if kind == "record":
                    marked = _marked_record(source.read(), path, name)
                    if isinstance(marked, str):
                        refuse(path, marked)
                        continue
                    record = marked
                if kind == "record":
                    pending.append(writers.submit(_write_file, run_dir / "run.json", record))
                elif member.size <= _POOLED_BYTES:
                    try:
                        data = source.read()
                    except (OSError, EOFError) as exc:
                        raise _Lost(exc) from exc
                    pending.append(writers.submit(_write_file, target, data))
                else:
                    try:
                        _write_stream(target, source)
                    except OSError as exc:
                        raise _local_failure(staging, path, name, exc) from exc
                arrived.add(full)
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
    close_channel(channel)
    if status == -1 or errors:
        raise conn._lost("the transfer", errors[0] if errors else None)
    if status not in (0, 1):  # 1: a file vanished or changed while tar read it (a live run)
        raise RemoteError(f"tar on remote {name!r} failed with exit status {status}; nothing was changed here")
    return arrived


def _stage_environment(archive: Any, member: Any, staging: Path) -> str | None:
    """Check an environment file of the archive (its schema, and that its content hashes to its
    name) and stage it in canonical form; why it is refused, or None."""
    filename = member.name.removeprefix("environments/")
    if not member.isreg():
        return "not a regular file (a symlink, hard link, device or directory)"
    if not is_environment_file(filename) or member.size > size_limit("environment"):
        return f"not an environment file (<sha256>.json) of at most {size_limit('environment')} bytes"
    source = archive.extractfile(member)
    try:
        data = source.read() if source is not None else b""
    except (OSError, EOFError) as exc:
        raise _Lost(exc) from exc
    try:
        packages = load_environment(data)["packages"]
    except SchemaError as exc:
        return f"the environment file{describe(exc)}"
    digest, canonical = encode_environment(packages)
    if f"{digest}.json" != filename:
        return "its content is not the environment its name says"
    try:
        _write_file(staging / _ENVIRONMENTS / filename, canonical)
    except OSError as exc:  # a full disk here, not a lost connection
        raise _local_failure(staging, member.name, staging.parent.name, exc) from exc  # <root>/remote/<name>/staging-*
    return None


def _place_environments(layout: Layout, staging: Path) -> None:
    """Move the staged environment files into ``environments/``, each only where it is missing."""
    staged = staging / _ENVIRONMENTS
    if not staged.is_dir():
        return
    make_dir(layout.environments)
    for path in sorted(staged.iterdir()):
        target = layout.environment(path.name.removesuffix(".json"))  # checked: a digest, confined
        if not os.path.lexists(target):
            os.rename(path, target)


def _stage_records(layout: Layout, staging: Path, run_ids: list[str], name: str,
                   result: SyncResult) -> list[str]:
    """The staged runs that may move into place: none over a local run or another remote's."""
    ready = []
    for run_id in run_ids:
        local = layout.record(run_id)
        if local.parent.exists():
            try:  # a record that does not pass is nobody's to replace: refused below
                existing = load_record(read_bounded(local, MAX_RECORD_BYTES))
            except (OSError, SchemaError):
                existing = {}
            if not isinstance(existing, dict) or existing.get("remote") != name:
                if _follows(existing, name):  # a job launched meanwhile
                    result.followed.append(run_id)
                else:
                    _refuse_existing(result, name, run_id, existing)
                continue
        ready.append(run_id)
    return ready


def _follows(record: Any, name: str) -> bool:
    """Whether ``record`` is a job here that runs on remote ``name`` (``executor="ssh:NAME"``):
    its executor follows the remote run (``workbench/jobs/executors/ssh.py``)."""
    job = record.get("job") if isinstance(record, dict) else None
    if not isinstance(job, dict):
        return False
    process, info = job.get("process"), job.get("remote_run")
    return (job.get("executor") == f"ssh:{name}"
            or (isinstance(process, dict) and process.get("remote") == name)
            or (isinstance(info, dict) and info.get("remote") == name))


def _wanted_runs(layout: Layout, run_ids: list[str], name: str, result: SyncResult) -> list[str]:
    """The changed runs to download: new ones and those synced from ``name`` before. A run that an
    ``ssh:NAME`` job here follows is skipped silently (``result.followed``); a run with that id
    that is local or another remote's is refused now, before its bytes come."""
    wanted = []
    for run_id in run_ids:
        local = layout.record(run_id)
        if not layout.run_dir(run_id).exists():
            wanted.append(run_id)
            continue
        try:
            existing: Any = load_record(read_bounded(local, MAX_RECORD_BYTES))
        except (OSError, SchemaError):
            existing = None
        if isinstance(existing, dict) and existing.get("remote") == name:
            wanted.append(run_id)
        elif _follows(existing, name):
            result.followed.append(run_id)
        else:
            _refuse_existing(result, name, run_id, existing)
    return wanted


def _refuse_existing(result: SyncResult, name: str, run_id: str, existing: Any) -> None:
    origin = existing.get("remote") if isinstance(existing, dict) else None
    what = f"synced from remote {origin!r}" if origin else "a local run"
    result.refused.append(f"remote {name!r}: refused run {run_id!r}: a run with that id already "
                          f"exists here ({what}); it is left as it is")


def _reuse(layout: Layout, staging: Path, run_id: str, listed: list[Entry],
           placed: list[list[Any]] | None) -> set[str]:
    """Hard-link into ``staging/<run_id>`` each file of the local copy of ``run_id`` that the remote
    still lists with the size and mtime it had when this store placed it (``placed``: the run's
    cursor entry); the paths linked (relative to runs/). Store files are replaced by a rename,
    never changed in place, so the old copy and the new share nothing that can change. A file the
    remote no longer lists (segments merged by compaction) is not linked; tiles are linked with
    the metric file they belong to (their name holds its size). Any doubt (a missing file, another
    size, a link that fails) means the file is downloaded."""
    if not placed:
        return set()
    before = {str(item[0]): (item[1], item[2]) for item in placed
              if isinstance(item, list) and len(item) == 3}
    source = layout.run_dir(run_id)
    linked: set[str] = set()
    for entry in listed:
        if before.get(entry.path) != (entry.size, entry.mtime):
            continue
        relative = entry.path.split("/", 1)[1]
        local = source / relative
        try:
            info = os.lstat(local)
            if not stat.S_ISREG(info.st_mode) or (relative != "run.json" and info.st_size != entry.size):
                continue
            make_dir((staging / entry.path).parent)
            os.link(local, staging / entry.path)
        except OSError:
            continue
        linked.add(entry.path)
        tile = tiles.sidecar(local, entry.size)
        if relative.startswith("metrics/") and tile.is_file():
            try:
                make_dir(tiles.tile_dir(staging / run_id / "metrics"))
                os.link(tile, tiles.sidecar(staging / entry.path, entry.size))
            except OSError:
                pass  # it cannot be linked: tiles are derived, rebuilt in staging
    return linked


def _place(layout: Layout, staging: Path, run_ids: list[str]) -> None:
    trash = staging / ".replaced"
    make_dir(trash, parents=False)
    for run_id in run_ids:
        staged = staging / run_id
        target = layout.run_dir(run_id)
        tiles.rebuild(staged / "metrics")  # tiles are not synced: derived here (docs/store.md, "Tiles")
        if target.exists():
            if not exchange_dirs(staged, target):
                # no atomic swap here: the old copy goes aside, then the new one in (a short gap)
                os.rename(target, trash / run_id)
                os.rename(staged, target)
        else:
            os.rename(staged, target)
        layout.note_change(run_id)


def _changed(entries: dict[str, list[Entry]], cursor: dict[str, list[list[Any]]],
             present: Callable[[str], bool]) -> list[str]:
    return [key for key, listed in sorted(entries.items())
            if cursor.get(key) != _signature(listed) or not present(key)]


def _place_artifacts(settings: Settings, name: str, staging: Path, changed: list[str],
                     manifest: Any, arrived: set[str], refused: set[str], result: SyncResult) -> list[str]:
    """Check each artifact that arrived whole and move it into the mirror; the names placed."""
    staged = staging / _ARTIFACTS
    ready = []
    for artifact in changed:
        if f"artifacts/{artifact}" in refused or not all(f"artifacts/{e.path}" in arrived
                                                         for e in manifest.artifacts[artifact]):
            continue
        why = check_staged(staged, artifact)
        if why is not None:
            result.refused.append(f"remote {name!r}: refused artifact {artifact!r}: {why}")
            continue
        ready.append(artifact)
    if ready:
        place_artifacts(settings.root, name, staged, ready, exchange_dirs)
    return ready


def sync_remote(settings: Settings, name: str, *, progress: str | None = None,
                callback: ProgressCallback | None = None) -> SyncResult:
    remote = get_remote(settings, name)
    started = time.perf_counter()
    result = SyncResult(remote=name)
    layout = Layout(settings.root)
    layout.ensure()
    state = state_dir(settings.root, name)
    make_dir(state)
    with file_lock(state, what=f"sync of remote {name!r}"):
        for leftover in state.glob("staging-*"):  # from a sync that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        with connect(remote, known_hosts_path(settings.root)) as conn:
            listing = conn.run(_manifest_command(remote), what="the listing of runs")
            raise_for_checks(remote, listing)
            manifest = parse_manifest(_listing_bytes(listing.stdout, name), name)
            result.refused.extend(manifest.refused)
            cursor_path = state / "cursor.json"
            cursor, art_cursor = _read_cursor(cursor_path)
            changed = _changed(manifest.runs, cursor, lambda run_id: layout.run_dir(run_id).is_dir())
            changed = _wanted_runs(layout, changed, name, result)  # not a job's run, nor a local one
            mirror = state / "artifacts"
            changed_art = _changed(manifest.artifacts, art_cursor, lambda art: (mirror / art).is_dir())
            envs = [e for e in manifest.environments
                    if not os.path.lexists(layout.environments / e.path)]  # names checked by parse_manifest
            if changed or changed_art or envs:
                staging = state / f"staging-{os.getpid()}-{os.urandom(4).hex()}"
                make_dir(staging, parents=False, exist_ok=False)
                try:
                    # the unit of change is the file: what the local copy already has is linked
                    linked: set[str] = set()
                    for run_id in changed:
                        linked |= _reuse(layout, staging, run_id, manifest.runs[run_id], cursor.get(run_id))
                    result.reused = len(linked)
                    entries = [e for run_id in changed for e in manifest.runs[run_id] if e.path not in linked]
                    art_entries = [e for art in changed_art for e in manifest.artifacts[art]]
                    paths = ([f"runs/{e.path}" for e in entries]
                             + [f"artifacts/{e.path}" for e in art_entries]
                             + [f"environments/{e.path}" for e in envs])
                    total = sum(e.size for e in entries + art_entries + envs)
                    bar = _Bar(total, len(paths), name, progress or settings.progress, callback)
                    refused_runs = set(manifest.refused_runs)
                    try:
                        arrived = (_receive(conn, paths, staging, result, refused_runs, bar,
                                            compress=total <= _COMPRESS_BYTES) if paths else set())
                    finally:
                        bar.close()
                    arrived |= {f"runs/{path}" for path in linked}
                    # a run whose files did not all arrive (it changed meanwhile) waits for the next sync
                    complete = [run_id for run_id in changed if run_id not in refused_runs
                                and all(f"runs/{e.path}" in arrived for e in manifest.runs[run_id])]
                    ready = _stage_records(layout, staging, complete, name, result)
                    if (ready or changed_art or envs) and settings.fsync:
                        sync_filesystem(staging)
                    try:
                        _place_environments(layout, staging)  # before the runs that name them
                        _place(layout, staging, ready)
                    except OSError as exc:  # tiles derived in staging, renames: a full disk, not the link
                        raise _local_failure(staging, str(exc.filename or "a staged run"), name, exc) from exc
                    placed = _place_artifacts(settings, name, staging, changed_art, manifest, arrived,
                                              refused_runs, result)
                    if (ready or placed) and settings.fsync:  # the renames are durable before the cursor says so
                        sync_filesystem(settings.root)
                    for run_id in ready:
                        cursor[run_id] = _signature(manifest.runs[run_id])
                        result.runs.append(run_id)
                    for art in placed:
                        art_cursor[art] = _signature(manifest.artifacts[art])
                        result.artifacts.append(art)
                    atomic_write_json(cursor_path, {"format": _CURSOR_FORMAT, "runs": cursor,
                                                    "artifacts": art_cursor}, fsync=settings.fsync)
                finally:
                    shutil.rmtree(staging, ignore_errors=True)
            result.seconds = time.perf_counter() - started
            atomic_write_json(state / "last.json", {
                "time": time.time(), "runs": len(result.runs), "artifacts": len(result.artifacts),
                "files": result.files, "bytes": result.bytes, "refused": len(result.refused),
                "seconds": result.seconds}, fsync=False)
    result.seconds = time.perf_counter() - started
    return result


def sync(name: str, *, root: str | os.PathLike[str] | None = None, progress: str | None = None,
         callback: ProgressCallback | None = None) -> SyncResult:
    return sync_remote(load_settings(root), name, progress=progress, callback=callback)
