"""MetricCompare's view model: chosen metrics of the selected runs as chart-ready series.

Points come from :func:`workbench.history` with ``samples`` (M4 downsampling in the store keeps
spikes), so a chart never holds more than about ``samples`` points per run and key. Totals and
the keys on offer come from the run records (:func:`workbench.get_run`: per-key counts), which
are small files. Smoothing, the x axis and the log scale are recomputed from the cached points
without a query. ``poll`` re-reads only running runs, and only when their record says that new
points were flushed.

Colours come from :func:`workbench.ui._colors.run_colors` over the selection (one per run, the
same in every chart). With no keys chosen, the keys most runs logged are shown (up to
:data:`DEFAULT_KEYS`). In one-chart mode each key has its own line dash. ``group_by`` (a
``config.*`` key or ``tags``) draws each group as its mean line with a min/max band: each run's
downsampled points are aligned on the union of the group's steps (linear between a run's own
points, nothing outside its range) before mean, min and max are taken.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import workbench as wb
from workbench.errors import QueryError
from workbench.ui._colors import run_colors
from workbench.ui._format import when
from workbench.ui._model import Selection, ViewModel, as_selection

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

X_AXES = ("step", "time", "relative")
_LIVE = {"running", "queued"}
#: line dashes of the keys in one-chart mode (Bokeh's names; the views map them)
DASHES = ("solid", "dashed", "dotted", "dotdash", "dashdot")
#: keys shown when none were chosen
DEFAULT_KEYS = 4
#: the group of runs that have no value for the group-by key
NO_VALUE = "(none)"
GROUP_PREFIX = "group:"


@dataclass
class Series:
    """One line: a run's key, or a group's mean. ``x``/``y`` raw (downsampled), ``smooth`` the EMA of ``y``.

    ``steps``/``times`` are each point's step and wall time (epoch seconds; NaN for a group).
    A group's series has ``lo``/``hi`` (min and max over its runs) and ``members`` runs.
    """

    run_id: str
    label: str
    key: str
    color: str
    x: np.ndarray
    y: np.ndarray
    smooth: np.ndarray
    steps: np.ndarray | None = None
    times: np.ndarray | None = None
    dash: str = "solid"
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    members: int = 1

    @property
    def is_group(self) -> bool:
        return self.lo is not None


@dataclass
class LegendEntry:
    """A legend line: a run (``count`` None) or a group of ``count`` runs."""

    label: str
    color: str
    count: int | None = None


def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6g}"


def hover_columns(series: Series) -> dict[str, list[str]]:
    """Text a tooltip shows per point: ``name``, ``key``, ``step``, ``value``, ``time`` (wall time).

    A group's ``value`` is its mean with min and max. The views show these as text.
    """
    n = len(series.y)
    steps = series.steps if series.steps is not None else series.x
    times = series.times if series.times is not None else [float("nan")] * n
    if series.is_group:
        assert series.lo is not None and series.hi is not None
        values = [f"{_number(m)} (min {_number(lo)}, max {_number(hi)})"
                  for m, lo, hi in zip(series.y, series.lo, series.hi)]
    else:
        values = [_number(v) for v in series.y]
    return {
        "name": [series.label] * n,
        "key": [series.key] * n,
        "step": ["" if math.isnan(s) else f"{s:.0f}" for s in steps],
        "value": values,
        "time": ["" if math.isnan(t) else when(t) for t in times],
    }


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Debiased exponential moving average (TensorBoard's smoothing); NaNs are skipped."""
    import numpy as np
    import pandas as pd

    if weight <= 0 or len(values) == 0:
        return np.asarray(values, dtype=np.float64)
    return np.asarray(pd.Series(values, dtype="float64").ewm(alpha=1.0 - weight, adjust=True,
                                                               ignore_na=True).mean().to_numpy())


