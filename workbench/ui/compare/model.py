"""MetricCompare's view model: chosen metrics of the selected runs as chart-ready series.

Points come from :func:`workbench.history` with ``samples`` (M4 downsampling in the store keeps
spikes), so a chart never holds more than about ``samples`` points per run and key. Totals and
the keys on offer come from the run records (:func:`workbench.get_run`: per-key counts), which
are small files. Smoothing, the x axis and the log scale are recomputed from the cached points
without a query. ``poll`` re-reads only running runs, and only when their record says that new
points were flushed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import workbench as wb
from workbench.errors import QueryError
from workbench.ui._model import Selection, ViewModel, as_selection

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

X_AXES = ("step", "time", "relative")
_LIVE = {"running", "queued"}
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


@dataclass
class Series:
    """One line: a run's key. ``x``/``y`` raw (downsampled), ``smooth`` the EMA of ``y``."""

    run_id: str
    label: str
    key: str
    color: str
    x: np.ndarray
    y: np.ndarray
    smooth: np.ndarray


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
        self._auto_keys = keys is None
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
    def status_text(self) -> str:
        from workbench.ui._i18n import tr

        return tr("{shown} of {total} points shown", shown=f"{self.shown_points:,}", total=f"{self.total_points:,}")

    def charts(self) -> list[tuple[str, list[Series]]]:
        """(title, series) per chart: one per key, or one holding every key when ``grouped``."""
        if self.grouped:
            return [(", ".join(self.keys), list(self.series))] if self.keys else []
        return [(key, [s for s in self.series if s.key == key]) for key in self.keys]

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
                self.notify("series", "keys")

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
        keys: dict[str, None] = {}
        for record in self._records.values():
            keys.update(dict.fromkeys(sorted(record.get("metrics") or {})))
        self.available = sorted(keys, key=lambda k: (k.startswith("sys/"), k))
        if self._auto_keys:
            # like W&B's default panel: a loss first when the runs log one
            plain = [k for k in self.available if not k.startswith("sys/")]
            self.keys = sorted(plain, key=lambda k: ("loss" not in k.lower(), k))[:1]
        else:
            self.keys = [k for k in self.keys if k in self.available] or self.keys

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
        for i, rid in enumerate(self._records):
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
                if self.x_axis == "step":
                    x = part["step"].to_numpy(dtype=np.float64)
                elif self.x_axis == "time":
                    x = part["time"].to_numpy(dtype=np.float64)
                else:
                    times = part["time"].to_numpy(dtype=np.float64)
                    x = times - float(start if start is not None else times.min())
                series.append(Series(rid, label, key, PALETTE[i % len(PALETTE)], x, y, ema(y, self.smoothing)))
        self.series = series
        self.total_points = total
        self.shown_points = sum(len(s.y) for s in series)


def _no_points() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({"run_id": [], "key": [], "step": [], "value": [], "time": []})


def plotted(values: np.ndarray, log_y: bool) -> np.ndarray:
    """Values as a chart draws them: on a log scale, values <= 0 become gaps (NaN)."""
    import numpy as np

    if not log_y:
        return values
    return np.where(values > 0, values, np.nan)
