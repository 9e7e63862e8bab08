"""RunDetail for notebooks and Voila: ipywidgets tabs, HTML tables and a chart per metric (MetricPanels).

Thin: every value comes from the model; every button calls one model action.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from workbench.ui import _html, _safe
from workbench.ui._format import status_color
from workbench.ui._i18n import tr
from workbench.ui._live import start_polling
from workbench.ui.detail import _markup
from workbench.ui.detail.model import RunDetailModel
from workbench.ui.media.ipywidgets_view import MediaPanelsWidget
from workbench.ui.media.model import MediaPanelsModel
from workbench.ui.panels.ipywidgets_view import MetricPanelsWidget

__all__ = ["DetailWidget"]


class DetailWidget:
    """The widgets of one RunDetail view; ``box`` is what a cell shows."""

    def __init__(self, model: RunDetailModel, *, live: bool = True) -> None:
        self.model = model
        self.error = _safe.html_widget()
        self.header = _safe.html_widget()
        self.failure = _safe.html_widget()
        self.config_filter = widgets.Text(placeholder=tr("Filter keys"), continuous_update=True)
        self.config_filter.observe(lambda change: model.set_config_filter(change["new"]), names="value")
        self.config = _safe.html_widget()
        self.summary = _safe.html_widget()
        self.tags = widgets.Text(description=tr("Tags"), placeholder=tr("tag1, tag2"))
        self.notes = widgets.Textarea(description=tr("Notes"), layout=widgets.Layout(width="95%", height="90px"))
        self.save = widgets.Button(description=tr("Save"), icon="save")
        self.save.on_click(lambda _: model.save(self.tags.value, self.notes.value))
        self.read_only = _safe.html_widget()
        self.stdout = _safe.html_widget()
        self.system = _safe.html_widget()
        self.panels = MetricPanelsWidget(model.metrics, live=live)
        self.artifacts = widgets.VBox()
        tabs = [
            (tr("Metrics"), self.panels.box),
            (tr("Config"), widgets.VBox([self.config_filter, self.config])),
            (tr("Summary"), self.summary),
            (tr("Tags & notes"), widgets.VBox([self.tags, self.notes, widgets.HBox([self.save, self.read_only])])),
            (tr("Output"), self.stdout),
            (tr("System"), self.system),
            (tr("Artifacts"), self.artifacts),
        ]
        self.tabs = widgets.Tab(children=[w for _, w in tabs], titles=[t for t, _ in tabs])
        self.box = widgets.VBox([self.error, self.header, self.failure, self.tabs])
        # a "Media" tab while the run has media (MediaPanels following the shown run)
        self.media_model = MediaPanelsModel(model.metrics.selection, root=model.root)
        self.media = MediaPanelsWidget(self.media_model, live=live)
        self._unsubscribe_media = self.media_model.observe(self._media_tab)
        self._media_tab(frozenset({"layout"}))
        self._unsubscribe = model.observe(self.redraw)
        self.redraw(frozenset({"run", "error"}))
        self._poller = start_polling(model) if live else None

    def _media_tab(self, fields: frozenset[str]) -> None:
        if "layout" not in fields:
            return
        children, titles = list(self.tabs.children), list(self.tabs.titles)
        shown = any(c is self.media.box for c in children)
        if self.media_model.has_media and not shown:
            self.tabs.children = [*children, self.media.box]
            self.tabs.titles = [*titles[: len(children)], tr("Media")]
        elif shown and not self.media_model.has_media:
            keep = [i for i, c in enumerate(children) if c is not self.media.box]
            self.tabs.children = [children[i] for i in keep]
            self.tabs.titles = [titles[i] for i in keep if i < len(titles)]

    def redraw(self, fields: frozenset[str]) -> None:
        m = self.model
        everything = "run" in fields
        if everything or "error" in fields:
            self.error.value = _html.error_line(m.error)
        if everything or "status" in fields or "summary" in fields or "tags" in fields:
            self.header.value = _html.facts(m.record_rows(), {tr("Status"): status_color(m.status)}) \
                if m.run_id is not None else _html.note(m.empty_hint)
            self.tabs.layout.display = "" if m.run_id is not None else "none"
        if everything or "failure" in fields:
            self.failure.value = _markup.failure_box(m.failure)
        if everything or "config" in fields:
            self.config.value = _html.table(m.config_rows(), [tr("Key"), tr("Value")], empty=tr("No config"))
        if everything or "summary" in fields:
            self.summary.value = _html.table(m.summary_rows(), [tr("Key"), tr("Value")], empty=tr("No summary"))
        if everything or "tags" in fields:
            self.tags.value = ", ".join(m.tags)
            self.read_only.value = _html.note(tr("read-only: synced from {remote}", remote=m.record.get("remote"))) \
                if m.read_only else ""
        if everything or "notes" in fields:
            self.notes.value = m.notes
        if everything or "stdout" in fields or "stderr" in fields or "status" in fields:
            self.stdout.value = _markup.output(m.stdout, m.stderr, live=m.status == "running")
        if everything or "summary" in fields or "system" in fields:
            self.system.value = _html.table(m.system_rows(), [tr("Metric"), tr("Latest")],
                                            empty=tr("No system metrics"))
        if everything or "artifacts" in fields:
            self._draw_artifacts()

    def _draw_artifacts(self) -> None:
        rows: list[Any] = []
        for row in self.model.artifacts:
            arrow = tr("produced") if row["direction"] == "out" else tr("used")
            label = _safe.html_widget(_safe.join([_safe.markup("<b>{}</b> ", arrow),
                                                  _html.table([[row["ref"], row["type"]]])]))
            links = [self._link(run_id) for run_id in row["runs"]]
            caption = tr("used by") if row["direction"] == "out" else tr("made by")
            rows.append(widgets.HBox([label, widgets.Label(caption + ":" if links else ""), *links]))
        self.artifacts.children = rows or [_safe.html_widget(_html.note(tr("No artifacts")))]

    def _link(self, run_id: str) -> widgets.Button:
        button = widgets.Button(description=run_id, tooltip=tr("Open run"), button_style="info",
                                layout=widgets.Layout(width="auto"))
        button.on_click(lambda _: self.model.open_run(run_id))
        return button

    def close(self) -> None:
        self.panels.close()
        self._unsubscribe_media()
        self.media.close()
        self.media_model.close()
        if self._poller is not None:
            self._poller.stop()
        self._unsubscribe()
        self.box.close()
