"""Storage faults: the OS errors that mean "the store cannot take writes now", said in words.

A full disk (``ENOSPC``), a full quota (``EDQUOT``), a filesystem remounted read-only (``EROFS``)
or a failing device (``EIO``) is not a bug of the caller: a run keeps the points it could not
write and retries (docs/store.md, "Storage faults"), and an artifact that cannot be stored is a
:class:`~workbench.errors.StoreError` that names the path, the free space and the fix.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from workbench._units import human_bytes

__all__ = ["RESERVE", "STORAGE_ERRNOS", "describe", "free_bytes", "is_storage_fault", "remedy"]

#: the file in a live run's directory that holds space for its final record (tracking/_reserve.py)
RESERVE = ".reserve"
#: errors a write can get from a healthy program on an unhealthy filesystem
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


def is_storage_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is an OSError of :data:`STORAGE_ERRNOS`."""
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


def free_bytes(path: str | os.PathLike[str]) -> int | None:
    """Bytes an unprivileged writer may still use on the filesystem holding ``path`` (its nearest
    existing ancestor); None when that cannot be asked."""
    target = Path(path)
    while True:
        try:
            if not hasattr(os, "statvfs"):  # Windows
                return shutil.disk_usage(target).free
            st = os.statvfs(target)
        except FileNotFoundError:
            if target.parent == target:
                return None
            target = target.parent
            continue
        except OSError:
            return None
        return st.f_bavail * st.f_frsize


def describe(exc: BaseException, path: str | os.PathLike[str]) -> str:
    """What went wrong writing under ``path``: the error, its errno and the free space there.

    >>> describe(OSError(28, "No space left on device"), "/nonexistent")  # doctest: +SKIP
    'No space left on device (ENOSPC, errno 28) writing /nonexistent (free: 0 B)'
    """
    if isinstance(exc, OSError) and exc.errno is not None:
        name = errno.errorcode.get(exc.errno, "?")
        text = f"{exc.strerror or os.strerror(exc.errno)} ({name}, errno {exc.errno})"
    else:
        text = f"{type(exc).__name__}: {exc}"
    free = free_bytes(path)
    room = f" (free: {human_bytes(free)})" if free is not None else ""
    return f"{text} writing {path}{room}"


def remedy(exc: BaseException) -> str:
    """The next step for the fault in ``exc``, as a phrase."""
    code = exc.errno if isinstance(exc, OSError) else None
    if code == errno.ENOSPC:
        return "free space on that filesystem"
    if code == errno.EDQUOT:
        return "free space or raise your disk quota there"
    if code == errno.EROFS:
        return "make that filesystem writable again (remount it read-write)"
    if code == errno.EIO:
        return "check the disk (dmesg shows the device's errors)"
    return "fix the error above"
