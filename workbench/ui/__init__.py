"""Views of the store for notebooks, Voila and ``panel serve`` (see docs/ui.md).

Each component is a toolkit-free view model (state and actions over the public functions of the
rooms below) with two thin renderings: ipywidgets (``.widget()``; what a notebook cell shows when
the component is evaluated) and Panel (``.panel()``, for the web app).

>>> from workbench.ui import RunBrowser, MetricCompare  # doctest: +SKIP
>>> browser = RunBrowser(project="sentiment")           # doctest: +SKIP
>>> browser                                             # doctest: +SKIP
>>> MetricCompare(browser, keys=["loss"])               # doctest: +SKIP

ipywidgets and Panel are imported only when a view is made.
"""

from __future__ import annotations

import importlib
from typing import Any

#: component -> module that defines it
_COMPONENTS = {
    "RunBrowser": "workbench.ui.runs",
    "MetricCompare": "workbench.ui.compare",
    "MetricPanels": "workbench.ui.panels",
    "MediaPanels": "workbench.ui.media",
    "RunDetail": "workbench.ui.detail",
    "ConfigDiff": "workbench.ui.diff",
    "ParallelCoordinates": "workbench.ui.diff",
    "ArtifactBrowser": "workbench.ui.artifacts",
    "LaunchForm": "workbench.ui.launch",
    "JobMonitor": "workbench.ui.launch",
    "SyncPanel": "workbench.ui.sync",
}

__all__ = [
    "ArtifactBrowser",
    "ConfigDiff",
    "JobMonitor",
    "LaunchForm",
    "MediaPanels",
    "MetricCompare",
    "MetricPanels",
    "ParallelCoordinates",
    "RunBrowser",
    "RunDetail",
    "Selection",
    "SyncPanel",
    "set_language",
]


def __getattr__(name: str) -> Any:
    if name in _COMPONENTS:
        return getattr(importlib.import_module(_COMPONENTS[name]), name)
    if name == "Selection":
        from workbench.ui._model import Selection

        return Selection
    if name == "set_language":
        from workbench.ui._i18n import set_language

        return set_language
    raise AttributeError(f"module 'workbench.ui' has no attribute {name!r}")


def __dir__() -> list[str]:
    return list(__all__)
