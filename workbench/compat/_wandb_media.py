"""W&B's media types over workbench's: ``wandb.Image``, ``Table``, ``Histogram``, ``Audio`` and ``Html``.

Each is a subclass of the workbench type it maps to (:mod:`workbench.media.types`), so ``log``
stores it as that kind of media item: ``run.log({"pred": wandb.Image(x)})`` works through the
compat run and through a workbench run alike. What differs from W&B is in docs/migrate-wandb.md:
``Html`` is stored as text (a ``text`` item whose page is shown escaped, as source, never
rendered), and an image's ``boxes``, ``masks`` and ``classes`` are not stored.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

from workbench.compat._wandb_run import notice
from workbench.errors import ConfigError
from workbench.media import types as _media

__all__ = ["Audio", "Histogram", "Html", "Image", "Table"]


def _figure_png(figure: Any) -> Any:
    """A matplotlib figure (or the ``pyplot`` module: its current figure) as a PIL image."""
    if getattr(figure, "__name__", None) == "matplotlib.pyplot":
        figure = figure.gcf()
    try:
        from PIL import Image as PILImage
    except ImportError:  # pragma: no cover - Pillow comes with the tracking install
        raise ConfigError("wandb.Image(figure) renders the figure to PNG with Pillow: pip install pillow") from None
    out = io.BytesIO()
    try:
        figure.savefig(out, format="png")
    except ImportError as exc:
        raise ConfigError(f"wandb.Image(figure) renders the figure with matplotlib, which cannot be imported "
                          f"({exc}): pip install matplotlib") from None
    out.seek(0)
    image = PILImage.open(out)
    image.load()
    return image


def _is_figure(data: Any) -> bool:
    module = type(data).__module__ or ""
    if getattr(data, "__name__", None) == "matplotlib.pyplot":
        return True
    return module.startswith("matplotlib.") and callable(getattr(data, "savefig", None))


class Image(_media.Image):
    """W&B's ``wandb.Image``: an array or tensor, a PIL image, an image file path, or a matplotlib
    figure (rendered to PNG; matplotlib must be installed), stored as a workbench ``image`` item.

    ``mode`` is the PIL mode of an array (``"L"``, ``"RGB"``, ``"RGBA"``). ``boxes``, ``masks`` and
    ``classes`` (W&B's overlays) are accepted but not stored: one line says so.

    >>> run.log({"examples": wandb.Image(batch[0], caption="label 3")})  # doctest: +SKIP
    """

    def __init__(self, data_or_path: Any, mode: str | None = None, caption: str | None = None,
                 grouping: int | None = None, classes: Any = None, boxes: Any = None, masks: Any = None,
                 file_type: str | None = None, normalize: bool = True) -> None:
        if boxes is not None or masks is not None or classes is not None:
            notice("image-overlays", "wandb.Image(boxes=, masks=, classes=): the overlays are not stored; "
                                     "the image is")
        if _is_figure(data_or_path):
            data_or_path = _figure_png(data_or_path)
        super().__init__(data_or_path, caption=caption, mode=mode)


def _rows(data: Any) -> list[list[Any]]:
    if hasattr(data, "tolist") and not isinstance(data, (list, tuple)):  # a numpy array
        data = data.tolist()
    return [list(row) for row in data]


class Table(_media.Table):
    """W&B's ``wandb.Table``: ``columns`` and ``data`` (rows), or a ``dataframe``; grown with
    ``add_data(*row)`` and ``add_column(name, data)``. Stored as a workbench ``table`` item (parquet)
    holding the rows it has when logged; ``wandb.Image`` cells are stored as images.

    >>> table = wandb.Table(columns=["text", "label"])  # doctest: +SKIP
    >>> table.add_data("good", 1)  # doctest: +SKIP
    >>> run.log({"eval": table})  # doctest: +SKIP
    """

    def __init__(self, columns: Sequence[Any] | None = None, data: Any = None, rows: Any = None,
                 dataframe: Any = None, dtype: Any = None, optional: Any = True,
                 allow_mixed_types: bool = False) -> None:
        if data is None and rows is not None:
            data = rows
        if data is not None and type(data).__name__ == "DataFrame" and dataframe is None:
            dataframe, data = data, None
        if dataframe is not None:
            if data is not None:
                raise TypeError("wandb.Table takes data= or dataframe=, not both")
            self.columns: list[Any] = [str(c) for c in dataframe.columns]
            self.data: list[list[Any]] = _rows(dataframe.itertuples(index=False, name=None))
        else:
            self.data = _rows(data) if data is not None else []
            if columns is None:
                columns = [f"Column_{i + 1}" for i in range(len(self.data[0]) if self.data else 0)]
            self.columns = list(columns)
        super().__init__(columns=self.columns, data=self.data)

    def add_data(self, *data: Any) -> None:
        """Append one row (a value per column)."""
        if len(data) != len(self.columns):
            raise ValueError(f"wandb.Table.add_data: {len(data)} values for {len(self.columns)} columns "
                             f"({self.columns})")
        self.data.append(list(data))

    add_row = add_data

    def add_column(self, name: str, data: Sequence[Any], optional: bool = False) -> None:
        """Append a column: ``data`` holds one value per row (or makes the rows of an empty table)."""
        if name in self.columns:
            raise ValueError(f"wandb.Table.add_column: the table has a column {name!r} already")
        values = list(data)
        if self.data and len(values) != len(self.data):
            raise ValueError(f"wandb.Table.add_column({name!r}): {len(values)} values for {len(self.data)} rows")
        if not self.data and self.columns and values:
            raise ValueError(f"wandb.Table.add_column({name!r}): the table has columns but no rows")
        if not self.data:
            self.data = [[] for _ in values]
        for row, value in zip(self.data, values, strict=True):
            row.append(value)
        self.columns.append(name)

    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        """The values of column ``name`` (``convert_to="numpy"``: an array)."""
        if name not in self.columns:
            raise KeyError(f"wandb.Table has no column {name!r}; its columns: {self.columns}")
        index = self.columns.index(name)
        values = [row[index] for row in self.data]
        if convert_to == "numpy":
            import numpy as np

            return np.asarray(values)
        return values

    def get_dataframe(self) -> Any:
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)

    def check(self, key: str) -> None:
        # the rows as they are now, when logged (add_data may have grown them since the last log)
        self._error = None
        try:
            self._source = self._take(None, [str(c) for c in self.columns], self.data)
        except (TypeError, ValueError) as exc:
            self._error = exc
        super().check(key)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.data), len(self.columns))


class Histogram(_media.Histogram):
    """W&B's ``wandb.Histogram``: ``sequence`` (an array, tensor or list of numbers; ``num_bins``
    bins, default 64) or ``np_histogram=(counts, edges)``. Stored as a workbench ``histogram`` item.

    >>> run.log({"weights": wandb.Histogram(layer.weight.detach())})  # doctest: +SKIP
    """

    def __init__(self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64) -> None:
        super().__init__(sequence, num_bins=num_bins, np_histogram=np_histogram)


class Audio(_media.Audio):
    """W&B's ``wandb.Audio``: samples (an array or tensor, with ``sample_rate``) or a WAV or FLAC
    file path, stored as a workbench ``audio`` item.

    >>> run.log({"clip": wandb.Audio(wave, sample_rate=16000, caption="epoch 3")})  # doctest: +SKIP
    """

    def __init__(self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None) -> None:
        super().__init__(data_or_path, sample_rate=sample_rate, caption=caption)


class Html(_media.Text):
    """W&B's ``wandb.Html``: an HTML page (a str, an open file, or a path to an ``.html`` file),
    stored as a workbench ``text`` item. It is shown as escaped text (its source), never rendered:
    a logged page cannot run script in the web app.

    >>> run.log({"report": wandb.Html("<h1>epoch 3</h1>")})  # doctest: +SKIP
    """

    #: True: the text is an HTML page (shown as its escaped source)
    html = True

    def __init__(self, data: Any, inject: bool = True, data_is_not_path: bool = False) -> None:
        text = data
        read = getattr(data, "read", None)
        if callable(read):
            text = read()
        elif isinstance(data, os.PathLike) or (
                isinstance(data, str) and not data_is_not_path and data.lower().endswith((".html", ".htm"))
                and os.path.isfile(data)):
            with open(data, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        super().__init__(text)
        if self._error is not None:
            self._error = TypeError(f"wandb.Html takes a str of HTML, an open file or an .html path, "
                                    f"not {type(data).__name__}")
