"""MetricCompare for notebooks and Voila: ipywidgets controls and bqplot charts.

Each series is two bqplot ``Lines``: the raw points faint, the smoothed ones strong. When only
values change (a live run logged more, the smoothing moved) the marks are updated in place; a
new set of runs, keys or axes rebuilds the figures.
"""

from __future__ import annotations

from typing import Any

from workbench.ui import _html, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import start_polling
from workbench.ui.compare.model import X_AXES, MetricCompareModel, Series, plotted

RAW_OPACITY = 0.25


def _x(series: Series, axis: str) -> Any:
    import numpy as np

    return (series.x * 1000).astype("datetime64[ms]") if axis == "time" else np.asarray(series.x)


class MetricCompareWidget:
    """The ipywidgets rendering of a :class:`MetricCompareModel`; ``layout`` is what a cell shows."""

    def __init__(self, model: MetricCompareModel, refresh: float | None = None) -> None:
        import ipywidgets as w

        self.model = model
        self._syncing = False
        self._shape: Any = None
        self.figures: list[Any] = []
        self.keys = w.SelectMultiple(description=tr("Metrics"), rows=5)
        self.smoothing = w.FloatSlider(value=model.smoothing, min=0.0, max=0.99, step=0.01,
                                       description=tr("Smoothing"), continuous_update=False)
        self.x_axis = w.ToggleButtons(options=[(tr(a), a) for a in X_AXES], value=model.x_axis)
        self.log_y = w.Checkbox(value=model.log_y, description=tr("log scale"))
        self.grouped = w.Checkbox(value=model.grouped, description=tr("one chart"))
        self.info = w.Label()
        self.error = _safe.html_widget()
        self.charts = w.VBox()
        self.layout = w.VBox([
            w.HBox([self.keys, w.VBox([self.smoothing, self.x_axis, w.HBox([self.log_y, self.grouped])])]),
            self.error, self.info, self.charts,
        ])
        self.keys.observe(lambda ch: self._guarded(model.set_keys, list(ch["new"])), "value")
        self.smoothing.observe(lambda ch: self._guarded(model.set_smoothing, ch["new"]), "value")
        self.x_axis.observe(lambda ch: self._guarded(model.set_x_axis, ch["new"]), "value")
        self.log_y.observe(lambda ch: self._guarded(model.set_log, ch["new"]), "value")
        self.grouped.observe(lambda ch: self._guarded(model.set_grouped, ch["new"]), "value")
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
            self.smoothing.value = model.smoothing
            self.x_axis.value = model.x_axis
            self.log_y.value = model.log_y
            self.grouped.value = model.grouped
            if "series" in changed or "axes" in changed:
                self._draw()
            self.info.value = model.status_text
        finally:
            self._syncing = False

    def _draw(self) -> None:
        model = self.model
        charts = model.charts()
        shape = (model.x_axis, model.log_y, [(t, [(s.run_id, s.key) for s in ss]) for t, ss in charts])
        if shape == self._shape:
            for figure, (_, series) in zip(self.figures, charts):
                for i, s in enumerate(series):
                    raw, smooth = figure.marks[2 * i], figure.marks[2 * i + 1]
                    x = _x(s, model.x_axis)
                    with raw.hold_sync(), smooth.hold_sync():
                        raw.x, raw.y = x, plotted(s.y, model.log_y)
                        smooth.x, smooth.y = x, plotted(s.smooth, model.log_y)
            return
        self._shape = shape
        self.figures = [self._figure(title, series) for title, series in charts]
        self.charts.children = self.figures

    def _figure(self, title: str, series: list[Series]) -> Any:
        import bqplot as bq

        model = self.model
        x_scale = bq.DateScale() if model.x_axis == "time" else bq.LinearScale()
        y_scale = bq.LogScale() if model.log_y else bq.LinearScale()
        marks = []
        for s in series:
            x = _x(s, model.x_axis)
            scales = {"x": x_scale, "y": y_scale}
            marks.append(bq.Lines(x=x, y=plotted(s.y, model.log_y), scales=scales, colors=[s.color],
                                  opacities=[RAW_OPACITY], labels=[f"{s.label} {s.key} (raw)"]))
            marks.append(bq.Lines(x=x, y=plotted(s.smooth, model.log_y), scales=scales, colors=[s.color],
                                  stroke_width=2, labels=[f"{s.label} {s.key}"], display_legend=True))
        axes = [bq.Axis(scale=x_scale, label=tr({"step": "step", "time": "wall time",
                                                 "relative": "seconds since start"}[model.x_axis])),
                bq.Axis(scale=y_scale, side="left", label=title)]
        return bq.Figure(marks=marks, axes=axes, title=title, legend_location="top-right",
                         layout={"height": "320px", "width": "100%"})

    def close(self) -> None:
        self._poller.stop()
        self._unsubscribe()
        self.layout.close()
