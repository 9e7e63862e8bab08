"""The ArtifactBrowser in a notebook: plain ipywidgets (the lists are short; tables are HTML)."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from workbench.ui import _html, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import start_polling
from workbench.ui.artifacts.model import ArtifactBrowserModel, metadata_html, skipped_lines


def html_table(rows: list[dict[str, Any]], columns: list[str]) -> _safe.Markup:
    """A small escaped HTML table of ``rows`` (dicts) over ``columns``."""
    return _html.table([["" if r.get(c) is None else r.get(c) for c in columns] for r in rows], columns)


class ArtifactBrowserWidget(w.VBox):  # type: ignore[misc]
    """Lists on the left, the chosen version on the right; every part redraws from the model."""

    def __init__(self, model: ArtifactBrowserModel, *, live: bool = True) -> None:
        self.model = model
        self.names = w.Select(description=tr("Artifacts"), rows=8, layout=w.Layout(width="320px"))
        self.versions = w.Select(description=tr("Versions"), rows=8, layout=w.Layout(width="320px"))
        self.details = _safe.html_widget()
        self.files = _safe.html_widget()
        self.metadata = _safe.html_widget()
        # a notebook reads a file from disk: Download shows where wb.use_artifact placed it
        self.file_choice = w.Dropdown(description=tr("Files"), options=[], layout=w.Layout(width="420px"))
        self.download = w.Button(description=tr("Download"), icon="download")
        self.download_path = _safe.html_widget()
        self.alias = w.Text(placeholder="production", description=tr("Alias"))
        self.set_button = w.Button(description=tr("Set alias"))
        self.remove_choice = w.Dropdown(description=tr("Alias"), options=[])
        self.remove_button = w.Button(description=tr("Remove alias"))
        self.runs = w.HBox()
        self.dataset = _safe.html_widget()
        self.usage_button = w.Button(description=tr("Disk usage"))
        self.usage = _safe.html_widget()
        self.message = _safe.html_widget()
        self.error = _safe.html_widget()
        self.dismiss = w.Button(description=tr("Dismiss"), icon="times", layout=w.Layout(width="auto", display="none"))
        self.dismiss.on_click(lambda _: model.dismiss())
        self.skipped = _safe.html_widget()
        self._drawing = False
        self.names.observe(self._on_name, "value")
        self.versions.observe(self._on_version, "value")
        self.set_button.on_click(lambda _: self._set_alias())
        self.remove_button.on_click(lambda _: self._remove_alias())
        self.usage_button.on_click(lambda _: model.load_usage())
        self.file_choice.observe(self._on_file, "value")
        self.download.on_click(lambda _: self._download())
        right = w.VBox([self.details, self.files, w.HBox([self.file_choice, self.download]), self.download_path,
                        self.metadata, w.HBox([self.alias, self.set_button]),
                        w.HBox([self.remove_choice, self.remove_button]), self.runs, self.dataset])
        super().__init__([w.HBox([self.error, self.dismiss]), self.skipped, self.message,
                          w.HBox([w.VBox([self.names, self.versions]), right]),
                          w.HBox([self.usage_button, self.usage])])
        self._unsubscribe = model.observe(self._redraw)
        self._redraw(frozenset({"artifacts", "versions", "version", "file", "usage", "message", "error", "skipped"}))
        self._poller = start_polling(model) if live else None

    def _on_name(self, change: dict[str, Any]) -> None:
        if not self._drawing and change["new"] is not None:
            self.model.choose(change["new"])

    def _on_version(self, change: dict[str, Any]) -> None:
        if not self._drawing and change["new"] is not None:
            self.model.choose_version(change["new"])

    def _on_file(self, change: dict[str, Any]) -> None:
        if not self._drawing:
            self.model.choose_file(change["new"])

    def _download(self) -> None:
        path = self.model.local_path()
        self.download_path.value = _safe.markup("<code>{}</code>", path) if path is not None else ""

    def _set_alias(self) -> None:
        if self.model.set_alias(self.alias.value):
            self.alias.value = ""

    def _remove_alias(self) -> None:
        if self.remove_choice.value:
            self.model.remove_alias(self.remove_choice.value)

    def _redraw(self, changed: frozenset[str]) -> None:
        m = self.model
        self._drawing = True
        try:
            if "artifacts" in changed:
                self.names.options = [
                    (f"{a['name']}  ({a['type']}, {a['versions']})", a["name"]) for a in m.artifacts
                ]
            if changed & {"artifacts", "versions"}:
                self.names.value = m.name
                self.versions.options = [
                    (f"{v['label']}  {v['created']}  {v['size_text']}  {v['aliases']}", v["version"])
                    for v in m.versions
                ]
            if changed & {"artifacts", "versions", "version"}:
                self.versions.value = m.version
                self._draw_version()
            if changed & {"artifacts", "versions", "version", "file"}:
                paths = [f["path"] for f in m.files]
                if list(self.file_choice.options) != paths:
                    self.file_choice.options = paths
                self.file_choice.value = m.file if m.file in paths else None
                self.download.disabled = m.file is None
                self.download_path.value = ""
            if "usage" in changed and m.usage is not None:
                self.usage.value = m.usage["text"]  # an HTML widget of _safe: plain text shows as text
            if "message" in changed:
                self.message.value = m.message or ""
            if "error" in changed:
                self.error.value = _html.error_line(m.error)
                self.dismiss.layout.display = "" if m.action_errors else "none"
            if "skipped" in changed:
                self.skipped.value = skipped_lines(m.skipped)
        finally:
            self._drawing = False

    def _draw_version(self) -> None:
        m = self.model
        row = next((v for v in m.versions if v["version"] == m.version), None)
        if row is None:
            self.details.value = _html.note(tr("No artifacts yet")) if not m.artifacts else ""
            self.files.value = ""
            self.metadata.value = ""
            self.dataset.value = ""
            self.runs.children = []
            self.remove_choice.options = []
            return
        self.details.value = _safe.markup("<b>{}</b> {} · {} · {} {} · {}", row["ref"], row["created"],
                                          row["size_text"], tr("new bytes"), row["new_text"], row["aliases"])
        self.files.value = _safe.markup('<div style="overflow-wrap:anywhere;word-break:break-all">{}</div>',
                                        html_table(m.files, ["path", "size_text", "chunks", "digest"]))
        self.metadata.value = metadata_html(m.metadata)
        self.remove_choice.options = [a for a in m.aliases if a != "latest"]
        buttons: list[Any] = []
        if m.producer:
            buttons.append(w.Label(tr("Produced by")))
            buttons.append(self._run_button(m.producer))
        if m.consumers:
            buttons.append(w.Label(tr("Used by")))
            buttons += [self._run_button(r) for r in m.consumers]
        self.runs.children = buttons
        ds = m.dataset
        if ds is None:
            self.dataset.value = ""
        else:
            self.dataset.value = _safe.join([
                _safe.markup("<b>{}</b> ({}, {} rows)", tr("Schema"), ds["format"], ds["rows"]),
                html_table(ds["schema"], ["column", "type"]),
                _safe.markup("<b>{}</b>", tr("Preview")),
                html_table(ds["preview"], ds["columns"]),
            ])

    def _run_button(self, run_id: str) -> Any:
        button = w.Button(description=run_id, tooltip=run_id, layout=w.Layout(width="auto"))
        button.on_click(lambda _: self.model.open_run(run_id))
        return button

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        self._unsubscribe()
        super().close()
