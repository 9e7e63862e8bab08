"""Placing a version's files in a directory: hard links to blobs, copies where links fail.

A file stored whole is hard-linked to its blob (read-only, no bytes copied); where a link is
impossible (another filesystem: EXDEV, too many links, a filesystem without links) or the
``link_mode`` setting is ``copy``, it is copied (and writable: 0644 at a ``dest``, 0600 in the
store's caches, which are private like the rest of the store). A chunked file is reassembled
from its chunks (a copy). The directory is built beside its destination under a temp name and
renamed into place, so it is either complete or absent.

Without a destination, versions go to ``<root>/cache/artifacts/<name>/v<N>`` and are placed
once: a later call finds them there.

Every blob is checked against its SHA-256 as it is placed (``verify``): a corrupt one is an
``ArtifactError`` naming the version, the file and the blob, and nothing is placed. A cached
placement is checked too before it is handed out again (one ``stat`` per file while it is as
it was placed; hashed otherwise, and placed again if it no longer matches).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench._private import DIR_MODE, FILE_MODE, OPEN_FLAGS, make_dir, private_opener
from workbench.errors import ArtifactError
from workbench.settings import Settings
from workbench.store._atomic import write_all
from workbench.store._paths import Layout
from workbench.store.artifacts._progress import Progress
from workbench.store.artifacts.blobs import LINK_ERRORS, Blobs
from workbench.store.artifacts.locks import store_lock
from workbench.store.artifacts.verify import Verifier, identity, read_marker, write_marker

__all__ = ["cache_dir", "corrupt_error", "materialise"]

Manifest = dict[str, Any]
_COPY_BLOCK = 8 * 1024 * 1024


def cache_dir(layout: Layout, name: str, version: int | None = None) -> Path:
    """``<root>/cache/artifacts/<name>[/v<N>]``: where versions are placed by default."""
    folder = layout.root / "cache" / "artifacts" / name
    return folder if version is None else folder / f"v{version}"


def _complete(dest: Path, manifest: Manifest) -> bool:
    for entry in manifest["files"]:
        try:
            if (dest / entry["path"]).stat().st_size != entry["size"]:
                return False
        except OSError:
            return False
    return True


def _cache_intact(dest: Path, manifest: Manifest, blobs: Blobs, verifier: Verifier) -> bool:
    """Whether the cached placement ``dest`` still holds the version's files, byte for byte.

    A file as it was placed (same inode, size and modification time as its placement marker
    records) costs one ``stat``; a hard link to a blob is the blob, trusted as placing trusts it;
    anything else is hashed.
    """
    checked, marker = read_marker(dest, verifier.settings)
    hashed = False
    for entry in manifest["files"]:
        path = dest / entry["path"]
        try:
            st = os.stat(path)
        except OSError:
            return False
        if not stat.S_ISREG(st.st_mode) or st.st_size != entry["size"]:
            return False
        if marker.get(entry["path"]) == identity(st):
            verifier.relied_on(checked)
            continue
        if entry.get("chunks") is None:
            blob = blobs.path(entry["digest"])
            try:
                linked = os.path.samestat(st, os.stat(blob))
            except OSError:
                linked = False
            if linked and not verifier.links:
                verifier.unchecked.add(entry["path"])
                continue
            if linked and verifier.trusts(entry["digest"], blob):
                continue
        verifier.check_file(path, entry["digest"], f"{entry['path']}: placed file {path} was changed",
                            entry["size"])
        hashed = True
    if verifier.finish():
        return False
    if hashed:
        write_marker(dest, manifest, verifier.since, verifier.unchecked)
    return True


def _read_all(fd: int) -> bytes:
    """The whole file ``fd`` (a chunk blob, 256 KiB by default), read into one buffer of its size."""
    size = os.fstat(fd).st_size
    parts = [os.read(fd, size)] if size else []
    while more := os.read(fd, _COPY_BLOCK):  # only if it grew since the fstat
        parts.append(more)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _copy(src: Path, target: Path, mode: int) -> None:
    shutil.copyfile(src, target)
    os.chmod(target, mode)


def _append(src: int, dst: int, kernel_copy: bool) -> bool:
    """Copy all of ``src`` to the end of ``dst``; in the kernel where it can (copy_file_range,
    which also shares extents on filesystems with reflinks), else through a buffer. Returns
    whether the kernel copy worked, so a filesystem that refuses it is asked only once."""
    if kernel_copy and hasattr(os, "copy_file_range"):
        start = os.lseek(dst, 0, os.SEEK_CUR)
        try:
            while os.copy_file_range(src, dst, _COPY_BLOCK):
                pass
            return True
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EPERM):
                raise
            os.lseek(src, 0, os.SEEK_SET)  # start this piece again, through a buffer
            os.ftruncate(dst, start)
            os.lseek(dst, start, os.SEEK_SET)
    while data := os.read(src, _COPY_BLOCK):
        write_all(dst, data)
    return False


def _place(
    blobs: Blobs, entry: dict[str, Any], target: Path, *, link: bool, where: str, bar: Progress, private: bool,
    verifier: Verifier,
) -> str:
    """Put one file at ``target``; "link" or "copy", what it did. What is placed is handed to
    ``verifier`` to hash (unless a recent check of the blob is trusted).

    ``private``: inside the store (its caches), where copies are 0600 and directories 0700 like the
    rest of the store; at a ``dest`` of the user's, copies are 0644 and directories get the
    default mode.
    """
    if private:
        make_dir(target.parent)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
    chunks = entry.get("chunks")
    if chunks is None:
        digest = entry["digest"]
        blob = blobs.path(digest)
        if not blob.is_file():
            raise blobs.missing_error(digest, where)
        problem = f"{entry['path']}: blob {blob} is corrupt"
        if link:
            try:
                os.link(blob, target)
            except OSError as exc:
                if exc.errno not in LINK_ERRORS:
                    raise
            else:
                if not verifier.links:
                    verifier.unchecked.add(entry["path"])
                elif not verifier.trusts(digest, blob):
                    verifier.check_file(target, digest, problem, entry["size"])
                bar.update(entry["size"])
                return "link"
        _copy(blob, target, FILE_MODE if private else 0o644)
        if not verifier.trusts(digest, blob):
            verifier.check_file(target, digest, problem, entry["size"])  # the copy: what is handed out
        bar.update(entry["size"])
        return "copy"
    with open(target, "wb", buffering=0, opener=private_opener if private else None) as out:
        kernel_copy = True
        for digest in chunks:
            blob = blobs.path(digest)
            try:
                part = os.open(blob, os.O_RDONLY | OPEN_FLAGS)
            except FileNotFoundError:
                raise blobs.missing_error(digest, where) from None
            try:
                if verifier.trusts(digest, blob):
                    kernel_copy = _append(part, out.fileno(), kernel_copy)
                    bar.update(os.lseek(part, 0, os.SEEK_CUR))
                else:  # read once: written out, and hashed in the background meanwhile
                    data = _read_all(part)
                    write_all(out.fileno(), data)
                    verifier.check_bytes(data, digest, f"{entry['path']}: chunk blob {blob} is corrupt")
                    bar.update(len(data))
            finally:
                os.close(part)
    if target.stat().st_size != entry["size"]:
        raise ArtifactError(
            f"{where}: reassembled {entry['path']} has {target.stat().st_size} bytes, the manifest says "
            f"{entry['size']}; run `workbench fsck`"
        )
    return "copy"


def corrupt_error(where: str, failures: list[str]) -> ArtifactError:
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    return ArtifactError(
        f"{where} was not placed: {failures[0]}{more}. Nothing was placed; run `workbench fsck --repair` to "
        "quarantine the corrupt blob(s) and list every version that lost files"
    )


def materialise(
    layout: Layout,
    settings: Settings,
    manifest: Manifest,
    dest: str | os.PathLike[str] | None,
    *,
    cache: Path | None = None,
    trusted: Iterable[str] = (),
    where: str | None = None,
) -> tuple[Path, dict[str, int]]:
    """Place the version's files; ``(directory, {"link": n, "copy": m})``.

    Without ``dest`` the version goes to ``cache`` (default: its place in the store's cache) and
    is reused from there. ``trusted``: digests just verified (a fetch's downloads), not hashed
    again. A blob that does not match its digest is an :class:`ArtifactError` naming it.
    """
    where = where or f"{manifest['name']}:v{manifest['version']}"
    with Verifier(layout, settings, trusted=trusted) as verifier:
        return _materialise(layout, settings, manifest, dest, cache, where, verifier)


def _materialise(
    layout: Layout,
    settings: Settings,
    manifest: Manifest,
    dest: str | os.PathLike[str] | None,
    cache: Path | None,
    where: str,
    verifier: Verifier,
) -> tuple[Path, dict[str, int]]:
    cached = dest is None
    blobs = Blobs(layout.blobs)
    if dest is None:
        target = cache if cache is not None else cache_dir(layout, manifest["name"], manifest["version"])
    else:
        target = Path(dest).absolute()
    if cached and os.path.lexists(target):
        if target.is_dir() and _cache_intact(target, manifest, blobs, verifier):
            return target, {"link": 0, "copy": 0}
        stale = target.parent / f".{target.name}.stale.{os.urandom(4).hex()}"
        os.rename(target, stale)  # someone changed the cached copy: place it again
        shutil.rmtree(stale, ignore_errors=True)
        verifier.since, verifier.unchecked = time.time(), set()
    if not cached and (target.is_file() or (target.is_dir() and any(target.iterdir()))):
        raise ArtifactError(
            f"{target} already exists and is not empty; pass a new or empty directory as dest "
            "(workbench never overwrites files it did not place)"
        )
    private = target.is_relative_to(layout.root)  # the cache, or a dest inside the store: private
    if private:
        make_dir(target.parent)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    counts = {"link": 0, "copy": 0}
    link = settings.link_mode != "copy"
    try:
        with (
            store_lock(layout.artifacts),
            Progress(int(manifest.get("size", 0)), f"placing {where}", settings.progress) as bar,
        ):
            tmp.mkdir(mode=DIR_MODE if private else 0o777)
            for entry in manifest["files"]:
                place = _place(blobs, entry, tmp / entry["path"], link=link, where=where, bar=bar, private=private,
                               verifier=verifier)
                counts[place] += 1
            failures = verifier.finish()
            if failures:
                raise corrupt_error(where, failures)
            # still under the store lock: gc removes cache entries it does not know, temp
            # directories included, and must not take this one before it is in place
            try:
                os.rename(tmp, target)  # replaces an empty directory, never a full one
            except OSError:
                if cached and _complete(target, manifest):  # another process placed it first
                    shutil.rmtree(tmp)
                    return target, counts
                raise
            if cached:
                write_marker(target, manifest, verifier.since, verifier.unchecked)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target, counts
