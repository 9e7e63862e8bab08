"""RunDetail: everything about one run, live while it trains.

>>> from workbench.ui import RunDetail     # doctest: +SKIP
>>> RunDetail("1m82g9")                    # doctest: +SKIP
>>> RunDetail(browser)                     # follows the first run selected in a RunBrowser  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.ui._component import Component
from workbench.ui._i18n import add_zh
from workbench.ui.detail.model import RunDetailModel

__all__ = ["RunDetail", "RunDetailModel"]


class RunDetail(Component[RunDetailModel]):
    """One run: record, why it failed (error, traceback, exit code or signal, a crash's stderr),
    config (filterable), summary, editable tags and notes, stdout and stderr tails, a chart per
    metric (MetricPanels: sections by prefix, system metrics by unit, pin/hide/reorder saved per
    project), the latest system metrics and artifact lineage.

    Parameters
    ----------
    run:
        A run id or unique prefix, a ``Run``, or a Selection / RunBrowser to follow (its first
        selected run).
    root:
        The store (default ``WORKBENCH_ROOT``, else ``~/.workbench``).
    tail:
        Lines of output to show.
    live:
        Re-read a running run every ``ui_refresh`` seconds while a view is shown.

    Examples
    --------
    >>> detail = RunDetail("1m82g9")                                   # doctest: +SKIP
    >>> detail.on_open_run(lambda run_id: print("now showing", run_id))  # doctest: +SKIP
    """

    def __init__(self, run: Any = None, *, root: Any = None, tail: int = 200, live: bool = True) -> None:
        super().__init__(RunDetailModel(run, root=root, tail=tail))
        self.live = live

    @property
    def run_id(self) -> str | None:
        return self.model.run_id

    def lock(self, reason: str | None) -> None:
        """Refuse every action that changes anything, the charts' saved layout too (``None`` unlocks)."""
        super().lock(reason)
        self.model.metrics.locked = reason

    def on_open_run(self, hook: Callable[[str], None]) -> Callable[[], None]:
        """Call ``hook(run_id)`` when a lineage link switches the detail to another run."""
        return self.model.on_open_run(hook)

    def _make_widget(self) -> Any:
        from workbench.ui.detail.ipywidgets_view import DetailWidget

        view = DetailWidget(self.model, live=self.live)
        self._keep(view)
        return view.box

    def _make_panel(self) -> Any:
        from workbench.ui.detail.panel_view import DetailPanel

        view = DetailPanel(self.model, live=self.live)
        self._keep(view)
        return view.layout



add_zh({
    "Open run": "打开运行", "Save": "保存", "Id": "编号", "Name": "名称", "Project": "项目",
    "Status": "状态", "Created": "创建时间", "Ended": "结束时间", "Duration": "时长", "Host": "主机",
    "Git": "Git", "Remote": "远程", "Imported from": "导入自", "dirty": "有未提交修改", "Filter keys": "筛选键",
    "Key": "键",
    "Value": "值", "Tags": "标签", "Notes": "备注", "Config": "配置", "Summary": "摘要",
    "tag1, tag2": "标签1, 标签2", "Tags & notes": "标签和备注", "Output": "输出", "System": "系统", "Artifacts": "制品",
    "No config": "无配置", "No summary": "无摘要", "No output": "无输出", "Metric": "指标",
    "Latest": "最新值", "No system metrics": "无系统指标", "produced": "产出", "used": "使用",
    "used by": "被使用于", "made by": "产出自", "No artifacts": "无制品", "step": "步",
    "read-only: synced from {remote}": "只读：同步自 {remote}",
    "No run selected": "未选择运行",
    "No run selected. Tick a run in the runs table (the Runs page of the web app, or the RunBrowser this view "
    "follows), or open one by id: RunDetail(\"RUN_ID\"), or %wb detail RUN_ID in a notebook.":
        "未选择运行。请在运行表格中勾选一个运行（网页应用的“运行”页面，或此视图跟随的 RunBrowser），"
        "或按编号打开：RunDetail(\"RUN_ID\")，或在笔记本中使用 %wb detail RUN_ID。",
})
