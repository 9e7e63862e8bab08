"""The two artifact locks, both ``flock`` on files under ``artifacts/.locks/``.

- the **store lock** (``store.lock``): writers and readers of blobs hold it *shared* while they
  store blobs and write the manifest that references them, or place a version's files; ``gc``
  holds it *exclusive*, so it never sees a blob that a manifest about to be written will need;
- a **name lock** (``<name>.lock``) per artifact: version numbers, aliases and deletions of one
  name are decided under it, so concurrent writers get v1..vN without gaps or duplicates.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from workbench.errors import StoreError

__all__ = ["name_lock", "store_lock"]

#: a writer may wait for a long gc, and gc for a large upload
_TIMEOUT = 600.0


def _locks_dir(artifacts: Path) -> Path:
    path = artifacts / ".locks"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror}; is the store writable?") from exc
    return path


@contextlib.contextmanager
def _flock(path: Path, operation: int, what: str, timeout: float) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, operation | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"could not take the {what} ({path}) within {timeout:.0f} s: another "
                        "workbench process holds it (a long gc or upload?); retry when it is done"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def store_lock(
    artifacts: Path, *, exclusive: bool = False, timeout: float = _TIMEOUT
) -> contextlib.AbstractContextManager[None]:
    """Shared for writers and placers, exclusive for gc."""
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    return _flock(_locks_dir(artifacts) / "store.lock", mode, "artifact store lock", timeout)


def name_lock(
    artifacts: Path, name: str, *, timeout: float = _TIMEOUT
) -> contextlib.AbstractContextManager[None]:
    """Exclusive lock of one artifact name (validated by the caller)."""
    return _flock(
        _locks_dir(artifacts) / f"{name}.lock", fcntl.LOCK_EX, f"lock of artifact {name!r}", timeout
    )
