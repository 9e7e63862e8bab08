"""ConfigDiff (the config keys that differ between runs) and ParallelCoordinates (runs as polylines).

>>> from workbench.ui import ConfigDiff, ParallelCoordinates           # doctest: +SKIP
>>> ConfigDiff(browser)                                                # doctest: +SKIP
>>> ParallelCoordinates(browser, color="summary.acc")                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.ui._component import Component
from workbench.ui._i18n import add_zh
from workbench.ui.diff.model import ConfigDiffModel, ParallelCoordinatesModel

__all__ = ["ConfigDiff", "ConfigDiffModel", "ParallelCoordinates", "ParallelCoordinatesModel"]


class ConfigDiff(Component[ConfigDiffModel]):
    """A key x run table of the config (and summary) values that differ between 2+ runs.

    Parameters
    ----------
    source:
        A RunBrowser or Selection to follow, or run ids (or unique prefixes).
    include_summary:
        Also compare summary values.
    show_all:
        Every key, not only those that differ (differing cells stay highlighted).

    Examples
    --------
    >>> ConfigDiff(["1m82g9", "1m82ga"], include_summary=True)  # doctest: +SKIP
    """

    def __init__(self, source: Any = None, *, root: Any = None, include_summary: bool = False,
                 show_all: bool = False, live: bool = True) -> None:
        super().__init__(ConfigDiffModel(source, root=root, include_summary=include_summary, show_all=show_all))
        self.live = live

    def _make_widget(self) -> Any:
        from workbench.ui.diff.ipywidgets_view import DiffWidget

        view = DiffWidget(self.model, live=self.live)
        self._keep(view)
        return view.box

    def _make_panel(self) -> Any:
        from workbench.ui.diff.panel_view import DiffPanel

        view = DiffPanel(self.model, live=self.live)
        self._keep(view)
        return view.layout


class ParallelCoordinates(Component[ParallelCoordinatesModel]):
    """Runs as polylines across config and summary dimensions, coloured by a summary metric.

    Parameters
    ----------
    source:
        A RunBrowser or Selection to follow, or run ids; ``None`` with ``project=``: all its runs.
    dims:
        Keys such as ``["config.lr", "config.optimizer", "summary.acc"]``; default: the config
        keys that vary, then a few summary keys.
    color:
        A numeric summary (or config) key; default: the first numeric summary key.

    Examples
    --------
    >>> ParallelCoordinates(project="sweep", dims=["config.lr", "config.bs"], color="summary.acc")  # doctest: +SKIP
    """

    def __init__(self, source: Any = None, dims: Sequence[str] | None = None, color: str | None = None, *,
                 project: str | None = None, root: Any = None) -> None:
        super().__init__(ParallelCoordinatesModel(source, dims, color, project=project, root=root))

    def _make_widget(self) -> Any:
        from workbench.ui.diff.ipywidgets_view import ParallelWidget

        view = ParallelWidget(self.model)
        self._keep(view)
        return view.box

    def _make_panel(self) -> Any:
        from workbench.ui.diff.panel_view import ParallelPanel

        view = ParallelPanel(self.model)
        self._keep(view)
        return view.layout


add_zh({
    "Compare": "比较", "Select two or more runs to compare": "请选择两个或更多运行进行比较",
    "No differences": "没有差异", "No keys": "没有键", "Show all keys": "显示所有键",
    "Include summary": "包含摘要", "Load runs": "加载运行", "Dimensions": "维度", "Colour": "颜色",
})
