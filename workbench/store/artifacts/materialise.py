"""Placing a version's files in a directory: hard links to blobs, copies where links fail.

A file stored whole is hard-linked to its blob (read-only, no bytes copied); where a link is
impossible (another filesystem: EXDEV, too many links, a filesystem without links) or the
``link_mode`` setting is ``copy``, it is copied (and writable: 0644 at a ``dest``, 0600 in the
store's caches, which are private like the rest of the store). A chunked file is reassembled
from its chunks (a copy). The directory is built beside its destination under a temp name and
renamed into place, so it is either complete or absent.

Without a destination, versions go to ``<root>/cache/artifacts/<name>/v<N>`` and are placed
once: a later call finds them there.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

from workbench._private import DIR_MODE, FILE_MODE, make_dir, private_opener
from workbench.config import Settings
from workbench.errors import ArtifactError
from workbench.store._atomic import write_all
from workbench.store._paths import Layout
from workbench.store.artifacts._progress import Progress
from workbench.store.artifacts.blobs import LINK_ERRORS, Blobs
from workbench.store.artifacts.locks import store_lock

__all__ = ["cache_dir", "materialise"]

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
    blobs: Blobs, entry: dict[str, Any], target: Path, *, link: bool, where: str, bar: Progress, private: bool
) -> str:
    """Put one file at ``target``; "link" or "copy", what it did.

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
        blob = blobs.path(entry["digest"])
        if not blob.is_file():
            raise blobs.missing_error(entry["digest"], where)
        if link:
            try:
                os.link(blob, target)
                bar.update(entry["size"])
                return "link"
            except OSError as exc:
                if exc.errno not in LINK_ERRORS:
                    raise
        _copy(blob, target, FILE_MODE if private else 0o644)
        bar.update(entry["size"])
        return "copy"
    with open(target, "wb", buffering=0, opener=private_opener if private else None) as out:
        kernel_copy = True
        for digest in chunks:
            try:
                part = os.open(blobs.path(digest), os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                raise blobs.missing_error(digest, where) from None
            try:
                kernel_copy = _append(part, out.fileno(), kernel_copy)
                bar.update(os.lseek(part, 0, os.SEEK_CUR))
            finally:
                os.close(part)
    if target.stat().st_size != entry["size"]:
        raise ArtifactError(
            f"{where}: reassembled {entry['path']} has {target.stat().st_size} bytes, the manifest says "
            f"{entry['size']}; run `workbench fsck`"
        )
    return "copy"


def materialise(
    layout: Layout,
    settings: Settings,
    manifest: Manifest,
    dest: str | os.PathLike[str] | None,
) -> tuple[Path, dict[str, int]]:
    """Place the version's files; ``(directory, {"link": n, "copy": m})``."""
    where = f"{manifest['name']}:v{manifest['version']}"
    cached = dest is None
    if dest is None:
        target = cache_dir(layout, manifest["name"], manifest["version"])
    else:
        target = Path(dest).absolute()
    if cached and os.path.lexists(target):
        if target.is_dir() and _complete(target, manifest):
            return target, {"link": 0, "copy": 0}
        stale = target.parent / f".{target.name}.stale.{os.urandom(4).hex()}"
        os.rename(target, stale)  # someone changed the cached copy: place it again
        shutil.rmtree(stale, ignore_errors=True)
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
    blobs = Blobs(layout.blobs)
    link = settings.link_mode != "copy"
    try:
        with (
            store_lock(layout.artifacts),
            Progress(int(manifest.get("size", 0)), f"placing {where}", settings.progress) as bar,
        ):
            tmp.mkdir(mode=DIR_MODE if private else 0o777)
            for entry in manifest["files"]:
                place = _place(blobs, entry, tmp / entry["path"], link=link, where=where, bar=bar, private=private)
                counts[place] += 1
            # still under the store lock: gc removes cache entries it does not know, temp
            # directories included, and must not take this one before it is in place
            try:
                os.rename(tmp, target)  # replaces an empty directory, never a full one
            except OSError:
                if cached and _complete(target, manifest):  # another process placed it first
                    shutil.rmtree(tmp)
                    return target, counts
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target, counts
