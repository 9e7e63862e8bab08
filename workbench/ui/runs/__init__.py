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
    """A table of runs: project, search, filter, sort, group, choose columns (saved per project),
    page, select; tag, delete (after a confirmation) and export (CSV) the selected or matching runs.

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
    # the runs table's headers (BASE_COLUMNS)
    "status": "状态", "name": "名称", "project": "项目", "created": "创建时间", "duration": "时长", "tags": "标签",
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
    "Default columns": "默认列",
    "Project": "项目",
    "all projects": "全部项目",
    "Group by": "分组",
    "no grouping": "不分组",
    "{key} = {value} ({n} runs)": "{key} = {value}（{n} 个运行）",
    "(none)": "（无）",
    "tags, separated by commas": "标签，用逗号分隔",
    "Add tags": "添加标签",
    "Remove tags": "移除标签",
    "Delete": "删除",
    "Delete {n} runs": "删除 {n} 个运行",
    "Delete 1 run": "删除 1 个运行",
    "Confirm delete of 1 run: {names}": "确认删除 1 个运行：{names}",
    "Deleted 1 run": "已删除 1 个运行",
    "{action}: 1 run": "{action}：1 个运行",
    "{key} = {value} (1 run)": "{key} = {value}（1 个运行）",
    "Confirm delete": "确认删除",
    "Save columns": "保存列",
    "Cancel": "取消",
    "Download CSV": "下载 CSV",
    "select runs first": "请先选择运行",
    "name at least one tag": "请至少输入一个标签",
    "{action}: {n} runs": "{action}：{n} 个运行",
    " and {n} more": " 等另外 {n} 个",
    "Confirm delete of {n} runs: {names}": "确认删除 {n} 个运行：{names}",
    "Deleted {n} runs": "已删除 {n} 个运行",
    "No runs in project {project} yet.": "项目 {project} 中还没有运行。",
    "No runs in this store yet: log one with wb.init(), or launch a job.":
        "此存储中还没有运行：用 wb.init() 记录一个，或启动一个任务。",
    "No run's name, id or tag contains \"{search}\": clear the search to see {n} runs.":
        "没有运行的名称、ID 或标签包含“{search}”：清除搜索即可看到 {n} 个运行。",
    "No runs match the filter.": "没有运行符合筛选条件。",
    "No run has {key}: did you mean {close}?": "没有运行含有 {key}：您是不是想找 {close}？",
    " or ": " 或 ",
    "No run has {key}.": "没有运行含有 {key}。",
    "Loosen it, or clear it to see all {n} runs.": "放宽条件，或清除它以查看全部 {n} 个运行。",
})
