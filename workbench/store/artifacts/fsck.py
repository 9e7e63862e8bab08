"""``fsck`` of the artifacts: re-hash every blob, read every manifest, alias file and usage log.

Blobs are hashed under the shared store lock (writers go on; ``gc`` waits). Each blob found
intact is recorded, with its inode, size and modification time, in the fsck stamp that
placement trusts for a while (:mod:`verify`). With ``repair``, each corrupt blob is hashed once
more under the exclusive store lock and moved into quarantine (:mod:`quarantine`). If a cached
placement of a version that names it still holds its bytes (a copy made before the damage, such
as a reassembled chunked file), they are hashed and, when they match, stored as the blob again;
otherwise the report names every version that lost a file, and those versions report the blob
missing until it is restored or they are deleted. Cached placements of those versions are
removed (they may be hard links to the bad blob). Nothing else is changed: a damaged manifest,
alias file or usage log is reported with its fix, never rewritten.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from workbench._private import open_private
from workbench.errors import ArtifactError, ArtifactNotFound
from workbench.settings import Settings
from workbench.store._atomic import write_all
from workbench.store._paths import Layout
from workbench.store.artifacts._progress import Progress
from workbench.store.artifacts.aliases import aliases_path, read_aliases
from workbench.store.artifacts.blobs import Blobs
from workbench.store.artifacts.lineage import read_usage
from workbench.store.artifacts.locks import store_lock
from workbench.store.artifacts.manifests import (
    list_names,
    list_versions,
    manifest_path,
    read_manifest,
    read_next_version,
)
from workbench.store.artifacts.materialise import cache_dir
from workbench.store.artifacts.quarantine import quarantine_blob
from workbench.store.artifacts.verify import Identity, identity, marker_path, write_stamp
from workbench.store.media_files import media_users

__all__ = ["FsckReport", "check_store"]

_BLOCK = 8 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class FsckReport:
    """What ``fsck`` found. Each problem names the blob and the versions (``name:vN path``) that need it.

    ``corrupt``: blobs whose content does not hash to their name (``digest``, ``path``, ``actual``,
    ``used_by``); ``missing``: blobs a local version names that the store lacks (``digest``,
    ``used_by``, and ``quarantined``: where ``--repair`` moved it, if it did); ``bad_manifests``
    and ``bad_files`` (alias files, usage logs, ``next_version``): ``path`` and ``error``;
    ``quarantined``: what this run moved into quarantine (``digest``, ``path``, ``lost``: the
    versions and files that lost it, ``restored_from``: the intact cached copy its bytes were
    brought back from, or None).
    """

    blobs: int
    bytes: int
    corrupt: list[dict[str, Any]]
    missing: list[dict[str, Any]]
    bad_manifests: list[dict[str, str]]
    unreferenced: int
    bad_files: list[dict[str, str]] = dataclasses.field(default_factory=list)
    quarantined: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.corrupt or self.missing or self.bad_manifests or self.bad_files)


def _hash(path: Path, buffer: bytearray, bar: Progress) -> tuple[str, Identity | None]:
    """The blob's SHA-256, and its identity if it did not change while it was read."""
    digest = hashlib.sha256()
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        before = identity(os.fstat(handle.fileno()))
        while count := handle.readinto(buffer):
            digest.update(view[:count])
            bar.update(count)
        after = identity(os.fstat(handle.fileno()))
    return digest.hexdigest(), before if before == after else None


def _mirrors(layout: Layout) -> list[tuple[str, Path]]:
    """``(remote, its mirrored artifacts directory)`` for each synced remote."""
    base = layout.root / "remote"
    return sorted((p.parent.name, p) for p in base.glob("*/artifacts") if p.is_dir())


@dataclasses.dataclass(frozen=True)
class _Copy:
    """Where a blob's bytes may also be: ``length`` bytes at ``offset`` of file ``path`` of the
    cached placement ``folder`` of a version that names the blob."""

    folder: Path
    path: str
    offset: int
    length: int


def _read_metadata(layout: Layout) -> tuple[dict[str, list[str]], set[str], list[dict[str, str]],
                                           list[dict[str, str]], dict[str, list[_Copy]]]:
    """Every manifest (local and mirrored), alias file, usage log and ``next_version``.

    Returns the versions that need each blob (``digest -> ["name:vN path", ...]``), the blobs that
    local versions need, the unreadable manifests, the other damaged files, and the cached
    placements of the versions that need each blob.
    """
    users: dict[str, list[str]] = {}
    local: set[str] = set()
    placed: dict[str, list[_Copy]] = {}
    bad: list[dict[str, str]] = []
    files: list[dict[str, str]] = []
    for remote, artifacts in [("", layout.artifacts), *_mirrors(layout)]:
        for name in list_names(artifacts):
            try:
                read_aliases(artifacts, name)
            except ArtifactError as exc:
                files.append({"path": str(aliases_path(artifacts, name)), "error": str(exc)})
            try:
                read_next_version(artifacts, name)
            except ArtifactError as exc:
                files.append({"path": str(artifacts / name / "next_version"), "error": str(exc)})
            _, problem = read_usage(artifacts, name)
            if problem is not None:
                files.append({"path": str(artifacts / name / "usage.jsonl"), "error": problem})
            for version in list_versions(artifacts, name):
                try:
                    manifest = read_manifest(artifacts, name, version)
                except ArtifactNotFound:
                    continue
                except ArtifactError as exc:
                    bad.append({"path": str(manifest_path(artifacts, name, version)), "error": str(exc)})
                    continue
                ref = f"{remote}:{name}:v{version}" if remote else f"{name}:v{version}"
                cached = (layout.root / "cache" / "remote" / remote / name / f"v{version}" if remote
                          else cache_dir(layout, name, version))
                for entry in manifest["files"]:
                    chunks = entry.get("chunks")
                    step = int(entry.get("chunk_size") or entry["size"])
                    for index, digest in enumerate(chunks or [entry["digest"]]):
                        users.setdefault(digest, []).append(f"{ref} {entry['path']}")
                        offset = index * step if chunks else 0
                        length = min(step, entry["size"] - offset) if chunks else entry["size"]
                        placed.setdefault(digest, []).append(_Copy(cached, entry["path"], offset, length))
                        if not remote:
                            local.add(digest)
    media, media_local, damaged = media_users(layout)  # blobs of media logged by runs (workbench/media)
    for digest, needs in media.items():
        users.setdefault(digest, []).extend(needs)
    local |= media_local
    files.extend(damaged)
    return users, local, bad, files, placed


