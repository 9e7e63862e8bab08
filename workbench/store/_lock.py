"""Inter-process locks on lock files and directories, on every system.

How a lock is held is chosen once per process, by what the system offers:

- **flock** (Linux, macOS, every system with ``fcntl``): ``fcntl.flock`` on the lock file, or on
  a directory itself (opened read-only: nothing is created in it); shared or exclusive. The
  kernel drops it when its process dies, however it dies, so a crash never leaves a lock held.
- **LockFileEx** (Windows): byte 0 of the lock file is locked through ``filelock.lock_descriptor``.
  Windows also drops it when the process dies. It is exclusive only, so a *shared* lock is taken
  exclusive: artifact writers that would have shared the store lock take turns (still correct,
  less parallel). A directory cannot be opened to be locked: its lock is the file ``.lock`` inside.
- **marker** (any other system without ``fcntl``): ``filelock.SoftFileLock``, a file created
  exclusively that records the holder's pid, host and start time, and is removed on release. A
  marker left by a process that died on this host is reclaimed by the next process that asks; one
  left by a process on another host sharing the store is not (remove it by hand). Exclusive only,
  like LockFileEx. The marker is the lock file's name plus ``.soft`` (a directory's:
  ``.lock.soft`` inside it), so it never meets a lock file that flock left in place.

Every lock is taken without blocking and retried until a timeout, so a holder that never lets go
becomes a :class:`StoreError` naming the lock rather than a hang.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from workbench._private import open_private
from workbench.errors import StoreError

try:
    import fcntl
except ImportError:  # Windows (or a Python built without it): see the module docstring
    fcntl = None  # type: ignore[assignment]

__all__ = ["BACKEND", "HeldLock", "acquire_lock", "file_lock", "lock_held", "try_file_lock"]

#: how locks are held in this process: "flock", "LockFileEx" or "marker"
BACKEND = "flock" if fcntl is not None else ("LockFileEx" if sys.platform == "win32" else "marker")

class HeldLock:
    """A lock this process holds until :meth:`release` (or the process ends)."""

    def __init__(self, path: Path, release: Callable[[], None]) -> None:
        self.path = path
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        """Let the lock go; calling it again does nothing."""
        release, self._release = self._release, None
        if release is not None:
            release()


def _retry(attempt: Callable[[], bool], timeout: float) -> bool:
    """Call ``attempt`` until it returns True (then True) or ``timeout`` seconds pass (then False)."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not attempt():
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True


def _lock_file(path: Path) -> Path:
    """The file that stands for ``path`` where a directory cannot be locked in place."""
    return path / ".lock" if path.is_dir() else path


def _acquire_flock(path: Path, shared: bool, timeout: float) -> HeldLock | None:
    assert fcntl is not None
    try:  # a directory is locked in place (without O_DIRECTORY a lock file opens here too, read-only)
        fd = open_private(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (NotADirectoryError, FileNotFoundError):
        fd = open_private(path, os.O_RDWR | os.O_CREAT)
    operation = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB

    def attempt() -> bool:
        try:
            fcntl.flock(fd, operation)
        except BlockingIOError:
            return False
        return True

    try:
        taken = _retry(attempt, timeout)
    except BaseException:
        os.close(fd)
        raise
    if not taken:
        os.close(fd)
        return None
    return HeldLock(path, lambda: os.close(fd))  # closing releases the lock


def _acquire_lockfileex(path: Path, timeout: float) -> HeldLock | None:
    from filelock import lock_descriptor, unlock_descriptor

    target = _lock_file(path)
    fd = open_private(target, os.O_RDWR | os.O_CREAT)
    try:
        taken = _retry(lambda: lock_descriptor(fd, blocking=False), timeout)
    except BaseException:
        os.close(fd)
        raise
    if not taken:
        os.close(fd)
        return None

    def release() -> None:
        try:
            unlock_descriptor(fd)
        finally:
            os.close(fd)

    return HeldLock(target, release)


def _acquire_marker(path: Path, timeout: float) -> HeldLock | None:
    import warnings

    with warnings.catch_warnings():  # filelock warns once that only its soft lock is available: we know
        warnings.simplefilter("ignore")
        from filelock import SoftFileLock, Timeout

    target = _lock_file(path)
    marker = target.with_name(target.name + ".soft")
    lock = SoftFileLock(marker, mode=0o600, thread_local=False)

    def attempt() -> bool:
        try:
            lock.acquire(blocking=False)
        except Timeout:
            return False
        return True

    if not _retry(attempt, timeout):
        return None
    return HeldLock(marker, lock.release)


def acquire_lock(path: Path, *, timeout: float = 0.0, shared: bool = False) -> HeldLock | None:
    """Take the lock of ``path`` (a lock file, created if missing, or a directory), retrying for up to
    ``timeout`` seconds; None if another process still holds it then. ``shared`` is honoured with
    flock only (see the module docstring)."""
    if BACKEND == "flock":
        return _acquire_flock(path, shared, timeout)
    if BACKEND == "LockFileEx":
        return _acquire_lockfileex(path, timeout)
    return _acquire_marker(path, timeout)


@contextlib.contextmanager
def file_lock(
    path: Path, *, timeout: float = 30.0, shared: bool = False, what: str | None = None
) -> Iterator[None]:
    """Hold a lock on ``path`` for the ``with`` block: exclusive, or ``shared`` with other sharers.

    ``path`` may be a directory (locked in place where the system allows, nothing created) or a
    lock file (created if missing). ``what`` names the lock in the error raised after ``timeout``
    seconds.
    """
    held = acquire_lock(path, timeout=timeout, shared=shared)
    if held is None:
        # every kind of lock here dies with its process: whoever holds it is alive and working
        raise StoreError(
            f"could not take the {what or 'lock'} ({path}) within {timeout:g} s: another "
            "workbench process holds it (a long gc, upload or update?); retry when it is done"
        )
    try:
        yield
    finally:
        held.release()


@contextlib.contextmanager
def try_file_lock(path: Path) -> Iterator[bool]:
    """Yield True while holding the lock, or False at once if another process holds it."""
    held = acquire_lock(path)
    try:
        yield held is not None
    finally:
        if held is not None:
            held.release()


def lock_held(path: Path) -> bool:
    """Whether another process holds the lock of the lock file ``path`` now (False if it does not
    exist). Takes and drops the lock for an instant when it is free."""
    probe = path.with_name(path.name + ".soft") if BACKEND == "marker" else path
    if not probe.exists():
        return False
    held = acquire_lock(path)
    if held is None:
        return True
    held.release()
    return False
