"""RunBrowser for notebooks and Voila: ipywidgets controls and an ipydatagrid table.

The grid holds one page (the model pages), so a 10,000-run store sends 50 rows to the browser.
Selecting a row is the link to a run: RunDetail, MetricCompare and the others follow the
selection. The CSV of every matching run is ``browser.model.csv()`` in the kernel.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.ui import _format, _html, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import start_polling
from workbench.ui.runs.model import BASE_COLUMNS, RunBrowserModel


def _status_expr() -> Any:
    """The status colour of a cell, matched on the status as shown (in the view's language)."""
    from ipydatagrid import VegaExpr

    expr = "'#444444'"
    for status, color in _format.STATUS_COLORS.items():
        expr = f"cell.value == {json.dumps(tr(status))} ? '{color}' : ({expr})"
    return VegaExpr(expr)


def _shown(frame: Any) -> Any:
    """The page with the base columns' headers in the view's language (data columns keep their names)."""
    return frame.rename(columns={c: tr(c) for c in BASE_COLUMNS})


class RunBrowserWidget:
    """The ipywidgets rendering of a :class:`RunBrowserModel`; ``layout`` is what a cell shows."""

    def __init__(self, model: RunBrowserModel, refresh: float | None = None) -> None:
        import ipywidgets as w
        from ipydatagrid import DataGrid, TextRenderer

        self.model = model
        self._syncing = False
        self.search = w.Text(placeholder=tr("search name, id, tag"), description=tr("Search"),
                             continuous_update=False)
        self.where = w.Text(value=model.where, placeholder="config.lr < 1e-3 and summary.acc > 0.8",
                            description=tr("Filter"), continuous_update=False,
                            layout=w.Layout(width="50%"))
        self.apply = w.Button(description=tr("Apply"))
        self.error = _safe.html_widget()
        self.sort = w.Dropdown(description=tr("Sort by"))
        self.descending = w.ToggleButton(value=model.descending, description=tr("descending"))
        self.columns = w.SelectMultiple(description=tr("Columns"), rows=6)
        self.default_columns = w.Button(description=tr("Default columns"))
        self.project = w.Dropdown(description=tr("Project"))
        self.group = w.Dropdown(description=tr("Group by"))
        self.tags = w.Text(placeholder=tr("tags, separated by commas"))
        self.add_tags = w.Button(description=tr("Add tags"))
        self.remove_tags = w.Button(description=tr("Remove tags"))
        self.delete = w.Button(description=tr("Delete"), button_style="danger")
        self.confirm_text = w.Label()
        self.confirm = w.Button(description=tr("Confirm delete"), button_style="danger")
        self.cancel = w.Button(description=tr("Cancel"))
        self.confirm_row = w.HBox([self.confirm_text, self.confirm, self.cancel], layout=w.Layout(display="none"))
        self.message = w.Label()
        self.hint = _safe.html_widget()
        self.grid = DataGrid(_shown(model.table()), selection_mode="row", layout={"height": "420px"},
                             renderers={tr("status"): TextRenderer(text_color=_status_expr())})
        self.previous = w.Button(description=tr("Previous"), icon="chevron-left")
        self.next = w.Button(description=tr("Next"), icon="chevron-right")
        self.info = w.Label()
        self.refresh_button = w.Button(description=tr("Refresh"), icon="refresh")
        self.layout = w.VBox([
            w.HBox([self.project, self.search, self.where, self.apply]),
            self.error,
            w.HBox([self.sort, self.descending, self.group, self.columns, self.default_columns]),
            w.HBox([self.tags, self.add_tags, self.remove_tags, self.delete, self.message]),
            self.confirm_row,
            self.hint,
            self.grid,
            w.HBox([self.previous, self.next, self.info, self.refresh_button]),
        ])
        self.search.observe(lambda ch: model.set_search(ch["new"]), "value")
        self.where.observe(lambda ch: model.set_where(ch["new"]), "value")
        self.apply.on_click(lambda _: model.set_where(self.where.value))
        self.sort.observe(self._on_sort, "value")
        self.descending.observe(self._on_sort, "value")
        self.columns.observe(self._on_columns, "value")
        self.default_columns.on_click(lambda _: model.reset_columns())
        self.project.observe(self._on_project, "value")
        self.group.observe(self._on_group, "value")
        self.add_tags.on_click(lambda _: model.add_tags(self.tags.value))
        self.remove_tags.on_click(lambda _: model.remove_tags(self.tags.value))
        self.delete.on_click(lambda _: model.request_delete())
        self.confirm.on_click(lambda _: model.confirm_delete())
        self.cancel.on_click(lambda _: model.cancel_delete())
        self.previous.on_click(lambda _: model.previous_page())
        self.next.on_click(lambda _: model.next_page())
        self.refresh_button.on_click(lambda _: model.refresh())
        self.grid.observe(self._on_grid_selection, "selections")
        self._unsubscribe = [model.observe(self._redraw), model.selection.observe(lambda _: self._show_selection())]
        self._redraw(frozenset({"rows", "columns", "error", "pending", "message"}))
        self._poller = start_polling(model, refresh)

    # -- view -> model -----------------------------------------------------------------------------
    def _on_sort(self, _: Any) -> None:
        if not self._syncing and self.sort.value:
            self.model.sort_by(self.sort.value, self.descending.value)

    def _on_columns(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.model.set_columns(list(change["new"]))

    def _on_project(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.model.set_project(change["new"])

    def _on_group(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.model.set_group(change["new"])

    def _on_grid_selection(self, _: Any) -> None:
        if self._syncing:
            return
        ids = self.model.page_ids
        rows: set[int] = set()
        for rect in self.grid.selections:
            rows.update(range(int(rect["r1"]), int(rect["r2"]) + 1))
        self.model.select_on_page([ids[i] for i in sorted(rows) if 0 <= i < len(ids)])

    # -- model -> view -----------------------------------------------------------------------------
    def _redraw(self, changed: frozenset[str]) -> None:
        model = self.model
        self._syncing = True
        try:
            if "error" in changed or "rows" in changed:
                self.error.value = _html.error_line(model.error)
            if "columns" in changed or "rows" in changed:
                projects = [(tr("all projects"), None), *((p, p) for p in model.projects)]
                if list(self.project.options) != projects:
                    self.project.options = projects
                self.project.value = model.project if model.project in model.projects else None
                groups = [(tr("no grouping"), None), *((c, c) for c in model.groupable)]
                if list(self.group.options) != groups:
                    self.group.options = groups
                self.group.value = model.group_by if model.group_by in model.groupable else None
                sortable = list(dict.fromkeys(["created", *BASE_COLUMNS, *model.available]))
                if list(self.sort.options) != sortable:
                    self.sort.options = sortable
                self.sort.value = model.sort_column if model.sort_column in sortable else None
                self.descending.value = model.descending
                if list(self.columns.options) != model.available:
                    self.columns.options = model.available
                self.columns.value = tuple(c for c in model.columns if c in model.available)
            if "rows" in changed:
                self.grid.data = _shown(model.table())
                self.info.value = model.status_text
                self.hint.value = _html.note(model.hint or "")
                self.previous.disabled = model.page == 0
                self.next.disabled = model.page >= model.pages - 1
            if "pending" in changed:
                self.confirm_text.value = model.delete_prompt if model.pending_delete else ""
                self.confirm_row.layout.display = "flex" if model.pending_delete else "none"
            if "message" in changed:
                self.message.value = model.message or ""
        finally:
            self._syncing = False
        self._show_selection()

    def _show_selection(self) -> None:
        self.delete.description = self.model.delete_label
        chosen = set(self.model.selection.run_ids)
        rows = [i for i, rid in enumerate(self.model.page_ids) if rid in chosen]
        width = len(self.model.shown_columns) - (0 if self.model.group_by else 1)
        rects = [{"r1": i, "r2": i, "c1": 0, "c2": width} for i in rows]
        if [(r["r1"], r["r2"]) for r in self.grid.selections] != [(i, i) for i in rows]:
            self._syncing = True
            try:
                self.grid.selections = rects
            finally:
                self._syncing = False

    def close(self) -> None:
        self._poller.stop()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self.layout.close()

