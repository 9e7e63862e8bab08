"""MediaPanels for ``panel serve``: a collapsible ``pn.Card`` per section, a panel per media key.

Each panel's controls (step slider, "latest", zoom, the runs to diff) are made once and kept; a
change of the model refills the bodies of the keys it names.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import panel as pn
from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper  # type: ignore[attr-defined]
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from workbench.ui import _html, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import panel_polling
from workbench.ui.media import _markup
from workbench.ui.media.model import MediaPanel, MediaPanelsModel, kind_label

__all__ = ["MediaPanelsPanel"]

PAGE_SIZE = 10


@dataclass
class _Box:
    panel: MediaPanel
    box: Any
    body: Any
    controls: dict[str, Any] = field(default_factory=dict)


class MediaPanelsPanel:
    """The Panel rendering of a :class:`MediaPanelsModel`; ``layout`` goes on a page."""

    def __init__(self, model: MediaPanelsModel, *, live: bool = True, refresh: float | None = None) -> None:
        self.model = model
        self._syncing = False
        self.boxes: dict[str, _Box] = {}
        self.error = _safe.alert_pane()
        self.hint = _safe.html_pane(sizing_mode="stretch_width")
        self.sections = pn.Column(sizing_mode="stretch_width")
        self.layout = pn.Column(self.error, self.hint, self.sections, sizing_mode="stretch_width",
                                css_classes=["wb-media"])
        self._unsubscribe = model.observe(self.redraw)
        self.redraw(frozenset({"layout", "items", "error"}))
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
            if "layout" in fields:
                self._place()
            if "items" in fields:
                for key in m.changed:
                    if key in self.boxes:
                        self._fill(self.boxes[key])
        finally:
            self._syncing = False

    def _place(self) -> None:
        m = self.model
        hint = m.empty_hint
        _safe.set_html(self.hint, _html.note(hint) if hint else "")
        self.hint.visible = bool(hint)
        self.boxes = {k: b for k, b in self.boxes.items() if k in m.panels and b.panel == m.panels[k]}
        cards = []
        for section in m.sections():
            header = _safe.html_pane(_safe.markup("<b>{}</b> <small>({})</small>", section.title,
                                                  len(section.panels)), css_classes=["wb-section-title"])
            boxes = [self._box(p).box for p in section.panels]
            cards.append(pn.Card(*boxes, header=header, sizing_mode="stretch_width", css_classes=["wb-section"]))
        self.sections.objects = cards

    def _box(self, panel: MediaPanel) -> _Box:
        found = self.boxes.get(panel.id)
        if found is not None:
            return found
        m, key = self.model, panel.id
        title = _safe.html_pane(_safe.markup("<b>{}</b> <small>{}</small>", panel.title, kind_label(panel.kind)),
                                css_classes=["wb-media-title"], sizing_mode="stretch_width")
        body = pn.Column(sizing_mode="stretch_width")
        controls: dict[str, Any] = {}
        row: list[Any] = [title]
        if panel.kind in ("image", "table", "text"):
            prev = pn.widgets.Button(label="◀", width=40, css_classes=["wb-media-prev"],
                                     description=tr("Previous step"))
            nxt = pn.widgets.Button(label="▶", width=40, css_classes=["wb-media-next"], description=tr("Next step"))
            prev.on_click(lambda _e: m.move_step(key, -1))
            nxt.on_click(lambda _e: m.move_step(key, 1))
            slider = pn.widgets.DiscreteSlider(options=[0, 1], value=0, width=260, css_classes=["wb-media-slider"])
            slider.param.watch(lambda e: self._guarded(m.set_step, key, int(e.new)), "value")
            latest = pn.widgets.Checkbox(label=tr("latest"), value=True, css_classes=["wb-media-latest"])
            latest.param.watch(lambda e: self._guarded(m.set_step, key, None if e.new else m.step(key)), "value")
            step = pn.pane.Str("", css_classes=["wb-media-step"])
            controls.update(prev=prev, next=nxt, slider=slider, latest=latest, step=step)
            row += [prev, slider, nxt, step, latest]
        if panel.kind == "image":
            zoom = pn.widgets.Toggle(label=tr("Zoom"), value=key in m.zoomed, width=80, css_classes=["wb-media-zoom"])
            zoom.param.watch(lambda e: self._guarded(m.set_zoom, key, e.new), "value")
            controls["zoom"] = zoom
            row.append(zoom)
        if panel.kind == "text":
            a = pn.widgets.Select(label=tr("Diff"), width=180, css_classes=["wb-diff-a"])
            b = pn.widgets.Select(label=tr("diff with"), width=180, css_classes=["wb-diff-b"])
            a.param.watch(lambda e: self._guarded(m.set_diff, key, e.new, b.value), "value")
            b.param.watch(lambda e: self._guarded(m.set_diff, key, a.value, e.new), "value")
            controls.update(a=a, b=b)
            row += [a, b]
        box = pn.Column(pn.Row(*row, sizing_mode="stretch_width"), body, sizing_mode="stretch_width",
                        css_classes=["wb-media-panel", f"wb-media-{panel.kind}"])
        found = self.boxes[key] = _Box(panel, box, body, controls)
        self._fill(found)
        return found

    def _steps(self, box: _Box) -> None:
        m, key, c = self.model, box.panel.id, box.controls
        steps, now = m.steps(key), m.step(key)
        c["slider"].visible = c["prev"].visible = c["next"].visible = len(steps) > 1
        if len(steps) > 1:
            if list(c["slider"].options) != steps:
                c["slider"].options = steps
            if now is not None and c["slider"].value != now:
                c["slider"].value = now
        c["step"].object = tr("step {step}", step=now) if now is not None else ""
        c["latest"].value = m.latest(key)

    def _fill(self, box: _Box) -> None:
        m, key, kind = self.model, box.panel.id, box.panel.kind
        was, self._syncing = self._syncing, True
        try:
            if "slider" in box.controls:
                self._steps(box)
            if kind == "image":
                box.controls["zoom"].value = key in m.zoomed
                box.body.objects = [_safe.html_pane(_markup.image_grid(m.images(key), zoomed=key in m.zoomed),
                                                    sizing_mode="stretch_width")]
            elif kind == "table":
                box.body.objects = [part for view in m.tables(key) for part in self._table(view)]
            elif kind == "histogram":
                box.body.objects = [pn.Row(*(self._heatmap(h) for h in m.heatmaps(key)), sizing_mode="stretch_width")]
            elif kind == "text":
                runs = m.text_runs(key)
                options = {m.name(r) + ("" if list(map(m.name, runs)).count(m.name(r)) == 1 else f" ({r})"): r
                           for r in runs}
                pair = m.diff_pair(key)
                for name, pick in (("a", 0), ("b", 1)):
                    select = box.controls[name]
                    select.options = options
                    select.visible = len(runs) > 1
                    if pair is not None:
                        select.value = pair[pick]
                shown = [_safe.html_pane(_markup.text_list(m.texts(key)), sizing_mode="stretch_width")]
                if pair is not None:
                    shown.insert(0, _safe.html_pane(_markup.diff(m.diff(key), m.name(pair[0]), m.name(pair[1])),
                                                    sizing_mode="stretch_width", css_classes=["wb-media-diff"]))
                box.body.objects = shown
            elif kind == "audio":
                box.body.objects = [_safe.html_pane(_markup.audio_list(m.sounds(key)), sizing_mode="stretch_width")]
        finally:
            self._syncing = was

    def _table(self, view: Any) -> list[Any]:
        frame = view.frame
        images = set(view.image_columns)
        filters: dict[str, Any] = {}
        for column in frame.columns:
            if column in images:
                filters[column] = False
            elif frame[column].dtype.kind in "iuf":
                filters[column] = {"type": "number", "func": ">=", "placeholder": "≥"}
            else:
                filters[column] = {"type": "input", "func": "like", "placeholder": tr("Filter rows")}
        formatters = {c: {"type": "image", "height": "64px"} for c in view.image_columns}
        head = _safe.html_pane(_safe.markup("<b>{}</b> <small>{}</small> <i>{}</i>", view.run_name,
                                            tr("step {step}", step=view.step), view.caption),
                               sizing_mode="stretch_width")
        table = _safe.table(frame, disabled=True, show_index=False, pagination="local", page_size=PAGE_SIZE,
                            header_filters=filters, formatters=formatters, sizing_mode="stretch_width",
                            css_classes=["wb-media-tabulator"])
        return [head, table]

    def _heatmap(self, heat: Any) -> Any:
        steps, edges, counts = heat.steps, heat.edges, heat.counts
        xs, ys, ws, values = [], [], [], []
        gaps = [b - a for a, b in itertools.pairwise(steps)] or [1]
        for j, step in enumerate(steps):
            width = gaps[min(j, len(gaps) - 1)] if len(steps) > 1 else 1
            for i in range(len(edges) - 1):
                xs.append(step)
                ys.append((edges[i] + edges[i + 1]) / 2)
                ws.append(width)
                values.append(counts[i][j])
        height = (edges[1] - edges[0]) if len(edges) > 1 else 1.0
        mapper = LinearColorMapper(palette=Viridis256, low=min(values, default=0), high=max(values, default=1))
        fig = figure(height=260, width=420, title=heat.run_name, x_axis_label=tr("step"), y_axis_label=tr("bin"),
                     tools="pan,wheel_zoom,box_zoom,reset,save", toolbar_location="right")
        source = ColumnDataSource({"x": xs, "y": ys, "w": ws, "count": values})
        fig.rect("x", "y", width="w", height=height, source=source, line_color=None,
                 fill_color={"field": "count", "transform": mapper})
        fig.add_tools(HoverTool(tooltips=[(tr("step"), "@x"), (tr("bin"), "@y"), (tr("count"), "@count")]))
        fig.add_layout(ColorBar(color_mapper=mapper, width=8), "right")
        return pn.pane.Bokeh(fig, css_classes=["wb-media-heatmap"])

    def close(self) -> None:
        stop = getattr(self._poller, "stop", None)
        if stop is not None:
            stop()
        self._poller = None
        self._unsubscribe()
