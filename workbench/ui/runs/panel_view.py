"""RunBrowser for ``panel serve``: Panel widgets and a Tabulator holding one page of runs."""

from __future__ import annotations

from typing import Any

from workbench.ui import _format, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import panel_polling
from workbench.ui.runs.model import BASE_COLUMNS, RunBrowserModel


class RunBrowserPanel:
    """The Panel rendering of a :class:`RunBrowserModel`; ``layout`` goes on a page."""

    def __init__(self, model: RunBrowserModel, refresh: float | None = None) -> None:
        import panel as pn

        self.model = model
        self._syncing = False
        self.search = pn.widgets.TextInput(label=tr("Search"), placeholder=tr("search name, id, tag"))
        self.where = pn.widgets.TextInput(label=tr("Filter"), value=model.where,
                                          placeholder="config.lr < 1e-3 and summary.acc > 0.8", width=480)
        self.apply = pn.widgets.Button(label=tr("Apply"), color="primary")
        self.error = _safe.alert_pane()
        self.sort = pn.widgets.Select(label=tr("Sort by"))
        self.descending = pn.widgets.Checkbox(label=tr("descending"), value=model.descending)
        self.columns = pn.widgets.MultiChoice(label=tr("Columns"))
        self.table = _safe.table(model.table(), selectable="checkbox", disabled=True, show_index=False,
                                 formatters={"status": _safe.color_formatter(_format.STATUS_COLORS)},
                                 sizing_mode="stretch_width", height=440)
        self.previous = pn.widgets.Button(label="◀ " + tr("Previous"))
        self.next = pn.widgets.Button(label=tr("Next") + " ▶")
        self.info = pn.pane.Str("")
        self.refresh_button = pn.widgets.Button(label=tr("Refresh"))
        self.layout = pn.Column(
            pn.Row(self.search, self.where, self.apply),
            self.error,
            pn.Row(self.sort, self.descending, self.columns),
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
        self.table.param.watch(self._on_selection, "selection")
        self.table.param.watch(self._on_header_sort, "sorters")
        self.previous.on_click(lambda _: model.previous_page())
        self.next.on_click(lambda _: model.next_page())
        self.refresh_button.on_click(self._on_refresh)
        self._unsubscribe = [model.observe(self._redraw), model.selection.observe(lambda _: self._show_selection())]
        self._redraw(frozenset({"rows", "columns", "error"}))
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
                _safe.set_table(self.table, model.table())
                self.info.object = model.status_text
                self.previous.disabled = model.page == 0
                self.next.disabled = model.page >= model.pages - 1
        finally:
            self._syncing = False
        self._show_selection()

    def _show_selection(self) -> None:
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
