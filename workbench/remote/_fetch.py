"""Artifacts on demand: ``use_artifact("gpu1:classifier:v3")`` fetches the blobs the store lacks.

Sync brought the remote's manifests into its mirror (``_mirror``); the blobs they name stay on
the remote until a version is used. Then one command on the remote (a few lines of stdlib
Python) streams each missing blob after a header ``<digest> <start> <length>``: a blob arrives in a
partial file ``<root>/blobs/partial/<digest>``, hashed as it is written, and only a file whose
SHA-256 equals its digest is published into ``blobs/`` (read-only, linked into place, as the store
does with its own). A partial left by a cut connection is continued next time, from the largest
of a few prefixes (its length, and the whole MiB before it) whose SHA-256 the remote's copy
agrees with: the last bytes received before a cut were seen to be out of order (a gap of 32 KiB
in the last few hundred KiB), so the tail is checked, not trusted. If the continued file still
does not verify, it is fetched again from the start.
Digests and sizes come from the (validated) manifest, never from the remote's stream.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shlex
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from workbench._private import make_dir, open_private
from workbench.errors import ArtifactError, ArtifactNotFound, RemoteError, StoreError
from workbench.remote._config import get_remote, validate_name
from workbench.remote._connection import (
    CommandResult,
    Connection,
    close_channel,
    connect,
    raise_for_checks,
    wait_status,
)
from workbench.remote._frame import new_frame
from workbench.remote._mirror import mirror_dir
from workbench.remote._sync import ProgressCallback, known_hosts_path
from workbench.settings import Settings, load_settings
from workbench.store._atomic import write_all
from workbench.store._lock import file_lock
from workbench.store._paths import Layout
from workbench.store.artifacts import aliases as _aliases
from workbench.store.artifacts._progress import Progress
from workbench.store.artifacts.blobs import Blobs
from workbench.store.artifacts.manifests import read_manifest
from workbench.store.artifacts.materialise import materialise
from workbench.store.records import update_record

__all__ = ["FetchResult", "fetch_artifact", "fetch_remote_artifact", "split_remote_ref"]

_BLOCK = 1 << 20

# runs on the remote with its own Python (stdlib only). Reads "<digest> <offset> [<at>:<sha256>,...]"
# lines: the optional checkpoints are the SHA-256 of the local partial's first <at> bytes. It
# answers "<digest> <start> <length>\n" and the bytes from <start> on, where <start> is the
# largest checkpoint its own copy agrees with (0 when none does): bytes received just before a
# cut connection have been seen out of order, so a partial's tail is not trusted blindly.
# "<digest> -1" when the blob is not there.
_SERVER = r"""
import hashlib, os, re, sys
ok = re.compile(r"[0-9a-f]{64}\Z")
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    parts = line.split()
    if len(parts) not in (2, 3):
        continue
    digest, offset = parts[0].decode("ascii", "replace"), int(parts[1])
    try:
        if not ok.match(digest) or offset < 0:
            raise OSError
        f = open(os.path.join("blobs", "sha256", digest[:2], digest), "rb")
    except OSError:
        out.write(parts[0][:64] + b" -1\n")
        continue
    with f:
        size = os.fstat(f.fileno()).st_size
        start = 0
        if len(parts) == 3:
            points = sorted((int(a), h) for a, h in (p.split(b":") for p in parts[2].split(b",")))
            hasher, done = hashlib.sha256(), 0
            for at, expected in points:
                if at > size:
                    break
                while done < at:
                    data = f.read(min(at - done, 1 << 20))
                    if not data:
                        break
                    hasher.update(data)
                    done += len(data)
                if done == at and hasher.hexdigest().encode() == expected:
                    start = at
        left = max(0, size - start)
        f.seek(start)
        out.write(b"%s %d %d\n" % (digest.encode(), start, left))
        while left > 0:
            data = f.read(min(left, 1 << 20))
            if not data:
                break
            out.write(data)
            left -= len(data)
        out.write(b"\0" * left)
