"""MetricCompare for ``panel serve``: Panel controls and Bokeh figures.

Each series has one ``ColumnDataSource`` (``x``, ``y`` raw, ``smooth``, a group's ``lo``/``hi``,
and the tooltip's text columns ``name``, ``key``, ``step``, ``value``, ``time``) drawn twice: faint
raw, strong smoothed (a group also as a min/max band). Hovering a smoothed line shows its run,
key, step, value and wall time; Bokeh escapes ``@field`` values. The legend is one scrollable
list beside the charts (:mod:`workbench.ui.compare._legend`). Value changes replace
``source.data``; new runs, keys, groups or axes rebuild figures.

Zoom: the charts share one x range, so a box zoom, wheel zoom (along x) or pan moves them together. Each
ends in a ``RangesUpdate`` event (BokehJS sends a wheel zoom's once the wheel stops), which asks
the model for that window (:meth:`MetricCompareModel.request_window`: at most one read in flight,
the latest window next); the re-read points come back on the document's next tick and replace the
sources' data, and the view stays where the user put it (a range the user moved no longer follows
the data). Reset (and a zoom out past every line) shows the full-range points again, without a read.
"""

from __future__ import annotations

from typing import Any

from workbench.ui import _safe
from workbench.ui._i18n import tr
from workbench.ui._live import panel_polling
from workbench.ui.compare._legend import legend_markup
from workbench.ui.compare.model import X_AXES, MetricCompareModel, Series, hover_columns, plotted

RAW_ALPHA = 0.25
BAND_ALPHA = 0.18


def _data(series: Series, model: MetricCompareModel) -> dict[str, Any]:
    x = series.x * 1000 if model.x_axis == "time" else series.x  # Bokeh datetimes are ms
    data: dict[str, Any] = {"x": x, "y": plotted(series.y, model.log_y),
                            "smooth": plotted(series.smooth, model.log_y), **hover_columns(series)}
    if series.lo is not None and series.hi is not None:
        data["lo"], data["hi"] = plotted(series.lo, model.log_y), plotted(series.hi, model.log_y)
    return data


def tooltips(grouped: bool) -> list[tuple[str, str]]:
    """The hover tooltip: ``@field`` values only (Bokeh escapes them), never a template."""
    return [(tr("group") if grouped else tr("run"), "@name"), (tr("key"), "@key"), (tr("step"), "@step"),
            (tr("value"), "@value"), (tr("wall time"), "@time")]


