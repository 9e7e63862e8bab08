"""The media value types ``run.log`` takes: :class:`Image`, :class:`Table`, :class:`Histogram`,
:class:`Text` and :class:`Audio`.

Making one keeps its source (an array is copied, so a training loop may reuse its buffer); the
checks that need the logged key run in ``run.log`` (:meth:`Media.check`, cheap: shapes and
types); the encoding (PNG, parquet, WAV) runs later on the run's background flusher
(:mod:`workbench.media._encode`), so a ``log`` of an image costs the caller a copy, not a PNG.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["KINDS", "Audio", "Histogram", "Image", "Media", "Table", "Text"]

#: every kind of media, as the index's ``kind`` column says it
KINDS = ("image", "table", "histogram", "text", "audio")
_CAPTION_MAX = 4096
_TEXT_MAX = 16 * 1024 * 1024
_TABLE_CELLS_MAX = 10_000_000
_BINS_MAX = 10_000
IMAGE_SUFFIXES = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".gif": "gif", ".bmp": "bmp"}
AUDIO_SUFFIXES = {".wav": "wav", ".flac": "flac"}


def _caption(caption: Any) -> str | None:
    if caption is None:
        return None
    text = str(caption)
    return text[:_CAPTION_MAX]


def _as_array(value: Any) -> Any:
    """An array-like (numpy, torch on any device, nested lists) as numpy, sharing memory where it can."""
    import numpy as np

    detach = getattr(value, "detach", None)
    if callable(detach) and hasattr(value, "cpu"):  # a torch tensor: off the graph and the GPU
        value = detach().cpu().numpy()
    return np.asarray(value)


def _array(value: Any) -> Any:
    """A numpy copy of an array-like (the caller may change its own afterwards)."""
    return _own(_as_array(value), value)


def _own(array: Any, source: Any) -> Any:
    """``array``, copied when it may share memory with the caller's ``source``."""
    import numpy as np

    if isinstance(source, np.ndarray) and not np.may_share_memory(array, source):
        return array
    if array.base is None and array is not source and not isinstance(source, np.ndarray):
        return array  # made from a list: ours already (a torch tensor's numpy() is not: it has a base)
    return _POOL.copy(array)


class _Pool:
    """Buffers for copies of logged arrays, given back when the copy is freed (after encoding).

    A fresh 256x256x3 buffer costs about 100 microseconds of page faults on first touch, which
    is most of a ``log`` call; a recycled one only its memcpy (about 5). Up to ``limit`` bytes
    of free buffers are kept.
    """

    limit = 256 * 1024 * 1024
    small = 32 * 1024  # below this, malloc's own free lists are as fast

    def __init__(self) -> None:
        import threading

        self._free: dict[int, list[Any]] = {}
        self._held = 0
        self._lock = threading.Lock()

    def copy(self, array: Any) -> Any:
        import weakref

        import numpy as np

        size = array.nbytes
        if size < self.small:
            return np.array(array, copy=True, order="C")
        buffer = None
        with self._lock:
            free = self._free.get(size)
            if free:
                buffer = free.pop()
                self._held -= size
        if buffer is None:
            buffer = np.empty(size, np.uint8)
        out = buffer.view(array.dtype).reshape(array.shape)
        if array.flags.c_contiguous:
            # a memoryview copy keeps the GIL (numpy's releases it for large copies, and taking
            # it back from an encoder thread can cost a 5 ms switch interval)
            memoryview(buffer)[:] = memoryview(array).cast("B")  # type: ignore[arg-type]
        else:
            np.copyto(out, array, casting="no")
        weakref.finalize(out, self._give, buffer)
        return out

    def _give(self, buffer: Any) -> None:
        with self._lock:
            if self._held + buffer.nbytes <= self.limit:
                self._free.setdefault(buffer.nbytes, []).append(buffer)
                self._held += buffer.nbytes


_POOL = _Pool()


def _path(value: Any) -> Path | None:
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    return None


class Media:
    """A value ``run.log`` stores as a media item (bytes in the store, a row in the run's media index)."""

    kind: str = ""
    __slots__ = ("_error", "_source", "caption")

    def __init__(self, caption: Any = None) -> None:
        self.caption = _caption(caption)
        self._error: Exception | None = None

    def check(self, key: str) -> None:
        """Raise the error found when this value was made, now naming ``key``."""
        if self._error is not None:
            error = self._error
            raise type(error)(f"run.log: {key!r}: {error}") from None

    def _fail(self, error: Exception) -> None:
        self._error = error

    def __repr__(self) -> str:
        caption = f" {self.caption!r}" if self.caption else ""
        return f"<workbench.{type(self).__name__}{caption}>"


