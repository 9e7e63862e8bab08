"""RunDetail for ``panel serve``: Panel tabs, Tabulator tables and a chart per metric (MetricPanels).

One view per browser session, all of them on the same model; state lives in the model.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn

from workbench.ui import _html, _safe
from workbench.ui._format import status_color
from workbench.ui._i18n import tr
from workbench.ui._live import panel_polling
from workbench.ui.detail import _markup
from workbench.ui.detail.model import RunDetailModel
from workbench.ui.media.model import MediaPanelsModel
from workbench.ui.media.panel_view import MediaPanelsPanel
from workbench.ui.panels.panel_view import MetricPanelsPanel

__all__ = ["DetailPanel"]


def _frame(rows: list[tuple[str, str]], key: str, value: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[key, value])


class DetailPanel:
    """The Panel objects of one RunDetail view; ``layout`` is what a page shows."""

    def __init__(self, model: RunDetailModel, *, live: bool = True) -> None:
        self.model = model
        key, value = tr("Key"), tr("Value")
        self.error = _safe.alert_pane()
        self.header = _safe.html_pane(sizing_mode="stretch_width")
        self.failure = _safe.html_pane(sizing_mode="stretch_width", visible=False)
        self.config_filter = pn.widgets.TextInput(placeholder=tr("Filter keys"))
        self.config_filter.param.watch(lambda e: model.set_config_filter(e.new), "value_input")
        self.config_filter.param.watch(lambda e: model.set_config_filter(e.new), "value")
        self.config = _safe.table(_frame([], key, value), disabled=True, show_index=False,
                                  sizing_mode="stretch_width", height=320)
        self.summary = _safe.table(_frame([], key, value), disabled=True, show_index=False,
                                   sizing_mode="stretch_width", height=320)
        self.tags = pn.widgets.TextInput(label=tr("Tags"), placeholder=tr("tag1, tag2"))
        self.notes = pn.widgets.TextAreaInput(label=tr("Notes"), height=100, sizing_mode="stretch_width")
        self.save = pn.widgets.Button(label=tr("Save"), color="primary")
        self.save.on_click(self._save)
        self.read_only = _safe.html_pane()
        self.stdout = _safe.html_pane(sizing_mode="stretch_width")
        self.system = _safe.table(_frame([], tr("Metric"), tr("Latest")), disabled=True,
                                  show_index=False, height=160)
        self.panels = MetricPanelsPanel(model.metrics, live=live)
        self.artifacts = pn.Column(sizing_mode="stretch_width")
        self.tabs = pn.Tabs(
            (tr("Metrics"), self.panels.layout),
            (tr("Config"), pn.Column(self.config_filter, self.config, sizing_mode="stretch_width")),
            (tr("Summary"), self.summary),
            (tr("Tags & notes"), pn.Column(self.tags, self.notes, pn.Row(self.save, self.read_only))),
            (tr("Output"), self.stdout),
            (tr("System"), self.system),
            (tr("Artifacts"), self.artifacts),
            sizing_mode="stretch_width",
        )
        self.layout = pn.Column(self.error, self.header, self.failure, self.tabs, sizing_mode="stretch_width")
        # a "Media" tab while the run has media (MediaPanels following the shown run)
        self.media_model = MediaPanelsModel(model.metrics.selection, root=model.root)
        self.media = MediaPanelsPanel(self.media_model, live=live)
        self._unsubscribe_media = self.media_model.observe(self._media_tab)
        self._media_tab(frozenset({"layout"}))
        self._unsubscribe = model.observe(self.redraw)
        self.redraw(frozenset({"run", "error"}))
        self._poller = panel_polling(model) if live else None
        if live and pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.on_session_destroyed(lambda _ctx: self.close())

    def _media_tab(self, fields: frozenset[str]) -> None:
        if "layout" not in fields:
            return
        shown = any(o is self.media.layout for o in self.tabs.objects)
        if self.media_model.has_media and not shown:
            self.tabs.append((tr("Media"), self.media.layout))
        elif shown and not self.media_model.has_media:
            self.tabs.remove(self.media.layout)

    def _save(self, _event: Any) -> None:
        self.model.save(self.tags.value, self.notes.value)

    def redraw(self, fields: frozenset[str]) -> None:
        m = self.model
        everything = "run" in fields
        if everything or "error" in fields:
            _safe.show_alert(self.error, m.error)
        if everything or "status" in fields or "summary" in fields or "tags" in fields:
            _safe.set_html(self.header, _html.facts(m.record_rows(), {tr("Status"): status_color(m.status)})
                           if m.run_id is not None else _html.note(m.empty_hint))
            self.tabs.visible = m.run_id is not None
        if everything or "failure" in fields:
            _safe.set_html(self.failure, _markup.failure_box(m.failure))
            self.failure.visible = m.failure is not None
        if everything or "config" in fields:
            _safe.set_table(self.config, _frame(m.config_rows(), tr("Key"), tr("Value")))
        if everything or "summary" in fields:
            _safe.set_table(self.summary, _frame(m.summary_rows(), tr("Key"), tr("Value")))
        if everything or "tags" in fields:
            self.tags.value = ", ".join(m.tags)
            remote = m.record.get("remote")
            _safe.set_html(self.read_only,
                           _html.note(tr("read-only: synced from {remote}", remote=remote)) if m.read_only else "")
        if everything or "notes" in fields:
            self.notes.value = m.notes
        if everything or "stdout" in fields or "stderr" in fields or "status" in fields:
            _safe.set_html(self.stdout, _markup.output(m.stdout, m.stderr, live=m.status == "running"))
        if everything or "summary" in fields or "system" in fields:
            _safe.set_table(self.system, _frame(m.system_rows(), tr("Metric"), tr("Latest")))
        if everything or "artifacts" in fields:
            self._draw_artifacts()

    def _draw_artifacts(self) -> None:
        rows: list[Any] = []
        for row in self.model.artifacts:
            arrow = tr("produced") if row["direction"] == "out" else tr("used")
            caption = tr("used by") if row["direction"] == "out" else tr("made by")
            links = [self._link(run_id) for run_id in row["runs"]]
            text = _safe.markup("<b>{}</b> {} <i>{}</i>", arrow, row["ref"], row["type"])
            if links:
                text = _safe.join([text, _safe.markup(" &middot; {}:", caption)])
            rows.append(pn.Row(_safe.html_pane(text), *links))
        self.artifacts.objects = rows or [_safe.html_pane(_html.note(tr("No artifacts")))]

    def _link(self, run_id: str) -> Any:
        button = pn.widgets.Button(label=run_id, color="light")
        button.on_click(lambda _: self.model.open_run(run_id))
        return button

    def close(self) -> None:
        self.panels.close()
        self._unsubscribe_media()
        self.media.close()
        self.media_model.close()
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        self._unsubscribe()
