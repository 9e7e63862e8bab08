"""Logging a version: check everything, store the blobs, then decide the version under a lock.

1. Check the name, type, aliases and path (symlinks, special files) and, for a dataset, every
   table: bad input fails here, before the store is touched.
2. Hash each file and store each new blob (shared store lock: gc waits).
3. Under the name lock: the same content as the newest version returns that version (its
   aliases move); otherwise the manifest ``v<N+1>.json`` is written atomically, then aliases.
4. Note the version in the producing run's record.

An error in 2 can leave complete, unreferenced blobs (``gc`` collects them), never a partial
blob, manifest or alias file. When the store refuses a write in 2 or 3 (a full disk, a quota, a
read-only or failing filesystem) the caller gets a :class:`StoreError` naming the path, the
free space and the fix; a manifest written before its alias file was refused is removed again,
so no version is left half made.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench._private import make_dir
from workbench._units import human_bytes
from workbench.errors import ArtifactError, StoreError
from workbench.settings import Settings
from workbench.store._faults import describe, is_storage_fault, remedy
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
    manifest_path,
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


@contextlib.contextmanager
def _refusals(name: str, source: str | os.PathLike[str], size: int, where: list[Path]) -> Iterator[None]:
    """Turn a write the store refuses into a StoreError; ``where[0]`` is what was being written."""
    try:
        yield
    except OSError as exc:
        if not is_storage_fault(exc):
            raise
        raise StoreError(
            f"artifact {name!r} from {Path(source).absolute()} ({human_bytes(size)}) was not logged: the store "
            f"refused a write: {describe(exc, where[0])}; {remedy(exc)} and log it again (blobs it stored "
            "before the refusal are whole and unused: `workbench gc` removes them)"
        ) from exc


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
    where = [layout.blobs]  # what a refused write was writing
    with _refusals(name, path, total, where), store_lock(artifacts):
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
        where[0] = artifacts / name
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
                try:
                    write_aliases(artifacts, name, current, fsync=settings.fsync)
                except BaseException:
                    if new:  # no version without its aliases: the old alias file still holds
                        manifest_path(artifacts, name, manifest["version"]).unlink(missing_ok=True)
                        if created_dir:
                            _remove_empty(artifacts / name)
                    raise
                current = read_aliases(artifacts, name)
    if run_id is not None:
        try:
            lineage.record_produced(
                layout, run_id, name, manifest["version"], kind, new=new, fsync=settings.fsync
            )
        except OSError as exc:
            if not is_storage_fault(exc):
                raise
            raise StoreError(
                f"artifact {name}:v{manifest['version']} is stored, but run {run_id}'s record could not note "
                f"that the run made it: the store refused a write: {describe(exc, layout.record(run_id))}; "
                f"{remedy(exc)} (the version itself is whole and can be used)"
            ) from exc
    return Artifact.from_manifest(manifest, current, layout.root)


def _remove_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()
