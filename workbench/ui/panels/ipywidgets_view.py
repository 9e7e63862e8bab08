"""MetricPanels for notebooks and Voila: an ``Accordion`` per section, a bqplot figure per panel.

Figures are made once per panel and kept; a live refresh updates the marks in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import bqplot
import ipywidgets as widgets

from workbench.ui import _html, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import start_polling
from workbench.ui.panels.model import MetricPanelsModel, Panel, Section

__all__ = ["MetricPanelsWidget"]


@dataclass
class _Chart:
    box: Any
    figure: Any
    pin: Any
    hide: Any
    scales: dict[str, Any]
    marks: dict[tuple[str, str], Any] = field(default_factory=dict)


class MetricPanelsWidget:
    """The ipywidgets rendering of a :class:`MetricPanelsModel`; ``box`` is what a cell shows."""

    def __init__(self, model: MetricPanelsModel, *, live: bool = True, refresh: float | None = None) -> None:
        self.model = model
        self._syncing = False
        self._runs: tuple[str, ...] = ()
        self.charts: dict[str, _Chart] = {}
        self.cards: dict[str, tuple[Any, Any]] = {}  # section -> (accordion, grid)
        self.search = widgets.Text(placeholder=tr("Search keys"), value=model.search, continuous_update=True)
        self.search.observe(lambda ch: self._guarded(model.set_search, ch["new"]), names="value")
        self.show_hidden = widgets.Checkbox(description=tr("show hidden"), value=model.show_hidden, indent=False)
        self.show_hidden.observe(lambda ch: self._guarded(model.set_show_hidden, ch["new"]), names="value")
        self.info = widgets.Label()
        self.error = _safe.html_widget()
        self.hint = _safe.html_widget()
        self.sections = widgets.VBox()
        self.more = widgets.Button(description="", layout=widgets.Layout(width="auto"))
        self.more.on_click(lambda _b: model.show_more())
        self.box = widgets.VBox([widgets.HBox([self.search, self.show_hidden, self.info]), self.error, self.hint,
                                 self.sections, self.more])
        self._unsubscribe = model.observe(self.redraw)
        self.redraw(frozenset({"layout", "series", "error"}))
        self._poller = start_polling(model, refresh) if live else None

    def _guarded(self, action: Any, *args: Any) -> None:
        if not self._syncing:
            action(*args)

    def redraw(self, fields: frozenset[str]) -> None:
        m = self.model
        self._syncing = True
        try:
            if "error" in fields or "layout" in fields:
                self.error.value = _html.error_line(m.error)
            runs = tuple(m.records)
            if runs != self._runs:
                self._runs, self.charts = runs, {}
            if "layout" in fields:
                self._place()
            if "series" in fields:
                drawn = {p.id: p for p in m.drawn()}
                for pid in m.changed & set(drawn):
                    if pid in self.charts:
                        self._fill(self.charts[pid], drawn[pid])
        finally:
            self._syncing = False

    def _place(self) -> None:
        m = self.model
        if self.search.value != m.search:
            self.search.value = m.search
        self.show_hidden.value = m.show_hidden
        self.info.value = m.status_text
        hint = m.empty_hint
        self.hint.value = _html.note(hint) if hint else ""
        drawn = {p.id for p in m.drawn()}
        cards = []
        for section in m.sections():
            accordion, grid = self._card(section)
            grid.children = [self._chart(p).box for p in section.panels if p.id in drawn]
            cards.append(accordion)
        self.sections.children = cards
        self.more.description = tr("show {n} more", n=m.more)
        self.more.layout.display = "" if m.more else "none"

    def _card(self, section: Section) -> tuple[Any, Any]:
        found = self.cards.get(section.id)
        if found is None:
            grid = widgets.GridBox(layout=widgets.Layout(grid_template_columns="repeat(2, 50%)", width="100%"))
            accordion = widgets.Accordion(children=[grid])

            def toggled(change: dict[str, Any], sid: str = section.id) -> None:
                self._guarded(self.model.set_collapsed, sid, change["new"] is None)

            accordion.observe(toggled, names="selected_index")
            found = self.cards[section.id] = (accordion, grid)
        accordion, grid = found
        accordion.set_title(0, f"{section.title} ({len(section.panels)})")  # a title is text
        want = None if section.collapsed else 0
        if accordion.selected_index != want:
            accordion.selected_index = want
        return found

    def _chart(self, panel: Panel) -> _Chart:
        m = self.model
        chart = self.charts.get(panel.id)
        if chart is None:
            scales = {"x": bqplot.LinearScale(), "y": bqplot.LinearScale()}
            fig = bqplot.Figure(marks=[], axes=[bqplot.Axis(scale=scales["x"], label=tr("step")),
                                                bqplot.Axis(scale=scales["y"], side="left")],
                                title=panel.title, legend_location="top-right",
                                layout=widgets.Layout(height="240px", width="98%"),
                                fig_margin={"top": 40, "bottom": 40, "left": 50, "right": 10})
            small = widgets.Layout(width="auto")
            pin, hide = widgets.Button(layout=small), widgets.Button(layout=small)
            up = widgets.Button(description="↑", layout=small, tooltip=tr("Move up"))
            down = widgets.Button(description="↓", layout=small, tooltip=tr("Move down"))
            pid = panel.id
            pin.on_click(lambda _b: m.toggle_pin(pid))
            hide.on_click(lambda _b: m.toggle_hidden(pid))
            up.on_click(lambda _b: m.move(pid, -1))
            down.on_click(lambda _b: m.move(pid, 1))
            box = widgets.VBox([widgets.HBox([pin, hide, up, down]), fig])
            chart = self.charts[panel.id] = _Chart(box, fig, pin, hide, scales)
            self._fill(chart, panel)
        chart.pin.description = tr("Unpin") if panel.id in m.pinned else tr("Pin")
        chart.hide.description = tr("Show") if panel.id in m.hidden else tr("Hide")
        return chart

    def _fill(self, chart: _Chart, panel: Panel) -> None:
        legend = len(panel.keys) > 1 or len(self.model.records) > 1
        added = False
        for line in self.model.lines(panel):
            mark = chart.marks.get((line.run_id, line.key))
            if mark is None:
                chart.marks[(line.run_id, line.key)] = bqplot.Lines(
                    x=list(line.x), y=list(line.y), scales=chart.scales, colors=[line.color], labels=[line.label],
                    display_legend=legend)
                added = True
            else:
                with mark.hold_sync():
                    mark.x, mark.y = list(line.x), list(line.y)
        if added:
            chart.figure.marks = list(chart.marks.values())

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        self._unsubscribe()
        self.box.close()
