"""The ArtifactBrowser for ``panel serve``: Tabulator tables, Panel widgets, an inline alert."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn

from workbench.ui import _html, _safe
from workbench.ui._i18n import add_zh, tr
from workbench.ui._live import panel_polling
from workbench.ui.artifacts.model import ArtifactBrowserModel, metadata_html, skipped_lines

ARTIFACT_COLUMNS = ["name", "type", "versions", "latest", "updated"]
VERSION_COLUMNS = ["label", "created", "size_text", "new_text", "files", "aliases", "producer"]
FILE_COLUMNS = ["path", "size_text", "chunks", "digest"]
#: the tables' headers, as people read them (the columns keep their field names)
TITLES = {"name": "name", "type": "type", "versions": "versions", "latest": "latest", "updated": "updated",
          "label": "version", "created": "created", "size_text": "size", "new_text": "new bytes", "files": "files",
          "aliases": "aliases", "producer": "producer", "path": "path", "chunks": "chunks", "digest": "digest"}
add_zh({"name": "名称", "type": "类型", "versions": "版本数", "latest": "最新版本", "updated": "更新时间",
        "version": "版本", "created": "创建时间", "size": "大小", "new bytes": "新增字节", "files": "文件数",
        "aliases": "别名", "producer": "产出运行", "path": "路径", "chunks": "块数", "digest": "摘要"})
#: a path is shown whole: wrapped anywhere (paths rarely have spaces), never cut with an ellipsis
_WRAP_PATHS = (":host .tabulator-cell[tabulator-field='path'] "
               "{white-space: pre-wrap !important; overflow-wrap: anywhere; word-break: break-all;}")


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)


class ArtifactBrowserPanel:
    """One browser session's view of the model (state stays in the model)."""

    def __init__(self, model: ArtifactBrowserModel, *, live: bool = True) -> None:
        self.model = model
        table: dict[str, Any] = {"disabled": True, "show_index": False, "sizing_mode": "stretch_width"}
        titles = {column: tr(title) for column, title in TITLES.items()}  # not the dataset's own columns
        self.names = _safe.table(_frame([], ARTIFACT_COLUMNS), titles, selectable=1, height=220, **table)
        self.versions = _safe.table(_frame([], VERSION_COLUMNS), titles, selectable=1, height=220, **table)
        self.files = _safe.table(_frame([], FILE_COLUMNS), titles, selectable=1, height=220,
                                 formatters={"path": {"type": "textarea"}}, widths={"path": "55%"},
                                 stylesheets=[_WRAP_PATHS], **table)
        self.download = pn.widgets.FileDownload(callback=self._download, label=tr("Download"), filename="file",
                                                disabled=True, color="primary", width=320)
        self.metadata = _safe.html_pane(sizing_mode="stretch_width")
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
        self.files.param.watch(self._on_file, "selection")
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
            self.download,
            self.metadata,
            self.dataset,
            pn.Row(self.usage_button, self.usage),
            sizing_mode="stretch_width",
        )
        self._unsubscribe = model.observe(self._redraw)
        self._redraw(frozenset({"artifacts", "versions", "version", "file", "usage", "message", "error", "skipped"}))
        self._poller = panel_polling(model) if live else None
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.curdoc.on_session_destroyed(lambda _ctx: self.close())  # the model outlives the session

    def _on_name(self, event: Any) -> None:
        if not self._drawing and event.new:
            self.model.choose(self.model.artifacts[event.new[0]]["name"])

    def _on_version(self, event: Any) -> None:
        if not self._drawing and event.new:
            self.model.choose_version(self.model.versions[event.new[0]]["version"])

    def _on_file(self, event: Any) -> None:
        if not self._drawing:
            self.model.choose_file(self.model.files[event.new[0]]["path"] if event.new else None)

    def _download(self) -> Any:
        """FileDownload's callback: the placed file's path (Panel reads and sends it); a refused or
        failed one shows in the alert and sends nothing."""
        path = self.model.download()
        if path is None:
            raise RuntimeError(self.model.error or "download refused")
        return path

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
            if changed & {"artifacts", "versions", "version", "file"}:
                self._draw_file()
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
        _safe.set_html(self.metadata, metadata_html(m.metadata))
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

    def _draw_file(self) -> None:
        m = self.model
        paths = [f["path"] for f in m.files]
        self.files.selection = [paths.index(m.file)] if m.file in paths else []
        self.download.disabled = m.file is None
        name = (m.file or "").rsplit("/", 1)[-1]
        self.download.filename = name or "file"  # the browser's "save as" name (an attribute, not HTML)
        self.download.label = f"{tr('Download')} {name}" if name else tr("Download")

    def _run_button(self, run_id: str) -> Any:
        button = pn.widgets.Button(label=run_id, color="light")
        button.on_click(lambda _: self.model.open_run(run_id))
        return button

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        self._unsubscribe()
