"""``fsck``: re-hash every blob, and find blobs that manifests need but the store lacks."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from pathlib import Path
from typing import Any

from workbench.config import Settings
from workbench.errors import ArtifactError
from workbench.store._paths import Layout
from workbench.store.artifacts._progress import Progress
from workbench.store.artifacts.blobs import Blobs
from workbench.store.artifacts.locks import store_lock
from workbench.store.artifacts.manifests import list_names, list_versions, manifest_path, read_manifest

__all__ = ["FsckReport", "check_store"]

_BLOCK = 8 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class FsckReport:
    """What ``fsck`` found. Each problem names the blob and the versions (``name:vN path``) that need it."""

    blobs: int
    bytes: int
    corrupt: list[dict[str, Any]]
    missing: list[dict[str, Any]]
    bad_manifests: list[dict[str, str]]
    unreferenced: int

    @property
    def ok(self) -> bool:
        return not (self.corrupt or self.missing or self.bad_manifests)


def _hash(path: Path, buffer: bytearray, bar: Progress) -> str:
    digest = hashlib.sha256()
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(view[:count])
            bar.update(count)
    return digest.hexdigest()


def check_store(layout: Layout, settings: Settings) -> FsckReport:
    """Re-hash all blobs; report corrupt, missing and unreadable pieces."""
    users: dict[str, list[str]] = {}
    bad: list[dict[str, str]] = []
    for name in list_names(layout.artifacts):
        for version in list_versions(layout.artifacts, name):
            try:
                manifest = read_manifest(layout.artifacts, name, version)
            except ArtifactError as exc:
                bad.append({"path": str(manifest_path(layout.artifacts, name, version)), "error": str(exc)})
                continue
            for entry in manifest["files"]:
                for digest in entry.get("chunks") or [entry["digest"]]:
                    users.setdefault(digest, []).append(f"{name}:v{version} {entry['path']}")
    blobs = Blobs(layout.blobs)
    corrupt: list[dict[str, Any]] = []
    with store_lock(layout.artifacts):
        present = list(blobs)
        total = 0
        for _, path in present:
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        buffer = bytearray(_BLOCK)
        with Progress(total, "checking blobs", settings.progress) as bar:
            for digest, path in present:
                try:
                    actual = _hash(path, buffer, bar)
                except OSError as exc:
                    actual = f"unreadable: {exc.strerror}"
                if actual != digest:
                    corrupt.append(
                        {
                            "digest": digest,
                            "path": str(path),
                            "actual": actual,
                            "used_by": sorted(set(users.get(digest, [])))[:20],
                        }
                    )
    names = {digest for digest, _ in present}
    missing = [
        {"digest": d, "used_by": sorted(set(u))[:20]} for d, u in sorted(users.items()) if d not in names
    ]
    unreferenced = sum(1 for digest in names if digest not in users)
    return FsckReport(len(present), total, corrupt, missing, bad, unreferenced)
