"""Content-addressed blobs: ``blobs/sha256/<ab>/<digest>``, written once, read-only (0400: the
store's owner reads it, nobody writes it).

A blob is written to a temp file beside its final name, fsynced, made read-only, then hard-linked
to its name (``link`` fails if another writer got there first, which keeps the first inode), so
a reader never sees half a blob. A blob is a whole small file or one chunk of a large one.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from pathlib import Path

from workbench._private import OPEN_FLAGS, READ_ONLY_MODE, make_dir, restrict
from workbench.errors import ArtifactError
from workbench.store._atomic import sync_paths, write_all

__all__ = ["Blobs", "is_digest"]

_DIGEST = re.compile(r"[0-9a-f]{64}\Z")
#: link failures that mean "this filesystem cannot link here": fall back to copying / renaming
LINK_ERRORS = frozenset(
    {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES, errno.ENOSYS}
)


def is_digest(text: object) -> bool:
    return isinstance(text, str) and bool(_DIGEST.match(text))


class Blobs:
    """The blob directory of one store."""

    def __init__(self, root: Path, *, fsync: bool = True, link: bool = True) -> None:
        self.root = root
        self.fsync = fsync
        self.link = link
        self._touched: set[Path] = set()
        self._written: list[Path] = []
        self._known: set[str] = set()

    def path(self, digest: str) -> Path:
        if not is_digest(digest):  # manifests may come from a remote: never trust a path in one
            raise ArtifactError(f"{digest!r} is not a SHA-256 digest; the manifest that names it is corrupt")
        return self.root / digest[:2] / digest

    def has(self, digest: str) -> bool:
        if digest in self._known:
            return True
        if self.path(digest).is_file():
            self._known.add(digest)
            return True
        return False

    def put(self, digest: str, data: memoryview | bytes) -> bool:
        """Store ``data`` under ``digest`` unless it is there; True when this call wrote it."""
        if self.has(digest):
            return False
        final = self.path(digest)
        folder = final.parent
        make_dir(folder)
        tmp = folder / f".{digest}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | OPEN_FLAGS, READ_ONLY_MODE)
        try:
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
            wrote = self._publish(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        self._known.add(digest)
        self._touched.add(folder)
        if wrote:
            self._written.append(final)
        return wrote

    def adopt(self, digest: str, verified: Path) -> bool:
        """Publish a file whose content the caller has verified to hash to ``digest`` (a fetched
        blob): made read-only, linked (or renamed) to its name, the source removed. True when
        this call placed it; False when the store had it already."""
        final = self.path(digest)
        make_dir(final.parent)
        try:
            restrict(verified, READ_ONLY_MODE)
            wrote = self._publish(verified, final)
        finally:
            verified.unlink(missing_ok=True)
        self._known.add(digest)
        self._touched.add(final.parent)
        if wrote:
            self._written.append(final)
        return wrote

    def _publish(self, tmp: Path, final: Path) -> bool:
        if self.link:
            try:
                os.link(tmp, final)
                return True
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in LINK_ERRORS:
                    raise
        if final.exists():
            return False
        os.replace(tmp, final)  # same content if someone raced us: replacing it is harmless
        return True

    def take_written(self) -> tuple[list[Path], list[Path]]:
        """``(blobs, directories)`` written since the last :meth:`sync` or call of this, which
        forgets them: for a caller that makes them durable with its own files (a run's finish)."""
        written, self._written = self._written, []
        touched, self._touched = sorted(self._touched), set()
        if not written:
            return [], []
        # a new prefix directory is named in the blob root
        return written, [*touched, self.root]

    def sync(self) -> None:
        """Make the blobs written so far durable, before a manifest names them: an fsync of each
        new blob and of the directories naming them (``sync_paths``: batched, a few threads for
        many chunks), so the cost is these bytes alone, never another program's unwritten data
        (``syncfs`` waited for all of it)."""
        written, dirs = self.take_written()
        if not self.fsync or not written:
            return
        sync_paths(written, dirs)

    def missing_error(self, digest: str, where: str) -> ArtifactError:
        return ArtifactError(
            f"blob {digest[:12]}... of {where} is missing from {self.root}; run `workbench fsck` "
            "to see what else is affected, and log the artifact again (or sync it from its remote)"
        )

    def __iter__(self) -> Iterator[tuple[str, Path]]:
        """``(digest, path)`` of every blob, in no particular order (temp files excluded)."""
        try:
            prefixes = list(os.scandir(self.root))
        except FileNotFoundError:
            return
        for prefix in prefixes:
            if not prefix.is_dir(follow_symlinks=False) or len(prefix.name) != 2:
                continue
            for entry in os.scandir(prefix.path):
                if is_digest(entry.name) and entry.name.startswith(prefix.name):
                    yield entry.name, Path(entry.path)

    def temp_files(self) -> Iterator[Path]:
        """Temp files left by writers that died (only meaningful under the exclusive store lock)."""
        try:
            prefixes = list(os.scandir(self.root))
        except FileNotFoundError:
            return
        for prefix in prefixes:
            if prefix.is_dir(follow_symlinks=False):
                for entry in os.scandir(prefix.path):
                    if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                        yield Path(entry.path)


