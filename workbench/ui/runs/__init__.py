"""RunBrowser: a live, filterable, sortable, paged table of runs; its selection drives other views.

>>> from workbench.ui import RunBrowser                      # doctest: +SKIP
>>> browser = RunBrowser(project="sentiment", where="summary.acc > 0.8")  # doctest: +SKIP
>>> browser                    # the ipywidgets view, in a notebook cell  # doctest: +SKIP
>>> browser.selected           # the runs picked in it, as a DataFrame    # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.ui._component import Component
from workbench.ui._i18n import add_zh
from workbench.ui._model import Selection
from workbench.ui.runs.model import RunBrowserModel

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunBrowser", "RunBrowserModel"]


class RunBrowser(Component[RunBrowserModel]):
    """A table of runs: search, filter, sort, choose columns, page, select.

    Parameters
    ----------
    project, where, columns, page_size, order_by, descending, selection, root:
        See :class:`RunBrowserModel`.
    refresh:
        Seconds between live refreshes (default: the store's ``ui_refresh`` setting).
    """

    def __init__(self, project: str | None = None, where: str = "", *, columns: list[str] | None = None,
                 page_size: int = 50, order_by: str = "created", descending: bool = True,
                 selection: Selection | None = None, root: Any = None, refresh: float | None = None) -> None:
        super().__init__(RunBrowserModel(project, where, columns=columns, page_size=page_size, order_by=order_by,
                                         descending=descending, selection=selection, root=root))
        self.refresh = refresh

    @property
    def selection(self) -> Selection:
        """The shared selection (run ids) that other views follow."""
        return self.model.selection

    @property
    def selected(self) -> pd.DataFrame:
        """The selected runs as a DataFrame (the columns of :func:`workbench.runs`)."""
        return self.model.selected

    def _make_widget(self) -> Any:
        from workbench.ui.runs.ipywidgets_view import RunBrowserWidget

        view = RunBrowserWidget(self.model, self.refresh)
        self._keep(view)
        return view.layout

    def _make_panel(self) -> Any:
        from workbench.ui.runs.panel_view import RunBrowserPanel

        view = RunBrowserPanel(self.model, self.refresh)
        self._keep(view)
        return view.layout



add_zh({
    "Search": "搜索",
    "search name, id, tag": "搜索名称、ID、标签",
    "Filter": "筛选",
    "Apply": "应用",
    "Sort by": "排序",
    "descending": "降序",
    "Columns": "列",
    "Previous": "上一页",
    "Next": "下一页",
    "Sort": "排序",
    "Runs {first}-{last} of {matched} matching ({total} in all) · page {page} of {pages}":
        "第 {first}-{last} 个，共 {matched} 个匹配（总计 {total} 个）· 第 {page}/{pages} 页",
})
