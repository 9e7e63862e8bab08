"""Placing only what hashes right: each blob's SHA-256 is checked as its bytes are placed.

A blob whose content no longer matches its name (a flipped bit, a placed hard link someone made
writable and edited) must never be handed out as the version's file. So ``use_artifact``,
``workbench artifacts get`` and fetches hash every blob they place, in a few threads (hashlib
releases the GIL) while the next files are placed; a mismatch is an ``ArtifactError`` that names
the version, the file and the blob, and nothing is placed.

Hashing costs about what reading does (docs/performance.md). Two records of a recent check
spare it, each trusted for ``verify_trust_days`` and only while the file's inode, size and
modification time are the ones hashed (writing a file changes its modification time):

- the **fsck stamp** ``<root>/blobs/fsck.json``, written by ``workbench fsck``: every blob it
  found intact, with its identity and the time of the check;
- a **placement marker** ``.v<N>.verified.json`` beside a version placed in the store's cache:
  the identity of each file placed there, so a cache hit is checked with one ``stat`` per file.

The setting ``verify_placement = "copies"`` skips the check for hard links to whole-file blobs
(the placed file is the blob; ``workbench fsck`` checks blobs). Both records are caches: a
missing or unreadable one only means hashing again.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from workbench.settings import Settings
from workbench.store._atomic import atomic_write_bytes, dumps_json
from workbench.store._paths import Layout

__all__ = [
    "Identity",
    "Verifier",
    "hash_file",
    "identity",
    "marker_path",
    "read_marker",
    "read_stamp",
    "stamp_path",
    "write_marker",
    "write_stamp",
]

_BLOCK = 8 * 1024 * 1024
#: bytes handed to the hashing threads and not yet checked: bounds memory while placing
_IN_FLIGHT = 64 * 1024 * 1024
#: chunks hashed by one task
_BATCH = 4 * 1024 * 1024
_FORMAT = 1

Identity = tuple[int, int, int]


def identity(st: os.stat_result) -> Identity:
    """What a recorded check is tied to: inode, size, modification time (ns)."""
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def hash_file(path: Path) -> str:
    """SHA-256 of the file at ``path``, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the fsck stamp --------------------------------------------------------------------------------

def stamp_path(layout: Layout) -> Path:
    return layout.blobs.parent / "fsck.json"


def write_stamp(layout: Layout, checked: float, good: dict[str, Identity]) -> None:
    """Record the blobs ``fsck`` found intact (``digest -> identity`` before it hashed them)."""
    data = {"format": _FORMAT, "time": checked, "blobs": {d: list(i) for d, i in sorted(good.items())}}
    with contextlib.suppress(OSError):  # no blobs/ at all, a read-only store: a cache, placing hashes instead
        atomic_write_bytes(stamp_path(layout), dumps_json(data), fsync=False)


def _fresh(when: Any, settings: Settings) -> bool:
    return isinstance(when, (int, float)) and 0 <= time.time() - when < settings.verify_trust_days * 86400


def _identities(table: Any) -> dict[str, Identity]:
    out: dict[str, Identity] = {}
    if isinstance(table, dict):
        for key, value in table.items():
            if isinstance(value, list) and len(value) == 3 and all(type(v) is int for v in value):
                out[str(key)] = (value[0], value[1], value[2])
    return out


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None  # a cache: absent or damaged, the blobs are hashed again


def _read(path: Path, settings: Settings, field: str) -> tuple[float, dict[str, Identity]]:
    if settings.verify_trust_days <= 0:
        return 0.0, {}
    data = _load(path)
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not _fresh(data.get("time"), settings):
        return 0.0, {}
    return float(data["time"]), _identities(data.get(field))


def read_stamp(layout: Layout, settings: Settings) -> tuple[float, dict[str, Identity]]:
    """``(time, digest -> identity)`` of the blobs the last ``fsck`` found intact, if it ran
    within ``verify_trust_days``."""
    return _read(stamp_path(layout), settings, "blobs")


# -- placement markers -----------------------------------------------------------------------------

def marker_path(placed: Path) -> Path:
    """``.v3.verified.json`` beside the cached placement ``v3``."""
    return placed.parent / f".{placed.name}.verified.json"


