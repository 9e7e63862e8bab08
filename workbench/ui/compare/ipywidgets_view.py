"""MetricCompare for notebooks and Voila: ipywidgets controls and bqplot charts.

Each series is two bqplot ``Lines``: the raw points faint, the smoothed ones strong (a group's
min/max band first, ``fill="between"``), plus an invisible ``Scatter`` on the smoothed points
whose tooltip names run, key, step, value and wall time (bqplot tooltips are text). The legend is
one scrollable list beside the charts (:mod:`workbench.ui.compare._legend`). When only values
change (a live run logged more, the smoothing moved) the marks are updated in place; a new set of
runs, keys, groups or axes rebuilds the figures.

Zoom: every figure has bqplot's ``PanZoom`` interaction on its x axis (the wheel zooms, a drag
pans), and the figures share one x scale, so they move together. The scale's ``min``/``max``
(sent back to the kernel as the user zooms) ask the model for that window
(:meth:`MetricCompareModel.request_window`: at most one read in flight, the latest window next),
whose points then replace the marks' data; **Reset zoom** gives the scales back their automatic
range and the model its full-range points (no read).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from workbench.ui import _html, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import start_polling
from workbench.ui.compare._legend import legend_markup
from workbench.ui.compare.model import X_AXES, MetricCompareModel, Series, hover_columns, plotted

RAW_OPACITY = 0.25
BAND_OPACITY = 0.18
#: bqplot's names for the model's dashes
LINE_STYLES = {"solid": "solid", "dashed": "dashed", "dotted": "dotted", "dotdash": "dash_dotted",
               "dashdot": "dash_dotted"}
#: points per series that carry a tooltip (SVG circles: a few hundred stay light)
HOVER_POINTS = 400


def _x(series: Series, axis: str) -> Any:
    import numpy as np

    return (series.x * 1000).astype("datetime64[ms]") if axis == "time" else np.asarray(series.x)


def _seconds(value: Any) -> float:
    """A scale bound as the model's x: a number, or a DateScale's naive UTC datetime as epoch seconds."""
    if isinstance(value, dt.datetime):
        return (value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value).timestamp()
    return float(value)


def hover_texts(series: Series) -> list[str]:
    """One tooltip line per point: run (or group), key, step, value and wall time, as text."""
    columns = hover_columns(series)
    names = [(tr("group") if series.is_group else tr("run"), "name"), (tr("key"), "key"), (tr("step"), "step"),
             (tr("value"), "value"), (tr("wall time"), "time")]
    return [" \u00b7 ".join(f"{label}: {columns[field][i]}" for label, field in names if columns[field][i])
            for i in range(len(series.y))]


def _hover_points(series: Series, axis: str, log_y: bool) -> tuple[Any, Any, list[str]]:
    import numpy as np

    every = max(1, -(-len(series.y) // HOVER_POINTS))
    texts = hover_texts(series)[::every]
    return _x(series, axis)[::every], np.asarray(plotted(series.smooth, log_y))[::every], texts


class MetricCompareWidget:
    """The ipywidgets rendering of a :class:`MetricCompareModel`; ``layout`` is what a cell shows."""

    def __init__(self, model: MetricCompareModel, refresh: float | None = None) -> None:
        import ipywidgets as w

        self.model = model
        self._syncing = False
        self._shape: Any = None
        self.figures: list[Any] = []
        self.x_scale: Any = None  # shared by the figures of one drawing; PanZoom moves it
        #: True while this view frees the scales itself (not the user's zoom); not ``_syncing``, which a
        #: redraw on the model's reading thread holds while the user may go on zooming
        self._freeing = False
        self.y_scales: list[Any] = []
        self._marks: list[list[tuple[Any, Any, Any, Any]]] = []  # per chart, per series
        self.keys = w.SelectMultiple(description=tr("Metrics"), rows=5)
        self.smoothing = w.FloatSlider(value=model.smoothing, min=0.0, max=0.99, step=0.01,
                                       description=tr("Smoothing"), continuous_update=False)
        self.x_axis = w.ToggleButtons(options=[(tr(a), a) for a in X_AXES], value=model.x_axis)
        self.log_y = w.Checkbox(value=model.log_y, description=tr("log scale"))
        self.grouped = w.Checkbox(value=model.grouped, description=tr("one chart"))
        self.group_by = w.Dropdown(options=[(tr("no grouping"), "")], value="", description=tr("Group by"))
        self.reset_zoom = w.Button(description=tr("Reset zoom"), tooltip=tr("Wheel: zoom, drag: pan"))
        self.info = w.Label()
        self.error = _safe.html_widget()
        self.charts = w.VBox(layout={"flex": "1 1 auto"})
        self.legend = _safe.html_widget(layout={"width": "250px"})
        self.layout = w.VBox([
            w.HBox([self.keys, w.VBox([self.smoothing, self.x_axis, w.HBox([self.log_y, self.grouped]),
                                       self.group_by, self.reset_zoom])]),
            self.error, self.info, w.HBox([self.charts, self.legend]),
        ])
        self.keys.observe(lambda ch: self._guarded(model.set_keys, list(ch["new"])), "value")
        self.smoothing.observe(lambda ch: self._guarded(model.set_smoothing, ch["new"]), "value")
        self.x_axis.observe(lambda ch: self._guarded(model.set_x_axis, ch["new"]), "value")
        self.log_y.observe(lambda ch: self._guarded(model.set_log, ch["new"]), "value")
        self.grouped.observe(lambda ch: self._guarded(model.set_grouped, ch["new"]), "value")
        self.group_by.observe(lambda ch: self._guarded(model.set_group_by, ch["new"] or None), "value")
        self.reset_zoom.on_click(lambda _: self.reset())
        self._unsubscribe = model.observe(self._redraw)
        self._redraw(frozenset({"series", "keys", "axes", "error"}))
        self._poller = start_polling(model, refresh)

    def _guarded(self, action: Any, value: Any) -> None:
        if not self._syncing:
            action(value)

    def _redraw(self, changed: frozenset[str]) -> None:
        model = self.model
        self._syncing = True
        try:
            self.error.value = _html.error_line(model.error)
            if "keys" in changed or "series" in changed:
                if tuple(self.keys.options) != tuple(model.available):
                    self.keys.options = list(model.available)
                self.keys.value = tuple(k for k in model.keys if k in model.available)
                options = [(tr("no grouping"), ""), *((k, k) for k in model.groupable)]
                if list(self.group_by.options) != options:
                    self.group_by.options = options
            self.group_by.value = model.group_by or ""
            self.smoothing.value = model.smoothing
            self.x_axis.value = model.x_axis
            self.log_y.value = model.log_y
            self.grouped.value = model.grouped
            if "series" in changed or "axes" in changed:
                self._draw()
            if "window" in changed and model.window is None:
                self._free_scales()  # the model went back to the full range: so do the charts
            self.info.value = model.status_text
        finally:
            self._syncing = False

    def _draw(self) -> None:
        model = self.model
        charts = model.charts()
        shape = (model.x_axis, model.log_y, [(t, [(s.run_id, s.key, s.dash, s.color) for s in ss]) for t, ss in charts])
        if shape == self._shape:
            for marks, (_, series) in zip(self._marks, charts):
                for (band, raw, smooth, hover), s in zip(marks, series):
                    x = _x(s, model.x_axis)
                    with raw.hold_sync(), smooth.hold_sync(), hover.hold_sync():
                        raw.x, raw.y = x, plotted(s.y, model.log_y)
                        smooth.x, smooth.y = x, plotted(s.smooth, model.log_y)
                        hover.x, hover.y, hover.names = _hover_points(s, model.x_axis, model.log_y)
                    if band is not None and s.lo is not None and s.hi is not None:
                        band.x, band.y = x, [plotted(s.lo, model.log_y), plotted(s.hi, model.log_y)]
            self.legend.value = legend_markup(model)
            return
        import bqplot as bq

        self._shape = shape
        if self.x_scale is not None:
            self.x_scale.unobserve(self._scale_moved, ["min", "max"])
        self.x_scale = bq.DateScale() if model.x_axis == "time" else bq.LinearScale()
        self.x_scale.observe(self._scale_moved, ["min", "max"])
        self.y_scales = []
        self._marks = []
        self.figures = []
        for title, series in charts:
            figure, marks = self._figure(title, series)
            self.figures.append(figure)
            self._marks.append(marks)
        self.charts.children = self.figures
        self.legend.value = legend_markup(model)

    def _figure(self, title: str, series: list[Series]) -> tuple[Any, list[tuple[Any, Any, Any, Any]]]:
        """A figure and, per series, its (band or None, raw, smooth, hover) marks.

        Marks go in as bands, then each series' raw and smoothed lines, then the hover points.
        """
        import bqplot as bq

        model = self.model
        x_scale = self.x_scale
        y_scale = bq.LogScale() if model.log_y else bq.LinearScale()
        self.y_scales.append(y_scale)
        scales = {"x": x_scale, "y": y_scale}
        tooltip = bq.Tooltip(fields=["name"], show_labels=False)
        bands, lines, hovers, per_series = [], [], [], []
        for s in series:
            x = _x(s, model.x_axis)
            style = LINE_STYLES[s.dash]
            band = None
            if s.lo is not None and s.hi is not None:
                band = bq.Lines(x=x, y=[plotted(s.lo, model.log_y), plotted(s.hi, model.log_y)], scales=scales,
                                colors=[s.color], fill="between", fill_colors=[s.color],
                                fill_opacities=[BAND_OPACITY], opacities=[0.0])
                bands.append(band)
            raw = bq.Lines(x=x, y=plotted(s.y, model.log_y), scales=scales, colors=[s.color],
                           opacities=[RAW_OPACITY], line_style=style, labels=[f"{s.label} {s.key} (raw)"])
            smooth = bq.Lines(x=x, y=plotted(s.smooth, model.log_y), scales=scales, colors=[s.color],
                              stroke_width=2, line_style=style, labels=[f"{s.label} {s.key}"])
            hx, hy, texts = _hover_points(s, model.x_axis, model.log_y)
            hover = bq.Scatter(x=hx, y=hy, names=texts, display_names=False, scales=scales, colors=[s.color],
                               default_size=48, opacities=[0.0], names_unique=False,
                               tooltip=tooltip)
            lines += [raw, smooth]
            hovers.append(hover)
            per_series.append((band, raw, smooth, hover))
        marks = bands + lines + hovers
        axes = [bq.Axis(scale=x_scale, label=tr({"step": "step", "time": "wall time",
                                                 "relative": "seconds since start"}[model.x_axis])),
                bq.Axis(scale=y_scale, side="left", label=title)]
        zoom = bq.interacts.PanZoom(scales={"x": [x_scale]})  # along x, like the web app's wheel zoom
        figure = bq.Figure(marks=marks, axes=axes, title=title, interaction=zoom,
                           layout={"height": "320px", "width": "100%"})
        return figure, per_series

    def _scale_moved(self, change: dict[str, Any]) -> None:
        """PanZoom moved the x scale: ask the model for the window it shows."""
        if self._freeing:
            return
        lo, hi = self.x_scale.min, self.x_scale.max
        if lo is None and hi is None:
            self.model.reset_window()
        elif lo is not None and hi is not None:
            self.model.request_window(_seconds(lo), _seconds(hi))

    def reset(self) -> None:
        """What **Reset zoom** does: automatic ranges again and the full-range points (no read)."""
        self._free_scales()
        self.model.reset_window()

    def _free_scales(self) -> None:
        self._freeing = True
        try:
            for scale in [self.x_scale, *self.y_scales]:
                if scale is not None and (scale.min is not None or scale.max is not None):
                    with scale.hold_sync():
                        scale.min = scale.max = None
        finally:
            self._freeing = False

    def close(self) -> None:
        self._poller.stop()
        self._unsubscribe()
        if self.x_scale is not None:
            self.x_scale.unobserve(self._scale_moved, ["min", "max"])
        self.layout.close()
