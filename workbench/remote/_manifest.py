"""What the remote lists (the manifest) and what may come from it: paths checked before use.

The remote side runs GNU find under ``<root>/runs`` and prints one NUL-terminated entry per file:
``TYPE<TAB>PATH<TAB>SIZE<TAB>MTIME``. Only run records and metric segments are wanted; every
entry is checked here, since a remote may be hostile: no absolute paths, no ``..``, valid run ids,
regular files only, sizes within limits.
"""

from __future__ import annotations

import dataclasses
import re

from workbench.store._paths import is_run_id

__all__ = ["MAX_RECORD_BYTES", "MAX_SEGMENT_BYTES", "Entry", "Manifest", "parse_manifest", "wanted_kind"]

#: a run record larger than this is refused (a real one is a few kilobytes)
MAX_RECORD_BYTES = 16 * 1024 * 1024
#: a metric segment larger than this is refused
MAX_SEGMENT_BYTES = 4 * 1024 * 1024 * 1024
_SEGMENT = re.compile(r"(?:s-\d{8}|c-\d{8}-\d{8})\.parquet\Z")
# the common, safe shapes in one match (the slow checks run only for the rest)
_WANTED = re.compile(r"([0-9a-z][0-9a-z_-]{1,63})/(?:(run\.json)|metrics/(?:s-\d{8}|c-\d{8}-\d{8})\.parquet)\Z")


@dataclasses.dataclass(frozen=True)
class Entry:
    path: str  # relative to runs/: "<id>/run.json" or "<id>/metrics/<segment>"
    size: int
    mtime: str


@dataclasses.dataclass
class Manifest:
    #: run id -> its wanted files, sorted by path
    runs: dict[str, list[Entry]]
    #: entries refused, one message each
    refused: list[str]
    #: runs refused as a whole (one of their entries was refused)
    refused_runs: set[str]


def unsafe_reason(path: str) -> str | None:
    """Why ``path`` (relative to runs/) may not be written locally; None when it is safe."""
    if not path:
        return "an empty path"
    if path.startswith("/"):
        return "an absolute path"
    if "\\" in path or "\x00" in path:
        return "a path with a backslash or NUL"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "a path with '..', '.' or an empty component"
    return None


def wanted_kind(path: str) -> str | None:
    """``record`` or ``segment`` for the files sync copies; None for anything else."""
    parts = path.split("/")
    if len(parts) == 2 and parts[1] == "run.json" and is_run_id(parts[0]):
        return "record"
    if len(parts) == 3 and parts[1] == "metrics" and _SEGMENT.match(parts[2]) and is_run_id(parts[0]):
        return "segment"
    return None


def size_limit(kind: str) -> int:
    return MAX_RECORD_BYTES if kind == "record" else MAX_SEGMENT_BYTES


def parse_manifest(data: bytes, remote: str) -> Manifest:
    runs: dict[str, list[Entry]] = {}
    refused: list[str] = []
    refused_runs: set[str] = set()

    def refuse(run_id: str | None, path: str, why: str) -> None:
        refused.append(f"remote {remote!r}: refused {path!r}: {why}")
        if run_id is not None:
            refused_runs.add(run_id)

    for raw in data.split(b"\x00"):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
            kind_char, rest = line.split("\t", 1)
            path, size_text, mtime = rest.rsplit("\t", 2)
            size = int(size_text)
            float(mtime)
        except (UnicodeDecodeError, ValueError):
            refused.append(f"remote {remote!r}: refused a manifest line that does not parse: {raw[:200]!r}")
            continue
        fast = _WANTED.match(path)
        if fast is not None:
            run_id = fast.group(1)
            kind = "record" if fast.group(2) else "segment"
            if kind_char != "f":
                refuse(run_id, path, f"not a regular file (find type {kind_char!r}: 'l' symlink, 'b'/'c' "
                                     "device, 'p' fifo, 's' socket)")
            elif not 0 <= size <= size_limit(kind):
                refuse(run_id, path, f"{size} bytes is more than a {kind} may hold ({size_limit(kind)})")
            else:
                runs.setdefault(run_id, []).append(Entry(path, size, mtime))
            continue
        why = unsafe_reason(path)
        first = path.split("/", 1)[0]
        run_id = first if is_run_id(first) else None
        if why is not None:
            refuse(run_id, path, why)
            continue
        if run_id is None:
            continue  # not a run (a staging or temp directory): not ours to copy
        depth = path.count("/")
        if depth == 0:
            if kind_char != "d":
                refuse(run_id, path, f"the run directory is not a directory (find type {kind_char!r}, "
                                     "'l' is a symlink)")
            continue
        if depth == 1 and path.endswith("/metrics") and kind_char != "d":
            refuse(run_id, path, f"the metrics directory is not a directory (find type {kind_char!r})")
            continue
        # anything else (logs, files/, lock and temp files) stays on the remote: run records and
        # metric segments all took the fast path above
    for run_id in refused_runs:
        runs.pop(run_id, None)
    for run_id, entries in list(runs.items()):
        entries.sort(key=lambda e: e.path)
        if not any(e.path == f"{run_id}/run.json" for e in entries):
            runs.pop(run_id)  # a run being created (no record yet): next sync
    return Manifest(runs, refused, refused_runs)
