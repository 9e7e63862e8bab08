"""The media side of a run's background flusher: encode, store the blobs, write the index.

``run.log`` appends ``(step, time, {key: item})`` to :attr:`MediaWriter.queue` and returns; the
flusher calls :meth:`MediaWriter.flush`, which encodes each item (PNG, parquet, WAV: the costly
part, off the training loop), stores its bytes as content-addressed blobs (a blob already there
is not written again) and then writes one index file naming them, under the artifact store's
shared lock so that ``gc`` never removes a blob between the two.

When the store refuses a write, the encoded items wait in memory (up to ``log_buffer_mb``) and
the next flush tries again; items given up are counted in :attr:`lost` and the run ends
``failed`` saying so, as for metric points.
"""

from __future__ import annotations

import collections
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from workbench.media._encode import Encoded, encode
from workbench.media.index import next_sequence, write_index
from workbench.media.types import Media
from workbench.settings import Settings
from workbench.store._paths import Layout

__all__ = ["MediaWriter"]

_CHUNK = 16  # log() calls encoded together
#: encoded bytes that are stored at once rather than held for the end of the flush
STORE_EVERY = 16 * 1024 * 1024


def preload() -> None:
    """Import what encoding and storing media needs now, at the first media ``log``: an exit hook
    that finishes the run cannot import (pandas and the thread pool register exit hooks of their
    own, which an interpreter that is shutting down refuses)."""
    import concurrent.futures.thread  # noqa: F401
    import wave  # noqa: F401

    import pandas  # noqa: F401  (pyarrow's from_pylist and to_pandas)
    import pyarrow.parquet  # noqa: F401
    from PIL import Image, PngImagePlugin  # noqa: F401


def _encode(item: Media) -> Encoded | Exception:
    try:
        return encode(item)
    except Exception as exc:  # noqa: BLE001 - reported by the caller, with the key and step
        return exc