def check_store(layout: Layout, settings: Settings, *, repair: bool = False) -> FsckReport:
    """Re-hash all blobs; report corrupt, missing and unreadable pieces; with ``repair``,
    quarantine the corrupt blobs."""
    users, local, bad, bad_files, placed = _read_metadata(layout)
    blobs = Blobs(layout.blobs)
    corrupt: list[dict[str, Any]] = []
    good: dict[str, Identity] = {}
    started = time.time()
    with store_lock(layout.artifacts):
        present = list(blobs)
        total = 0
        for _, path in present:
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        buffer = bytearray(_BLOCK)
        with Progress(total, "checking blobs", settings.progress) as bar:
            for digest, path in present:
                try:
                    actual, ident = _hash(path, buffer, bar)
                except FileNotFoundError:
                    continue  # removed meanwhile (gc cannot run now; a hand)
                except OSError as exc:
                    actual, ident = f"unreadable: {exc.strerror}", None
                if actual == digest:
                    if ident is not None:
                        good[digest] = ident
                    continue
                corrupt.append({"digest": digest, "path": str(path), "actual": actual,
                                "used_by": sorted(set(users.get(digest, [])))})
    quarantined: list[dict[str, Any]] = []
    if repair and corrupt:
        quarantined = _quarantine(layout, corrupt, placed)
        moved = {q["digest"] for q in quarantined}
        corrupt = [c for c in corrupt if c["digest"] not in moved]
    write_stamp(layout, started, good)
    names = {digest for digest, _ in present} - {q["digest"] for q in quarantined if q["restored_from"] is None}
    where = {q["digest"]: q["path"] for q in quarantined if q["restored_from"] is None}
    missing = []
    for digest in sorted(local - names):
        item: dict[str, Any] = {"digest": digest, "used_by": sorted(set(users[digest]))}
        if digest in where:
            item["quarantined"] = where[digest]
        missing.append(item)
    unreferenced = sum(1 for digest in names if digest not in users)
    return FsckReport(len(present), total, corrupt, missing, bad, unreferenced, bad_files, quarantined)


def _quarantine(layout: Layout, corrupt: list[dict[str, Any]], placed: dict[str, list[_Copy]]) -> list[dict[str, Any]]:
    """Move each blob that still does not hash to its name into quarantine (exclusive lock), then
    bring its bytes back from an intact cached placement where one holds them."""
    out = []
    buffer = bytearray(_BLOCK)
    blobs = Blobs(layout.blobs)
    with store_lock(layout.artifacts, exclusive=True), Progress(0, "quarantining", "never") as bar:
        for item in corrupt:
            digest, path = item["digest"], Path(item["path"])
            try:
                actual, _ = _hash(path, buffer, bar)
            except FileNotFoundError:
                continue
            except OSError:
                actual = "unreadable"
            if actual == digest:
                continue  # restored meanwhile
            target = quarantine_blob(layout, digest, path)
            copies = placed.get(digest, [])
            restored = next((c for c in copies if _restore(blobs, digest, c)), None)
            # a cached placement goes only if it holds the bad bytes (a hard link to the quarantined
            # blob, or a copy that does not hash): an intact one may be in use by a running job
            for folder in {c.folder for c in copies if not _intact(c, digest, target)}:
                shutil.rmtree(folder, ignore_errors=True)
                marker_path(folder).unlink(missing_ok=True)
            out.append({"digest": digest, "path": str(target), "lost": [] if restored else item["used_by"],
                        "restored_from": None if restored is None else str(restored.folder / restored.path)})
        blobs.sync()
    return out


def _intact(copy: _Copy, digest: str, quarantined: Path) -> bool:
    """Whether the cached placement ``copy`` holds the true bytes of blob ``digest``."""
    source = copy.folder / copy.path
    try:
        if os.path.samestat(os.stat(source), os.stat(quarantined)):
            return False  # a hard link to the bad blob
        hasher, left = hashlib.sha256(), copy.length
        with open(source, "rb", buffering=0) as handle:
            handle.seek(copy.offset)
            while left > 0 and (data := handle.read(min(left, _BLOCK))):
                hasher.update(data)
                left -= len(data)
    except OSError:
        return False
    return left == 0 and hasher.hexdigest() == digest


def _restore(blobs: Blobs, digest: str, copy: _Copy) -> bool:
    """Store the bytes of ``copy`` as blob ``digest`` if they hash to it."""
    source = copy.folder / copy.path
    tmp = blobs.path(digest).parent / f".{digest}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        with open(source, "rb", buffering=0) as handle:
            handle.seek(copy.offset)
            fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            try:
                hasher, left = hashlib.sha256(), copy.length
                while left > 0 and (data := handle.read(min(left, _BLOCK))):
                    hasher.update(data)
                    write_all(fd, data)
                    left -= len(data)
            finally:
                os.close(fd)
        if left or hasher.hexdigest() != digest:
            tmp.unlink(missing_ok=True)
            return False
        blobs.adopt(digest, tmp)
        return True
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
