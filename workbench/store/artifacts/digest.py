"""Streamed SHA-256 of a file, whole and (for large files) per fixed-size chunk, in one read.

A file up to ``threshold`` bytes is read at once and becomes one blob. A larger file is read
in blocks of a few MiB (``readinto`` a reused buffer) and cut into ``chunk_size`` pieces, each
hashed and offered to ``store`` as a blob; the whole-file digest (what ``sha256sum`` prints) is
computed at the same time in a second thread: hashlib releases the GIL on large buffers, so the
two digests cost one pass over the data, not two.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from workbench.errors import ArtifactError

__all__ = ["FileDigest", "digest_bytes", "digest_file"]

#: bytes read per call for large files (a multiple of the chunk size is used)
BLOCK = 8 * 1024 * 1024

#: ``store(digest, data)`` is called once per blob-sized unit (a small file, or one chunk)
StoreFn = Callable[[str, memoryview], object]
ProgressFn = Callable[[int], None]


@dataclasses.dataclass(frozen=True)
class FileDigest:
    """SHA-256 ``digest`` and ``size`` of a file; ``chunks`` when it is stored in pieces."""

    digest: str
    size: int
    chunks: tuple[str, ...] | None = None


def digest_bytes(data: bytes | memoryview) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _read_full(handle: object, view: memoryview) -> int:
    """Fill ``view`` unless the file ends first; the count read."""
    readinto = handle.readinto  # type: ignore[attr-defined]
    total = 0
    while total < len(view):
        count = readinto(view[total:])
        if not count:
            break
        total += count
    return int(total)


def digest_file(
    path: str | os.PathLike[str],
    *,
    chunk_size: int,
    threshold: int,
    store: StoreFn | None = None,
    progress: ProgressFn | None = None,
) -> FileDigest:
    """Hash ``path``; with ``store``, hand each blob (whole small file, or chunk) to it.

    Raises :class:`ArtifactError` when the file changes size while it is read.

    Examples
    --------
    >>> digest_file("model.bin", chunk_size=256 * 1024, threshold=4 << 20)  # doctest: +SKIP
    FileDigest(digest='9a14...', size=1000000000, chunks=('03be...', ...))
    """
    path = Path(path)
    with open(path, "rb", buffering=0) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size <= threshold:
            data = memoryview(bytearray(size + 1))  # one spare byte tells a file that grew
            count = _read_full(handle, data)
            if count != size:
                raise _changed(path, size, count)
            view = data[:count]
            digest = hashlib.sha256(view).hexdigest()
            if store is not None:
                store(digest, view)
            if progress is not None:
                progress(count)
            return FileDigest(digest, size)
        return _digest_chunked(handle, path, size, chunk_size, store=store, progress=progress)


def _digest_chunked(
    handle: object,
    path: Path,
    size: int,
    chunk_size: int,
    *,
    store: StoreFn | None,
    progress: ProgressFn | None,
) -> FileDigest:
    from concurrent.futures import Future, ThreadPoolExecutor

    block = chunk_size * max(1, BLOCK // chunk_size)
    buffers = (bytearray(block), bytearray(block))
    whole = hashlib.sha256()
    chunks: list[str] = []
    total = 0
    with ThreadPoolExecutor(1, thread_name_prefix="workbench-digest") as pool:
        pending: Future[None] | None = None
        turn = 0
        while True:
            # the other thread finished with this buffer: we waited for it one turn ago
            view = memoryview(buffers[turn & 1])
            count = _read_full(handle, view)
            if count == 0:
                break
            view = view[:count]
            if pending is not None:
                pending.result()
            pending = pool.submit(whole.update, view)
            for offset in range(0, count, chunk_size):
                piece = view[offset : offset + chunk_size]
                digest = hashlib.sha256(piece).hexdigest()
                chunks.append(digest)
                if store is not None:
                    store(digest, piece)
            total += count
            if progress is not None:
                progress(count)
            turn += 1
            if count < block:
                break
        if pending is not None:
            pending.result()
    if total != size:
        raise _changed(path, size, total)
    return FileDigest(whole.hexdigest(), size, tuple(chunks))


def _changed(path: Path, expected: int, got: int) -> ArtifactError:
    return ArtifactError(
        f"{path} changed while it was being logged (size {expected} bytes when opened, {got} "
        "read); log it once whatever writes it has finished"
    )
