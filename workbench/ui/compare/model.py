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

**Zoom re-query.** :meth:`MetricCompareModel.set_window` (and the coalesced
:meth:`~MetricCompareModel.request_window` the views call on a box or wheel zoom, a pan) re-reads
the shown runs and keys with ``history(samples=, range=(lo, hi))``: the steps in view get their
own ``samples`` points, so a window of up to ``samples`` steps is drawn at full resolution. The
window is in the x axis' units; on the ``time`` and ``relative`` axes it is mapped back to steps
per run through that run's full-range points (from the step of the last point at or before the
window's start to the step of the first point at or after its end: a little wider than the window,
never narrower, while wall time grows with the step), so each run is re-read with its own step
range. The window's points replace the full-range points inside its steps; outside they stay, so
panning shows lines at once and :meth:`~MetricCompareModel.reset_window` is instant (no query).
A run whose keys all hold at most ``samples`` points is already complete and is not re-read.
A window that covers every series is the full range. Any change that redraws the charts anew
(runs, keys, axis, log scale, grouping) drops the window; smoothing and live refresh keep it (a
running run that logged more is re-read over its full range and over the window).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import workbench as wb
from workbench.errors import QueryError
from workbench.ui._colors import run_colors
from workbench.ui._format import when
from workbench.ui._model import Selection, ViewModel, as_selection, log

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
#: a window: ``(lo, hi)`` in the x axis' units
Window = tuple[float, float]
#: how a view runs a window's result on its own thread (Panel: the document's next tick)
Deliver = Callable[[Callable[[], None]], None]


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
        self._points: dict[str, pd.DataFrame] = {}  # run id -> its history (chosen keys), full range
        #: the zoom window (x axis units) whose steps were re-read, or None: the full range
        self.window: Window | None = None
        #: run id -> (first step, last step) re-read for the window
        self.window_steps: dict[str, tuple[int, int]] = {}
        #: how many window re-reads ran (each is one ``history`` call per distinct step range)
        self.window_reads = 0
        self._zoomed: dict[str, pd.DataFrame] = {}  # run id -> full-range points with the window's inside
        self._window_seq = 0  # bumped by every window request and by every change that drops the window
        self._window_next: tuple[Window, int, Deliver | None] | None = None  # the latest request not yet read
        self._window_asked: Window | None = None  # the latest window asked for (shown, read or waiting)
        self._window_busy = False
        self._window_idle = threading.Event()
        self._window_idle.set()
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
        text = tr("{shown} of {total} points shown", shown=f"{self.shown_points:,}", total=f"{self.total_points:,}")
        if self.window_steps:
            lo = min(lo for lo, _ in self.window_steps.values())
            hi = max(hi for _, hi in self.window_steps.values())
            text += " \u00b7 " + tr("zoomed: steps {lo} to {hi} re-read", lo=f"{lo:,}", hi=f"{hi:,}")
        return text

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
            self._drop_window()
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
            self._drop_window()
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
                self._drop_window()
                self._build()
                self.notify("series", "axes")

    def set_log(self, log_y: bool) -> None:
        with self._lock:
            if bool(log_y) != self.log_y:
                self.log_y = bool(log_y)
                if self._drop_window():
                    self._build()
                self.notify("series", "axes")

    def set_grouped(self, grouped: bool) -> None:
        with self._lock:
            if bool(grouped) != self.grouped:
                self.grouped = bool(grouped)
                self._drop_window()
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
                self._drop_window()
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
                before = (list(self.available), list(self.keys))
                self._update_available()
                if before[1] != self.keys:
                    self._drop_window()  # new default keys: the charts are drawn anew
                self._points.update(self._read(changed))
                if self.window is not None:  # the window's steps of these runs, with what they logged since
                    plan = self._window_plan(self.window, changed)
                    self._install_window(plan, self._read_window(plan), changed)
                self._build()
                self.notify("series", "keys") if before[0] != self.available else self.notify("series")
            return True

    # -- zoom ------------------------------------------------------------------------------------
    def set_window(self, lo: float, hi: float) -> None:
        """Show x from ``lo`` to ``hi`` (the x axis' units), its steps re-read at full resolution.

        Reads now, on the caller's thread; a window covering every series is :meth:`reset_window`.
        Views call :meth:`request_window`, which coalesces a zoom's many events.
        """
        with self._lock, self.guard("Zoom"):
            window = self._checked_window(lo, hi)
            self._window_seq += 1
            self._window_next = None
            if window is None:
                self._show_full()
                return
            plan = self._window_plan(window, list(self._records))
            parts = self._read_window(plan)
            self._window_asked = window
            self._zoomed = {}
            self.window_steps = {}
            self._install_window(plan, parts, list(self._records))
            self.window = window
            self._build()
            self.notify("series", "window")

    def request_window(self, lo: Any, hi: Any, deliver: Deliver | None = None) -> None:
        """Ask for :meth:`set_window` without waiting: what zoom and pan events call.

        At most one read is in flight (a background thread); requests that come meanwhile replace
        each other, so only the latest is read next. A result is shown only while it is still
        the latest request. ``deliver(apply)`` runs ``apply`` where the view may change its
        widgets (Panel: ``document.add_next_tick_callback``); by default the reading thread runs it.
        Values that are not finite numbers are ignored; a window covering every series resets.
        """
        with self._lock:
            try:
                window = self._checked_window(lo, hi)
            except QueryError:
                return
            if window is None:
                self._window_seq += 1
                self._window_next = None
                self._show_full()
                return
            if window == self._window_asked:
                return  # shown, being read or waiting already (linked charts each report the same zoom)
            self._window_asked = window
            self._window_seq += 1
            self._window_next = (window, self._window_seq, deliver)
            if self._window_busy:
                return
            self._window_busy = True
            self._window_idle.clear()
        threading.Thread(target=self._window_worker, name="workbench-ui-zoom", daemon=True).start()

    def reset_window(self) -> None:
        """Show the full range again: the full-range points are kept, so nothing is read."""
        with self._lock:
            self._window_seq += 1
            self._window_next = None
            self._show_full()

    def wait_window(self, timeout: float | None = None) -> bool:
        """Wait until no window read is in flight or asked for; False on timeout."""
        return self._window_idle.wait(timeout)

    def close(self) -> None:
        self._unsubscribe()
        with self._lock:
            self._window_seq += 1
            self._window_next = None

    # -- internals -------------------------------------------------------------------------------
    def _drop_window(self) -> bool:
        """Forget the window (the caller rebuilds); True when there was one."""
        self._window_seq += 1
        self._window_next = self._window_asked = None
        had = self.window is not None
        self.window, self.window_steps, self._zoomed = None, {}, {}
        return had

    def _show_full(self) -> None:
        if self._drop_window():
            self._build()
            self.notify("series", "window")

    def _checked_window(self, lo: Any, hi: Any) -> Window | None:
        """``(lo, hi)`` as floats in order, or None when it covers every series (the full range)."""
        import numpy as np

        try:
            lo, hi = float(lo), float(hi)
        except (TypeError, ValueError):
            raise QueryError(f"a zoom window needs two numbers, not {lo!r} and {hi!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise QueryError(f"a zoom window needs finite numbers, not {lo!r} and {hi!r}")
        lo, hi = min(lo, hi), max(lo, hi)
        extents = [(float(np.nanmin(s.x)), float(np.nanmax(s.x))) for s in self.series if np.isfinite(s.x).any()]
        if not extents or (lo <= min(e[0] for e in extents) and hi >= max(e[1] for e in extents)):
            return None
        return lo, hi


    def _window_plan(self, window: Window, run_ids: list[str]) -> dict[tuple[int, int], list[str]]:
        """Step range -> the runs to re-read over it for ``window``.

        A run is left out when the window covers all of its steps or none of them, or when its
        shown keys hold at most ``samples`` points each (the full-range read has them all).
        """
        import numpy as np

        lo, hi = window
        plan: dict[tuple[int, int], list[str]] = {}
        for rid in run_ids:
            points, record = self._points.get(rid), self._records.get(rid) or {}
            stats = record.get("metrics") or {}
            counts = [(stats.get(key) or {}).get("count") for key in self.keys]
            if points is None or not len(points) or all(isinstance(c, int) and c <= self.samples for c in counts):
                continue
            steps = points["step"].to_numpy(dtype=np.float64)  # every shown key's: their union of steps
            x = self._x(record, steps, points["time"].to_numpy(dtype=np.float64))
            keep = ~(np.isnan(steps) | np.isnan(x))
            steps, x = steps[keep], x[keep]
            if not len(steps):
                continue
            if self.x_axis == "step":
                first, last = math.floor(lo), math.ceil(hi)
            else:  # the steps of the points just outside the window, per run
                before, after = steps[x <= lo], steps[x >= hi]
                start = float(before.max()) if len(before) else float(steps.min())
                end = float(after.min()) if len(after) else float(steps.max())
                first, last = math.floor(min(start, end)), math.ceil(max(start, end))
            if (first <= steps.min() and last >= steps.max()) or last < steps.min() or first > steps.max():
                continue
            plan.setdefault((int(first), int(last)), []).append(rid)
        return plan

    def _read_window(self, plan: dict[tuple[int, int], list[str]]) -> dict[str, pd.DataFrame]:
        """The points of each planned run over its step range (``samples`` per run and key)."""
        keys = [k for k in self.keys if k in self.available]
        out: dict[str, pd.DataFrame] = {}
        for (first, last), run_ids in plan.items():
            frame = wb.history(run_ids, keys=keys, samples=self.samples, range=(first, last), root=self.root)
            if len(run_ids) == 1:  # one run (each run's own range on a time axis): no split
                out[run_ids[0]] = frame
                continue
            groups = {str(rid): part for rid, part in frame.groupby("run_id", sort=False)}
            out.update({rid: groups.get(rid, _no_points()) for rid in run_ids})
        if plan:
            self.window_reads += 1
        return out

    def _install_window(self, plan: dict[tuple[int, int], list[str]], parts: dict[str, pd.DataFrame],
                        run_ids: list[str]) -> None:
        """Put each planned run's window points in place of its full-range points in those steps."""
        import pandas as pd

        steps = {rid: span for span, rids in plan.items() for rid in rids}
        for rid in run_ids:
            self._zoomed.pop(rid, None)
            self.window_steps.pop(rid, None)
            if rid not in steps or rid not in parts:
                continue
            first, last = steps[rid]
            full = self._points.get(rid)
            if full is None or not len(full):
                self._zoomed[rid] = parts[rid]
            else:  # per key, steps stay in order: those before the window, the window's, those after
                steps = full["step"]
                self._zoomed[rid] = pd.concat([full[steps < first], parts[rid], full[steps > last]],
                                              ignore_index=True)
            self.window_steps[rid] = (first, last)

    def _window_worker(self) -> None:
        """Read the latest requested window until none is left (one read at a time)."""
        try:
            self._window_loop()
        except Exception:  # noqa: BLE001 - a broken read must not leave the zoom waiting forever
            log.exception("reading a zoom window failed")
            with self._lock:
                self._window_busy = False
                self._window_idle.set()

    def _window_loop(self) -> None:
        while True:
            with self._lock:
                job = self._window_next
                self._window_next = None
                if job is None:  # decided under the lock that a request checks: none is lost
                    self._window_busy = False
                    self._window_idle.set()
                    return
                window, seq, deliver = job
                plan = self._window_plan(window, list(self._records))
            try:
                parts = self._read_window(plan)
            except (wb.WorkbenchError, OSError) as exc:
                message = self._message("Zoom", exc)

                def failed(seq: int = seq, message: str = message) -> None:
                    with self._lock:
                        if seq == self._window_seq:
                            self._window_asked = self.window  # asking again reads again
                            self._fail(message)

                (deliver or _now)(failed)
                continue

            def apply(window: Window = window, seq: int = seq, plan: dict[tuple[int, int], list[str]] = plan,
                      parts: dict[str, pd.DataFrame] = parts) -> None:
                with self._lock:
                    if seq != self._window_seq:
                        return  # a newer request, or a change that dropped the window
                    self._zoomed, self.window_steps = {}, {}
                    self._install_window(plan, parts, list(self._records))
                    self.window = window
                    self._build()
                    self.notify("series", "window")

            (deliver or _now)(apply)

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
        self.colors = run_colors(list(self._records))
        series = self._run_series()
        self.total_points = sum(int(((r.get("metrics") or {}).get(key) or {}).get("count") or 0)
                                for r in self._records.values() for key in self.keys)
        self.shown_points = sum(len(s.y) for s in series)
        if self.group_by is not None:
            series = self._group_series(series, dict(self.key_dashes()))
        for s in series:
            s.smooth = ema(s.y, self.smoothing)
        self.series = series

    def _run_series(self) -> list[Series]:
        """A series per run and key (the window's points inside the window), not yet smoothed."""
        import numpy as np

        series: list[Series] = []
        colors = self.colors if set(self._records) <= set(self.colors) else run_colors(list(self._records))
        dashes = dict(self.key_dashes())
        for rid, record in self._records.items():
            points = self._zoomed.get(rid)
            if points is None:
                points = self._points.get(rid)
            if points is None:
                continue
            label = str(record.get("name") or rid)
            for key in self.keys:
                part = points[points["key"] == key] if len(points) else points
                if not len(part):
                    continue
                y = part["value"].to_numpy(dtype=np.float64)
                steps = part["step"].to_numpy(dtype=np.float64)
                times = part["time"].to_numpy(dtype=np.float64)
                x = self._x(record, steps, times)
                series.append(Series(rid, label, key, colors[rid], x, y, y, steps, times, dashes.get(key, "solid")))
        return series

    def _x(self, record: dict[str, Any], steps: np.ndarray, times: np.ndarray) -> np.ndarray:
        """The x of points of the run of ``record`` on the current axis."""
        if self.x_axis == "step":
            return steps
        if self.x_axis == "time":
            return times
        start = record.get("started") or record.get("created")
        return times - float(start if start is not None else times.min())

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
                                  self.colors[GROUP_PREFIX + label], x, mean, mean, steps,
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


def _now(apply: Callable[[], None]) -> None:
    apply()


@functools.cache
def _no_points() -> pd.DataFrame:
    """No points (one shared, never changed, frame)."""
    import pandas as pd

    return pd.DataFrame({"run_id": [], "key": [], "step": [], "value": [], "time": []})


def plotted(values: np.ndarray, log_y: bool) -> np.ndarray:
    """Values as a chart draws them: on a log scale, values <= 0 become gaps (NaN)."""
    import numpy as np

    if not log_y:
        return values
    return np.where(values > 0, values, np.nan)
