"""The ArtifactBrowser for ``panel serve``: Tabulator tables, Panel widgets, an inline alert."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn

from workbench.ui import _html, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import panel_polling
from workbench.ui.artifacts.model import ArtifactBrowserModel, skipped_lines

ARTIFACT_COLUMNS = ["name", "type", "versions", "latest", "updated"]
VERSION_COLUMNS = ["label", "created", "size_text", "new_text", "files", "aliases", "producer"]
FILE_COLUMNS = ["path", "size_text", "chunks", "digest"]


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)


class ArtifactBrowserPanel:
    """One browser session's view of the model (state stays in the model)."""

    def __init__(self, model: ArtifactBrowserModel, *, live: bool = True) -> None:
        self.model = model
        table: dict[str, Any] = {"disabled": True, "show_index": False, "sizing_mode": "stretch_width"}
        self.names = _safe.table(_frame([], ARTIFACT_COLUMNS), selectable=1, height=220, **table)
        self.versions = _safe.table(_frame([], VERSION_COLUMNS), selectable=1, height=220, **table)
        self.files = _safe.table(_frame([], FILE_COLUMNS), selectable=False, height=180, **table)
        self.details = _safe.html_pane()
        self.alias = pn.widgets.TextInput(label=tr("Alias"), placeholder="production")
        self.set_button = pn.widgets.Button(label=tr("Set alias"), color="primary")
        self.remove_choice = pn.widgets.Select(label=tr("Alias"), options=[])
        self.remove_button = pn.widgets.Button(label=tr("Remove alias"))
        self.runs = pn.Row()
        self.schema = _safe.table(pd.DataFrame(), selectable=False, height=160, **table)
        self.preview = _safe.table(pd.DataFrame(), selectable=False, height=180, **table)
        self.dataset = pn.Column(_safe.html_pane(_safe.markup("<b>{}</b>", tr("Schema"))), self.schema,
                                 _safe.html_pane(_safe.markup("<b>{}</b>", tr("Preview"))), self.preview,
                                 visible=False)
        self.usage_button = pn.widgets.Button(label=tr("Disk usage"))
        self.usage = _safe.html_pane()
        self.message = _safe.html_pane()
        self.skipped = _safe.html_pane()
        self.alert = _safe.alert_pane()
        self.dismiss = pn.widgets.Button(label=tr("Dismiss"), width=90, visible=False)
        self.dismiss.on_click(lambda _: model.dismiss())
        self._drawing = False
        self.names.param.watch(self._on_name, "selection")
        self.versions.param.watch(self._on_version, "selection")
        self.set_button.on_click(lambda _: self._set_alias())
        self.remove_button.on_click(lambda _: self._remove_alias())
        self.usage_button.on_click(lambda _: model.load_usage())
        self.layout = pn.Column(
            pn.Row(self.alert, self.dismiss, sizing_mode="stretch_width"),
            self.skipped,
            self.message,
            pn.Row(pn.Column(_safe.heading(tr("Artifacts"), 3), self.names),
                   pn.Column(_safe.heading(tr("Versions"), 3), self.versions)),
            self.details,
            pn.Row(self.alias, self.set_button, self.remove_choice, self.remove_button),
            self.runs,
            _safe.heading(tr("Files"), 3),
            self.files,
            self.dataset,
            pn.Row(self.usage_button, self.usage),
            sizing_mode="stretch_width",
        )
        self._unsubscribe = model.observe(self._redraw)
        self._redraw(frozenset({"artifacts", "versions", "version", "usage", "message", "error", "skipped"}))
        self._poller = panel_polling(model) if live else None
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.curdoc.on_session_destroyed(lambda _ctx: self.close())  # the model outlives the session

    def _on_name(self, event: Any) -> None:
        if not self._drawing and event.new:
            self.model.choose(self.model.artifacts[event.new[0]]["name"])

    def _on_version(self, event: Any) -> None:
        if not self._drawing and event.new:
            self.model.choose_version(self.model.versions[event.new[0]]["version"])

    def _set_alias(self) -> None:
        if self.model.set_alias(self.alias.value or ""):
            self.alias.value = ""

    def _remove_alias(self) -> None:
        if self.remove_choice.value:
            self.model.remove_alias(self.remove_choice.value)

    def _redraw(self, changed: frozenset[str]) -> None:
        m = self.model
        self._drawing = True
        try:
            if "artifacts" in changed:
                _safe.set_table(self.names, _frame(m.artifacts, ARTIFACT_COLUMNS))
            if changed & {"artifacts", "versions"}:
                names = [a["name"] for a in m.artifacts]
                self.names.selection = [names.index(m.name)] if m.name in names else []
                _safe.set_table(self.versions, _frame(m.versions, VERSION_COLUMNS))
            if changed & {"artifacts", "versions", "version"}:
                numbers = [v["version"] for v in m.versions]
                self.versions.selection = [numbers.index(m.version)] if m.version in numbers else []
                self._draw_version()
            if "usage" in changed and m.usage is not None:
                _safe.set_html(self.usage, m.usage["text"])
            if "message" in changed:
                _safe.set_html(self.message, m.message or "")
            if "error" in changed:
                _safe.show_alert(self.alert, m.error)
                self.dismiss.visible = bool(m.action_errors)
            if "skipped" in changed:
                _safe.set_html(self.skipped, skipped_lines(m.skipped))
        finally:
            self._drawing = False

    def _draw_version(self) -> None:
        m = self.model
        row = next((v for v in m.versions if v["version"] == m.version), None)
        _safe.set_table(self.files, _frame(m.files, FILE_COLUMNS))
        self.remove_choice.options = [a for a in m.aliases if a != "latest"]
        if row is None:
            _safe.set_html(self.details, "" if m.artifacts else _html.note(tr("No artifacts yet")))
        else:
            _safe.set_html(self.details, _safe.markup("<b>{}</b> {} · {} · {} {} · {}", row["ref"], row["created"],
                                                      row["size_text"], tr("new bytes"), row["new_text"],
                                                      row["aliases"]))
        items: list[Any] = []
        if m.producer:
            items += [pn.pane.Str(tr("Produced by")), self._run_button(m.producer)]
        if m.consumers:
            items += [pn.pane.Str(tr("Used by"))] + [self._run_button(r) for r in m.consumers]
        self.runs.objects = items
        ds = m.dataset
        self.dataset.visible = ds is not None
        if ds is not None:
            _safe.set_table(self.schema, pd.DataFrame(ds["schema"], columns=["column", "type"]))
            _safe.set_table(self.preview, pd.DataFrame(ds["preview"], columns=ds["columns"]))

    def _run_button(self, run_id: str) -> Any:
        button = pn.widgets.Button(label=run_id, color="light")
        button.on_click(lambda _: self.model.open_run(run_id))
        return button

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        self._unsubscribe()