class Image(Media):
    """An image: a PIL image, a numpy array or torch tensor (HW, HWC or CHW; 1, 3 or 4 channels;
    uint8, or floats in 0-1), or the path of an image file (PNG, JPEG, WebP, GIF, BMP: stored
    as it is).

    >>> run.log({"pred": wb.Image(array, caption="epoch 3")}, step=3)  # doctest: +SKIP
    """

    kind = "image"
    __slots__ = ()

    def __init__(self, data: Any, caption: Any = None, mode: str | None = None) -> None:
        super().__init__(caption)
        self._source: Any = None
        try:
            self._source = self._take(data, mode)
        except (TypeError, ValueError) as exc:
            self._fail(exc)

    @staticmethod
    def _take(data: Any, mode: str | None) -> Any:
        if isinstance(data, Image):
            return data._source
        path = _path(data)
        if path is not None:
            suffix = path.suffix.lower()
            if suffix not in IMAGE_SUFFIXES:
                raise ValueError(f"wb.Image: {str(path)!r} is not an image file ({', '.join(sorted(IMAGE_SUFFIXES))})")
            if not path.is_file():
                raise ValueError(f"wb.Image: no image file at {str(path)!r}")
            return ("file", path, IMAGE_SUFFIXES[suffix])
        if type(data).__module__.startswith("PIL.") and hasattr(data, "save"):
            return ("pil", data.copy())
        if isinstance(data, (str, bytes, dict, set)) or data is None:
            raise TypeError(f"wb.Image takes a PIL image, an array or an image file path, not {type(data).__name__}")
        try:
            array = _as_array(data)
        except Exception as exc:  # noqa: BLE001 - any conversion failure is the caller's type
            raise TypeError(f"wb.Image takes a PIL image, an array or an image file path, not "
                            f"{type(data).__name__} ({exc})") from None
        return ("array", _own(normalize_image(array), data), mode)

    @property
    def shape(self) -> tuple[int, ...] | None:
        """``(height, width, channels)`` of an array or PIL source; ``None`` for a file until stored."""
        source = self._source
        if source is None:
            return None
        if source[0] == "array":
            return tuple(int(n) for n in source[1].shape)
        if source[0] == "pil":
            image = source[1]
            return (image.height, image.width, len(image.getbands()))
        return None


def normalize_image(array: Any) -> Any:
    """``array`` as HWC uint8 with 1, 3 or 4 channels (HW and CHW accepted; floats are 0-1)."""
    import numpy as np

    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    if not (np.issubdtype(array.dtype, np.number)):
        raise TypeError(f"wb.Image: an array of {array.dtype} is not an image; give numbers")
    if array.ndim == 2:
        array = array[:, :, None]
    elif array.ndim == 3:
        if array.shape[2] > 4 and array.shape[0] in (1, 3, 4):  # a last axis of 1-4 is channels (HWC wins)
            array = np.moveaxis(array, 0, 2)  # CHW -> HWC
    else:
        raise ValueError(f"wb.Image: an array of shape {tuple(array.shape)} is not an image; give HW, HWC or CHW")
    if array.shape[2] not in (1, 3, 4):
        raise ValueError(f"wb.Image: an array of shape {tuple(array.shape)} has {array.shape[2]} channels; "
                         "an image has 1, 3 or 4 (HW, HWC or CHW)")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"wb.Image: an array of shape {tuple(array.shape)} is empty")
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating):
            if not np.isfinite(array).all():
                raise ValueError("wb.Image: the array holds NaN or infinity; an image's floats are 0-1")
            array = np.clip(array, 0.0, 1.0) * 255.0 + 0.5
        else:
            array = np.clip(array, 0, 255)
        array = array.astype(np.uint8)
    return array


