"""``du``: logical size of all versions, their bytes on disk, and what deduplication saves.

Sizes on disk count allocated blocks (``st_blocks``) once per inode, the way ``du`` does, so a
blob hard-linked into a placed version is not counted twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from pathlib import Path

from workbench.store._paths import Layout
from workbench.store.artifacts.gc import iter_manifests
from workbench.store.artifacts.manifests import blob_digests
from workbench.store.artifacts.materialise import cache_dir

__all__ = ["DuReport", "disk_usage", "tree_bytes"]


@dataclasses.dataclass(frozen=True)
class DuReport:
    """Bytes of the artifact store. ``logical``: all versions' files at full size;
    ``unique``: the distinct blobs they reference; ``blobs_on_disk``, ``manifests_on_disk`` and
    ``cache_on_disk``: allocated bytes (the cache counts only what it does not share with blobs)."""

    artifacts: int
    versions: int
    files: int
    logical: int
    unique: int
    blobs_on_disk: int
    manifests_on_disk: int
    cache_on_disk: int
    per_artifact: dict[str, dict[str, int]]

    @property
    def on_disk(self) -> int:
        return self.blobs_on_disk + self.manifests_on_disk

    @property
    def saved(self) -> int:
        """Bytes that storing every version as plain copies would take beyond what the store takes."""
        return max(self.logical - self.on_disk, 0)


def tree_bytes(path: Path, seen: set[tuple[int, int]]) -> int:
    """Allocated bytes under ``path`` (file or tree), each inode counted once across calls."""
    total = 0
    for folder, dirs, files in os.walk(path):
        for name in [*files, *dirs]:
            try:
                st = os.lstat(os.path.join(folder, name))
            except FileNotFoundError:
                continue
            key = (st.st_dev, st.st_ino)
            if key not in seen:
                seen.add(key)
                total += st.st_blocks * 512
    return total


def disk_usage(layout: Layout) -> DuReport:
    """Sizes of every version; a manifest that cannot be read is left out with a warning naming
    it (its blobs still count on disk)."""
    per: dict[str, dict[str, int]] = {}
    digests: set[str] = set()
    versions = files = logical = 0
    damaged: list[str] = []
    for manifest in iter_manifests(layout, damaged=damaged):
        row = per.setdefault(manifest["name"], {"versions": 0, "logical": 0})
        row["versions"] += 1
        row["logical"] += int(manifest.get("size", 0))
        versions += 1
        files += len(manifest["files"])
        logical += int(manifest.get("size", 0))
        digests.update(blob_digests(manifest))
    for message in damaged:
        warnings.warn(f"disk usage leaves out a version: {message}", stacklevel=3)
    unique = 0
    for digest in digests:
        with contextlib.suppress(FileNotFoundError):
            unique += (layout.blobs / digest[:2] / digest).stat().st_size
    seen: set[tuple[int, int]] = set()
    blobs_on_disk = tree_bytes(layout.blobs, seen)
    manifests_on_disk = tree_bytes(layout.artifacts, seen)
    cache_on_disk = tree_bytes(cache_dir(layout, "x").parent, seen)
    return DuReport(
        len(per), versions, files, logical, unique, blobs_on_disk, manifests_on_disk, cache_on_disk, per
    )
