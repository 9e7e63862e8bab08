"""Environments: the installed distributions a run saw, stored once per environment by digest.

``<root>/environments/<digest>.json`` holds ``{"format": 1, "packages": {name: version}}`` in a
canonical JSON form (sorted keys, no spaces, UTF-8); ``<digest>`` is the SHA-256 of those bytes.
A run record names its environment (``"environment": "<digest>"``), so a thousand runs in one
virtual environment share one file. The digest is checked on every read: a file whose content
does not hash to its name is refused like a corrupt one (a hand edit, a cut copy, a hostile
remote), never shown under another environment's name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

from workbench._private import make_dir
from workbench.errors import StoreError
from workbench.store._atomic import atomic_write_bytes
from workbench.store._paths import Layout
from workbench.store._schema import MAX_ENVIRONMENT_BYTES, SchemaError, describe, load_environment, read_bounded

__all__ = ["ENVIRONMENT_FORMAT", "encode_environment", "environment_problems", "is_environment_file",
           "read_environment", "write_environment"]

#: version of the environment file's format
ENVIRONMENT_FORMAT = 1

_FILE = re.compile(r"([0-9a-f]{64})\.json\Z")


def _canonical(packages: Mapping[str, str]) -> bytes:
    document = {"format": ENVIRONMENT_FORMAT, "packages": dict(sorted(packages.items()))}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_environment(packages: Mapping[str, str]) -> tuple[str, bytes]:
    """``(digest, bytes)`` of the environment file for ``packages`` (name -> version)."""
    data = _canonical(packages)
    return hashlib.sha256(data).hexdigest(), data


def is_environment_file(name: str) -> bool:
    """Whether ``name`` is an environment file's name (``<64 hex digits>.json``)."""
    return _FILE.match(name) is not None


def write_environment(layout: Layout, digest: str, data: bytes) -> bool:
    """Store ``data`` (from :func:`encode_environment`) as ``environments/<digest>.json`` unless a
    file with those bytes is there already; True when it was written. Atomic, private; OSError as
    the store raises it (a full disk: the caller warns and goes on)."""
    path = layout.environment(digest)
    try:
        if read_bounded(path, len(data)) == data:
            return False
    except (OSError, SchemaError):
        pass  # missing, or not the file it should be: (re)write it
    make_dir(layout.environments)
    atomic_write_bytes(path, data, fsync=False)  # durable with the run's record (syncfs at finish)
    return True


def _load(path: Path, digest: str) -> dict[str, str]:
    """The packages of the environment file at ``path``, checked against its schema and ``digest``;
    StoreError naming the path and the problem."""
    try:
        data = read_bounded(path, MAX_ENVIRONMENT_BYTES)
        document = load_environment(data)
    except SchemaError as exc:
        raise StoreError(f"environment file {path}{describe(exc)}") from None
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise StoreError(f"cannot read environment file {path}: {exc.strerror or exc}") from exc
    packages: dict[str, str] = document["packages"]
    actual, _ = encode_environment(packages)
    if actual != digest:
        raise StoreError(f"environment file {path} holds the environment {actual[:16]}..., not the one its name "
                         f"says ({digest[:16]}...): it was changed or misnamed")
    return dict(sorted(packages.items()))


def read_environment(layout: Layout, digest: str) -> dict[str, str] | None:
    """The packages (name -> version) of environment ``digest``; None when the store lacks the file
    (an older run, a run synced without it). StoreError when the file is damaged or misnamed."""
    try:
        return _load(layout.environment(digest), digest)
    except (FileNotFoundError, NotADirectoryError):
        return None


def environment_problems(layout: Layout) -> Iterator[tuple[Path, str | None]]:
    """``(path, problem or None)`` for every entry of ``environments/`` (``workbench fsck``);
    temporary files of writes under way (``.<name>.tmp``) are skipped."""
    try:
        entries = sorted(os.scandir(layout.environments), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.name.startswith(".") and entry.name.endswith(".tmp"):
            continue
        path = Path(entry.path)
        match = _FILE.match(entry.name)
        if match is None:
            yield path, f"{path} is not an environment file (its name is not <sha256>.json)"
            continue
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                yield path, f"environment file {path} is not a regular file"
                continue
            _load(path, match.group(1))
        except FileNotFoundError:
            continue  # removed since the listing
        except StoreError as exc:
            yield path, str(exc)
            continue
        yield path, None
