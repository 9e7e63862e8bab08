"""The two artifact locks, both ``flock`` on files under ``artifacts/.locks/``.

- the **store lock** (``store.lock``): writers and readers of blobs hold it *shared* while they
  store blobs and write the manifest that references them, or place a version's files; ``gc``
  holds it *exclusive*, so it never sees a blob that a manifest about to be written will need;
- a **name lock** (``<name>.lock``) per artifact: version numbers, aliases and deletions of one
  name are decided under it, so concurrent writers get v1..vN without gaps or duplicates.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from workbench._private import make_dir
from workbench.errors import StoreError
from workbench.store._lock import file_lock

__all__ = ["name_lock", "store_lock"]

#: a writer may wait for a long gc, and gc for a large upload
_TIMEOUT = 600.0


def _locks_dir(artifacts: Path) -> Path:
    path = artifacts / ".locks"
    try:
        make_dir(path)
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror}; is the store writable?") from exc
    return path


def store_lock(
    artifacts: Path, *, exclusive: bool = False, timeout: float = _TIMEOUT
) -> contextlib.AbstractContextManager[None]:
    """Shared for writers and placers, exclusive for gc."""
    return file_lock(
        _locks_dir(artifacts) / "store.lock", shared=not exclusive, timeout=timeout, what="artifact store lock"
    )


def name_lock(
    artifacts: Path, name: str, *, timeout: float = _TIMEOUT
) -> contextlib.AbstractContextManager[None]:
    """Exclusive lock of one artifact name (validated by the caller)."""
    return file_lock(_locks_dir(artifacts) / f"{name}.lock", timeout=timeout, what=f"lock of artifact {name!r}")
