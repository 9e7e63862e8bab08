"""Artifacts: versioned, content-addressed and deduplicated files (see docs/artifacts.md).

One verb per module: ``digest`` (streamed SHA-256), ``blobs`` (the content-addressed files),
``manifests`` (``v<N>.json``), ``aliases`` (and refs), ``files`` (what a path holds), ``log``,
``materialise`` (checked by ``verify``), ``delete``, ``lineage``, ``datasets``, ``gc``, ``fsck``
(with ``quarantine``), ``du``.
:class:`ArtifactStore` is the service object over them that the API, the CLI and the UI use.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.errors import ArtifactError, ArtifactNotFound
from workbench.settings import Settings, load_settings
from workbench.store._paths import Layout
from workbench.store.artifacts import aliases as _aliases
from workbench.store.artifacts import lineage as _lineage
from workbench.store.artifacts import manifests as _manifests
from workbench.store.artifacts.artifact import Artifact, ArtifactFile
from workbench.store.artifacts.du import DuReport
from workbench.store.artifacts.fsck import FsckReport
from workbench.store.artifacts.gc import GcReport
from workbench.store.artifacts.locks import name_lock
from workbench.store.artifacts.names import validate_alias

__all__ = [
    "Artifact",
    "ArtifactFile",
    "ArtifactStore",
    "DuReport",
    "FsckReport",
    "GcReport",
    "open_artifacts",
]


class ArtifactStore:
    """The artifacts of one store.

    Examples
    --------
    >>> store = open_artifacts("/tmp/wb-doc")  # doctest: +SKIP
    >>> store.log("out/", "classifier", type="model", aliases=["best"]).ref  # doctest: +SKIP
    'classifier:v1'
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = Layout(settings.root)

    @property
    def root(self) -> Path:
        return self.layout.root

    # -- writing ----------------------------------------------------------------------------------
    def log(
        self,
        path: str | os.PathLike[str],
        name: str,
        type: str = "artifact",
        aliases: Iterable[str] | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        run_id: str | None = None,
        required: Sequence[str] | None = None,
    ) -> Artifact:
        """Log ``path`` as a version of ``name`` (see :func:`workbench.log_artifact`)."""
        from workbench.store.artifacts.log import log_artifact

        return log_artifact(
            self.layout,
            self.settings,
            path,
            name,
            type,
            aliases=aliases,
            metadata=metadata,
            run_id=run_id,
            required=required,
        )

    def set_alias(self, ref: str, alias: str) -> Artifact:
        """Point ``alias`` at the version ``ref`` names (moving it from any other version)."""
        validate_alias(alias)
        name, version = self.resolve(ref)
        with name_lock(self.layout.artifacts, name):
            if version not in _manifests.list_versions(self.layout.artifacts, name):
                return self.get(ref)  # deleted meanwhile: get() raises ArtifactNotFound
            current = _aliases.read_aliases(self.layout.artifacts, name)
            current[alias] = version
            _aliases.write_aliases(self.layout.artifacts, name, current, fsync=self.settings.fsync)
        return self.get(f"{name}:v{version}")

    def remove_alias(self, name: str, alias: str) -> None:
        """Remove ``alias`` from ``name``; ArtifactNotFound if it has no such alias."""
        validate_alias(alias)
        with name_lock(self.layout.artifacts, name):
            current = _aliases.read_aliases(self.layout.artifacts, name)
            if alias not in current:
                raise ArtifactNotFound(f"artifact {name!r} has no alias {alias!r}")
            del current[alias]
            _aliases.write_aliases(self.layout.artifacts, name, current, fsync=self.settings.fsync)

    def delete(self, ref: str) -> list[str]:
        """Delete the version ``ref`` names, or every version for a bare name; the refs deleted."""
        from workbench.store.artifacts.delete import delete_artifact, delete_version

        name, selector = _aliases.parse_ref(ref)
        if selector is None and ":" not in ref:
            return [f"{name}:v{v}" for v in delete_artifact(self.layout, self.settings, name)]
        name, version = self.resolve(ref)
        delete_version(self.layout, self.settings, name, version)
        return [f"{name}:v{version}"]

    # -- reading ----------------------------------------------------------------------------------
    def resolve(self, ref: str) -> tuple[str, int]:
        """``(name, version)`` that ``ref`` names now."""
        return _aliases.resolve(self.layout.artifacts, ref)

    def manifest(self, ref: str) -> dict[str, Any]:
        name, version = self.resolve(ref)
        return _manifests.read_manifest(self.layout.artifacts, name, version)

    def get(self, ref: str) -> Artifact:
        """The version ``ref`` names (``name``, ``name:v3`` or ``name:alias``)."""
        manifest = self.manifest(ref)
        return Artifact.from_manifest(manifest, self._shown_aliases(manifest["name"]), self.root)

    def names(self) -> list[str]:
        return _manifests.list_names(self.layout.artifacts)

    def versions(self, name: str, *, skipped: list[str] | None = None) -> list[Artifact]:
        """Every version of ``name``, oldest first.

        A manifest that fails the store's checks is skipped with a warning naming it (as
        ``runs()`` skips a bad run record), so one bad file never hides the other versions;
        ``skipped``, when given, collects the same messages.
        """
        current = self._shown_aliases(name, skipped)
        out = []
        for version in _manifests.list_versions(self.layout.artifacts, name):
            try:
                manifest = _manifests.read_manifest(self.layout.artifacts, name, version)
            except ArtifactNotFound:
                continue  # deleted since the listing
            except ArtifactError as exc:
                _skip(f"skipping artifact version {name}:v{version}: {exc}", skipped)
                continue
            out.append(Artifact.from_manifest(manifest, current, self.root))
        return out

    def _shown_aliases(self, name: str, skipped: list[str] | None = None) -> dict[str, int]:
        """The aliases to show with versions of ``name``: only ``latest``, with a warning naming
        the file, when its alias file fails the store's checks."""
        try:
            return _aliases.read_aliases(self.layout.artifacts, name)
        except ArtifactError as exc:
            _skip(f"showing artifact {name!r} without its aliases: {exc}", skipped)
            versions = _manifests.list_versions(self.layout.artifacts, name)
            return {"latest": versions[-1]} if versions else {}

    def find(self, name: str | None = None, type: str | None = None, *,
             skipped: list[str] | None = None) -> list[Artifact]:
        """Versions of every artifact (or of ``name``), optionally of one ``type``; what could not
        be read is skipped with a warning (and collected in ``skipped`` when given)."""
        names = [name] if name is not None else self.names()
        out = [a for n in names for a in self.versions(n, skipped=skipped)]
        return [a for a in out if type is None or a.type == type]

    def use(self, ref: str, dest: str | os.PathLike[str] | None = None, *, run_id: str | None = None) -> Path:
        """Place the version's files in ``dest`` (default: the store's cache) and note the run."""
        from workbench.store.artifacts.materialise import materialise

        manifest = self.manifest(ref)
        if run_id is not None:
            from workbench.store.records import read_record

            read_record(self.layout, run_id)
        path, _ = materialise(self.layout, self.settings, manifest, dest)
        if run_id is not None:
            _lineage.record_used(
                self.layout,
                run_id,
                manifest["name"],
                manifest["version"],
                str(manifest.get("type", "artifact")),
                fsync=self.settings.fsync,
            )
        return path

    def used_by(self, ref: str) -> list[dict[str, Any]]:
        """Runs that used the version ``ref`` names: ``{"run", "version", "time"}``."""
        name, version = self.resolve(ref)
        return _lineage.used_by(self.layout.artifacts, name, version)

    def run_artifacts(self, run_id: str) -> dict[str, list[dict[str, Any]]]:
        """What a run produced and used."""
        return _lineage.run_artifacts(self.layout, run_id)

    # -- maintenance ------------------------------------------------------------------------------
    def gc(self, *, dry_run: bool = False) -> GcReport:
        from workbench.store.artifacts.gc import collect_garbage

        return collect_garbage(self.layout, self.settings, dry_run=dry_run)

    def fsck(self, *, repair: bool = False) -> FsckReport:
        """Re-hash every blob and check every manifest, alias file and usage log; with ``repair``,
        move corrupt blobs into ``<root>/quarantine/`` (see :func:`workbench.fsck`)."""
        from workbench.store.artifacts.fsck import check_store

        return check_store(self.layout, self.settings, repair=repair)

    def du(self) -> DuReport:
        from workbench.store.artifacts.du import disk_usage

        return disk_usage(self.layout)


def _skip(message: str, skipped: list[str] | None) -> None:
    warnings.warn(message, stacklevel=4)
    if skipped is not None:
        skipped.append(message)


def open_artifacts(root: str | os.PathLike[str] | None = None, **settings: Any) -> ArtifactStore:
    """The :class:`ArtifactStore` of the store at ``root`` (default ``WORKBENCH_ROOT``)."""
    return ArtifactStore(load_settings(root, **settings))
