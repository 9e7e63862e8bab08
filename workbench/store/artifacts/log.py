"""Logging a version: check everything, store the blobs, then decide the version under a lock.

1. Check the name, type, aliases and path (symlinks, special files) and, for a dataset, every
   table: bad input fails here, before the store is touched.
2. Hash each file and store each new blob (shared store lock: gc waits).
3. Under the name lock: the same content as the newest version returns that version (its
   aliases move); otherwise the manifest ``v<N+1>.json`` is written atomically, then aliases.
4. Note the version in the producing run's record.

An error in 2 can leave complete, unreferenced blobs (``gc`` collects them), never a partial
blob, manifest or alias file.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench._private import make_dir
from workbench.config import Settings
from workbench.errors import ArtifactError
from workbench.store._paths import Layout
from workbench.store.artifacts import lineage
from workbench.store.artifacts._progress import Progress
from workbench.store.artifacts.aliases import read_aliases, write_aliases
from workbench.store.artifacts.artifact import Artifact
from workbench.store.artifacts.blobs import Blobs
from workbench.store.artifacts.digest import digest_file
from workbench.store.artifacts.files import collect_files
from workbench.store.artifacts.locks import name_lock, store_lock
from workbench.store.artifacts.manifests import (
    MANIFEST_FORMAT,
    content_digest,
    list_versions,
    next_version,
    read_manifest,
    write_manifest,
)
from workbench.store.artifacts.names import validate_alias, validate_name, validate_type
from workbench.store.records import read_record

__all__ = ["log_artifact"]


def _check_aliases(aliases: Iterable[str] | str | None) -> list[str]:
    if aliases is None:
        return []
    if isinstance(aliases, str):
        aliases = [aliases]
    out: list[str] = []
    for alias in aliases:
        if alias == "latest":
            continue  # always there
        if validate_alias(alias) not in out:
            out.append(alias)
    return out


def _existing_type(artifacts: Path, name: str) -> str | None:
    versions = list_versions(artifacts, name)
    if not versions:
        return None
    return str(read_manifest(artifacts, name, versions[-1]).get("type", "artifact"))


def log_artifact(
    layout: Layout,
    settings: Settings,
    path: str | os.PathLike[str],
    name: str,
    type: str = "artifact",
    *,
    aliases: Iterable[str] | str | None = None,
    metadata: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    required: Sequence[str] | None = None,
) -> Artifact:
    """Log the file or directory at ``path`` as a version of ``name``; the version it became."""
    name = validate_name(name)
    kind = validate_type(type)
    alias_list = _check_aliases(aliases)
    if metadata is not None and not isinstance(metadata, Mapping):
        raise ArtifactError(f"metadata must be a dict, not {metadata.__class__.__name__}")
    meta = {str(k): v for k, v in (metadata or {}).items()}
    if required and kind != "dataset":
        raise ArtifactError("required= checks the columns of a dataset: pass type='dataset' with it")
    if run_id is not None:
        read_record(layout, run_id)  # RunNotFound before anything is written
    files = collect_files(path)
    artifacts = layout.artifacts
    previous = _existing_type(artifacts, name)
    if previous is not None and previous != kind:
        raise ArtifactError(
            f"artifact {name!r} holds versions of type {previous!r}, not {kind!r}; use another name"
        )
    if kind == "dataset":
        from workbench.store.artifacts.datasets import describe_dataset

        meta["dataset"] = describe_dataset(files, settings, required)

    blobs = Blobs(layout.blobs, fsync=settings.fsync, link=settings.link_mode != "copy")
    total = sum(real.stat().st_size for _, real in files)
    entries: list[dict[str, Any]] = []
    with store_lock(artifacts):
        with Progress(total, f"hashing {name}", settings.progress) as bar:
            for rel, real in files:
                found = digest_file(
                    real,
                    chunk_size=settings.chunk_size,
                    threshold=settings.chunk_threshold,
                    store=blobs.put,
                    progress=bar.update,
                )
                entry: dict[str, Any] = {"path": rel, "size": found.size, "digest": found.digest}
                if found.chunks is not None:
                    entry["chunk_size"] = settings.chunk_size
                    entry["chunks"] = list(found.chunks)
                entries.append(entry)
        blobs.sync()
        digest = content_digest(entries)
        with name_lock(artifacts, name):
            versions = list_versions(artifacts, name)
            newest = read_manifest(artifacts, name, versions[-1]) if versions else None
            if newest is not None and newest.get("type", "artifact") != kind:
                raise ArtifactError(
                    f"artifact {name!r} holds versions of type {newest.get('type')!r}, not {kind!r}; "
                    "use another name"
                )
            created_dir = not (artifacts / name).is_dir()
            if newest is not None and newest.get("digest") == digest:
                manifest, new = newest, False
            else:
                manifest = {
                    "format": MANIFEST_FORMAT,
                    "name": name,
                    "version": next_version(artifacts, name),
                    "type": kind,
                    "digest": digest,
                    "size": sum(e["size"] for e in entries),
                    "created": time.time(),
                    "producer": run_id,
                    "source": str(Path(path).absolute()),
                    "metadata": meta,
                    "files": entries,
                }
                new = True
                try:
                    make_dir(artifacts / name)
                    write_manifest(artifacts, manifest, fsync=settings.fsync)
                except BaseException:
                    if created_dir:
                        _remove_empty(artifacts / name)
                    raise
            current = read_aliases(artifacts, name)
            if new or alias_list:
                for alias in alias_list:
                    current[alias] = manifest["version"]
                write_aliases(artifacts, name, current, fsync=settings.fsync)
                current = read_aliases(artifacts, name)
    if run_id is not None:
        lineage.record_produced(
            layout, run_id, name, manifest["version"], kind, new=new, fsync=settings.fsync
        )
    return Artifact.from_manifest(manifest, current, layout.root)


def _remove_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()
