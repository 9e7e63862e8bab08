"""What the remote lists (the manifest) and what may come from it: paths checked before use.

The remote side runs GNU find under ``<root>/runs`` and prints one NUL-terminated entry per file:
``TYPE<TAB>PATH<TAB>SIZE<TAB>MTIME``; then under ``<root>/artifacts`` with ``A`` before TYPE, and
under ``<root>/environments`` with ``E``. Run records, metric segments, captured logs, artifact
manifests, alias files and environment files are wanted; every
entry is checked here, since a remote may be hostile: no absolute paths, no ``..``, valid run ids
and artifact names, regular files only, sizes within limits.
"""

from __future__ import annotations

import dataclasses
import re

from workbench.errors import ArtifactError
from workbench.store._paths import is_run_id
from workbench.store._schema import MAX_ENVIRONMENT_BYTES, MAX_MANIFEST_BYTES, MAX_RECORD_BYTES
from workbench.store.artifacts.names import validate_name

__all__ = ["MAX_RECORD_BYTES", "MAX_SEGMENT_BYTES", "Entry", "Manifest", "artifact_kind", "parse_manifest",
           "wanted_kind"]

#: a metric segment larger than this is refused
MAX_SEGMENT_BYTES = 4 * 1024 * 1024 * 1024
#: a captured log larger than this stays on the remote (the run still comes)
MAX_LOG_BYTES = 64 * 1024 * 1024
#: an artifact manifest or alias file larger than this is refused (the store's own limit)
MAX_ARTIFACT_BYTES = MAX_MANIFEST_BYTES
_LOG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\.log\Z")
_ARTIFACT_FILE = re.compile(r"(?:v[1-9][0-9]{0,8}\.json|aliases\.json)\Z")
_ENVIRONMENT = re.compile(r"[0-9a-f]{64}\.json\Z")
_SEGMENT = re.compile(r"(?:s-\d{8}|c-\d{8}-\d{8})\.parquet\Z")
#: a run's media index file (workbench/media/index.py); the media bytes stay on the remote
_MEDIA_INDEX = re.compile(r"m-\d{8}\.parquet\Z")
#: a media index file larger than this is refused (a row is about 200 bytes)
MAX_MEDIA_INDEX_BYTES = 256 * 1024 * 1024
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
    #: artifact name -> its manifests and alias file (paths relative to artifacts/), sorted
    artifacts: dict[str, list[Entry]] = dataclasses.field(default_factory=dict)
    #: environment files (``<digest>.json``, relative to environments/)
    environments: list[Entry] = dataclasses.field(default_factory=list)


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
    """``record``, ``segment``, ``log`` or ``media`` (an index file) for the run files sync copies;
    None for anything else."""
    parts = path.split("/")
    if len(parts) == 2 and parts[1] == "run.json" and is_run_id(parts[0]):
        return "record"
    if len(parts) == 3 and parts[1] == "metrics" and _SEGMENT.match(parts[2]) and is_run_id(parts[0]):
        return "segment"
    if len(parts) == 3 and parts[1] == "logs" and _LOG.match(parts[2]) and is_run_id(parts[0]):
        return "log"
    if len(parts) == 3 and parts[1] == "media" and _MEDIA_INDEX.match(parts[2]) and is_run_id(parts[0]):
        return "media"
    return None


def is_artifact_name(name: str) -> bool:
    try:
        validate_name(name)
    except ArtifactError:
        return False
    return True


def artifact_kind(path: str) -> str | None:
    """``manifest`` or ``aliases`` for ``<name>/v<N>.json`` / ``<name>/aliases.json``; else None."""
    parts = path.split("/")
    if len(parts) == 2 and _ARTIFACT_FILE.match(parts[1]) and is_artifact_name(parts[0]):
        return "aliases" if parts[1] == "aliases.json" else "manifest"
    return None


def size_limit(kind: str) -> int:
    return {"record": MAX_RECORD_BYTES, "log": MAX_LOG_BYTES, "manifest": MAX_ARTIFACT_BYTES,
            "aliases": MAX_ARTIFACT_BYTES, "environment": MAX_ENVIRONMENT_BYTES,
            "media": MAX_MEDIA_INDEX_BYTES}.get(kind, MAX_SEGMENT_BYTES)


def _parse_artifact_line(kind_char: str, path: str, size: int, mtime: str, remote: str,
                         artifacts: dict[str, list[Entry]], refused: list[str], refused_names: set[str]) -> None:
    why = unsafe_reason(path)
    first = path.split("/", 1)[0]
    name = first if why is None and is_artifact_name(first) else None
    if why is not None:
        refused.append(f"remote {remote!r}: refused artifact file {path!r}: {why}")
        if is_artifact_name(first):
            refused_names.add(first)
        return
    kind = artifact_kind(path)
    if kind is None or name is None:
        return  # the artifact directory itself, locks, next_version, usage logs: not copied
    if kind_char != "f":
        refused.append(f"remote {remote!r}: refused artifact file {path!r}: not a regular file (find type "
                       f"{kind_char!r})")
        refused_names.add(name)
    elif not 0 <= size <= size_limit(kind):
        refused.append(f"remote {remote!r}: refused artifact file {path!r}: {size} bytes is more than an "
                       f"artifact {kind} may hold ({size_limit(kind)})")
        refused_names.add(name)
    else:
        artifacts.setdefault(name, []).append(Entry(path, size, mtime))


