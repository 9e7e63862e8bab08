"""The files of each run's media index (``runs/<id>/media/m-<seq>.parquet``, written by
:mod:`workbench.media`), as the store's maintenance sees them: ``gc`` keeps the blobs they name,
``fsck`` counts those blobs as referenced, ``sql()`` reads them as the ``media`` view.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from workbench.errors import ArtifactError
from workbench.store._paths import Layout

__all__ = ["index_files", "media_digests", "media_users"]

FILE = re.compile(r"m-(\d{8})\.parquet\Z")
_DIGEST = re.compile(r"[0-9a-f]{64}\Z")
#: the kind whose payload is in the index itself (its digest names no blob)
_INLINE = "histogram"


def index_files(media_dir: Path) -> list[Path]:
    """The index files of one run, oldest first."""
    try:
        names = sorted(name for name in (p.name for p in media_dir.iterdir()) if FILE.match(name))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [media_dir / name for name in names]


def _synced(run_dir: Path) -> bool:
    """Whether the run in ``run_dir`` was synced from a remote (its record names it)."""
    from workbench.store._schema import MAX_RECORD_BYTES, SchemaError, read_bounded

    try:
        record = json.loads(read_bounded(run_dir / "run.json", MAX_RECORD_BYTES))
    except (OSError, ValueError, SchemaError):
        return False  # no record, or a damaged one: fsck's run checks name it
    return isinstance(record, dict) and bool(record.get("remote"))


def media_digests(layout: Layout) -> set[str]:
    """Every blob some run's media index names (local runs and runs synced from remotes), a
    table's image cells included. A damaged index file raises :class:`ArtifactError`: it might
    name any blob, so gc must not guess."""
    users, _, damaged = media_users(layout)
    if damaged:
        listed = "; ".join(f"{d['path']}: {d['error']}" for d in damaged[:5]) + (
            f"; and {len(damaged) - 5} more" if len(damaged) > 5 else "")
        raise ArtifactError(
            f"{len(damaged)} media index file(s) cannot be read, and a damaged index might name any blob "
            f"({listed}). Move each file out of the store (its run loses those media items) or restore "
            "it, then run again; `workbench fsck` lists every damaged file")
    return set(users)


def media_users(layout: Layout) -> tuple[dict[str, list[str]], set[str], list[dict[str, str]]]:
    """For ``fsck``: the media items that need each blob (``digest -> ["run <id> media <key> step
    <n>", ...]``), the blobs local runs need (a missing one is a finding; a synced run's stay on
    its remote), and the index files that cannot be read (``{"path", "error"}``)."""
    import pyarrow.parquet as pq

    users: dict[str, list[str]] = {}
    local: set[str] = set()
    damaged: list[dict[str, str]] = []
    dirs = [("", layout.runs), *((p.parent.name, p) for p in sorted((layout.root / "remote").glob("*/runs"))
                                 if p.is_dir())]
    for remote, runs in dirs:
        for media_dir in sorted(runs.glob("*/media")):
            run_id = media_dir.parent.name
            synced = bool(remote) or _synced(media_dir.parent)  # its bytes stay on its remote until read
            for path in index_files(media_dir):
                try:
                    table = pq.read_table(path, columns=["key", "step", "kind", "digest", "meta"]).to_pylist()
                    rows = [(row, [d for d in (json.loads(row["meta"]).get("children") or [])] if row["meta"] else [])
                            for row in table]
                except FileNotFoundError:
                    continue
                except Exception as exc:  # noqa: BLE001 - the file is damaged
                    damaged.append({"path": str(path), "error": f"media index: {exc}"})
                    continue
                for row, children in rows:
                    own = [] if row["kind"] == _INLINE else [row["digest"]]
                    for digest in [*own, *children]:
                        if not (isinstance(digest, str) and _DIGEST.match(digest)):
                            continue
                        users.setdefault(digest, []).append(f"run {run_id} media {row['key']} step {row['step']}")
                        if not synced:
                            local.add(digest)
    return users, local, damaged
