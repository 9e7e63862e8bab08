"""MetricCompare: chosen metrics of the selected runs overlaid, smoothed, live while runs train.

>>> from workbench.ui import RunBrowser, MetricCompare       # doctest: +SKIP
>>> browser = RunBrowser(project="sentiment")                # doctest: +SKIP
>>> MetricCompare(browser, keys=["loss"], smoothing=0.6)     # follows the browser's selection  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from workbench.ui._component import Component
from workbench.ui._i18n import add_zh
from workbench.ui.compare.model import MetricCompareModel, Series

__all__ = ["MetricCompare", "MetricCompareModel", "Series"]


class MetricCompare(Component[MetricCompareModel]):
    """Metric curves of several runs in one view.

    Parameters
    ----------
    source:
        A RunBrowser (follows its selection), a :class:`~workbench.ui.Selection`, or run ids.
    keys:
        Metric keys to show (default: the keys most of the runs logged, up to four, a loss first).
    samples:
        Points per run and key that :func:`workbench.history` returns (M4 downsampling).
    smoothing:
        EMA weight, 0 (raw) to 0.99.
    x_axis:
        ``step``, ``time`` (wall clock) or ``relative`` (seconds since the run started).
    log_y, grouped:
        Log y scale; all keys in one chart instead of one chart per key (a line dash per key).

    Each run has one colour in every chart (:func:`workbench.ui._colors.run_colors`), listed in a
    scrollable legend beside the charts; hovering a line shows run, key, step, value and wall time.
    ``component.model.set_group_by("config.lr")`` (or ``"tags"``) draws each group's mean with a
    min/max band. Zooming (box or wheel zoom, pan) re-reads the steps in view at full resolution
    (``history(range=)``); ``component.model.set_window(lo, hi)`` does it from code and
    ``reset_window()`` goes back to the full range.
    refresh:
        Seconds between live refreshes (default: the store's ``ui_refresh`` setting).
    """

    def __init__(self, source: Any = None, keys: list[str] | None = None, *, samples: int = 2000,
                 smoothing: float = 0.0, x_axis: str = "step", log_y: bool = False, grouped: bool = False,
                 root: Any = None, refresh: float | None = None) -> None:
        super().__init__(MetricCompareModel(source, keys, samples=samples, smoothing=smoothing, x_axis=x_axis,
                                            log_y=log_y, grouped=grouped, root=root))
        self.refresh = refresh

    def _make_widget(self) -> Any:
        from workbench.ui.compare.ipywidgets_view import MetricCompareWidget

        view = MetricCompareWidget(self.model, self.refresh)
        self._keep(view)
        return view.layout

    def _make_panel(self) -> Any:
        from workbench.ui.compare.panel_view import MetricComparePanel

        view = MetricComparePanel(self.model, self.refresh)
        self._keep(view)
        return view.layout

    def close(self) -> None:
        """Stop every view, then the model (it unsubscribes from the selection it follows)."""
        super().close()
        self.model.close()


add_zh({
    "Metrics": "指标",
    "Smoothing": "平滑",
    "step": "步数",
    "time": "时间",
    "relative": "相对时间",
    "wall time": "墙钟时间",
    "seconds since start": "自开始的秒数",
    "log scale": "对数刻度",
    "one chart": "合并为一张图",
    "{shown} of {total} points shown": "显示 {shown} / {total} 个点",
    "X axis": "横轴",
    "No runs selected: select runs in the runs table to compare their metrics.":
        "未选择运行：请在运行表中选择运行以比较其指标。",
    "The selected runs have logged no metrics yet.": "所选运行尚未记录任何指标。",
    "Group by": "分组",
    "no grouping": "不分组",
    "run": "运行",
    "group": "分组",
    "key": "键",
    "value": "值",
    "Runs ({n})": "运行（{n}）",
    "Groups by {key}": "按 {key} 分组",
    "{label} ({n} runs)": "{label}（{n} 个运行）",
    "{label} (1 run)": "{label}（1 个运行）",
    "Keys": "键",
    "Reset zoom": "重置缩放",
    "Wheel: zoom, drag: pan": "滚轮：缩放，拖动：平移",
    "zoomed: steps {lo} to {hi} re-read": "已缩放：重新读取步数 {lo} 至 {hi}",
    "Zoom": "缩放",
})