#: one listing entry: find's type (``A``/``E`` before it under artifacts/ and environments/), then
#: PATH, SIZE (decimal bytes) and MTIME (``%T@``: epoch seconds with a fraction)
_TYPE = re.compile(rb"[AE]?[bcdpflsDNU?]\Z")
_SIZE = re.compile(rb"[0-9]{1,19}\Z")
_MTIME = re.compile(rb"-?[0-9]{1,12}(?:\.[0-9]{1,10})?\Z")
#: the mtimes a listing may give (the store's time limit, docs/store.md "Schemas and limits")
_MAX_MTIME = 2**33


def _parse_line(raw: bytes) -> tuple[str, str, int, str] | str:
    """``(type, path, size, mtime)`` of one listing entry, or why it is not one. A path may hold
    tabs, newlines or bytes that are not UTF-8 (a user's file under a run's ``files/``): such a
    path is never one sync copies (those match strict patterns), so it is skipped, not refused."""
    kind, _, rest = raw.partition(b"\t")
    fields = rest.rsplit(b"\t", 2)
    if len(fields) != 3 or not _TYPE.match(kind):
        count = raw.count(b"\t") + 1
        return f"{count} tab-separated fields, not 4, or no type first (a NUL inside a path?)"
    path, size, mtime = fields
    if not _SIZE.match(size):
        return f"size {size[:40]!r} is not a number of bytes"
    if not _MTIME.match(mtime) or abs(float(mtime)) > _MAX_MTIME:
        return f"mtime {mtime[:40]!r} is not a time (epoch seconds within +-{_MAX_MTIME})"
    if not path:
        return "an empty path"
    return kind.decode("ascii"), path.decode("utf-8", "surrogateescape"), int(size), mtime.decode("ascii")


def _refuse_fragment(raw: bytes, why: str, remote: str, refused: list[str], refused_runs: set[str],
                     refused_names: set[str]) -> None:
    """Refuse an entry that does not parse, and the run or artifact whose path it starts with."""
    fields = raw.split(b"\t")
    # a fragment after a NUL starts inside a path: it names nothing for certain (the fragment
    # before that NUL, which starts with the type, refuses its run)
    typed = len(fields) > 1 and _TYPE.match(fields[0]) is not None
    first = fields[1].split(b"/", 1)[0].decode("utf-8", "replace") if typed else ""
    if typed and fields[0].startswith(b"A") and is_artifact_name(first):
        refused_names.add(first)
        whose = f" of artifact {first!r}"
    elif typed and not fields[0].startswith((b"A", b"E")) and is_run_id(first):
        refused_runs.add(first)
        whose = f" of run {first!r}"
    else:
        whose = ""
    refused.append(f"remote {remote!r}: refused a manifest line{whose} that does not parse ({why}): {raw[:200]!r}")


def parse_manifest(data: bytes, remote: str) -> Manifest:
    runs: dict[str, list[Entry]] = {}
    refused: list[str] = []
    refused_runs: set[str] = set()
    artifacts: dict[str, list[Entry]] = {}
    refused_names: set[str] = set()
    environments: list[Entry] = []

    def refuse(run_id: str | None, path: str, why: str) -> None:
        refused.append(f"remote {remote!r}: refused {path!r}: {why}")
        if run_id is not None:
            refused_runs.add(run_id)

    for raw in data.split(b"\x00"):
        if not raw.strip():
            continue
        parsed = _parse_line(raw)
        if isinstance(parsed, str):
            # entries end at a NUL, so a NUL inside a path (or a field that is not a number) leaves
            # a fragment: it refuses the run or artifact it seems to name, and nothing of it is used
            _refuse_fragment(raw, parsed, remote, refused, refused_runs, refused_names)
            continue
        kind_char, path, size, mtime = parsed
        if kind_char.startswith("E"):
            if kind_char == "Ef" and _ENVIRONMENT.match(path) and 0 <= size <= MAX_ENVIRONMENT_BYTES:
                environments.append(Entry(path, size, mtime))
            elif _ENVIRONMENT.match(path):
                refused.append(f"remote {remote!r}: refused environment file {path!r}: not a regular file "
                               f"of at most {MAX_ENVIRONMENT_BYTES} bytes")
            continue  # anything else there (temp files) stays on the remote
        if kind_char.startswith("A"):
            _parse_artifact_line(kind_char[1:], path, size, mtime, remote, artifacts, refused, refused_names)
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
        wanted = wanted_kind(path)
        if wanted == "log" and kind_char == "f" and 0 <= size <= MAX_LOG_BYTES:
            runs.setdefault(run_id, []).append(Entry(path, size, mtime))
        elif wanted == "media":
            if kind_char != "f":
                refuse(run_id, path, f"not a regular file (find type {kind_char!r})")
            elif not 0 <= size <= MAX_MEDIA_INDEX_BYTES:
                refuse(run_id, path, f"{size} bytes is more than a media index may hold ({MAX_MEDIA_INDEX_BYTES})")
            else:
                runs.setdefault(run_id, []).append(Entry(path, size, mtime))
        # anything else (files/, larger logs, lock and temp files) stays on the remote: run records
        # and metric segments all took the fast path above
    for run_id in refused_runs:
        runs.pop(run_id, None)
    for run_id, entries in list(runs.items()):
        entries.sort(key=lambda e: e.path)
        if not any(e.path == f"{run_id}/run.json" for e in entries):
            runs.pop(run_id)  # a run being created (no record yet): next sync
    for name in refused_names:
        artifacts.pop(name, None)
    for name, entries in list(artifacts.items()):
        entries.sort(key=lambda e: e.path)
        if not any(artifact_kind(e.path) == "manifest" for e in entries):
            artifacts.pop(name)  # only an alias file: nothing to show
    return Manifest(runs, refused, refused_runs, artifacts, environments)