class MetricComparePanel:
    """The Panel rendering of a :class:`MetricCompareModel`; ``layout`` goes on a page."""

    def __init__(self, model: MetricCompareModel, refresh: float | None = None) -> None:
        import panel as pn

        self.model = model
        self._syncing = False
        self._shape: Any = None
        self._x_range: Any = None  # shared by the figures of one drawing
        #: the server session's document (window reads come back on its loop), None outside a server
        self._doc: Any = pn.state.curdoc if pn.state.curdoc is not None and \
            pn.state.curdoc.session_context is not None else None
        self.sources: list[list[Any]] = []  # per chart, per series
        self.figures: list[Any] = []
        self.keys = pn.widgets.MultiChoice(label=tr("Metrics"))
        self.smoothing = pn.widgets.FloatSlider(label=tr("Smoothing"), start=0.0, end=0.99, step=0.01,
                                                value=model.smoothing)
        self.x_axis = pn.widgets.RadioButtonGroup(options={tr(a): a for a in X_AXES}, value=model.x_axis)
        self.log_y = pn.widgets.Checkbox(label=tr("log scale"), value=model.log_y)
        self.grouped = pn.widgets.Checkbox(label=tr("one chart"), value=model.grouped)
        self.group_by = pn.widgets.Select(label=tr("Group by"), options={tr("no grouping"): ""}, value="", width=200)
        self.info = pn.pane.Str("")
        self.error = _safe.alert_pane()
        self.charts = pn.Column(sizing_mode="stretch_width")
        self.legend = _safe.html_pane("", width=240, css_classes=["wb-compare-legend"])
        self.layout = pn.Column(
            pn.Row(self.keys, pn.Column(self.smoothing, self.x_axis, pn.Row(self.log_y, self.grouped)), self.group_by),
            self.error, self.info, pn.Row(self.charts, self.legend, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        self.keys.param.watch(lambda ev: self._guarded(model.set_keys, list(ev.new)), "value")
        self.smoothing.param.watch(lambda ev: self._guarded(model.set_smoothing, ev.new), "value")
        self.x_axis.param.watch(lambda ev: self._guarded(model.set_x_axis, ev.new), "value")
        self.log_y.param.watch(lambda ev: self._guarded(model.set_log, ev.new), "value")
        self.grouped.param.watch(lambda ev: self._guarded(model.set_grouped, ev.new), "value")
        self.group_by.param.watch(lambda ev: self._guarded(model.set_group_by, ev.new or None), "value")
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
                options = {tr("no grouping"): "", **{k: k for k in model.groupable}}
                if self.group_by.options != options:
                    self.group_by.options = options
            self.group_by.value = model.group_by or ""
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
        shape = (model.x_axis, model.log_y, [(t, [(s.run_id, s.key, s.dash, s.color) for s in ss]) for t, ss in charts])
        if shape == self._shape:
            for sources, (_, series) in zip(self.sources, charts):
                for source, s in zip(sources, series):
                    source.data = _data(s, model)
            return
        from bokeh.models import DataRange1d

        self._shape = shape
        self._x_range = DataRange1d()
        self.sources, self.figures = [], []
        for title, series in charts:
            figure, sources = self._figure(title, series)
            self.figures.append(figure)
            self.sources.append(sources)
        self.charts.objects = [pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in self.figures]
        _safe.set_html(self.legend, legend_markup(model))

    def _figure(self, title: str, series: list[Series]) -> tuple[Any, list[Any]]:
        from bokeh.events import RangesUpdate, Reset
        from bokeh.models import ColumnDataSource, HoverTool
        from bokeh.plotting import figure

        model = self.model
        fig = figure(title=title, height=320, sizing_mode="stretch_width", x_range=self._x_range,
                     x_axis_type="datetime" if model.x_axis == "time" else "linear",
                     y_axis_type="log" if model.log_y else "linear",
                     x_axis_label=tr({"step": "step", "time": "wall time", "relative": "seconds since start"}
                                     [model.x_axis]), tools="pan,xwheel_zoom,box_zoom,reset,save")
        sources: list[Any] = []
        hovered: list[Any] = []
        for s in series:
            source = ColumnDataSource(_data(s, model))
            if s.is_group:
                fig.varea(x="x", y1="lo", y2="hi", source=source, fill_color=s.color, fill_alpha=BAND_ALPHA)
            fig.line("x", "y", source=source, color=s.color, alpha=RAW_ALPHA, line_dash=s.dash)
            hovered.append(fig.line("x", "smooth", source=source, color=s.color, line_width=2, line_dash=s.dash))
            sources.append(source)
        if hovered:
            fig.add_tools(HoverTool(renderers=hovered, tooltips=tooltips(model.group_by is not None), mode="mouse",
                                    line_policy="nearest"))
        fig.on_event(RangesUpdate, self._zoomed)
        fig.on_event(Reset, lambda _: self.model.reset_window())
        return fig, sources

    def _zoomed(self, event: Any) -> None:
        """A zoom or pan ended: ask for its x window (Bokeh's datetimes are ms, the model's seconds)."""
        lo, hi = event.x0, event.x1
        if lo is None or hi is None:
            return
        if self.model.x_axis == "time":
            lo, hi = lo / 1000, hi / 1000
        self.model.request_window(lo, hi, self._deliver)

    def _deliver(self, apply: Any) -> None:
        """Run a window's result on the session's event loop (Bokeh models change there only)."""
        if self._doc is None:
            apply()
            return
        try:
            self._doc.add_next_tick_callback(apply)
        except Exception:  # noqa: BLE001 - the session is gone: nothing to update
            pass

    def close(self) -> None:
        stop = getattr(self._poller, "stop", None)
        if stop is not None:
            stop()
        self._unsubscribe()
