"""Reading media back: :func:`media` lists items (the index), :func:`load_media` loads one."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.errors import StoreError, WorkbenchError
from workbench.media.index import read_index

__all__ = ["load_media", "media"]


def _layout(root: str | os.PathLike[str] | None) -> Any:
    from workbench.settings import load_settings
    from workbench.store._paths import Layout

    return Layout(load_settings(root).root)


def media(run_ids: str | Sequence[str], keys: str | Sequence[str] | None = None,
          kinds: str | Sequence[str] | None = None, *, root: str | os.PathLike[str] | None = None) -> Any:
    """The media items of ``run_ids`` as a DataFrame, one row each, ordered by run, key and step.

    Columns: ``run_id, key, step, time, kind, digest, format, shape, caption, size, inline, meta``.
    Load an item with :func:`load_media` (``wb.load_media(frame.iloc[0])``).

    Examples
    --------
    >>> items = wb.media(run.id, keys=["pred"])  # doctest: +SKIP
    >>> wb.load_media(items.iloc[-1])  # the last image, a PIL image  # doctest: +SKIP
    """
    from workbench.store._paths import validate_run_id

    ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
    for run_id in ids:
        validate_run_id(run_id)  # a RunNotFound naming it: never a path outside runs/
    wanted = [keys] if isinstance(keys, str) else (list(keys) if keys is not None else None)
    kind_list = [kinds] if isinstance(kinds, str) else (list(kinds) if kinds is not None else None)
    return read_index(_layout(root), ids, wanted, kind_list)


def _field(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    getter = getattr(item, "get", None)  # a pandas Series (a row of media())
    if callable(getter):
        return getter(name)
    return getattr(item, name, None)


def media_bytes(digest: str, *, run_id: str | None = None, size: int = 0,
                root: str | os.PathLike[str] | None = None) -> bytes:
    """The stored bytes of the blob ``digest`` (as logged: a PNG, a WAV, a parquet table).

    The media of a run synced from a remote stay there until read: given the ``run_id`` (and
    the item's ``size``), a missing blob is fetched from that run's remote over SSH first,
    checked against its digest as it arrives."""
    from workbench.settings import load_settings
    from workbench.store._paths import Layout
    from workbench.store.artifacts.blobs import Blobs

    settings = load_settings(root)
    layout = Layout(settings.root)
    blobs = Blobs(layout.blobs)
    try:
        path = blobs.path(digest)
    except WorkbenchError as exc:
        raise StoreError(f"media item: {exc}") from None
    if not path.is_file() and run_id is not None:
        remote = _remote_of(layout, run_id)
        if remote is not None:
            from workbench.remote._fetch import fetch_blobs

            fetch_blobs(settings, remote, {digest: size}, f"{remote}: media of run {run_id}")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise StoreError(f"the bytes of media item {digest[:12]} are not in the store at {layout.root}; "
                         "`workbench fsck` checks the store (a run synced from a remote fetches them from "
                         "there when read)") from None


def _size(value: Any) -> int:
    """An index row's size as an int (0 when missing: NaN or None)."""
    try:
        return max(0, int(value))
    except (TypeError, ValueError, OverflowError):
        return 0


def _remote_of(layout: Any, run_id: str) -> str | None:
    from workbench.store.records import read_record

    try:
        remote = read_record(layout, run_id).get("remote")
    except WorkbenchError:
        return None
    return remote if isinstance(remote, str) and remote else None


def load_media(item: Any, *, raw: bool = False, root: str | os.PathLike[str] | None = None) -> Any:
    """Load one media item (a row of :func:`media`, or a mapping with ``kind`` and ``digest``).

    Returns, by kind: ``image`` a PIL image; ``table`` a pandas DataFrame (image cells hold
    ``"wb-media:image:<digest>"``, loadable with ``load_media({"kind": "image", "digest": ...})``;
    ``frame.attrs["image_columns"]`` names those columns); ``histogram`` a dict of numpy arrays
    ``counts`` and ``edges``; ``text`` a str; ``audio`` ``(samples, sample_rate)`` with int16
    samples (1-D for mono) for WAV, and raw bytes for FLAC. ``raw=True`` gives the stored bytes.
    """
    kind, digest = _field(item, "kind"), _field(item, "digest")
    if kind == "histogram":
        inline = _field(item, "inline")
        if not isinstance(inline, str):
            raise StoreError(f"histogram item {str(digest)[:12]} has no counts in the index; pass a row of wb.media()")
        payload = json.loads(inline)
        if raw:
            return inline.encode()
        import numpy as np

        return {"counts": np.asarray(payload["counts"], dtype=np.float64),
                "edges": np.asarray(payload["edges"], dtype=np.float64)}
    if not isinstance(digest, str):
        raise TypeError("load_media takes a row of wb.media() (or a mapping with 'kind' and 'digest')")
    run_id = _field(item, "run_id")
    size = _field(item, "size")
    data = media_bytes(digest, run_id=run_id if isinstance(run_id, str) else None,
                       size=_size(size), root=root)
    if raw:
        return data
    if kind == "image":
        from PIL import Image as PILImage

        image = PILImage.open(io.BytesIO(data))
        image.load()
        return image
    if kind == "table":
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(data))
        frame = table.to_pandas()
        metadata = table.schema.metadata or {}
        frame.attrs["image_columns"] = json.loads(metadata.get(b"workbench.image_columns", b"[]"))
        return frame
    if kind == "text":
        return data.decode("utf-8", errors="replace")
    if kind == "audio":
        if _field(item, "format") == "flac":
            return data
        import wave

        import numpy as np

        with wave.open(io.BytesIO(data)) as reader:
            rate, channels, width = reader.getframerate(), reader.getnchannels(), reader.getsampwidth()
            frames = reader.readframes(reader.getnframes())
        dtype: Any = {1: np.uint8, 2: "<i2", 4: "<i4"}.get(width)
        if dtype is None:
            return data
        samples = np.frombuffer(frames, dtype=dtype)
        return (samples.reshape(-1, channels) if channels > 1 else samples), rate
    raise StoreError(f"media item {digest[:12]} has an unknown kind {kind!r}")
