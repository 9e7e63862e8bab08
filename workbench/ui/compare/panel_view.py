"""MetricCompare for ``panel serve``: Panel controls and Bokeh figures.

Each series has one ``ColumnDataSource`` (``x``, ``y`` raw, ``smooth``) drawn twice: faint raw,
strong smoothed. Value changes replace ``source.data``; new runs, keys or axes rebuild figures.
"""

from __future__ import annotations

from typing import Any

from workbench.ui import _safe
from workbench.ui._i18n import tr
from workbench.ui._live import panel_polling
from workbench.ui.compare.model import X_AXES, MetricCompareModel, Series, plotted

RAW_ALPHA = 0.25


def _data(series: Series, model: MetricCompareModel) -> dict[str, Any]:
    x = series.x * 1000 if model.x_axis == "time" else series.x  # Bokeh datetimes are ms
    return {"x": x, "y": plotted(series.y, model.log_y), "smooth": plotted(series.smooth, model.log_y)}


class MetricComparePanel:
    """The Panel rendering of a :class:`MetricCompareModel`; ``layout`` goes on a page."""

    def __init__(self, model: MetricCompareModel, refresh: float | None = None) -> None:
        import panel as pn

        self.model = model
        self._syncing = False
        self._shape: Any = None
        self.sources: list[list[Any]] = []  # per chart, per series
        self.figures: list[Any] = []
        self.keys = pn.widgets.MultiChoice(label=tr("Metrics"))
        self.smoothing = pn.widgets.FloatSlider(label=tr("Smoothing"), start=0.0, end=0.99, step=0.01,
                                                value=model.smoothing)
        self.x_axis = pn.widgets.RadioButtonGroup(options={tr(a): a for a in X_AXES}, value=model.x_axis)
        self.log_y = pn.widgets.Checkbox(label=tr("log scale"), value=model.log_y)
        self.grouped = pn.widgets.Checkbox(label=tr("one chart"), value=model.grouped)
        self.info = pn.pane.Str("")
        self.error = _safe.alert_pane()
        self.charts = pn.Column(sizing_mode="stretch_width")
        self.layout = pn.Column(
            pn.Row(self.keys, pn.Column(self.smoothing, self.x_axis, pn.Row(self.log_y, self.grouped))),
            self.error, self.info, self.charts, sizing_mode="stretch_width",
        )
        self.keys.param.watch(lambda ev: self._guarded(model.set_keys, list(ev.new)), "value")
        self.smoothing.param.watch(lambda ev: self._guarded(model.set_smoothing, ev.new), "value")
        self.x_axis.param.watch(lambda ev: self._guarded(model.set_x_axis, ev.new), "value")
        self.log_y.param.watch(lambda ev: self._guarded(model.set_log, ev.new), "value")
        self.grouped.param.watch(lambda ev: self._guarded(model.set_grouped, ev.new), "value")
        self._unsubscribe = model.observe(self._redraw)
        self._redraw(frozenset({"series", "keys", "axes", "error"}))
        self._poller = panel_polling(model, refresh)
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.on_session_destroyed(lambda _: self.close())

    def _guarded(self, action: Any, value: Any) -> None:
        if not self._syncing:
            action(value)

    def _redraw(self, changed: frozenset[str]) -> None:
        model = self.model
        self._syncing = True
        try:
            _safe.show_alert(self.error, model.error)
            if "keys" in changed or "series" in changed:
                options = _safe.choice_options(model.available)
                if self.keys.options != options:
                    self.keys.options = options
                self.keys.value = [k for k in model.keys if k in model.available]
            self.smoothing.value = model.smoothing
            self.x_axis.value = model.x_axis
            self.log_y.value = model.log_y
            self.grouped.value = model.grouped
            if "series" in changed or "axes" in changed:
                self._draw()
            self.info.object = model.status_text
        finally:
            self._syncing = False

    def _draw(self) -> None:
        import panel as pn

        model = self.model
        charts = model.charts()
        shape = (model.x_axis, model.log_y, [(t, [(s.run_id, s.key) for s in ss]) for t, ss in charts])
        if shape == self._shape:
            for sources, (_, series) in zip(self.sources, charts):
                for source, s in zip(sources, series):
                    source.data = _data(s, model)
            return
        self._shape = shape
        self.sources, self.figures = [], []
        for title, series in charts:
            figure, sources = self._figure(title, series)
            self.figures.append(figure)
            self.sources.append(sources)
        self.charts.objects = [pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in self.figures]

    def _figure(self, title: str, series: list[Series]) -> tuple[Any, list[Any]]:
        from bokeh.models import ColumnDataSource
        from bokeh.plotting import figure

        model = self.model
        fig = figure(title=title, height=320, sizing_mode="stretch_width",
                     x_axis_type="datetime" if model.x_axis == "time" else "linear",
                     y_axis_type="log" if model.log_y else "linear",
                     x_axis_label=tr({"step": "step", "time": "wall time", "relative": "seconds since start"}
                                     [model.x_axis]), tools="pan,wheel_zoom,box_zoom,reset,save,hover")
        sources = []
        for s in series:
            source = ColumnDataSource(_data(s, model))
            fig.line("x", "y", source=source, color=s.color, alpha=RAW_ALPHA)
            fig.line("x", "smooth", source=source, color=s.color, line_width=2, legend_label=f"{s.label} {s.key}")
            sources.append(source)
        if series:
            fig.legend.location = "top_right"
            fig.legend.click_policy = "hide"
        return fig, sources

    def close(self) -> None:
        stop = getattr(self._poller, "stop", None)
        if stop is not None:
            stop()
        self._unsubscribe()