out.flush()
"""


@dataclasses.dataclass
class FetchResult:
    """What one fetch did: where the version now is, and what came over the connection."""

    ref: str
    path: Path
    #: blobs downloaded and verified now
    blobs: int = 0
    #: bytes downloaded now
    bytes: int = 0
    #: bytes a partial file from an earlier, cut download already held (not downloaded again)
    resumed_bytes: int = 0
    #: blobs the store already had
    present: int = 0
    seconds: float = 0.0


def split_remote_ref(ref: str) -> tuple[str, str] | None:
    """``("gpu1", "classifier:v3")`` for ``"gpu1:classifier:v3"``; None for a local ref."""
    if not isinstance(ref, str) or ref.count(":") != 2:
        return None
    remote, rest = ref.split(":", 1)
    return validate_name(remote), rest


def _blob_sizes(manifest: dict[str, Any], where: str) -> dict[str, int]:
    """Digest -> the size the blob must have, from the manifest alone."""
    sizes: dict[str, int] = {}
    for entry in manifest["files"]:
        chunks = entry.get("chunks")
        if chunks is None:
            sizes[entry["digest"]] = entry["size"]
            continue
        size, chunk = entry["size"], entry.get("chunk_size")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk <= 0 or \
                len(chunks) != max(1, -(-size // chunk)):
            raise ArtifactError(f"manifest of {where} lists {entry['path']!r} in {len(chunks)} chunks of "
                                f"{chunk!r} bytes for {size} bytes; the manifest is corrupt: sync again")
        for index, digest in enumerate(chunks):
            sizes[digest] = min(chunk, size - index * chunk)
    return sizes


class _Meter:
    def __init__(self, files: int, total: int, desc: str, mode: str, callback: ProgressCallback | None) -> None:
        self.files, self.total, self.done, self.bytes = files, total, 0, 0
        self._bar = Progress(total, desc, mode)
        self._callback = callback

    def update(self, count: int) -> None:
        self.bytes += count
        self._bar.update(count)
        if self._callback is not None:
            self._callback(self.done, self.files, self.bytes, self.total)

    def file_done(self) -> None:
        self.done += 1
        if self._callback is not None:
            self._callback(self.done, self.files, self.bytes, self.total)

    def close(self) -> None:
        self._bar.__exit__(None, None, None)


def _send(channel: Any, lines: bytes, errors: list[BaseException]) -> None:
    try:
        channel.sendall(lines)
        channel.shutdown_write()
    except Exception as exc:  # noqa: BLE001 - a lost link; the reader reports it
        errors.append(exc)


#: how far back (in 1 MiB steps) a resume may fall back when a partial's tail does not verify
_CHECKPOINTS = 8


def _checkpoints(path: Path, length: int) -> dict[int, Any]:
    """SHA-256 states of the first ``length`` bytes of ``path`` and of its last few whole MiB before
    that, in one pass: the remote picks the largest prefix its copy agrees with."""
    marks = {length} | {k * _BLOCK for k in range(max(1, length // _BLOCK - _CHECKPOINTS + 1), length // _BLOCK + 1)}
    marks = {m for m in marks if 0 < m <= length}
    states: dict[int, Any] = {}
    digest, done = hashlib.sha256(), 0
    with path.open("rb") as handle:
        for mark in sorted(marks):
            while done < mark and (data := handle.read(min(mark - done, _BLOCK))):
                digest.update(data)
                done += len(data)
            if done == mark:
                states[mark] = digest.copy()
    return states


def _request(digest: str, offset: int, marks: dict[int, Any]) -> bytes:
    points = ",".join(f"{at}:{state.hexdigest()}" for at, state in sorted(marks.items()))
    return f"{digest} {offset} {points}\n".encode() if points else f"{digest} {offset}\n".encode()


_T = TypeVar("_T")


def _local(path: Path, where: str, step: Callable[..., _T], *args: Any) -> _T:
    """``step(*args)``, a local file operation of the download: its OSError (a full disk, a quota,
    no permission) is a StoreError naming ``path``, never taken for a lost connection."""
    try:
        return step(*args)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise StoreError(f"cannot write {path} while fetching {where}: {reason}; free space or fix "
                         "permissions there, then fetch again (what arrived is kept and continued)") from exc


def _download(conn: Connection, partial: Path, blobs: Blobs, wanted: dict[str, int], where: str,
              meter: _Meter, result: FetchResult) -> list[str]:
    """Stream ``wanted`` blobs into ``blobs``; the digests whose continued partial did not verify."""
    name = conn.remote.name
    requests = []
    for digest in sorted(wanted):
        part = partial / digest
        try:
            offset = part.stat().st_size
        except FileNotFoundError:
            offset = 0
        if offset >= wanted[digest]:  # too long to be a prefix: start again
            part.unlink()
            offset = 0
        requests.append((digest, offset, _checkpoints(part, offset) if offset else {}))
    # framed: the server writes the frame marker first, so banners of the login shell and of the
    # Python (or its wrapper) before it are skipped; each blob then comes length-prefixed
    frame = new_frame()
    program = f"import sys\n{frame.python()}\n{_SERVER}"
    command = (f"cd {shlex.quote(conn.remote.root)} 2>/dev/null || exit 4; "
               f"[ -x {shlex.quote(conn.remote.python)} ] || exit 3; "
               f"exec {shlex.quote(conn.remote.python)} -c {shlex.quote(program)}")
    channel, stream = conn.open_stream(command, what="the download of blobs", frame=frame)
    errors: list[BaseException] = []
    sender = threading.Thread(target=_send, daemon=True, args=(
        channel, b"".join(_request(d, o, marks) for d, o, marks in requests), errors))
    sender.start()
    restart: list[str] = []
    try:
        for digest, asked, marks in requests:
            header = stream.readline(200)
            if not header:
                status = wait_status(channel, 1.0)
                if status not in (-1, 0):
                    raise_for_checks(conn.remote, CommandResult(status, b"", b""))
                raise conn._lost("the download of blobs")
            fields = header.split()
            if not fields or fields[0] != digest.encode() or len(fields) not in (2, 3):
                raise RemoteError(f"remote {name!r} answered {header[:80]!r} when asked for blob "
                                  f"{digest[:12]}... of {where}; stopped, nothing unverified was stored")
            if len(fields) == 2 and fields[1] == b"-1":
                raise RemoteError(f"remote {name!r} lacks blob {digest[:12]}... of {where} (its store is "
                                  "incomplete: run `workbench fsck` there); nothing unverified was stored")
            start = int(fields[1]) if len(fields) == 3 and fields[1].isdigit() else -1
            length = int(fields[2]) if len(fields) == 3 and fields[2].isdigit() else -1
            if not (start == 0 or start in marks) or length != wanted[digest] - start:
                raise RemoteError(f"remote {name!r} offers {length} bytes of blob {digest[:12]}... of {where} "
                                  f"from byte {start}, the manifest says {wanted[digest] - start}: its copy is "
                                  "damaged; nothing unverified was stored")
            part = partial / digest
            if start < asked:  # the partial's tail was not what the remote holds: cut it off
                if start:
                    os.truncate(part, start)
                else:
                    part.unlink(missing_ok=True)
            hasher = marks[start] if start else hashlib.sha256()
            offset = start
            result.resumed_bytes += start
            fd = _local(part, where, open_private, part, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            try:
                left = length
                while left > 0:
                    data = stream.read(min(left, _BLOCK))
                    if not data:
                        raise conn._lost("the download of blobs")
                    _local(part, where, write_all, fd, data)
                    hasher.update(data)
                    left -= len(data)
                    result.bytes += len(data)
                    meter.update(len(data))
            finally:
                os.close(fd)
            if hasher.hexdigest() != digest:
                part.unlink(missing_ok=True)
                if offset:
                    restart.append(digest)  # the old prefix did not verify after all: fetch it whole
                    continue
                raise RemoteError(f"blob {digest[:12]}... of {where} from remote {name!r} does not match its "
                                  "SHA-256 digest (the remote's copy is corrupt); nothing was stored")
            _local(blobs.root, where, blobs.adopt, digest, part)
            result.blobs += 1
            meter.file_done()
    except (OSError, EOFError) as exc:  # socket.timeout included
        raise conn._lost("the download of blobs", exc) from exc
    finally:
        sender.join(conn.remote.timeout)
        close_channel(channel)
    if errors:
        raise conn._lost("the download of blobs", errors[0])
    return restart


def _place(layout: Layout, settings: Settings, remote: str, manifest: dict[str, Any],
           dest: str | os.PathLike[str] | None, where: str, fetched: set[str]) -> Path:
    """Place the version like ``use_artifact`` does, every blob checked against its digest as it
    is placed (except those this fetch has just downloaded and verified)."""
    # remote versions are cached apart from local ones: the same name may mean other content
    cache: Path = layout.root / "cache" / "remote" / remote / str(manifest["name"]) / f"v{manifest['version']}"
    return materialise(layout, settings, manifest, dest, cache=cache, trusted=fetched, where=where)[0]


def _note_use(layout: Layout, settings: Settings, run_id: str, remote: str, manifest: dict[str, Any]) -> None:
    entry = {"name": manifest["name"], "version": manifest["version"], "remote": remote,
             "type": str(manifest.get("type", "artifact")), "time": time.time()}

    def mutate(record: dict[str, Any]) -> None:
        record.setdefault("artifacts", {}).setdefault("used", []).append(entry)

    update_record(layout, run_id, mutate, fsync=settings.fsync)


def fetch_remote_artifact(settings: Settings, ref: str, dest: str | os.PathLike[str] | None = None, *,
                          run_id: str | None = None, progress: str | None = None,
                          callback: ProgressCallback | None = None) -> FetchResult:
    """Fetch what ``ref`` (``REMOTE:name:selector``) needs, then place it like ``use_artifact``."""
    started = time.perf_counter()
    split = split_remote_ref(ref)
    if split is None:
        raise ArtifactError(f"{ref!r} is not a remote artifact ref; write it as 'REMOTE:name:v3' or "
                            "'REMOTE:name:alias' (e.g. 'gpu1:classifier:latest')")
    name, local_ref = split
    remote = get_remote(settings, name)
    mirror = mirror_dir(settings.root, name)
    try:
        art, version = _aliases.resolve(mirror, local_ref)
    except ArtifactNotFound as exc:
        raise ArtifactNotFound(f"{exc} (as last synced from remote {name!r}); run `workbench sync {name}` to "
                               "bring its newest artifact manifests, then try again") from exc
    manifest = read_manifest(mirror, art, version)
    where = f"{name}:{art}:v{version}"
    layout = Layout(settings.root)
    layout.ensure()
    if run_id is not None:
        from workbench.store.records import read_record

        read_record(layout, run_id)  # RunNotFound before anything is fetched
    sizes = _blob_sizes(manifest, where)
    blobs = Blobs(layout.blobs, fsync=settings.fsync)
    missing = {d: s for d, s in sizes.items() if not blobs.has(d)}
    result = FetchResult(ref=where, path=Path(), present=len(sizes) - len(missing))
    fetched = _fetch_missing(settings, remote, blobs, missing, where, result, progress or settings.progress,
                             callback)
    result.path = _place(layout, settings, name, manifest, dest, where, fetched)
    if run_id is not None:
        _note_use(layout, settings, run_id, name, manifest)
    result.seconds = time.perf_counter() - started
    return result


def _fetch_missing(settings: Settings, remote: Any, blobs: Blobs, missing: dict[str, int], where: str,
                   result: FetchResult, progress: str, callback: ProgressCallback | None) -> set[str]:
    """Download the ``missing`` blobs (``digest -> size``) from ``remote`` under the download
    lock (another fetch may have brought some meanwhile); the digests that came, each hashed as
    it arrived."""
    if not missing:
        return set()
    partial = blobs.root.parent / "partial"
    make_dir(partial)
    with file_lock(partial / ".lock", timeout=max(60.0, remote.timeout), what="blob download lock"):
        missing = {d: s for d, s in missing.items() if not blobs.has(d)}  # another fetch got them
        meter = _Meter(len(missing), sum(missing.values()), f"fetching {where}", progress, callback)
        try:
            with connect(remote, known_hosts_path(settings.root)) as conn:
                again = _download(conn, partial, blobs, missing, where, meter, result)
                if again:
                    _download(conn, partial, blobs, {d: missing[d] for d in again}, where, meter, result)
        finally:
            meter.close()
        blobs.sync()
    return set(missing)


def fetch_blobs(settings: Settings, name: str, sizes: dict[str, int], where: str, *,
                progress: str | None = None) -> int:
    """Fetch the blobs ``sizes`` names (``digest -> size``, 0 when unknown) that this store lacks
    from remote ``name`` (the bytes of media items of runs synced from it); returns how many came.
    Each is hashed as it arrives and published only when it matches its digest."""
    remote = get_remote(settings, name)
    layout = Layout(settings.root)
    layout.ensure()
    blobs = Blobs(layout.blobs, fsync=settings.fsync)
    missing = {d: max(1, int(s)) for d, s in sizes.items() if not blobs.has(d)}  # 1: unknown
    result = FetchResult(ref=where, path=Path(), present=len(sizes) - len(missing))
    return len(_fetch_missing(settings, remote, blobs, missing, where, result, progress or "never", None))


def fetch_artifact(ref: str, dest: str | os.PathLike[str] | None = None, *,
                   root: str | os.PathLike[str] | None = None, progress: str | None = None,
                   callback: ProgressCallback | None = None) -> FetchResult:
    """Fetch the blobs of remote artifact ``ref`` (``"gpu1:classifier:v3"``) and place its files.

    ``callback(files_done, files_total, bytes_done, bytes_total)`` follows the download.
    """
    return fetch_remote_artifact(load_settings(root), ref, dest, progress=progress, callback=callback)
