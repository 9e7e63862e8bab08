"""MediaPanels for notebooks and Voila: an ``Accordion`` per section, a panel per media key.

Images, text, diffs, sounds and tables are HTML made by :mod:`workbench.ui.media._markup`
(escaped; image cells are thumbnails); tables sort, filter and page in the model's frame here;
histograms are bqplot heatmaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import bqplot
import ipywidgets as widgets

from workbench.ui import _html, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import start_polling
from workbench.ui.media import _markup
from workbench.ui.media.model import MediaPanel, MediaPanelsModel, TableView, kind_label

__all__ = ["MediaPanelsWidget", "table_page"]

PAGE_SIZE = 10


def table_page(frame: Any, *, sort: str | None, descending: bool, needle: str, page: int,
               image_columns: tuple[str, ...] = ()) -> tuple[Any, int]:
    """The rows of ``frame`` to show: filtered (``needle`` in any text cell, any case), sorted by
    ``sort``, page ``page`` (from 0); returns them and how many rows matched."""
    rows = frame
    needle = needle.strip().lower()
    if needle:
        text_columns = [c for c in frame.columns if c not in image_columns]
        keep = [any(needle in str(v).lower() for v in values)
                for values in frame[text_columns].itertuples(index=False)] if text_columns else [False] * len(frame)
        rows = frame[keep]
    if sort in frame.columns and sort not in image_columns:
        rows = rows.sort_values(sort, ascending=not descending, kind="stable", key=lambda s: s.map(
            lambda v: (0, v) if isinstance(v, (int, float)) else (1, str(v))) if s.dtype == object else s)
    start = max(0, page) * PAGE_SIZE
    return rows.iloc[start:start + PAGE_SIZE], len(rows)


@dataclass
class _Box:
    panel: MediaPanel
    box: Any
    body: Any
    controls: dict[str, Any] = field(default_factory=dict)
    table: dict[str, Any] = field(default_factory=dict)  # sort, descending, needle, page


class MediaPanelsWidget:
    """The ipywidgets rendering of a :class:`MediaPanelsModel`; ``box`` is what a cell shows."""

    def __init__(self, model: MediaPanelsModel, *, live: bool = True, refresh: float | None = None) -> None:
        self.model = model
        self._syncing = False
        self.boxes: dict[str, _Box] = {}
        self.error = _safe.html_widget()
        self.hint = _safe.html_widget()
        self.sections = widgets.VBox()
        self.box = widgets.VBox([self.error, self.hint, self.sections])
        self.box.add_class("wb-media")
        self._unsubscribe = model.observe(self.redraw)
        self.redraw(frozenset({"layout", "items", "error"}))
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
        self.hint.value = _html.note(hint) if hint else ""
        self.boxes = {k: b for k, b in self.boxes.items() if k in m.panels and b.panel == m.panels[k]}
        cards = []
        for section in m.sections():
            inner = widgets.VBox([self._box(p).box for p in section.panels])
            accordion = widgets.Accordion(children=[inner], selected_index=0)
            accordion.set_title(0, f"{section.title} ({len(section.panels)})")  # a title is text
            cards.append(accordion)
        self.sections.children = cards

    def _box(self, panel: MediaPanel) -> _Box:
        found = self.boxes.get(panel.id)
        if found is not None:
            return found
        m, key = self.model, panel.id
        small = widgets.Layout(width="auto")
        title = _safe.html_widget(_safe.markup("<b>{}</b> <small>{}</small>", panel.title, kind_label(panel.kind)))
        body = widgets.VBox()
        controls: dict[str, Any] = {}
        row: list[Any] = [title]
        if panel.kind in ("image", "table", "text"):
            prev = widgets.Button(description="◀", tooltip=tr("Previous step"), layout=small)
            nxt = widgets.Button(description="▶", tooltip=tr("Next step"), layout=small)
            prev.on_click(lambda _b: m.move_step(key, -1))
            nxt.on_click(lambda _b: m.move_step(key, 1))
            slider = widgets.SelectionSlider(options=[0], value=0, description=tr("step"), continuous_update=False)
            slider.observe(lambda ch: self._guarded(m.set_step, key, int(ch["new"])), names="value")
            latest = widgets.Checkbox(description=tr("latest"), value=True, indent=False, layout=small)
            latest.observe(lambda ch: self._guarded(m.set_step, key, None if ch["new"] else m.step(key)),
                           names="value")
            controls.update(prev=prev, next=nxt, slider=slider, latest=latest)
            row += [prev, slider, nxt, latest]
        if panel.kind == "image":
            zoom = widgets.ToggleButton(description=tr("Zoom"), value=key in m.zoomed, layout=small)
            zoom.observe(lambda ch: self._guarded(m.set_zoom, key, ch["new"]), names="value")
            controls["zoom"] = zoom
            row.append(zoom)
        if panel.kind == "text":
            a = widgets.Dropdown(description=tr("Diff"), layout=widgets.Layout(width="220px"))
            b = widgets.Dropdown(description=tr("diff with"), layout=widgets.Layout(width="220px"))
            a.observe(lambda ch: self._guarded(m.set_diff, key, ch["new"], b.value), names="value")
            b.observe(lambda ch: self._guarded(m.set_diff, key, a.value, ch["new"]), names="value")
            controls.update(a=a, b=b)
            row += [a, b]
        box = widgets.VBox([widgets.HBox(row, layout=widgets.Layout(flex_flow="row wrap")), body])
        box.add_class("wb-media-panel")
        box.add_class(f"wb-media-{panel.kind}")
        found = self.boxes[key] = _Box(panel, box, body, controls,
                                       {"sort": None, "descending": False, "needle": "", "page": 0})
        self._fill(found)
        return found

    def _steps(self, box: _Box) -> None:
        m, key, c = self.model, box.panel.id, box.controls
        steps, now = m.steps(key), m.step(key)
        if steps and tuple(c["slider"].options) != tuple(steps):
            c["slider"].options = steps
        if now is not None and c["slider"].value != now:
            c["slider"].value = now
        shown = "" if len(steps) > 1 else "none"
        for name in ("slider", "prev", "next"):
            c[name].layout.display = shown
        c["latest"].value = m.latest(key)

    def _fill(self, box: _Box) -> None:
        m, key, kind = self.model, box.panel.id, box.panel.kind
        was, self._syncing = self._syncing, True
        try:
            if "slider" in box.controls:
                self._steps(box)
            if kind == "image":
                box.controls["zoom"].value = key in m.zoomed
                box.body.children = [_safe.html_widget(_markup.image_grid(m.images(key), zoomed=key in m.zoomed))]
            elif kind == "table":
                box.body.children = [self._table(box, view) for view in m.tables(key)]
            elif kind == "histogram":
                box.body.children = [widgets.HBox([self._heatmap(h) for h in m.heatmaps(key)],
                                                  layout=widgets.Layout(flex_flow="row wrap"))]
            elif kind == "text":
                runs = m.text_runs(key)
                options = [(m.name(r) + ("" if [m.name(x) for x in runs].count(m.name(r)) == 1 else f" ({r})"), r)
                           for r in runs]
                pair = m.diff_pair(key)
                for name, pick in (("a", 0), ("b", 1)):
                    select = box.controls[name]
                    select.options = options
                    select.layout.display = "" if len(runs) > 1 else "none"
                    if pair is not None:
                        select.value = pair[pick]
                shown = [_safe.html_widget(_markup.text_list(m.texts(key)))]
                if pair is not None:
                    shown.insert(0, _safe.html_widget(_markup.diff(m.diff(key), m.name(pair[0]), m.name(pair[1]))))
                box.body.children = shown
            elif kind == "audio":
                box.body.children = [_safe.html_widget(_markup.audio_list(m.sounds(key)))]
        finally:
            self._syncing = was

    def _table(self, box: _Box, view: TableView) -> Any:
        state = box.table
        images = tuple(view.image_columns)
        columns = [c for c in view.frame.columns if c not in images]
        sort = widgets.Dropdown(options=[("", None), *((c, c) for c in columns)], value=state["sort"]
                                if state["sort"] in columns else None, description=tr("Sort by"),
                                layout=widgets.Layout(width="220px"))
        descending = widgets.Checkbox(description=tr("descending"), value=state["descending"], indent=False,
                                      layout=widgets.Layout(width="auto"))
        needle = widgets.Text(value=state["needle"], placeholder=tr("Filter rows"), continuous_update=True)
        prev = widgets.Button(description="◀", tooltip=tr("Previous page"), layout=widgets.Layout(width="auto"))
        nxt = widgets.Button(description="▶", tooltip=tr("Next page"), layout=widgets.Layout(width="auto"))
        info = widgets.Label()
        head = _safe.html_widget(_safe.markup("<b>{}</b> <small>{}</small> <i>{}</i>", view.run_name,
                                              tr("step {step}", step=view.step), view.caption))
        grid = _safe.html_widget()

        def show() -> None:
            rows, total = table_page(view.frame, sort=state["sort"], descending=state["descending"],
                                     needle=state["needle"], page=state["page"], image_columns=images)
            if state["page"] and state["page"] * PAGE_SIZE >= total:
                state["page"] = max(0, (total - 1) // PAGE_SIZE)
                rows, total = table_page(view.frame, sort=state["sort"], descending=state["descending"],
                                         needle=state["needle"], page=state["page"], image_columns=images)
            grid.value = _markup.table_html(rows, images)
            first = state["page"] * PAGE_SIZE
            info.value = tr("rows {first}-{last} of {n}", first=min(first + 1, total), last=first + len(rows), n=total)

        def change(name: str, value: Any) -> None:
            state[name] = value
            if name != "page":
                state["page"] = 0
            show()

        sort.observe(lambda ch: change("sort", ch["new"]), names="value")
        descending.observe(lambda ch: change("descending", ch["new"]), names="value")
        needle.observe(lambda ch: change("needle", ch["new"]), names="value")
        prev.on_click(lambda _b: change("page", max(0, state["page"] - 1)))
        nxt.on_click(lambda _b: change("page", state["page"] + 1))
        show()
        out = widgets.VBox([head, widgets.HBox([sort, descending, needle, prev, nxt, info]), grid])
        out.add_class("wb-media-table-box")
        return out

    def _heatmap(self, heat: Any) -> Any:
        import numpy as np

        edges = np.asarray(heat.edges)
        centres = (edges[:-1] + edges[1:]) / 2
        scales = {"row": bqplot.LinearScale(), "column": bqplot.LinearScale(), "color": bqplot.ColorScale(
            scheme="viridis")}
        mark = bqplot.GridHeatMap(row=centres, column=np.asarray(heat.steps, dtype=float),
                                  color=np.asarray(heat.counts, dtype=float), scales=scales, row_align="start",
                                  column_align="start")
        axes = [bqplot.Axis(scale=scales["column"], label=tr("step")),
                bqplot.Axis(scale=scales["row"], side="left", label=tr("bin")),
                bqplot.ColorAxis(scale=scales["color"], side="right")]
        figure = bqplot.Figure(marks=[mark], axes=axes, title=heat.run_name,
                               layout=widgets.Layout(width="420px", height="280px"),
                               fig_margin={"top": 40, "bottom": 40, "left": 50, "right": 60})
        figure.add_class("wb-media-heatmap")
        return figure

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        self._unsubscribe()
        self.box.close()
