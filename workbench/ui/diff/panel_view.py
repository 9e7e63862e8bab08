"""ConfigDiff and ParallelCoordinates for ``panel serve``: Tabulator, and a Bokeh figure."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import panel as pn
from bokeh.models import ColorBar, ColumnDataSource, FixedTicker, LinearColorMapper, Range1d  # type: ignore[attr-defined]
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from workbench.ui import _safe
from workbench.ui._i18n import tr
from workbench.ui._live import panel_polling
from workbench.ui.diff.model import ConfigDiffModel, ParallelCoordinatesModel

__all__ = ["DiffPanel", "ParallelPanel"]

_HIGHLIGHT = "background-color: #fff3b0"


class DiffPanel:
    """The Panel objects of one ConfigDiff view; ``layout`` is what a page shows."""

    def __init__(self, model: ConfigDiffModel, *, live: bool = True) -> None:
        self.model = model
        self.error = _safe.alert_pane()
        self.show_all = pn.widgets.Checkbox(value=model.show_all, label=tr("Show all keys"))
        self.show_all.param.watch(lambda e: model.set_show_all(e.new), "value")
        self.summary = pn.widgets.Checkbox(value=model.include_summary, label=tr("Include summary"))
        self.summary.param.watch(lambda e: model.set_include_summary(e.new), "value")
        self.hint = _safe.html_pane()
        self.flags: list[list[bool]] = []
        self.table = _safe.table(pd.DataFrame({tr("Key"): []}), disabled=True, show_index=False,
                                 sizing_mode="stretch_width", height=400)
        style: Any = self.table.style  # a pandas Styler the table applies to each new value
        style.apply(self._styles, axis=None)
        self.layout = pn.Column(self.error, pn.Row(self.show_all, self.summary), self.hint, self.table,
                                sizing_mode="stretch_width")
        self._unsubscribe = model.observe(self.redraw)
        self.redraw(frozenset({"table", "error"}))
        self._poller = panel_polling(model) if live else None

    def _styles(self, frame: pd.DataFrame) -> pd.DataFrame:
        styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
        for i, flags in enumerate(self.flags[: len(frame)]):
            for j, flag in enumerate(flags):
                if flag:
                    styles.iat[i, j + 1] = _HIGHLIGHT
        return styles

    def redraw(self, fields: frozenset[str]) -> None:
        m = self.model
        if "error" in fields:
            _safe.show_alert(self.error, m.error)
        if "table" in fields:
            self.show_all.value, self.summary.value = m.show_all, m.include_summary
            rows = m.rows()
            _safe.set_html(self.hint, _safe.markup("<i>{}</i>", m.hint) if m.hint else "")
            columns = _unique([tr("Key"), *m.columns()])
            self.flags = [flags for _, _, flags in rows]
            _safe.set_table(self.table, pd.DataFrame([[key, *cells] for key, cells, _ in rows], columns=columns))

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        self._unsubscribe()


def _unique(names: list[str]) -> list[str]:
    """Column labels, numbered where two runs share a label."""
    out: list[str] = []
    for name in names:
        label, n = name, 2
        while label in out:
            label, n = f"{name} #{n}", n + 1
        out.append(label)
    return out


class ParallelPanel:
    """The Panel objects of one ParallelCoordinates view: pickers and a Bokeh figure with a colour bar."""

    def __init__(self, model: ParallelCoordinatesModel) -> None:
        self.model = model
        self.error = _safe.alert_pane()
        self.dims = pn.widgets.MultiChoice(label=tr("Dimensions"), options=[], sizing_mode="stretch_width")
        self.color = pn.widgets.Select(label=tr("Colour"), options=[""])
        self._syncing = False
        self.dims.param.watch(self._dims_picked, "value")
        self.color.param.watch(self._color_picked, "value")
        self.source = ColumnDataSource(data={"xs": [], "ys": [], "value": [], "run_id": [], "name": []})
        self.axis_source = ColumnDataSource(data={"x": [], "y0": [], "y1": []})
        self.label_source = ColumnDataSource(data={"x": [], "y": [], "text": []})
        self.mapper = LinearColorMapper(palette=Viridis256, low=0, high=1, nan_color="#bbbbbb")
        self.figure = figure(height=380, sizing_mode="stretch_width", y_range=Range1d(start=-0.15, end=1.15),
                             toolbar_location=None, tooltips=[("run", "@name @run_id"), ("colour", "@value")])
        self.figure.yaxis.visible = False
        self.figure.ygrid.visible = False
        self.figure.segment(x0="x", y0="y0", x1="x", y1="y1", source=self.axis_source, color="#888888")
        self.figure.multi_line("xs", "ys", source=self.source, line_width=2, line_alpha=0.85,
                               color={"field": "value", "transform": self.mapper})
        self.figure.text("x", "y", "text", source=self.label_source, text_font_size="10px", text_align="center")
        self.color_bar = ColorBar(color_mapper=self.mapper, title="")
        self.figure.add_layout(self.color_bar, "right")
        self.layout = pn.Column(self.error, pn.Row(self.dims, self.color), pn.pane.Bokeh(self.figure),
                                sizing_mode="stretch_width")
        self._unsubscribe = model.observe(self.redraw)
        self.redraw(frozenset({"data", "error"}))

    def _dims_picked(self, event: Any) -> None:
        if not self._syncing:
            self.model.set_dims(list(event.new))

    def _color_picked(self, event: Any) -> None:
        if not self._syncing:
            self.model.set_color(event.new or None)

    def redraw(self, fields: frozenset[str]) -> None:
        m = self.model
        if "error" in fields:
            _safe.show_alert(self.error, m.error)
        if "data" not in fields:
            return
        self._syncing = True
        try:
            self.dims.options = _safe.choice_options(m.available())
            self.dims.value = [d for d in m.dims if d in m.available()]
            self.color.options = ["", *m.numeric_keys()]
            self.color.value = m.color or ""
        finally:
            self._syncing = False
        axes = m.axes() if m.frame is not None else []
        lines = m.lines() if axes else []
        xs = list(range(len(axes)))
        values = m.color_values() if lines else []
        self.source.data = {"xs": [xs] * len(lines), "ys": lines, "value": values,
                            "run_id": m.run_ids if lines else [], "name": m.names if lines else []}
        self.axis_source.data = {"x": xs, "y0": [0.0] * len(xs), "y1": [1.0] * len(xs)}
        self.label_source.data = {
            "x": [i for i, a in enumerate(axes) for _ in a["labels"]],
            "y": [p + (0.04 if p >= 0.5 else -0.08) for a in axes for p, _ in a["labels"]],
            "text": [label for a in axes for _, label in a["labels"]],
        }
        self.figure.xaxis.ticker = FixedTicker(ticks=xs)
        self.figure.xaxis.major_label_overrides = {i: a["key"] for i, a in enumerate(axes)}
        low, high = m.color_range() or (0.0, 1.0)
        self.mapper.low, self.mapper.high = low, high if high > low else low + 1e-9
        self.color_bar.title = m.color or ""
        self.color_bar.visible = m.color is not None and not all(math.isnan(v) for v in values)

    def close(self) -> None:
        self._unsubscribe()
