"""Version manifests: ``artifacts/<name>/v<N>.json``, written once, atomically.

A manifest lists the version's files (relative path, size, SHA-256 digest, and for a large file
its chunk size and chunk digests), its metadata, type, producing run and creation time, and a
``digest`` of the file list that identifies the version's content.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from workbench.errors import ArtifactError, ArtifactNotFound
from workbench.store._atomic import atomic_write_bytes, dumps_json
from workbench.store._schema import MAX_MANIFEST_BYTES, SchemaError, describe, load_manifest, read_bounded
from workbench.store.artifacts.names import validate_name

__all__ = [
    "MANIFEST_FORMAT",
    "blob_digests",
    "content_digest",
    "list_names",
    "list_versions",
    "manifest_path",
    "read_manifest",
    "write_manifest",
]

#: format of manifests; a reader refuses a newer one
MANIFEST_FORMAT = 1
_VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.json\Z")

Manifest = dict[str, Any]


def manifest_path(artifacts: Path, name: str, version: int) -> Path:
    return artifacts / name / f"v{version}.json"


def list_versions(artifacts: Path, name: str) -> list[int]:
    """Version numbers of ``name`` that have a manifest, ascending."""
    try:
        entries = os.listdir(artifacts / name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(int(m.group(1)) for m in map(_VERSION_FILE.match, entries) if m)


def list_names(artifacts: Path) -> list[str]:
    """Artifact names with at least one version, sorted."""
    try:
        entries = sorted(os.scandir(artifacts), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    names = []
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue
        if list_versions(artifacts, entry.name):
            names.append(entry.name)
    return names


def content_digest(files: Iterable[dict[str, Any]]) -> str:
    """Digest of a version's content: its (path, size, digest) triples, sorted by path."""
    lines = sorted(f"{f['path']}\0{f['size']}\0{f['digest']}" for f in files)
    return hashlib.sha256("\n".join(lines).encode("utf-8", "surrogatepass")).hexdigest()


def read_manifest(artifacts: Path, name: str, version: int) -> Manifest:
    """The manifest of ``name:v<version>``; :class:`ArtifactNotFound` when there is none.

    The manifest is checked against the store's schema (``workbench/store/_schema.py``: every
    field's type, every file entry a relative path without ``..`` with a SHA-256 digest, sizes
    and nesting within limits): :class:`ArtifactError` names the file and what is wrong.
    """
    validate_name(name)
    path = manifest_path(artifacts, name, version)
    try:
        manifest = load_manifest(read_bounded(path, MAX_MANIFEST_BYTES))
    except (FileNotFoundError, NotADirectoryError):
        raise ArtifactNotFound(
            f"artifact {name!r} has no version v{version} in {artifacts.parent}; list versions "
            f"with `workbench artifacts ls {name}`"
        ) from None
    except OSError as exc:
        raise ArtifactError(f"manifest {path} cannot be read: {exc.strerror}") from exc
    except SchemaError as exc:
        fix = "" if exc.newer else ("; the manifest is corrupt: delete that version (`workbench artifacts rm`) "
                                    "or restore the file")
        raise ArtifactError(f"manifest {path}{describe(exc)}{fix}") from None
    manifest["name"], manifest["version"] = name, version  # the file's place is the truth
    return manifest


def write_manifest(artifacts: Path, manifest: Manifest, *, fsync: bool) -> Path:
    """Write ``manifest`` after checking it as :func:`read_manifest` will (ArtifactError if not)."""
    path = manifest_path(artifacts, manifest["name"], manifest["version"])
    data = dumps_json(manifest)
    try:
        load_manifest(data)
    except SchemaError as exc:
        raise ArtifactError(f"artifact {manifest['name']!r}: not written, the manifest would not be "
                            f"readable ({exc}); change that value (docs/store.md lists the limits)") from None
    atomic_write_bytes(path, data, fsync=fsync)
    return path


def blob_digests(manifest: Manifest) -> Iterator[str]:
    """Every blob a manifest needs: whole small files and the chunks of large ones."""
    for entry in manifest["files"]:
        chunks = entry.get("chunks")
        if chunks is None:
            yield entry["digest"]
        else:
            yield from chunks


def next_version(artifacts: Path, name: str) -> int:
    """The number the next version of ``name`` gets (call under the name lock).

    Numbers are never reused: deleting the newest version leaves a ``next_version`` file behind,
    so lineage that names ``name:v3`` never comes to mean other content.
    """
    highest = max(list_versions(artifacts, name), default=0)
    return max(highest + 1, read_next_version(artifacts, name))


def read_next_version(artifacts: Path, name: str) -> int:
    """The number ``next_version`` reserves (0 without the file); :class:`ArtifactError` naming it
    when it is damaged: guessing could hand out a deleted version's number again."""
    path = artifacts / name / "next_version"
    try:
        text = read_bounded(path, 64).decode("ascii").strip()
        if not text.isdigit() or not 0 < int(text) <= 10**9:
            raise ValueError(text)
        return int(text)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    except (OSError, SchemaError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "does not hold a version number"
        raise ArtifactError(
            f"{path} {why}; it keeps the numbers of deleted versions of {name!r} from being used again. "
            "Replace it with the number the next version should get (one more than any version of it that "
            "ever existed: run records name them), or remove it if no version was ever deleted"
        ) from None
