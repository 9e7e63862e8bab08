"""ArtifactBrowser: artifacts, their versions, files, aliases, lineage, dataset previews, dedup.

>>> from workbench.ui import ArtifactBrowser  # doctest: +SKIP
>>> ArtifactBrowser(on_open_run=print)         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.ui._component import Component
from workbench.ui.artifacts.model import ArtifactBrowserModel

__all__ = ["ArtifactBrowser", "ArtifactBrowserModel"]


class ArtifactBrowser(Component[ArtifactBrowserModel]):
    """Browse the artifacts of a store; ``on_open_run(run_id)`` is called for a producer or
    consumer run the person clicks (the web app opens its detail)."""

    def __init__(self, root: Any = None, *, on_open_run: Callable[[str], None] | None = None,
                 live: bool = True) -> None:
        super().__init__(ArtifactBrowserModel(root, on_open_run=on_open_run))
        self.live = live

    @property
    def on_open_run(self) -> Callable[[str], None] | None:
        return self.model.on_open_run

    @on_open_run.setter
    def on_open_run(self, hook: Callable[[str], None] | None) -> None:
        self.model.on_open_run = hook

    def _make_widget(self) -> Any:
        from workbench.ui.artifacts.ipywidgets_view import ArtifactBrowserWidget

        return ArtifactBrowserWidget(self.model, live=self.live)

    def _make_panel(self) -> Any:
        from workbench.ui.artifacts.panel_view import ArtifactBrowserPanel

        return ArtifactBrowserPanel(self.model, live=self.live).layout
