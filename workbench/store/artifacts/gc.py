"""``gc``: remove blobs that no manifest references, under the exclusive store lock.

Writers hold the store lock shared from their first blob to their manifest, so gc never
removes a blob that a manifest being written will reference. A manifest that cannot be read
stops gc: it cannot know what that manifest needs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from workbench.errors import ArtifactError, ArtifactNotFound
from workbench.settings import Settings
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
from workbench.store.artifacts.verify import marker_path
from workbench.store.media_files import media_digests

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


def iter_manifests(
    layout: Layout, *, mirrors: bool = False, damaged: list[str] | None = None
) -> Iterator[Manifest]:
    """Every local manifest; with ``mirrors``, those synced from remotes too.

    A manifest that cannot be read raises :class:`ArtifactError`, or, given a ``damaged`` list,
    is skipped and its error (which names the file) appended there.
    """
    for artifacts in [layout.artifacts, *(_mirrors(layout) if mirrors else [])]:
        for name in list_names(artifacts):
            for version in list_versions(artifacts, name):
                try:
                    yield read_manifest(artifacts, name, version)
                except ArtifactNotFound:
                    continue  # deleted since the listing
                except ArtifactError as exc:
                    if damaged is None:
                        raise
                    damaged.append(str(exc))


def referenced_digests(layout: Layout) -> set[str]:
    """Every blob a manifest (local or a remote's mirror) names. A damaged manifest might name any
    blob, so one that cannot be read is an :class:`ArtifactError` naming every such file."""
    damaged: list[str] = []
    found = {d for manifest in iter_manifests(layout, mirrors=True, damaged=damaged) for d in blob_digests(manifest)}
    if damaged:
        listed = "; ".join(damaged[:5]) + (f"; and {len(damaged) - 5} more" if len(damaged) > 5 else "")
        raise ArtifactError(
            f"gc stopped without removing anything: {len(damaged)} manifest(s) cannot be read, and a damaged "
            f"manifest might reference any blob ({listed}). Restore each file, or delete its version "
            "(`workbench artifacts rm NAME:vN`), then run gc again; `workbench fsck` lists every damaged file"
        )
    return found


def _stale_cache_dirs(layout: Layout) -> Iterator[str]:
    base = cache_dir(layout, "x").parent
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return
    for name in names:
        live = {f"v{v}" for v in list_versions(layout.artifacts, name)}
        live |= {marker_path(Path(v)).name for v in live}
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
        referenced = referenced_digests(layout) | media_digests(layout)  # media of runs: workbench/media
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
                if os.path.isdir(folder) and not os.path.islink(folder):
                    shutil.rmtree(folder, ignore_errors=True)
                else:  # the placement marker of a deleted version
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(folder)
            for temp in temps:
                temp.unlink(missing_ok=True)
    return GcReport(removed, freed, kept, len(temps), len(stale_dirs), dry_run)
