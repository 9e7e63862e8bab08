"""``gc``: remove blobs that no manifest references, under the exclusive store lock.

Writers hold the store lock shared from their first blob to their manifest, so gc never
removes a blob that a manifest being written will reference. A manifest that cannot be read
stops gc: it cannot know what that manifest needs.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from workbench.config import Settings
from workbench.errors import ArtifactError
from workbench.store._paths import Layout
from workbench.store.artifacts.blobs import Blobs
from workbench.store.artifacts.locks import store_lock
from workbench.store.artifacts.manifests import (
    Manifest,
    blob_digests,
    list_names,
    list_versions,
    read_manifest,
)
from workbench.store.artifacts.materialise import cache_dir

__all__ = ["GcReport", "collect_garbage", "iter_manifests", "referenced_digests"]


@dataclasses.dataclass(frozen=True)
class GcReport:
    """What ``gc`` removed (or, with ``dry_run``, would remove)."""

    blobs: int
    bytes: int
    kept: int
    temp_files: int
    cache_dirs: int
    dry_run: bool


def _mirrors(layout: Layout) -> list[Path]:
    """``remote/<name>/artifacts``: manifests synced from remotes, whose fetched blobs live here too."""
    return sorted(p for p in (layout.root / "remote").glob("*/artifacts") if p.is_dir())


def iter_manifests(layout: Layout, *, mirrors: bool = False) -> Iterator[Manifest]:
    """Every local manifest; with ``mirrors``, those synced from remotes too."""
    for artifacts in [layout.artifacts, *(_mirrors(layout) if mirrors else [])]:
        for name in list_names(artifacts):
            for version in list_versions(artifacts, name):
                yield read_manifest(artifacts, name, version)


def referenced_digests(layout: Layout) -> set[str]:
    try:
        return {d for manifest in iter_manifests(layout, mirrors=True) for d in blob_digests(manifest)}
    except ArtifactError as exc:
        raise ArtifactError(f"{exc}; gc stopped without removing anything") from exc


def _stale_cache_dirs(layout: Layout) -> Iterator[str]:
    base = cache_dir(layout, "x").parent
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return
    for name in names:
        live = {f"v{v}" for v in list_versions(layout.artifacts, name)}
        for entry in os.listdir(base / name):
            if entry not in live:
                yield str(base / name / entry)


def collect_garbage(layout: Layout, settings: Settings, *, dry_run: bool = False) -> GcReport:
    """Remove unreferenced blobs, stale temp files and cached placements of deleted versions.

    A dry run only reads, so it shares the store lock with writers instead of stopping them;
    blobs a writer has stored but not yet named in a manifest then count as unreferenced.
    """
    blobs = Blobs(layout.blobs, fsync=settings.fsync)
    with store_lock(layout.artifacts, exclusive=not dry_run):
        referenced = referenced_digests(layout)
        stale_dirs = list(_stale_cache_dirs(layout))
        temps = list(blobs.temp_files())
        removed = freed = kept = 0
        for digest, path in list(blobs):
            if digest in referenced:
                kept += 1
                continue
            removed += 1
            try:
                freed += path.stat().st_blocks * 512
                if not dry_run:
                    path.unlink()
            except FileNotFoundError:
                pass
        if not dry_run:
            for folder in stale_dirs:
                shutil.rmtree(folder, ignore_errors=True)
            for temp in temps:
                temp.unlink(missing_ok=True)
    return GcReport(removed, freed, kept, len(temps), len(stale_dirs), dry_run)