class Table(Media):
    """A table: a pandas DataFrame, or ``data`` as a list of rows with ``columns``. Cells may be
    numbers, text, booleans, ``None`` or :class:`Image` values (each stored as an image).

    >>> run.log({"eval": wb.Table(frame)})  # doctest: +SKIP
    >>> run.log({"eval": wb.Table(columns=["text", "label"], data=[["good", 1], ["bad", 0]])})  # doctest: +SKIP
    """

    kind = "table"
    __slots__ = ()

    def __init__(self, dataframe: Any = None, *, columns: Sequence[Any] | None = None,
                 data: Sequence[Sequence[Any]] | None = None, caption: Any = None) -> None:
        super().__init__(caption)
        self._source: Any = None
        try:
            self._source = self._take(dataframe, columns, data)
        except (TypeError, ValueError) as exc:
            self._fail(exc)

    @staticmethod
    def _take(dataframe: Any, columns: Sequence[Any] | None, data: Sequence[Sequence[Any]] | None) -> Any:
        import pandas as pd

        if dataframe is not None and data is not None:
            raise TypeError("wb.Table takes a DataFrame or data= rows, not both")
        if dataframe is None and data is None:
            raise TypeError("wb.Table needs a DataFrame, or data= (a list of rows) with columns=")
        if dataframe is not None and not isinstance(dataframe, pd.DataFrame):
            if isinstance(dataframe, (list, tuple)):
                data, dataframe = dataframe, None
            else:
                raise TypeError(f"wb.Table takes a pandas DataFrame or a list of rows, not {type(dataframe).__name__}")
        if dataframe is None:
            if any(not isinstance(row, (list, tuple)) for row in data or []):
                raise TypeError("wb.Table: data= is a list of rows, each a list or tuple of cells")
            rows = [list(row) for row in data or []]
            width = len(columns) if columns is not None else (len(rows[0]) if rows else 0)
            bad = next((i for i, row in enumerate(rows) if len(row) != width), None)
            if bad is not None:
                raise ValueError(f"wb.Table: row {bad} has {len(rows[bad])} cells, the table {width} columns")
            names = list(columns) if columns is not None else [f"c{i}" for i in range(width)]
            frame = pd.DataFrame(rows, columns=[str(c) for c in names]) if rows else pd.DataFrame(
                columns=[str(c) for c in names])
        else:
            frame = dataframe.copy()
            frame.columns = [str(c) for c in frame.columns]
            frame = frame.reset_index(drop=True)
        if len(set(frame.columns)) != len(frame.columns):
            raise ValueError(f"wb.Table: column names repeat: {list(frame.columns)}")
        for column in frame.columns:  # an image cell that is not an image: refused now, naming its place
            if frame[column].dtype == object:
                for row, value in enumerate(frame[column]):
                    if isinstance(value, Image) and value._error is not None:
                        raise type(value._error)(f"wb.Table: column {column!r} row {row}: {value._error}")
        if frame.size > _TABLE_CELLS_MAX:
            raise ValueError(f"wb.Table: {frame.size} cells is more than {_TABLE_CELLS_MAX}; log an artifact instead")
        return frame

    @property
    def shape(self) -> tuple[int, int] | None:
        return None if self._source is None else (int(self._source.shape[0]), int(self._source.shape[1]))


class Histogram(Media):
    """A distribution: ``values`` (an array or tensor; bins computed on the flusher, ``num_bins``,
    default 64), or precomputed ``np_histogram=(counts, edges)`` as numpy's ``histogram`` returns.

    >>> run.log({"weights": wb.Histogram(layer.weight)})  # doctest: +SKIP
    """

    kind = "histogram"
    __slots__ = ("num_bins",)

    def __init__(self, values: Any = None, *, num_bins: int = 64, np_histogram: Any = None,
                 caption: Any = None) -> None:
        super().__init__(caption)
        self.num_bins = num_bins
        self._source: Any = None
        try:
            self._source = self._take(values, num_bins, np_histogram)
        except (TypeError, ValueError) as exc:
            self._fail(exc)

    @staticmethod
    def _take(values: Any, num_bins: Any, np_histogram: Any) -> Any:
        import numpy as np

        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or not 1 <= num_bins <= _BINS_MAX:
            raise ValueError(f"wb.Histogram: num_bins must be an int from 1 to {_BINS_MAX}, not {num_bins!r}")
        if np_histogram is not None:
            if values is not None:
                raise TypeError("wb.Histogram takes values or np_histogram=, not both")
            try:
                counts, edges = np_histogram
                counts, edges = _array(counts).astype(np.float64).ravel(), _array(edges).astype(np.float64).ravel()
            except (TypeError, ValueError) as exc:
                raise TypeError(f"wb.Histogram: np_histogram= is (counts, edges) as numpy.histogram returns ({exc})") \
                    from None
            if len(edges) != len(counts) + 1 or not len(counts) or len(counts) > _BINS_MAX:
                raise ValueError(f"wb.Histogram: np_histogram= has {len(counts)} counts and {len(edges)} edges; "
                                 "edges are one more than counts (1 to 10,000 bins)")
            if not (np.isfinite(edges).all() and np.isfinite(counts).all()) or (np.diff(edges) < 0).any():
                raise ValueError("wb.Histogram: np_histogram= edges must be finite and increasing, counts finite")
            return ("bins", counts, edges)
        if values is None:
            raise TypeError("wb.Histogram needs values (an array) or np_histogram=(counts, edges)")
        if isinstance(values, (str, bytes, dict)):
            raise TypeError(f"wb.Histogram takes an array of numbers, not {type(values).__name__}")
        try:
            array = _array(values)
        except Exception as exc:  # noqa: BLE001
            raise TypeError(f"wb.Histogram takes an array of numbers, not {type(values).__name__} ({exc})") from None
        if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
            raise TypeError(f"wb.Histogram takes an array of numbers, not one of {array.dtype}")
        return ("values", array.ravel())


