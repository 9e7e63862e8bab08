"""The remote's artifact manifests, mirrored under ``<root>/remote/<name>/artifacts/``.

Sync brings each changed artifact's manifests (``v<N>.json``) and alias file in the same archive
as the runs. Here they are checked (each manifest is read back with the store's own reader, which
refuses malformed digests and paths that climb out; the alias file is rewritten from the valid
pairs only) and each artifact directory is swapped into place whole. The mirror has the layout
of a local ``artifacts/`` directory, so the store's readers resolve refs in it; it lives beside
the local one, never in it, so a remote artifact can never replace a local one of the same name.
Blobs stay on the remote until :mod:`workbench.remote._fetch` brings them.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from workbench.errors import ArtifactError
from workbench.store._atomic import dumps_json
from workbench.store.artifacts.manifests import list_versions, read_manifest
from workbench.store.artifacts.names import validate_alias

__all__ = ["check_staged", "mirror_dir", "place_artifacts"]


def mirror_dir(root: Path, remote: str) -> Path:
    """``<root>/remote/<remote>/artifacts``: the remote's artifact manifests, as last synced."""
    return root / "remote" / remote / "artifacts"


def _clean_aliases(path: Path, versions: set[int]) -> bytes:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        data = {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"its aliases.json is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ArtifactError("its aliases.json is not an object of alias -> version")
    clean: dict[str, int] = {}
    for alias, version in data.items():
        if alias == "latest" or isinstance(version, bool) or not isinstance(version, int) or version not in versions:
            continue
        try:
            clean[validate_alias(alias)] = version
        except ArtifactError:
            continue
    if versions:
        clean["latest"] = max(versions)
    return dumps_json(dict(sorted(clean.items())))


def check_staged(staged: Path, name: str) -> str | None:
    """Validate a staged artifact directory in place; why it is refused, or None when it is sound."""
    versions = list_versions(staged, name)
    if not versions:
        return "no manifest arrived"
    try:
        for version in versions:
            read_manifest(staged, name, version)
        aliases = _clean_aliases(staged / name / "aliases.json", set(versions))
    except ArtifactError as exc:
        return str(exc).replace(str(staged), "<staging>")
    (staged / name / "aliases.json").write_bytes(aliases)
    return None


def place_artifacts(root: Path, remote: str, staged: Path, names: list[str], exchange: object) -> None:
    """Move each staged artifact directory into the mirror, swapping out the previous copy."""
    target_dir = mirror_dir(root, remote)
    target_dir.mkdir(parents=True, exist_ok=True)
    trash = staged / ".replaced"
    trash.mkdir(exist_ok=True)
    swap = exchange if callable(exchange) else None
    for name in names:
        source, target = staged / name, target_dir / name
        if target.exists():
            if swap is None or not swap(source, target):
                os.rename(target, trash / name)
                os.rename(source, target)
        else:
            os.rename(source, target)
    shutil.rmtree(trash, ignore_errors=True)
