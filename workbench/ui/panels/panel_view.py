"""MetricPanels for ``panel serve``: a collapsible ``pn.Card`` per section, a Bokeh figure per panel.

Figures are made once per panel and kept: a live refresh replaces only the data of the sources
whose points moved; a new layout (search, pin, hide, order, collapse) re-places the kept figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import panel as pn
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

from workbench.ui import _html, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import panel_polling
from workbench.ui.panels.model import MetricPanelsModel, Panel, Section

__all__ = ["MetricPanelsPanel"]

CHART_HEIGHT = 220


def _data(line: Any) -> dict[str, list[Any]]:
    return {"x": list(line.x), "y": list(line.y), "label": [line.label] * len(line.x)}


@dataclass
class _Chart:
    """The Panel objects of one panel: its header row, buttons and figure."""

    box: Any
    figure: Any
    title: Any
    pin: Any
    hide: Any
    sources: dict[tuple[str, str], Any] = field(default_factory=dict)


class MetricPanelsPanel:
    """The Panel rendering of a :class:`MetricPanelsModel`; ``layout`` goes on a page."""

    def __init__(self, model: MetricPanelsModel, *, live: bool = True, refresh: float | None = None) -> None:
        self.model = model
        self._syncing = False
        self._runs: tuple[str, ...] = ()
        self.charts: dict[str, _Chart] = {}
        self.cards: dict[str, tuple[Any, Any, Any]] = {}  # section -> (card, header pane, grid)
        self.search = pn.widgets.TextInput(placeholder=tr("Search keys"), value=model.search, width=280,
                                           css_classes=["wb-panels-search"])
        self.search.param.watch(lambda e: self._guarded(model.set_search, e.new), "value_input")
        self.search.param.watch(lambda e: self._guarded(model.set_search, e.new), "value")
        self.show_hidden = pn.widgets.Checkbox(label=tr("show hidden"), value=model.show_hidden)
        self.show_hidden.param.watch(lambda e: self._guarded(model.set_show_hidden, e.new), "value")
        self.info = pn.pane.Str("")
        self.error = _safe.alert_pane()
        self.hint = _safe.html_pane(sizing_mode="stretch_width")
        self.sections = pn.Column(sizing_mode="stretch_width")
        self.more = pn.widgets.Button(label="", visible=False, css_classes=["wb-panels-more"])
        self.more.on_click(lambda _e: model.show_more())
        self.layout = pn.Column(pn.Row(self.search, self.show_hidden, self.info), self.error, self.hint,
                                self.sections, self.more, sizing_mode="stretch_width")
        self._unsubscribe = model.observe(self.redraw)
        self.redraw(frozenset({"layout", "series", "error"}))
        self._poller = panel_polling(model, refresh) if live else None
        if live and pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.on_session_destroyed(lambda _ctx: self.close())

    def _guarded(self, action: Any, *args: Any) -> None:
        if not self._syncing:
            action(*args)

    # -- drawing ---------------------------------------------------------------------------------
    def redraw(self, fields: frozenset[str]) -> None:
        m = self.model
        self._syncing = True
        try:
            if "error" in fields or "layout" in fields:
                _safe.show_alert(self.error, m.error)
            runs = tuple(m.records)
            if runs != self._runs:  # other runs: other lines in every chart
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
        if m.search not in (self.search.value_input, self.search.value):
            self.search.value = m.search
        self.show_hidden.value = m.show_hidden
        self.info.object = m.status_text
        hint = m.empty_hint
        _safe.set_html(self.hint, _html.note(hint) if hint else "")
        self.hint.visible = bool(hint)
        sections = m.sections()
        drawn = {p.id for p in m.drawn()}
        cards = []
        for section in sections:
            card, _header, grid = self._card(section)
            grid.objects = [self._chart(p).box for p in section.panels if p.id in drawn]
            cards.append(card)
        self.sections.objects = cards
        self.more.label = tr("show {n} more", n=m.more)
        self.more.visible = m.more > 0

    def _card(self, section: Section) -> tuple[Any, Any, Any]:
        found = self.cards.get(section.id)
        if found is None:
            header = _safe.html_pane(css_classes=["wb-section-title"])
            grid = pn.GridBox(ncols=2, sizing_mode="stretch_width")
            card = pn.Card(grid, header=header, collapsed=section.collapsed, sizing_mode="stretch_width",
                           css_classes=["wb-section"])
            card.param.watch(lambda e, sid=section.id: self._guarded(self.model.set_collapsed, sid, e.new),
                             "collapsed")
            found = self.cards[section.id] = (card, header, grid)
        card, header, grid = found
        _safe.set_html(header, _safe.markup("<b>{}</b> <small>({})</small>", section.title, len(section.panels)))
        if card.collapsed != section.collapsed:
            card.collapsed = section.collapsed
        return found

    def _chart(self, panel: Panel) -> _Chart:
        m = self.model
        chart = self.charts.get(panel.id)
        if chart is None:
            fig = figure(height=CHART_HEIGHT, sizing_mode="stretch_width", x_axis_label=tr("step"),
                         tools="pan,wheel_zoom,box_zoom,reset,save", toolbar_location="right")
            fig.add_tools(HoverTool(tooltips=[(tr("series"), "@label"), (tr("step"), "@x"), (tr("value"), "@y")]))
            title = _safe.html_pane(css_classes=["wb-panel-title"], sizing_mode="stretch_width")
            pin = pn.widgets.Button(label="", width=70, css_classes=["wb-pin"])
            hide = pn.widgets.Button(label="", width=70, css_classes=["wb-hide"])
            up = pn.widgets.Button(label="↑", width=40, css_classes=["wb-up"])
            down = pn.widgets.Button(label="↓", width=40, css_classes=["wb-down"])
            pid = panel.id
            pin.on_click(lambda _e: m.toggle_pin(pid))
            hide.on_click(lambda _e: m.toggle_hidden(pid))
            up.on_click(lambda _e: m.move(pid, -1))
            down.on_click(lambda _e: m.move(pid, 1))
            box = pn.Column(pn.Row(title, pin, hide, up, down, sizing_mode="stretch_width"),
                            pn.pane.Bokeh(fig, sizing_mode="stretch_width"), sizing_mode="stretch_width",
                            css_classes=["wb-panel"])
            chart = self.charts[panel.id] = _Chart(box, fig, title, pin, hide)
            _safe.set_html(title, _safe.markup("<b>{}</b>", panel.title))
            self._fill(chart, panel)
        chart.pin.label = tr("Unpin") if panel.id in m.pinned else tr("Pin")
        chart.hide.label = tr("Show") if panel.id in m.hidden else tr("Hide")
        return chart

    def _fill(self, chart: _Chart, panel: Panel) -> None:
        """Put the panel's points into its sources; a line not drawn yet gets its renderer."""
        lines = self.model.lines(panel)
        legend = len(panel.keys) > 1 or len(self.model.records) > 1
        for line in lines:
            source = chart.sources.get((line.run_id, line.key))
            if source is None:
                source = chart.sources[(line.run_id, line.key)] = ColumnDataSource(_data(line))
                kwargs = {"legend_label": line.label} if legend else {}
                chart.figure.line("x", "y", source=source, color=line.color, line_width=1.5, **kwargs)
                if legend:
                    chart.figure.legend.location = "top_right"
                    chart.figure.legend.click_policy = "hide"
            else:
                source.data = _data(line)

    def close(self) -> None:
        stop = getattr(self._poller, "stop", None)
        if stop is not None:
            stop()
        self._poller = None
        self._unsubscribe()