class MetricCompareModel(ViewModel):
    """Series of ``keys`` for the runs of ``source`` (a RunBrowser, a Selection or run ids)."""

    def __init__(self, source: Any = None, keys: list[str] | None = None, *, samples: int = 2000,
                 smoothing: float = 0.0, x_axis: str = "step", log_y: bool = False, grouped: bool = False,
                 root: Any = None) -> None:
        super().__init__(root if root is not None else getattr(getattr(source, "model", None), "root", None))
        self.selection: Selection = as_selection(source)
        self.samples = samples
        self.smoothing = 0.0
        self.x_axis = "step"
        self.log_y = bool(log_y)
        self.grouped = bool(grouped)
        self.keys: list[str] = list(keys or [])
        self._auto_keys = not keys
        self.group_by: str | None = None  # "tags" or a config.* key: mean and band per group
        self.groupable: list[str] = []
        self.colors: dict[str, str] = {}  # run id (or "group:" + value) -> colour
        self.available: list[str] = []
        self.series: list[Series] = []
        self.total_points = 0
        self.shown_points = 0
        self._records: dict[str, dict[str, Any]] = {}
        self._points: dict[str, pd.DataFrame] = {}  # run id -> its history (chosen keys)
        self._unsubscribe = self.selection.observe(lambda _: self.reload())
        self.set_smoothing(smoothing)
        self.set_x_axis(x_axis)
        self.reload()

    # -- derived ---------------------------------------------------------------------------------
    @property
    def run_ids(self) -> list[str]:
        return list(self.selection.run_ids)

    @property
    def keys_chosen(self) -> bool:
        """True once someone chose the keys (:meth:`set_keys`); False while they are the defaults."""
        return not self._auto_keys

    @property
    def status_text(self) -> str:
        from workbench.ui._i18n import tr

        if not self._records:
            return tr("No runs selected: select runs in the runs table to compare their metrics.")
        if not self.available:
            return tr("The selected runs have logged no metrics yet.")
        return tr("{shown} of {total} points shown", shown=f"{self.shown_points:,}", total=f"{self.total_points:,}")

    def charts(self) -> list[tuple[str, list[Series]]]:
        """(title, series) per chart: one per key, or one holding every key when ``grouped``."""
        if self.grouped:
            return [(", ".join(self.keys), list(self.series))] if self.keys else []
        return [(key, [s for s in self.series if s.key == key]) for key in self.keys]

    def legend(self) -> list[LegendEntry]:
        """Every selected run (or, when grouped, every group with its run count) and its colour."""
        if self.group_by is None:
            return [LegendEntry(str(r.get("name") or rid), self.colors[rid]) for rid, r in self._records.items()]
        return [LegendEntry(label, self.colors[GROUP_PREFIX + label], len(members))
                for label, members in self._groups().items()]

    def key_dashes(self) -> list[tuple[str, str]]:
        """(key, dash) of each key in one-chart mode with several keys; empty otherwise."""
        if not self.grouped or len(self.keys) < 2:
            return []
        return [(key, DASHES[i % len(DASHES)]) for i, key in enumerate(self.keys)]

    # -- actions ---------------------------------------------------------------------------------
    def reload(self) -> None:
        """Read records and history of the selected runs again."""
        with self._lock, self.guard("Metrics"):
            self._records = {rid: wb.get_run(rid, root=self.root) for rid in self.run_ids}
            self._update_available()
            self._points = self._read(list(self._records))
            self._build()
            self.notify("series", "keys")

    def set_keys(self, keys: list[str]) -> None:
        """Show these keys; an unknown key sets ``error`` (and the chart keeps the valid ones)."""
        with self._lock, self.guard("Metrics"):
            keys = list(dict.fromkeys(keys))
            unknown = [k for k in keys if k not in self.available]
            self.keys = [k for k in keys if k in self.available]
            self._auto_keys = False
            self._points = self._read(list(self._records))
            self._build()
            self.notify("series", "keys")
            if unknown:
                offered = ", ".join(self.available) or "none"
                raise QueryError(f"unknown metric key(s) {', '.join(map(repr, unknown))}: the selected runs "
                                 f"logged {offered}")

    def set_smoothing(self, weight: float) -> None:
        with self._lock, self.guard("Smoothing"):
            weight = float(weight)
            if not 0.0 <= weight <= 0.99:
                raise QueryError(f"smoothing must be between 0 and 0.99, not {weight}")
            if weight != self.smoothing:
                self.smoothing = weight
                for s in self.series:
                    s.smooth = ema(s.y, weight)
                self.notify("series")

    def set_x_axis(self, axis: str) -> None:
        with self._lock, self.guard("X axis"):
            if axis not in X_AXES:
                raise QueryError(f"x axis {axis!r} is not one of {', '.join(X_AXES)}")
            if axis != self.x_axis:
                self.x_axis = axis
                self._build()
                self.notify("series", "axes")

    def set_log(self, log_y: bool) -> None:
        with self._lock:
            if bool(log_y) != self.log_y:
                self.log_y = bool(log_y)
                self.notify("series", "axes")

    def set_grouped(self, grouped: bool) -> None:
        with self._lock:
            if bool(grouped) != self.grouped:
                self.grouped = bool(grouped)
                self._build()  # a dash per key in one chart
                self.notify("series", "keys")

    def set_group_by(self, key: str | None) -> None:
        """Group runs by ``tags`` or a ``config.*`` key (None: one line per run again)."""
        with self._lock, self.guard("Group by"):
            key = key or None
            if key is not None and key not in self.groupable:
                raise QueryError(f"cannot group by {key!r}: the selected runs have "
                                 f"{', '.join(self.groupable) or 'no config keys or tags'}")
            if key != self.group_by:
                self.group_by = key
                self._build()
                self.notify("series", "groups")

    def poll(self) -> bool:
        """Re-read the history of running runs whose record shows new points or a new status."""
        with self._lock:
            changed = []
            for rid, record in list(self._records.items()):
                if record.get("status") not in _LIVE:
                    continue
                try:
                    fresh = wb.get_run(rid, root=self.root)
                except wb.WorkbenchError:
                    continue
                if (fresh.get("status"), fresh.get("metrics")) != (record.get("status"), record.get("metrics")):
                    self._records[rid] = fresh
                    changed.append(rid)
            if not changed:
                return False
            with self.guard("Metrics"):
                before = list(self.available)
                self._update_available()
                self._points.update(self._read(changed))
                self._build()
                self.notify("series", "keys") if before != self.available else self.notify("series")
            return True

    def close(self) -> None:
        self._unsubscribe()

    # -- internals -------------------------------------------------------------------------------
    def _update_available(self) -> None:
        runs_with: dict[str, int] = {}
        groupable: dict[str, None] = {"tags": None}
        for record in self._records.values():
            for key in record.get("metrics") or {}:
                runs_with[key] = runs_with.get(key, 0) + 1
            groupable.update(dict.fromkeys(sorted("config." + k for k in _flat(record.get("config") or {}))))
        self.available = sorted(runs_with, key=lambda k: (k.startswith("sys/"), k))
        self.groupable = list(groupable)
        if self.group_by is not None and self.group_by not in self.groupable:
            self.group_by = None
        if self._auto_keys:
            # the keys most runs logged, a loss first among equals (like W&B's default panels)
            plain = [k for k in self.available if not k.startswith("sys/")]
            self.keys = sorted(plain, key=lambda k: (-runs_with[k], "loss" not in k.lower(), k))[:DEFAULT_KEYS]
        else:
            self.keys = [k for k in self.keys if k in self.available] or self.keys

    def _groups(self) -> dict[str, list[str]]:
        """Group value -> run ids, values in order (numbers by size), runs without a value last.

        With ``tags`` a run belongs to the group of each of its tags.
        """
        groups: dict[str, list[str]] = {}
        for rid, record in self._records.items():
            for value in _group_values(record, self.group_by or ""):
                groups.setdefault(value, []).append(rid)
        return {v: groups[v] for v in sorted(groups, key=_value_order)}

    def _read(self, run_ids: list[str]) -> dict[str, pd.DataFrame]:
        keys = [k for k in self.keys if k in self.available]
        if not run_ids or not keys:
            return {rid: _no_points() for rid in run_ids}
        frame = wb.history(run_ids, keys=keys, samples=self.samples, root=self.root)
        groups = {str(rid): part for rid, part in frame.groupby("run_id", sort=False)}
        return {rid: groups.get(rid, _no_points()) for rid in run_ids}

    def _build(self) -> None:
        import numpy as np

        series: list[Series] = []
        total = 0
        self.colors = run_colors(list(self._records))
        dashes = dict(self.key_dashes())
        for rid in self._records:
            record = self._records[rid]
            points = self._points.get(rid, _no_points())
            stats = record.get("metrics") or {}
            start = record.get("started") or record.get("created")
            label = str(record.get("name") or rid)
            for key in self.keys:
                total += int((stats.get(key) or {}).get("count") or 0)
                part = points[points["key"] == key] if len(points) else points
                if not len(part):
                    continue
                y = part["value"].to_numpy(dtype=np.float64)
                steps = part["step"].to_numpy(dtype=np.float64)
                times = part["time"].to_numpy(dtype=np.float64)
                if self.x_axis == "step":
                    x = steps
                elif self.x_axis == "time":
                    x = times
                else:
                    x = times - float(start if start is not None else times.min())
                series.append(Series(rid, label, key, self.colors[rid], x, y, ema(y, self.smoothing), steps, times,
                                     dashes.get(key, "solid")))
        self.total_points = total
        self.shown_points = sum(len(s.y) for s in series)
        if self.group_by is not None:
            series = self._group_series(series, dashes)
        self.series = series

    def _group_series(self, runs: list[Series], dashes: dict[str, str]) -> list[Series]:
        groups = self._groups()
        self.colors.update(run_colors((GROUP_PREFIX + label for label in groups), ordered=True))
        by_run_key = {(s.run_id, s.key): s for s in runs}
        out = []
        for key in self.keys:
            for label, members in groups.items():
                parts = [by_run_key[(rid, key)] for rid in members if (rid, key) in by_run_key]
                if not parts:
                    continue
                steps, x, mean, lo, hi = aggregate(parts, self.x_axis == "step")
                out.append(Series(GROUP_PREFIX + label, f"{label} ({len(members)})", key,
                                  self.colors[GROUP_PREFIX + label], x, mean, ema(mean, self.smoothing), steps,
                                  steps * float("nan"), dashes.get(key, "solid"), lo, hi, len(members)))
        return out