class Text(Media):
    """Text (plain, or markdown with ``markdown=True``: shown as text either way, never as markup).

    >>> run.log({"sample": wb.Text(generated)}, step=step)  # doctest: +SKIP
    """

    kind = "text"
    __slots__ = ("markdown",)

    def __init__(self, text: Any, caption: Any = None, *, markdown: bool = False) -> None:
        super().__init__(caption)
        self.markdown = bool(markdown)
        self._source: Any = None
        if isinstance(text, Text):
            text = text._source
        if not isinstance(text, str):
            self._fail(TypeError(f"wb.Text takes a str, not {type(text).__name__}"))
        elif len(text) > _TEXT_MAX:
            self._fail(ValueError(f"wb.Text: {len(text):,} characters is more than {_TEXT_MAX:,}; log a file"))
        else:
            self._source = text


class Audio(Media):
    """Sound: a numpy array or tensor of samples (1-D mono, or samples x channels; floats in
    -1..1 or int16) with ``sample_rate``, or the path of a WAV or FLAC file (stored as it is).

    >>> run.log({"clip": wb.Audio(wave, sample_rate=16000)})  # doctest: +SKIP
    """

    kind = "audio"
    __slots__ = ("sample_rate",)

    def __init__(self, data: Any, sample_rate: int | None = None, caption: Any = None) -> None:
        super().__init__(caption)
        self.sample_rate = sample_rate
        self._source: Any = None
        try:
            self._source = self._take(data, sample_rate)
        except (TypeError, ValueError) as exc:
            self._fail(exc)

    @staticmethod
    def _take(data: Any, sample_rate: Any) -> Any:
        import numpy as np

        path = _path(data)
        if path is not None:
            suffix = path.suffix.lower()
            if suffix not in AUDIO_SUFFIXES:
                raise ValueError(f"wb.Audio: {str(path)!r} is not a WAV or FLAC file")
            if not path.is_file():
                raise ValueError(f"wb.Audio: no audio file at {str(path)!r}")
            return ("file", path, AUDIO_SUFFIXES[suffix])
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or not 1 <= sample_rate <= 1_000_000:
            raise ValueError(f"wb.Audio: sample_rate must be an int in Hz (1 to 1,000,000) for an array, "
                             f"not {sample_rate!r}")
        if isinstance(data, (str, bytes, dict)) or data is None:
            raise TypeError(f"wb.Audio takes an array of samples or a WAV/FLAC path, not {type(data).__name__}")
        try:
            array = _array(data)
        except Exception as exc:  # noqa: BLE001
            raise TypeError(f"wb.Audio takes an array of samples, not {type(data).__name__} ({exc})") from None
        if array.ndim == 2 and array.shape[0] in (1, 2) and array.shape[1] > 2:
            array = array.T  # channels x samples -> samples x channels
        if array.ndim not in (1, 2) or (array.ndim == 2 and not 1 <= array.shape[1] <= 8) or not len(array):
            raise ValueError(f"wb.Audio: an array of shape {tuple(array.shape)} is not sound; give samples "
                             "(1-D) or samples x channels (up to 8)")
        if np.issubdtype(array.dtype, np.floating):
            if not np.isfinite(array).all():
                raise ValueError("wb.Audio: the samples hold NaN or infinity")
        elif array.dtype != np.int16:
            raise TypeError(f"wb.Audio: samples of {array.dtype}; give floats in -1..1 or int16")
        return ("array", array)


def is_media(value: Any) -> bool:
    return isinstance(value, Media)

