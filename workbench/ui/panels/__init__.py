"""MetricPanels: a chart for every metric the runs logged, in sections by prefix, live.

>>> from workbench.ui import MetricPanels        # doctest: +SKIP
>>> MetricPanels("1m82g9")                        # one run                       # doctest: +SKIP
>>> MetricPanels(browser)                         # the runs selected in a RunBrowser  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from workbench.ui._component import Component
from workbench.ui._i18n import add_zh
from workbench.ui.panels.model import MetricPanelsModel, Panel, Section

__all__ = ["MetricPanels", "MetricPanelsModel", "Panel", "Section"]


class MetricPanels(Component[MetricPanelsModel]):
    """One chart per logged key, with no configuration.

    Sections by key prefix (``train/``, ``eval/``, keys without one under "metrics", ``sys/``
    last, system metrics one chart per unit), collapsible; a search over keys; per chart: pin
    (to a "Pinned" section at the top), hide, move up or down. The layout is saved per project
    (``workbench.settings.save_view(project, panels=...)``) and comes back next time; a read-only
    session keeps its changes to itself.

    Parameters
    ----------
    source:
        Run ids, one run id, a :class:`~workbench.ui.Selection` or a RunBrowser (its selection).
    project:
        Whose saved layout to use (default: the runs' project when they share one).
    samples:
        Points per run and key from :func:`workbench.history` (M4 downsampling keeps spikes).
    limit:
        Charts drawn at first; "show N more" adds as many again.
    live:
        Re-read running runs every ``ui_refresh`` seconds while a view is shown.
    """

    def __init__(self, source: Any = None, *, project: str | None = None, samples: int = 1000, limit: int = 24,
                 root: Any = None, live: bool = True, refresh: float | None = None) -> None:
        super().__init__(MetricPanelsModel(source, project=project, samples=samples, limit=limit, root=root))
        self.live = live
        self.refresh = refresh

    def _make_widget(self) -> Any:
        from workbench.ui.panels.ipywidgets_view import MetricPanelsWidget

        return self._keep(MetricPanelsWidget(self.model, live=self.live, refresh=self.refresh)).box

    def _make_panel(self) -> Any:
        from workbench.ui.panels.panel_view import MetricPanelsPanel

        return self._keep(MetricPanelsPanel(self.model, live=self.live, refresh=self.refresh)).layout

    def close(self) -> None:
        """Stop every view, then the model (it unsubscribes from the selection it follows)."""
        super().close()
        self.model.close()


add_zh({
    "Pinned": "已固定", "metrics": "指标", "Metrics": "指标", "Search keys": "搜索指标键",
    "show hidden": "显示已隐藏", "Pin": "固定", "Unpin": "取消固定", "Hide": "隐藏", "Show": "显示",
    "Move up": "上移", "Move down": "下移", "show {n} more": "再显示 {n} 个",
    "{panels} charts of {keys} keys": "{keys} 个键，{panels} 张图", "{n} hidden": "{n} 个已隐藏",
    "No runs selected": "未选择运行", "No metrics logged yet": "尚未记录指标",
    "No chart matches the search": "没有与搜索匹配的图表", "Save layout": "保存布局",
    "step": "步数", "value": "值", "series": "序列",
})
