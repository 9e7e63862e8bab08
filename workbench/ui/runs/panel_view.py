"""RunBrowser for ``panel serve``: Panel widgets and a Tabulator holding one page of runs.

Run names link to the web app's Run detail page (``?page=detail&runs=ID``); the CSV download
holds every matching run, not just the page.
"""

from __future__ import annotations

import io
from typing import Any

from workbench.ui import _format, _html, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import panel_polling
from workbench.ui.runs.model import BASE_COLUMNS, GROUP_COLUMN, RunBrowserModel


def _call(action: Any, *args: Any) -> None:
    """Run a model action from a button (its result shows through the model's fields)."""
    action(*args)


#: Select values for "all projects" and "no grouping" (Bokeh's Select shows None as nothing);
#: a project name is one printable line and a group key a column label, so neither can be these
_ALL = "\x00all"
_NONE = ""

#: where a run name links to: the web app's Run detail page with that run selected
DETAIL_LINK = "?page=detail&runs="


class RunBrowserPanel:
    """The Panel rendering of a :class:`RunBrowserModel`; ``layout`` goes on a page."""

    def __init__(self, model: RunBrowserModel, refresh: float | None = None) -> None:
        import panel as pn

        self.model = model
        self._syncing = False
        self.search = pn.widgets.TextInput(label=tr("Search"), placeholder=tr("search name, id, tag"),
                                          value=model.search)
        self.where = pn.widgets.TextInput(label=tr("Filter"), value=model.where,
                                          placeholder="config.lr < 1e-3 and summary.acc > 0.8", width=480)
        self.apply = pn.widgets.Button(label=tr("Apply"), color="primary")
        self.error = _safe.alert_pane()
        self.sort = pn.widgets.Select(label=tr("Sort by"))
        self.descending = pn.widgets.Checkbox(label=tr("descending"), value=model.descending)
        self.columns = pn.widgets.MultiChoice(label=tr("Columns"))
        self.default_columns = pn.widgets.Button(label=tr("Default columns"))
        self.project = pn.widgets.Select(label=tr("Project"), width=200)
        self.group = pn.widgets.Select(label=tr("Group by"), width=200)
        # headers and statuses in the session's language; the stored values still sort and filter
        shown_colors = {tr(s): color for s, color in _format.STATUS_COLORS.items()}
        self.table = _safe.table(model.table(), titles={c: tr(c) for c in BASE_COLUMNS}, selectable="checkbox",
                                 disabled=True, show_index=False,
                                 formatters={"status": _safe.color_formatter({**_format.STATUS_COLORS,
                                                                              **shown_colors}),
                                             "name": _safe.link_formatter(DETAIL_LINK, "run_id")},
                                 sizing_mode="stretch_width", height=440)
        self.hint = _safe.html_pane(css_classes=["wb-hint"], sizing_mode="stretch_width", visible=False)
        self.tags = pn.widgets.TextInput(placeholder=tr("tags, separated by commas"), width=220)
        self.add_tags = pn.widgets.Button(label=tr("Add tags"))
        self.remove_tags = pn.widgets.Button(label=tr("Remove tags"))
        self.delete = pn.widgets.Button(label=tr("Delete"), color="danger", variant="outline")
        self.confirm_text = pn.pane.Str("", css_classes=["wb-confirm-text"])
        self.confirm = pn.widgets.Button(label=tr("Confirm delete"), color="danger")
        self.cancel = pn.widgets.Button(label=tr("Cancel"))
        self.confirm_row = pn.Row(self.confirm_text, self.confirm, self.cancel, visible=False)
        self.message = pn.pane.Str("", css_classes=["wb-message"])
        self.download = pn.widgets.FileDownload(callback=self._csv, filename="runs.csv", label=tr("Download CSV"),
                                                width=160)
        self.previous = pn.widgets.Button(label="◀ " + tr("Previous"))
        self.next = pn.widgets.Button(label=tr("Next") + " ▶")
        self.info = pn.pane.Str("")
        self.refresh_button = pn.widgets.Button(label=tr("Refresh"))
        self.layout = pn.Column(
            pn.Row(self.project, self.search, self.where, self.apply),
            self.error,
            pn.Row(self.sort, self.descending, self.group, self.columns, self.default_columns),
            pn.Row(self.tags, self.add_tags, self.remove_tags, self.delete, self.download, self.message),
            self.confirm_row,
            self.hint,
            self.table,
            pn.Row(self.previous, self.next, self.info, self.refresh_button),
            sizing_mode="stretch_width",
        )
        self.search.param.watch(lambda ev: model.set_search(ev.new), "value")
        self.where.param.watch(lambda ev: model.set_where(ev.new or ""), "value")
        self.apply.on_click(lambda _: model.set_where(self.where.value or ""))
        self.sort.param.watch(self._on_sort, "value")
        self.descending.param.watch(self._on_sort, "value")
        self.columns.param.watch(self._on_columns, "value")
        self.default_columns.on_click(lambda _: model.reset_columns())
        self.project.param.watch(self._on_project, "value")
        self.group.param.watch(self._on_group, "value")
        self.add_tags.on_click(lambda _: _call(model.add_tags, self.tags.value or ""))
        self.remove_tags.on_click(lambda _: _call(model.remove_tags, self.tags.value or ""))
        self.delete.on_click(lambda _: _call(model.request_delete))
        self.confirm.on_click(lambda _: _call(model.confirm_delete))
        self.cancel.on_click(lambda _: model.cancel_delete())
        self.table.param.watch(self._on_selection, "selection")
        self.table.param.watch(self._on_header_sort, "sorters")
        self.previous.on_click(lambda _: model.previous_page())
        self.next.on_click(lambda _: model.next_page())
        self.refresh_button.on_click(self._on_refresh)
        self._unsubscribe = [model.observe(self._redraw), model.selection.observe(lambda _: self._show_selection())]
        self._redraw(frozenset({"rows", "columns", "error", "pending", "message"}))
        self._poller = panel_polling(model, refresh)
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.on_session_destroyed(lambda _: self.close())

    def _on_refresh(self, _: Any) -> None:
        self.model.refresh()

    def _on_sort(self, _: Any) -> None:
        if not self._syncing and self.sort.value:
            self.model.sort_by(self.sort.value, self.descending.value)

    def _on_header_sort(self, event: Any) -> None:
        """A click on a column header sorts every matching run, not just the page on screen."""
        if self._syncing or not event.new:
            return
        first = event.new[0]
        if first.get("field"):
            self.model.sort_by(str(first["field"]), first.get("dir") == "desc")

    def _on_columns(self, event: Any) -> None:
        if not self._syncing:
            self.model.set_columns(list(event.new))

    def _on_project(self, event: Any) -> None:
        if not self._syncing:
            self.model.set_project(None if event.new == _ALL else event.new)

    def _on_group(self, event: Any) -> None:
        if not self._syncing:
            self.model.set_group(event.new or None)

    def _csv(self) -> io.BytesIO:
        """The download: every matching run, UTF-8 with a byte order mark (spreadsheets then read it so)."""
        return io.BytesIO(self.model.csv().encode("utf-8-sig"))

    def _on_selection(self, event: Any) -> None:
        if self._syncing:
            return
        ids = self.model.page_ids
        self.model.select_on_page([ids[i] for i in event.new if 0 <= i < len(ids)])

    def _redraw(self, changed: frozenset[str]) -> None:
        model = self.model
        self._syncing = True
        try:
            if "error" in changed or "rows" in changed:
                _safe.show_alert(self.error, model.error)
            if "columns" in changed or "rows" in changed:
                projects = {tr("all projects"): _ALL, **{p: p for p in model.projects if p != _ALL}}
                if self.project.options != projects:
                    self.project.options = projects
                self.project.value = model.project if model.project in projects.values() else _ALL
                groups = {tr("no grouping"): _NONE, **{c: c for c in model.groupable if c}}
                if self.group.options != groups:
                    self.group.options = groups
                self.group.value = model.group_by if model.group_by in model.groupable else _NONE
                sortable = list(dict.fromkeys(["created", *BASE_COLUMNS, *model.available]))
                if list(self.sort.options) != sortable:
                    self.sort.options = sortable
                if model.sort_column in sortable:
                    self.sort.value = model.sort_column
                self.descending.value = model.descending
                options = _safe.choice_options(model.available)
                if self.columns.options != options:
                    self.columns.options = options
                self.columns.value = [c for c in model.columns if c in model.available]
            if "rows" in changed:
                _safe.set_table(self.table, model.table(), group=GROUP_COLUMN if model.group_by else None)
                self.info.object = model.status_text
                _safe.set_html(self.hint, _html.note(model.hint or ""))
                self.hint.visible = bool(model.hint)
                self.previous.disabled = model.page == 0
                self.next.disabled = model.page >= model.pages - 1
            if "pending" in changed:
                self.confirm_text.object = model.delete_prompt if model.pending_delete else ""
                self.confirm_row.visible = bool(model.pending_delete)
            if "message" in changed:
                self.message.object = model.message or ""
        finally:
            self._syncing = False
        self._show_selection()

    def _show_selection(self) -> None:
        self.delete.label = self.model.delete_label
        chosen = set(self.model.selection.run_ids)
        rows = [i for i, rid in enumerate(self.model.page_ids) if rid in chosen]
        if list(self.table.selection) != rows:
            self._syncing = True
            try:
                self.table.selection = rows
            finally:
                self._syncing = False

    def close(self) -> None:
        stop = getattr(self._poller, "stop", None)
        if stop is not None:
            stop()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