class MediaWriter:
    def __init__(self, layout: Layout, run_id: str, settings: Settings,
                 known: dict[str, Any] | None = None) -> None:
        self._layout = layout
        self._run_id = run_id
        self._settings = settings
        self.queue: collections.deque[tuple[int, float, dict[str, Media]]] = collections.deque()
        self._dir = layout.media_dir(run_id)
        self._sequence = next_sequence(self._dir)
        #: encoded items waiting for the store: (index row, blobs to put)
        self._pending: list[tuple[dict[str, Any], dict[str, bytes]]] = []
        self._pending_bytes = 0
        self._limit = settings.log_buffer_mb * 1024 * 1024
        self.lost = 0  #: items given up (the store refused them for too long, or memory ran out)
        self.failed: list[str] = []  #: items that could not be encoded (a broken file): one line each
        #: key -> {"kind", "count", "step"}: what the run record lists
        self.keys: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (known or {}).items()}
        self._blobs: Any = None
        self._pool: Any = None

    def __len__(self) -> int:
        return len(self.queue) + len(self._pending)

    def encode_queued(self, store: Callable[[], bool] | None = None) -> bool:
        """Encode what ``log`` queued; True when something was queued.

        ``store`` (the run's store-with-fault-handling) is called whenever the encoded items pass
        :data:`STORE_EVERY` bytes, so memory holds a few chunks, not a whole queue of PNGs: items
        are dropped only while the store refuses writes."""
        queue = self.queue
        count = len(queue)
        if not count:
            return False
        every = min(STORE_EVERY, self._limit // 2)
        while count:  # in chunks: each chunk's arrays go back to the copy pool before the next
            chunk = min(count, _CHUNK)
            count -= chunk
            self._encode_chunk([(step, when, key, item)
                                for step, when, items in (queue.popleft() for _ in range(chunk))
                                for key, item in items.items()], store, every)
            if self._pending_bytes > self._limit:
                store = None  # refused (or not to be tried now): the rest waits, bounded, for the next try
                self._fit()
        return True

    def _encode_chunk(self, work: list[tuple[int, float, str, Media]], store: Callable[[], bool] | None,
                      every: int) -> None:
        results = None
        if len(work) >= 4 and (os.cpu_count() or 1) > 1 and self._start_pool():
            # PNG and zstd encoders release the GIL: encode on every core while the loop runs on
            try:
                results = list(self._pool.map(_encode, [item for *_, item in work]))
            except RuntimeError:  # the interpreter is shutting down (its exit hook stopped every
                self._pool = None  # pool): the exit hook that finishes the run encodes on its own
        if results is None:
            results = [_encode(item) for *_, item in work]
        for (step, when, key, item), result in zip(work, results, strict=True):
            if isinstance(result, Exception):  # a file gone or unreadable since log(): say so, go on
                line = f"media {key!r} at step {step} was not stored: {type(result).__name__}: {result}"
                self.failed.append(line)
                print(f"workbench: run {self._run_id}: {line}", file=sys.__stderr__)
                continue
            self._add(key, step, when, item, result)
            if store is not None and self._pending_bytes >= every and not store():
                store = None

    def _start_pool(self) -> bool:
        """The encoding threads, started once; False where none can start (the interpreter is
        shutting down: an exit hook finishing the run encodes on its own thread)."""
        if self._pool is None:
            try:
                from concurrent.futures import ThreadPoolExecutor  # its import registers an exit hook

                pool = ThreadPoolExecutor(min(4, os.cpu_count() or 1), thread_name_prefix="workbench-media")
                pool.submit(int).result()  # starting a thread is what fails at shutdown
            except RuntimeError:
                return False
            self._pool = pool
        return True

    def close(self) -> None:
        """Stop the encoding threads (the run ended)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _add(self, key: str, step: int, when: float, item: Media, encoded: Encoded) -> None:
        row = {
            "run_id": self._run_id, "key": key, "step": step, "time": when, "kind": encoded.kind,
            "digest": encoded.digest, "format": encoded.format, "shape": encoded.shape,
            "caption": item.caption, "size": encoded.size, "inline": encoded.inline,
            "meta": json.dumps(encoded.meta, separators=(",", ":")) if encoded.meta else None,
        }
        blobs = dict(encoded.children)
        if encoded.data is not None:
            blobs[encoded.digest] = encoded.data
        self._pending.append((row, blobs))
        self._pending_bytes += sum(len(b) for b in blobs.values()) + 256

    def _fit(self) -> None:
        """The store refuses writes (or was not tried): keep at most ``log_buffer_mb`` of encoded
        items, dropping the oldest (counted in :attr:`lost`)."""
        while self._pending and self._pending_bytes > self._limit:
            _, dropped = self._pending.pop(0)
            self._pending_bytes -= sum(len(b) for b in dropped.values()) + 256
            self.lost += 1

    def store(self) -> bool:
        """Store the pending items: blobs first, then one index file. Raises ``OSError`` when the
        store refuses (the items stay pending). True when something was stored."""
        if not self._pending:
            return False
        from workbench.store.artifacts.blobs import Blobs
        from workbench.store.artifacts.locks import store_lock

        if self._blobs is None:
            self._blobs = Blobs(self._layout.blobs, fsync=False)  # the run's finish() syncs the filesystem
        pending = self._pending
        with store_lock(self._layout.artifacts):
            for _, blobs in pending:
                for digest, data in blobs.items():
                    self._blobs.put(digest, data)
            write_index(self._dir, self._sequence, [row for row, _ in pending])
        self._sequence += 1
        for row, _ in pending:  # what the record lists: stored items only
            stat = self.keys.setdefault(row["key"], {"kind": row["kind"], "count": 0, "step": row["step"]})
            stat["kind"] = row["kind"]
            stat["count"] += 1
            stat["step"] = max(int(stat["step"]), int(row["step"]))
        self._pending = []
        self._pending_bytes = 0
        return True

    def give_up(self) -> int:
        """At the end of the run: drop what could not be stored; returns how many."""
        self.close()
        count = len(self._pending) + len(self.queue)
        self._pending, self._pending_bytes = [], 0
        self.queue.clear()
        self.lost += count
        return count

    def record_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"media": {k: dict(v) for k, v in self.keys.items()}}
        if self.lost:
            fields["media_lost"] = self.lost
        return fields
