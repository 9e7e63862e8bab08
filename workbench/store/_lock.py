"""Inter-process locks on lock files (fcntl.flock; POSIX only)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from workbench._private import open_private
from workbench.errors import StoreError

__all__ = ["file_lock", "try_file_lock"]


@contextlib.contextmanager
def file_lock(
    path: Path, *, timeout: float = 30.0, shared: bool = False, what: str | None = None
) -> Iterator[None]:
    """Hold a lock on ``path`` for the ``with`` block: exclusive, or ``shared`` with other sharers.

    ``path`` may be a directory (locked in place, nothing created) or a lock file (created if
    missing). ``what`` names the lock in the error raised after ``timeout`` seconds.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except (NotADirectoryError, FileNotFoundError):
        fd = open_private(path, os.O_RDWR | os.O_CREAT)
    operation = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, operation | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    # a flock dies with its process: whoever holds it is alive and working
                    raise StoreError(
                        f"could not take the {what or 'lock'} ({path}) within {timeout:.0f} s: another "
                        "workbench process holds it (a long gc, upload or update?); retry when it is done"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def try_file_lock(path: Path) -> Iterator[bool]:
    """Yield True while holding the lock, or False at once if another process holds it."""
    fd = open_private(path, os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
