"""Deleting a version, or a whole artifact. Blobs stay until ``gc``: another version may share them.

Deleting the newest version reserves its number (``next_version``), so ``name:v3`` never
comes to mean other content; aliases that named it are dropped and ``latest`` moves back.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from workbench.errors import ArtifactError, ArtifactNotFound
from workbench.settings import Settings
from workbench.store._atomic import atomic_write_bytes
from workbench.store._paths import Layout
from workbench.store.artifacts.aliases import aliases_path, read_aliases, write_aliases
from workbench.store.artifacts.locks import name_lock
from workbench.store.artifacts.manifests import list_versions, manifest_path, next_version
from workbench.store.artifacts.materialise import cache_dir
from workbench.store.artifacts.names import validate_name
from workbench.store.artifacts.verify import marker_path

__all__ = ["delete_artifact", "delete_version"]


def delete_version(layout: Layout, settings: Settings, name: str, version: int) -> None:
    """Remove the manifest of ``name:v<version>`` (and its cached placement)."""
    artifacts = layout.artifacts
    validate_name(name)
    with name_lock(artifacts, name):
        versions = list_versions(artifacts, name)
        if version not in versions:
            raise ArtifactNotFound(f"artifact {name!r} has no version v{version}")
        _refuse_directories(artifacts / name, [manifest_path(artifacts, name, version).name])
        reserve = next_version(artifacts, name)
        aliases = read_aliases(artifacts, name)
        atomic_write_bytes(artifacts / name / "next_version", f"{reserve}\n".encode(), fsync=settings.fsync)
        manifest_path(artifacts, name, version).unlink()
        if len(versions) == 1:
            aliases_path(artifacts, name).unlink(missing_ok=True)
        else:
            write_aliases(
                artifacts, name, {a: v for a, v in aliases.items() if v != version}, fsync=settings.fsync
            )
    _remove_tree(cache_dir(layout, name, version))
    marker_path(cache_dir(layout, name, version)).unlink(missing_ok=True)


def _refuse_directories(folder: Path, names: list[str]) -> None:
    """A directory where a manifest or alias file belongs is nothing workbench wrote: it is never
    deleted for the user (it may hold anything)."""
    for name in names:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            raise ArtifactError(
                f"{path} is a directory, not a file workbench wrote; nothing was deleted. Move it out of "
                "the store by hand, then try again"
            )


def delete_artifact(layout: Layout, settings: Settings, name: str) -> list[int]:
    """Remove every version of ``name``, its aliases and usage log; the versions removed.

    Only ``next_version`` stays: a new artifact of that name starts after the deleted numbers,
    so lineage in run records that names ``name:v3`` never comes to mean other content.
    """
    artifacts = layout.artifacts
    validate_name(name)
    with name_lock(artifacts, name):
        versions = list_versions(artifacts, name)
        if not versions:
            raise ArtifactNotFound(f"no artifact named {name!r} in {layout.root}")
        folder = artifacts / name
        _refuse_directories(folder, os.listdir(folder))
        reserve = next_version(artifacts, name)
        atomic_write_bytes(artifacts / name / "next_version", f"{reserve}\n".encode(), fsync=settings.fsync)
        for entry in os.listdir(folder):  # manifests, aliases, usage log (and temp files)
            if entry != "next_version":
                (folder / entry).unlink(missing_ok=True)
    _remove_tree(cache_dir(layout, name))
    return versions


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
