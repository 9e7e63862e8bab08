"""ConfigDiff and ParallelCoordinates for notebooks and Voila: an HTML table, and a bqplot chart."""

from __future__ import annotations

import math
from typing import Any

import bqplot
import ipywidgets as widgets

from workbench.ui import _html, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import start_polling
from workbench.ui.diff.model import ConfigDiffModel, ParallelCoordinatesModel

__all__ = ["DiffWidget", "ParallelWidget"]


class DiffWidget:
    """The widgets of one ConfigDiff view; ``box`` is what a cell shows."""

    def __init__(self, model: ConfigDiffModel, *, live: bool = True) -> None:
        self.model = model
        self.error = _safe.html_widget()
        self.show_all = widgets.Checkbox(value=model.show_all, description=tr("Show all keys"), indent=False)
        self.show_all.observe(lambda c: model.set_show_all(c["new"]), names="value")
        self.summary = widgets.Checkbox(value=model.include_summary, description=tr("Include summary"),
                                        indent=False)
        self.summary.observe(lambda c: model.set_include_summary(c["new"]), names="value")
        self.table = _safe.html_widget()
        self.box = widgets.VBox([self.error, widgets.HBox([self.show_all, self.summary]), self.table])
        self._unsubscribe = model.observe(self.redraw)
        self.redraw(frozenset({"table", "error"}))
        self._poller = start_polling(model) if live else None

    def redraw(self, fields: frozenset[str]) -> None:
        m = self.model
        if "error" in fields:
            self.error.value = _html.error_line(m.error)
        if "table" in fields:
            self.show_all.value, self.summary.value = m.show_all, m.include_summary
            rows = m.rows()
            hint = m.hint
            self.table.value = _html.note(hint) if hint else _html.table(
                [[key, *cells] for key, cells, _ in rows], [tr("Key"), *m.columns()],
                highlight=[[False, *flags] for _, _, flags in rows])

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        self._unsubscribe()
        self.box.close()


class ParallelWidget:
    """The widgets of one ParallelCoordinates view: dim and colour pickers over a bqplot chart."""

    def __init__(self, model: ParallelCoordinatesModel) -> None:
        self.model = model
        self.error = _safe.html_widget()
        self.dims = widgets.SelectMultiple(description=tr("Dimensions"), rows=6)
        self.color = widgets.Dropdown(description=tr("Colour"))
        self._syncing = False
        self.dims.observe(self._dims_picked, names="value")
        self.color.observe(self._color_picked, names="value")
        self.x_scale = bqplot.OrdinalScale()
        self.y_scale = bqplot.LinearScale(min=-0.12, max=1.12)
        self.color_scale = bqplot.ColorScale(scheme="viridis")
        self.lines = bqplot.Lines(x=[], y=[], scales={"x": self.x_scale, "y": self.y_scale, "color": self.color_scale},
                                  stroke_width=1.5, opacities=[0.85])
        self.labels = bqplot.Label(x=[], y=[], text=[], scales={"x": self.x_scale, "y": self.y_scale},
                                   default_size=11, font_unit="px", align="middle", colors=["#333333"])
        self.color_axis = bqplot.ColorAxis(scale=self.color_scale, side="right", label="")
        self.chart = bqplot.Figure(
            marks=[self.lines, self.labels],
            axes=[bqplot.Axis(scale=self.x_scale), self.color_axis],
            layout=widgets.Layout(height="360px", width="100%"),
            fig_margin={"top": 20, "bottom": 40, "left": 30, "right": 90},
        )
        self.box = widgets.VBox([self.error, widgets.HBox([self.dims, self.color]), self.chart])
        self._unsubscribe = model.observe(self.redraw)
        self.redraw(frozenset({"data", "error"}))

    def _dims_picked(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.model.set_dims(list(change["new"]))

    def _color_picked(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.model.set_color(change["new"] or None)

    def redraw(self, fields: frozenset[str]) -> None:
        m = self.model
        if "error" in fields:
            self.error.value = _html.error_line(m.error)
        if "data" not in fields:
            return
        self._syncing = True
        try:
            self.dims.options = m.available()
            self.dims.value = tuple(d for d in m.dims if d in m.available())
            self.color.options = [("", ""), *[(k, k) for k in m.numeric_keys()]]
            self.color.value = m.color or ""
        finally:
            self._syncing = False
        axes = m.axes() if m.frame is not None else []
        lines = m.lines() if axes else []
        colors = m.color_values()
        with self.chart.hold_sync():
            self.lines.x = [a["key"] for a in axes]
            self.lines.y = lines
            self.lines.color = None if m.color is None or not lines else [
                (v if not math.isnan(v) else (m.color_range() or (0.0, 0.0))[0]) for v in colors]
            self.labels.x = [a["key"] for a in axes for _ in a["labels"]]
            self.labels.y = [pos + (0.05 if pos >= 0.5 else -0.07) for a in axes for pos, _ in a["labels"]]
            self.labels.text = [label for a in axes for _, label in a["labels"]]
            self.color_axis.label = m.color or ""

    def close(self) -> None:
        self._unsubscribe()
        self.box.close()
