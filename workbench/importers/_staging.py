"""Where imports build runs before they are placed: ``<root>/import/staging-*``, one per process,
locked while in use; what a killed import left is removed by the next one."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from workbench._private import make_dir
from workbench.settings import Settings
from workbench.store._atomic import exchange_dirs

__all__ = ["exchange", "link_tree", "staging", "staging_root"]


def staging_root(root: Path) -> Path:
    """``<root>/import``: staging directories of imports in progress (one per process)."""
    return root / "import"


def link_tree(source: Path, target: Path) -> None:
    """``target`` as a copy of ``source`` made of hard links (every store file is replaced by a
    rename, never changed in place, so the two never share a change); copies across devices."""
    make_dir(target, parents=False, exist_ok=False)
    for entry in os.scandir(source):
        dest = target / entry.name
        if entry.is_dir(follow_symlinks=False):
            link_tree(Path(entry.path), dest)
        elif entry.is_file(follow_symlinks=False):
            try:
                os.link(entry.path, dest)
            except OSError:
                shutil.copy2(entry.path, dest)


def exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically (the store's :func:`~workbench.store._atomic.exchange_dirs`)."""
    return exchange_dirs(a, b)


def _clean_leftovers(folder: Path) -> None:
    """Remove staging directories of imports that were killed (their lock is free)."""
    from workbench.store._lock import try_file_lock

    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    for entry in entries:
        if not entry.name.startswith("staging-") or not entry.is_dir(follow_symlinks=False):
            continue
        with try_file_lock(Path(entry.path)) as free:
            if free:
                shutil.rmtree(entry.path, ignore_errors=True)


@contextlib.contextmanager
def staging(settings: Settings) -> Iterator[Path]:
    from workbench.store._lock import file_lock

    folder = staging_root(settings.root)
    make_dir(folder)
    _clean_leftovers(folder)
    staging = folder / f"staging-{os.getpid()}-{os.urandom(4).hex()}"
    make_dir(staging, parents=False, exist_ok=False)
    try:
        with file_lock(staging, what="import staging directory"):
            yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
