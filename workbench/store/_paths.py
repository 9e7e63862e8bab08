"""The store layout, in one place, and validation of names that become paths."""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

from workbench._private import make_dir, open_private
from workbench.errors import StoreError

__all__ = [
    "FORMAT",
    "Layout",
    "is_run_id",
    "new_run_id",
    "validate_run_id",
]

#: version of the on-disk format; a reader refuses records of a newer format
FORMAT = 1

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case: sorts like time
_RUN_ID = re.compile(r"[0-9a-z][0-9a-z_-]{1,63}\Z")
_DIGEST = re.compile(r"[0-9a-f]{64}\Z")


def _b32(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_run_id() -> str:
    """A 14-character id: 9 characters of milliseconds since 1970, then 5 random ones.

    Ids sort by creation time (to the millisecond) and collide with a chance of 1 in 33 million
    per millisecond.
    """
    return _b32(time.time_ns() // 1_000_000, 9) + _b32(secrets.randbits(25), 5)


def is_run_id(name: object) -> bool:
    """Whether ``name`` is a valid run id (safe as a path component)."""
    return isinstance(name, str) and _RUN_ID.match(name) is not None


def validate_run_id(run_id: str) -> str:
    if not is_run_id(run_id):
        raise StoreError(
            f"{run_id!r} is not a valid run id: use 2-64 characters of a-z, 0-9, '-' and '_', "
            "starting with a letter or digit"
        )
    return run_id


class Layout:
    """Paths of a store rooted at ``root`` (see docs/store.md)."""

    __slots__ = ("_journal_fd", "artifacts", "blobs", "catalog", "environments", "journal", "root", "runs")

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs = root / "runs"
        self.catalog = root / "catalog"
        self.journal = self.catalog / "journal"
        self.artifacts = root / "artifacts"
        self.blobs = root / "blobs" / "sha256"
        self.environments = root / "environments"
        self._journal_fd: int | None = None

    def run_dir(self, run_id: str) -> Path:
        return self.runs / validate_run_id(run_id)

    def record(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "run.json"

    def metrics_dir(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "metrics"

    def media_dir(self, run_id: str) -> Path:
        """``runs/<id>/media``: the run's media index, one parquet file per flush (the bytes are blobs)."""
        return self.run_dir(run_id) / "media"

    def logs_dir(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "logs"

    def files_dir(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "files"

    def environment(self, digest: str) -> Path:
        """``environments/<digest>.json``: the installed distributions of one environment."""
        if not (isinstance(digest, str) and _DIGEST.match(digest)):
            raise StoreError(f"{digest!r} is not an environment digest (64 hex digits)")
        return self.environments / f"{digest}.json"

    def ensure(self) -> None:
        try:
            make_dir(self.runs)  # the root too, when it is new: private (workbench/_private.py)
            make_dir(self.catalog)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store at {self.root}: {exc.strerror}; "
                "pass root= or set WORKBENCH_ROOT to a writable directory"
            ) from exc

    def note_change(self, run_id: str) -> None:
        """Append ``run_id`` to the change journal that readers follow (an O_APPEND line).

        Call it after the change is on disk: a reader that sees the line must see the change.
        The journal stays open between calls; a journal deleted or rotated meanwhile (its link
        count is 0, or the path names another file) is opened again.
        """
        line = (run_id + "\n").encode()
        fd = self._journal_fd
        if fd is not None:
            try:
                st = os.fstat(fd)
                current = os.stat(self.journal)
                if st.st_nlink == 0 or (st.st_ino, st.st_dev) != (current.st_ino, current.st_dev):
                    raise FileNotFoundError
            except OSError:
                os.close(fd)
                fd = self._journal_fd = None
        if fd is None:
            try:
                fd = open_private(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            except FileNotFoundError:  # someone deleted catalog/: it is derived, make it again
                make_dir(self.catalog)
                fd = open_private(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            self._journal_fd = fd
        os.write(fd, line)

    def __del__(self) -> None:
        fd = getattr(self, "_journal_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
