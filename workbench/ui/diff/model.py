"""View models of ConfigDiff (which keys differ between runs) and ParallelCoordinates (one polyline
per run across config and summary dims), through the public API only."""

from __future__ import annotations

import math
import numbers
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import workbench as wb
from workbench.ui._i18n import tr
from workbench.ui._model import Selection, ViewModel, as_selection
from workbench.ui.detail._flatten import flatten, text

__all__ = ["ConfigDiffModel", "ParallelCoordinatesModel"]

_LIVE = ("queued", "running")
_PLAIN_ID = re.compile(r"^[0-9a-z]{1,64}$")


def _values(record: dict[str, Any], include_summary: bool) -> dict[str, Any]:
    values = {f"config.{k}": v for k, v in flatten(record.get("config")).items()}
    if include_summary:
        values.update({f"summary.{k}": v for k, v in (record.get("summary") or {}).items()
                       if not k.startswith("sys/")})
    return values


class _FollowsRuns(ViewModel):
    """A model over the runs of a Selection (or fixed run ids), reloaded when it changes."""

    def __init__(self, source: Any, root: Any) -> None:
        super().__init__(root)
        self.selection: Selection = as_selection(source)
        self._unfollow: Callable[[], None] = self.selection.observe(self._selection_changed)

    def _selection_changed(self, fields: frozenset[str]) -> None:
        if "run_ids" in fields:
            self.reload()

    def reload(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._unfollow()


class ConfigDiffModel(_FollowsRuns):
    """A key x run table of config (and, with ``include_summary``, summary) values.

    Fields: ``table`` (runs, rows or toggles changed), ``error``.
    """

    def __init__(self, source: Any = None, *, root: Any = None, include_summary: bool = False,
                 show_all: bool = False) -> None:
        super().__init__(source, root)
        self.include_summary = include_summary
        self.show_all = show_all
        self.records: list[dict[str, Any]] = []
        self.reload()

    def reload(self) -> None:
        records = []
        with self.guard(tr("Compare")):
            records = [wb.get_run(run_id, root=self.root) for run_id in self.selection.run_ids]
        self.records = records
        self.notify("table")

    @property
    def hint(self) -> str:
        """Why the table is empty, or ``""``."""
        if len(self.records) < 2:
            return tr("Select two or more runs to compare")
        if not self.rows():
            return tr("No differences") if not self.show_all else tr("No keys")
        return ""

    def columns(self) -> list[str]:
        """One label per run: its name and short id."""
        return [f"{r.get('name') or ''} ({str(r['id'])[:8]})".strip() for r in self.records]

    def rows(self) -> list[tuple[str, list[str], list[bool]]]:
        """(key, value text per run, which cells differ) for the differing keys, or every key.

        A cell differs when it is not the row's most common value (all of them, when no value
        repeats); a key missing from a run differs too.
        """
        per_run = [_values(r, self.include_summary) for r in self.records]
        keys = sorted({k for values in per_run for k in values})
        out = []
        for key in keys:
            cells = [text(values[key]) if key in values else "" for values in per_run]
            present = [key in values for values in per_run]
            top, count = Counter(zip(cells, present, strict=True)).most_common(1)[0]
            flags = [True] * len(cells) if count == 1 and len(cells) > 1 else \
                [(c, p) != top for c, p in zip(cells, present, strict=True)]
            if any(flags) or self.show_all:
                out.append((key, cells, flags))
        return out

    def set_show_all(self, value: bool) -> None:
        if value != self.show_all:
            self.show_all = bool(value)
            self.notify("table")

    def set_include_summary(self, value: bool) -> None:
        if value != self.include_summary:
            self.include_summary = bool(value)
            self.notify("table")

    def poll(self) -> bool:
        """Summaries of live runs change: re-read them while the summary is shown."""
        if self.include_summary and any(r.get("status") in _LIVE for r in self.records):
            before = self.records
            self.reload()
            return self.records != before
        return False


class ParallelCoordinatesModel(_FollowsRuns):
    """Runs as polylines across ``dims`` (``config.*`` / ``summary.*`` keys), coloured by ``color``.

    Numeric dims are scaled to [0, 1] (min to max); other dims become evenly spaced levels, one per
    category. Fields: ``data`` (runs, dims or colour changed), ``error``.
    """

    def __init__(self, source: Any = None, dims: Sequence[str] | None = None, color: str | None = None, *,
                 project: str | None = None, root: Any = None) -> None:
        super().__init__(source, root)
        self.project = project
        self.frame: Any = None
        self.dims: list[str] = list(dims or [])
        self.color: str | None = color
        self._explicit = dims is not None, color is not None
        self.reload()

    # -- loading ---------------------------------------------------------------------------------
    def reload(self) -> None:
        with self.guard(tr("Load runs")):
            self.frame = self._query()
            available = self.available()
            if self._explicit[0]:  # keep the dims these runs have; say which are not there
                wanted, self.dims = self.dims, [d for d in self.dims if d in available]
                self._check(wanted, available)
            else:
                self.dims = self._default_dims(available)
            if self._explicit[1] and self.color is not None:
                wanted_color = self.color
                self.color = wanted_color if wanted_color in self.numeric_keys() else None
                self._check([wanted_color], self.numeric_keys())
            elif not self._explicit[1]:
                summaries = [k for k in self.numeric_keys() if k.startswith("summary.")]
                self.color = summaries[0] if summaries else None
        self.notify("data")

    def _query(self) -> Any:
        ids = list(self.selection.run_ids)
        if not ids:
            return wb.runs(project=self.project, root=self.root) if self.project else None
        if not all(_PLAIN_ID.match(i) for i in ids):
            raise wb.RunNotFound(f"{next(i for i in ids if not _PLAIN_ID.match(i))!r} is not a run id")
        frame = wb.runs(project=self.project, where=_id_filter(ids), root=self.root)
        if len(frame) < len(ids):  # prefixes: resolve them (an unknown one raises RunNotFound)
            ids = [str(wb.get_run(i, root=self.root)["id"]) for i in ids]
            frame = wb.runs(project=self.project, where=_id_filter(ids), root=self.root)
        return frame

    def _check(self, keys: Sequence[str], available: Sequence[str]) -> None:
        unknown = [k for k in keys if k not in available]
        if unknown:
            raise wb.QueryError(f"{unknown[0]!r} is not a dimension of these runs; choose from "
                                f"{', '.join(available) or '(none: select runs first)'}")

    def _default_dims(self, available: list[str]) -> list[str]:
        """Config keys that vary between the runs (at most 8), then the summary keys (at most 3)."""
        frame = self.frame
        config = [k for k in available
                  if k.startswith("config.") and frame[k].astype(str).nunique(dropna=False) > 1][:8]
        summary = [k for k in available if k.startswith("summary.") and k in self.numeric_keys()][:3]
        return config + summary

    # -- what the views show ---------------------------------------------------------------------
    def available(self) -> list[str]:
        if self.frame is None:
            return []
        return [c for c in self.frame.columns
                if (c.startswith("config.") or c.startswith("summary.")) and not c.startswith("summary.sys/")]

    def numeric_keys(self) -> list[str]:
        return [c for c in self.available() if _numeric(self.frame[c])]

    @property
    def run_ids(self) -> list[str]:
        return [] if self.frame is None else [str(r) for r in self.frame["run_id"]]

    @property
    def names(self) -> list[str]:
        return [] if self.frame is None else [str(n or "") for n in self.frame["name"]]

    def axes(self) -> list[dict[str, Any]]:
        """Per dim: ``key``, ``kind`` (numeric / categorical), ``labels`` [(position, text)], ``positions``."""
        out = []
        for key in self.dims:
            column = self.frame[key]
            if _numeric(column):
                values = [_float(v) for v in column]
                finite = [v for v in values if not math.isnan(v)]
                low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
                span = high - low
                positions = [math.nan if math.isnan(v) else (0.5 if span == 0 else (v - low) / span)
                             for v in values]
                labels = [(0.0, text(low)), (1.0, text(high))] if span else [(0.5, text(low))]
                out.append({"key": key, "kind": "numeric", "labels": labels, "positions": positions,
                            "range": (low, high)})
            else:
                cells = [None if _missing(v) else text(v) for v in column]
                levels = sorted({c for c in cells if c is not None})
                step = 1 / (len(levels) - 1) if len(levels) > 1 else 0.0
                where = {c: (i * step if len(levels) > 1 else 0.5) for i, c in enumerate(levels)}
                out.append({"key": key, "kind": "categorical", "labels": [(where[c], c) for c in levels],
                            "positions": [math.nan if c is None else where[c] for c in cells]})
        return out

    def lines(self) -> list[list[float]]:
        """One list of positions (one per dim, NaN for missing) per run."""
        axes = self.axes()
        return [[axis["positions"][i] for axis in axes] for i in range(len(self.run_ids))]

    def color_values(self) -> list[float]:
        if self.color is None or self.frame is None:
            return [math.nan] * len(self.run_ids)
        return [_float(v) for v in self.frame[self.color]]

    def color_range(self) -> tuple[float, float] | None:
        finite = [v for v in self.color_values() if not math.isnan(v)]
        return (min(finite), max(finite)) if finite else None

    # -- actions ---------------------------------------------------------------------------------
    def set_dims(self, dims: Sequence[str]) -> None:
        with self.guard(tr("Dimensions")):
            self._check(list(dims), self.available())
            self.dims, self._explicit = list(dims), (True, self._explicit[1])
            self.notify("data")

    def set_color(self, key: str | None) -> None:
        with self.guard(tr("Colour")):
            if key is not None:
                self._check([key], self.numeric_keys())
            self.color, self._explicit = key, (self._explicit[0], True)
            self.notify("data")


def _id_filter(ids: Sequence[str]) -> str:
    # ids are checked against _PLAIN_ID first: nothing but [0-9a-z] reaches the expression
    return "run_id in (" + ", ".join(f"'{i}'" for i in ids) + ")"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _float(value: Any) -> float:
    try:
        return math.nan if _missing(value) or isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return math.nan


def _numeric(column: Any) -> bool:
    """Numbers only (bools and text are categories); missing values allowed."""
    present = [v for v in column if not _missing(v)]
    return bool(present) and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in present)
