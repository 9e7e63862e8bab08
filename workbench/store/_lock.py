"""Inter-process locks on lock files (fcntl.flock; POSIX only)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from workbench.errors import StoreError

__all__ = ["file_lock", "try_file_lock"]


@contextlib.contextmanager
def file_lock(path: Path, *, timeout: float = 30.0) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the ``with`` block.

    ``path`` may be a directory (locked in place, nothing created) or a lock file (created if
    missing).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except NotADirectoryError:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"could not lock {path} within {timeout:.0f} s: another process holds it; "
                        "if no workbench process is running, delete the file and retry"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def try_file_lock(path: Path) -> Iterator[bool]:
    """Yield True while holding the lock, or False at once if another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
