"""MediaPanels: a panel for every media key the runs logged (images, tables, histograms, text,
audio), in sections by prefix, live.

>>> from workbench.ui import MediaPanels        # doctest: +SKIP
>>> MediaPanels("1m82g9")                        # one run                       # doctest: +SKIP
>>> MediaPanels(browser)                         # the runs selected in a RunBrowser  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from workbench.ui._component import Component
from workbench.ui._i18n import add_zh
from workbench.ui.media.model import MediaPanel, MediaPanelsModel, MediaSection

__all__ = ["MediaPanel", "MediaPanels", "MediaPanelsModel", "MediaSection"]


class MediaPanels(Component[MediaPanelsModel]):
    """One panel per media key, with no configuration.

    Images: the selected runs side by side at one step (a step slider, previous / next, "latest"
    following new steps, zoom), captions under them. Tables: sortable, filterable, paged, image
    cells as thumbnails. Histograms: a heatmap of the distribution over steps per run. Text: a
    list by step and a line diff between two runs. Audio: a player per step. Everything is
    shown as data: the images and sounds are embedded by the app, captions, cells and text are
    escaped.

    Parameters
    ----------
    source:
        Run ids, one run id, a :class:`~workbench.ui.Selection` or a RunBrowser (its selection).
    live:
        Re-read running runs every ``ui_refresh`` seconds while a view is shown (a cheap check
        of the runs' media counts; the index is read again only when they moved).

    Examples
    --------
    >>> MediaPanels(["1m82g9", "1m82h0"], root="/tmp/store")  # doctest: +SKIP
    """

    def __init__(self, source: Any = None, *, root: Any = None, live: bool = True,
                 refresh: float | None = None) -> None:
        super().__init__(MediaPanelsModel(source, root=root))
        self.live = live
        self.refresh = refresh

    def _make_widget(self) -> Any:
        from workbench.ui.media.ipywidgets_view import MediaPanelsWidget

        return self._keep(MediaPanelsWidget(self.model, live=self.live, refresh=self.refresh)).box

    def _make_panel(self) -> Any:
        from workbench.ui.media.panel_view import MediaPanelsPanel

        return self._keep(MediaPanelsPanel(self.model, live=self.live, refresh=self.refresh)).layout

    def close(self) -> None:
        """Stop every view, then the model (it unsubscribes from the selection it follows)."""
        super().close()
        self.model.close()


add_zh({
    "media": "媒体", "Media": "媒体", "No media logged yet": "尚未记录媒体", "latest": "最新",
    "Zoom": "放大", "step {step}": "第 {step} 步", "Previous step": "上一步", "Next step": "下一步",
    "diff with": "对比", "Diff": "差异", "No image at this step": "此步没有图像",
    "No text to diff: log text under this key in two runs": "没有可对比的文本：请在两个运行中以此键记录文本",
    "{kind} · {n} runs": "{kind} · {n} 个运行", "image": "图像", "table": "表格", "histogram": "直方图",
    "text": "文本", "audio": "音频", "bin": "区间", "count": "计数", "Sort by": "排序依据", "descending": "降序",
    "Filter rows": "筛选行", "rows {first}-{last} of {n}": "第 {first}-{last} 行，共 {n} 行",
    "Previous page": "上一页", "Next page": "下一页", "not a browser format": "浏览器无法显示的格式",
})
