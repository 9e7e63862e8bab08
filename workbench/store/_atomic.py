"""Atomic file writes: temp file in the same directory, optional fsync, rename."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Any

from workbench._private import open_private

__all__ = ["atomic_write_bytes", "atomic_write_json", "dumps_json", "sync_filesystem", "write_all"]


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte of ``data`` to ``fd`` (os.write may write fewer than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never half.

    The new file has mode 0600 (workbench/_private.py).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        write_all(fd, data)
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _default(value: Any) -> Any:
    # numpy scalars, paths, sets and the like end up readable rather than refused
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def dumps_json(value: Any) -> bytes:
    """JSON as workbench writes it: UTF-8, NaN/Infinity kept (Python's json reads them back).

    No indentation: only the compact form uses the C encoder (5x faster on run records).
    """
    return json.dumps(value, default=_default, ensure_ascii=False).encode("utf-8")


def atomic_write_json(path: Path, value: Any, *, fsync: bool = True) -> None:
    atomic_write_bytes(path, dumps_json(value), fsync=fsync)


@functools.cache
def _libc_syncfs() -> Any:
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).syncfs
    except (OSError, AttributeError):
        return None


def sync_filesystem(path: Path) -> bool:
    """``syncfs(2)`` on the filesystem holding ``path``; False where it is not available.

    One syncfs after several writes costs far less than an fsync per file (each fsync of a new
    file commits the filesystem journal once): a run's finish went from ~2.9 to ~1.6 ms.
    """
    if not sys.platform.startswith("linux"):
        return False
    syncfs = _libc_syncfs()
    if syncfs is None:
        return False
    import ctypes

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"syncfs of {path} failed: {os.strerror(err)}")
    finally:
        os.close(fd)
    return True