def write_marker(placed: Path, manifest: dict[str, Any], checked: float, unchecked: set[str]) -> None:
    """Record the identity of each file placed in ``placed`` and checked (at ``checked`` or later);
    ``unchecked``: paths placed without a check (hard links, with ``verify_placement = "copies"``)."""
    files: dict[str, list[int]] = {}
    for entry in manifest["files"]:
        if entry["path"] in unchecked:
            continue
        try:
            files[entry["path"]] = list(identity(os.stat(placed / entry["path"])))
        except OSError:
            return  # changed already: the next use checks the files again
    with contextlib.suppress(OSError):  # a cache: without it the next use hashes the files
        atomic_write_bytes(marker_path(placed), dumps_json({"format": _FORMAT, "time": checked, "files": files}),
                           fsync=False)


def read_marker(placed: Path, settings: Settings) -> tuple[float, dict[str, Identity]]:
    """``(time, path -> identity)`` of the files checked when ``placed`` was placed, if recent."""
    return _read(marker_path(placed), settings, "files")


# -- checking while placing ------------------------------------------------------------------------

class Verifier:
    """Hashes placed bytes in a few threads; :meth:`finish` waits and returns what did not match.

    ``trusted``: digests verified moments ago (blobs a fetch just downloaded and hashed).
    """

    def __init__(self, layout: Layout, settings: Settings, *, trusted: Iterable[str] = ()) -> None:
        self.layout = layout
        self.settings = settings
        #: hard links to whole-file blobs are checked too (``verify_placement = "all"``)
        self.links = settings.verify_placement == "all"
        self._trusted = set(trusted)
        self._stamp: tuple[float, dict[str, Identity]] | None = None
        #: the time of the oldest check this placement relies on (a stamp's, a marker's, or now)
        self.since = time.time()
        #: paths of files placed without any check
        self.unchecked: set[str] = set()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: collections.deque[
            tuple[concurrent.futures.Future[list[str]], list[tuple[str, str]], int]] = collections.deque()
        self._batch: list[tuple[bytes, str, str]] = []
        self._batch_bytes = 0
        self._in_flight = 0
        self.failures: list[str] = []
        #: bytes hashed (for tests and benchmarks)
        self.hashed = 0

    def trusts(self, digest: str, blob: Path) -> bool:
        """Whether ``blob`` was verified recently and is unchanged since: no need to hash it."""
        if digest in self._trusted:
            return True
        if self._stamp is None:
            self._stamp = read_stamp(self.layout, self.settings)
        checked, stamp = self._stamp
        recorded = stamp.get(digest)
        if recorded is None:
            return False
        try:
            if identity(os.stat(blob)) != recorded:
                return False
        except OSError:
            return False
        self.since = min(self.since, checked)
        return True

    def relied_on(self, checked: float) -> None:
        """Note that a record of a check made at ``checked`` was trusted."""
        self.since = min(self.since, checked)

    def _submit(self, work: Callable[[], list[str]], checks: list[tuple[str, str]], size: int) -> None:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="workbench-verify")
        while self._pending and self._in_flight + size > _IN_FLIGHT:
            self._collect()
        self._pending.append((self._pool.submit(work), checks, size))
        self._in_flight += size
        self.hashed += size

    def _collect(self) -> None:
        future, checks, size = self._pending.popleft()
        self._in_flight -= size
        try:
            found = future.result()
        except OSError as exc:
            self.failures.append(f"{checks[0][1]}: it cannot be read ({exc.strerror or exc})")
            return
        for actual, (expected, problem) in zip(found, checks, strict=True):
            if actual != expected:
                self.failures.append(f"{problem}: its content hashes to {actual[:16]}..., not {expected[:16]}...")

    def check_file(self, path: Path, expected: str, problem: str, size: int) -> None:
        """Hash the file at ``path`` in the background; a mismatch is reported as ``problem``."""
        self._submit(lambda: [hash_file(path)], [(expected, problem)], size)

    def check_bytes(self, data: bytes, expected: str, problem: str) -> None:
        """Hash ``data`` (a chunk just written) in the background, in a batch with the next few
        chunks: one task per few MiB keeps the threads' hand-overs rare."""
        self._batch.append((data, expected, problem))
        self._batch_bytes += len(data)
        if self._batch_bytes >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        batch, size = self._batch, self._batch_bytes
        self._batch, self._batch_bytes = [], 0
        self._submit(lambda: [_hash_bytes(data) for data, _, _ in batch], [(e, p) for _, e, p in batch], size)

    def finish(self) -> list[str]:
        """Wait for every hash; the problems found (empty when everything matched)."""
        self._flush()
        while self._pending:
            self._collect()
        failures, self.failures = self.failures, []
        return failures

    def close(self) -> None:
        for future, *_ in self._pending:
            future.cancel()
        self._pending.clear()
        self._batch.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