def aggregate(parts: list[Series], by_step: bool) -> tuple[np.ndarray, ...]:
    """``(steps, x, mean, min, max)`` of several runs' series on the union of their steps.

    Each run counts only within its own steps (linear between its points); ``x`` is the step, or
    on a time axis the mean of the runs' x at that step.
    """
    import numpy as np

    clean = []
    for s in parts:
        steps = s.steps if s.steps is not None else s.x
        keep = ~np.isnan(s.y) & ~np.isnan(steps)
        order = np.argsort(steps[keep], kind="stable")
        clean.append((steps[keep][order], s.y[keep][order], s.x[keep][order]))
    union = np.unique(np.concatenate([c[0] for c in clean])) if clean else np.array([])
    ys = np.full((len(clean), len(union)), np.nan)
    xs = np.full((len(clean), len(union)), np.nan)
    for i, (steps, y, x) in enumerate(clean):
        if not len(steps):
            continue
        inside = (union >= steps[0]) & (union <= steps[-1])
        ys[i, inside] = np.interp(union[inside], steps, y)
        xs[i, inside] = np.interp(union[inside], steps, x)
    if not len(union):
        empty = np.array([], dtype=np.float64)
        return empty, empty, empty, empty, empty
    x_out = union.astype(np.float64) if by_step else np.nanmean(xs, axis=0)
    return union.astype(np.float64), x_out, np.nanmean(ys, axis=0), np.nanmin(ys, axis=0), np.nanmax(ys, axis=0)


def _flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in config.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _group_values(record: dict[str, Any], group_by: str) -> list[str]:
    if group_by == "tags":
        return [str(t) for t in record.get("tags") or []] or [NO_VALUE]
    value = _flat(record.get("config") or {}).get(group_by.removeprefix("config."))
    return [NO_VALUE if value is None else str(value)]


def _value_order(value: str) -> tuple[int, float, str]:
    if value == NO_VALUE:
        return (2, 0.0, value)
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def _no_points() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({"run_id": [], "key": [], "step": [], "value": [], "time": []})


def plotted(values: np.ndarray, log_y: bool) -> np.ndarray:
    """Values as a chart draws them: on a log scale, values <= 0 become gaps (NaN)."""
    import numpy as np

    if not log_y:
        return values
    return np.where(values > 0, values, np.nan)
