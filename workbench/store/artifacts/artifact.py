"""``Artifact``: one version of an artifact, as its manifest and aliases describe it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["Artifact", "ArtifactFile"]


@dataclasses.dataclass(frozen=True)
class ArtifactFile:
    """One file of a version: relative ``path``, ``size`` in bytes, SHA-256 ``digest`` of its
    content (what ``sha256sum`` prints), and how many ``chunks`` it is stored as (0: one blob)."""

    path: str
    size: int
    digest: str
    chunks: int = 0


@dataclasses.dataclass(frozen=True)
class Artifact:
    """One version of an artifact. Get one with :func:`workbench.artifact` or ``log_artifact``.

    Attributes
    ----------
    name, version:
        ``classifier`` and ``3`` for ``classifier:v3``; :attr:`ref` joins them.
    type:
        ``model``, ``dataset``, ``checkpoint``... as logged.
    digest:
        SHA-256 of the version's file list (paths, sizes, file digests): equal content, equal digest.
    size:
        Bytes of all its files (before deduplication).
    files:
        Its files, sorted by path.
    metadata:
        What was logged with it; datasets add ``metadata["dataset"]`` (rows, columns, schema, preview).
    aliases:
        Aliases naming this version now (``latest`` for the newest).
    producer:
        Id of the run that logged it, or None.

    Examples
    --------
    >>> import workbench as wb
    >>> art = wb.artifact("classifier:best")  # doctest: +SKIP
    >>> art.ref, art.producer, art.used_by()  # doctest: +SKIP
    ('classifier:v3', '0kq3x9v2a1b2c', ['0kq3xb7r9d4e1'])
    """

    name: str
    version: int
    type: str
    digest: str
    size: int
    created: float
    files: tuple[ArtifactFile, ...]
    metadata: Mapping[str, Any]
    aliases: tuple[str, ...]
    producer: str | None
    root: Path = dataclasses.field(repr=False, compare=False)

    @property
    def ref(self) -> str:
        """``name:v<version>``: the ref that names this version for good."""
        return f"{self.name}:v{self.version}"

    def used_by(self) -> list[str]:
        """Ids of the runs that used this version, oldest first (each once)."""
        from workbench.store.artifacts.lineage import used_by

        return [entry["run"] for entry in used_by(self.root / "artifacts", self.name, self.version)]

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], aliases: Mapping[str, int], root: Path) -> Artifact:
        version = int(manifest["version"])
        files = tuple(
            ArtifactFile(f["path"], int(f["size"]), f["digest"], len(f.get("chunks") or ()))
            for f in manifest["files"]
        )
        producer = manifest.get("producer")
        return cls(
            name=str(manifest["name"]),
            version=version,
            type=str(manifest.get("type", "artifact")),
            digest=str(manifest.get("digest", "")),
            size=int(manifest.get("size", sum(f.size for f in files))),
            created=float(manifest.get("created", 0.0)),
            files=files,
            metadata=dict(manifest.get("metadata") or {}),
            aliases=tuple(sorted(a for a, v in aliases.items() if v == version)),
            producer=str(producer) if producer else None,
            root=root,
        )
