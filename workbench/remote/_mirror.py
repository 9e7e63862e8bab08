"""The remote's artifact manifests, mirrored under ``<root>/remote/<name>/artifacts/``.

Sync brings each changed artifact's manifests (``v<N>.json``) and alias file in the same archive
as the runs. Here they are checked against the store's schema (``workbench/store/_schema.py``,
by the store's own readers: malformed digests, paths that climb out, fields of the wrong type,
deep nesting; the alias file is rewritten without aliases of versions that did not come) and
each artifact directory is swapped into place whole: one bad file refuses that artifact's new
copy, and the copy mirrored before stays as it was. The mirror has the layout
of a local ``artifacts/`` directory, so the store's readers resolve refs in it; it lives beside
the local one, never in it, so a remote artifact can never replace a local one of the same name.
Blobs stay on the remote until :mod:`workbench.remote._fetch` brings them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from workbench._private import make_dir
from workbench.store._atomic import dumps_json
from workbench.store._schema import (
    MAX_MANIFEST_BYTES,
    SchemaError,
    describe,
    load_aliases,
    load_manifest,
    read_bounded,
)
from workbench.store.artifacts.manifests import list_versions, manifest_path

__all__ = ["check_staged", "mirror_dir", "place_artifacts"]


def mirror_dir(root: Path, remote: str) -> Path:
    """``<root>/remote/<remote>/artifacts``: the remote's artifact manifests, as last synced."""
    return root / "remote" / remote / "artifacts"


def _clean_aliases(path: Path, versions: set[int]) -> bytes:
    """The alias file at ``path`` as the mirror keeps it: checked against the store's schema
    (SchemaError otherwise), aliases of versions that did not come dropped, ``latest`` set from
    the manifests."""
    try:
        data = load_aliases(read_bounded(path, MAX_MANIFEST_BYTES))
    except FileNotFoundError:
        data = {}
    clean = {alias: version for alias, version in data.items() if alias != "latest" and version in versions}
    if versions:
        clean["latest"] = max(versions)
    return dumps_json(dict(sorted(clean.items())))


def _chunks_problem(manifest: dict[str, Any]) -> str | None:
    """Why the sizes of a (schema-checked) manifest's files disagree with their chunks; None if they agree."""
    for index, entry in enumerate(manifest["files"]):
        chunks, chunk = entry.get("chunks"), entry.get("chunk_size")
        if chunks is None:
            continue
        if chunk is None or len(chunks) != max(1, -(-entry["size"] // chunk)):
            return (f"files[{index}] ({entry['path']!r}) has {len(chunks)} chunks of {chunk!r} bytes for "
                    f"{entry['size']} bytes")
    return None


def check_staged(staged: Path, name: str) -> str | None:
    """Validate a staged artifact directory in place; why it is refused, or None when it is sound.

    The reason names the file as the remote has it (``artifacts/<name>/v<N>.json``).
    """
    versions = list_versions(staged, name)
    if not versions:
        return "no manifest arrived"
    for version in versions:
        try:
            manifest = load_manifest(read_bounded(manifest_path(staged, name, version), MAX_MANIFEST_BYTES))
        except SchemaError as exc:
            return f"manifest artifacts/{name}/v{version}.json{describe(exc)}"
        why = _chunks_problem(manifest)
        if why is not None:  # a fetch of it could never verify: refused here, not when it is used
            return f"manifest artifacts/{name}/v{version}.json: {why}"
    try:
        aliases = _clean_aliases(staged / name / "aliases.json", set(versions))
    except SchemaError as exc:
        return f"alias file artifacts/{name}/aliases.json{describe(exc)}"
    (staged / name / "aliases.json").write_bytes(aliases)
    return None


def place_artifacts(root: Path, remote: str, staged: Path, names: list[str], exchange: object) -> None:
    """Move each staged artifact directory into the mirror, swapping out the previous copy."""
    target_dir = mirror_dir(root, remote)
    make_dir(target_dir)
    trash = staged / ".replaced"
    make_dir(trash, parents=False)
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
