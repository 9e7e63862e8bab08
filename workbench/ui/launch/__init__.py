"""LaunchForm (queue a fine-tune or a script from a form) and JobMonitor (watch, cancel, read logs).

>>> from workbench.ui import JobMonitor, LaunchForm  # doctest: +SKIP
>>> monitor = JobMonitor()                          # doctest: +SKIP
>>> LaunchForm(monitor=monitor)                     # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from workbench.ui._component import Component
from workbench.ui.launch.model import LaunchFormModel
from workbench.ui.launch.monitor_model import JobMonitorModel

__all__ = ["JobMonitor", "JobMonitorModel", "LaunchForm", "LaunchFormModel"]


class JobMonitor(Component[JobMonitorModel]):
    """Queued, running and recently finished jobs of a store: status, priority, progress, live
    loss, Cancel, and the logs of a chosen job; refreshed every ``ui_refresh`` seconds."""

    def __init__(self, root: Any = None, *, recent: int = 10, live: bool = True) -> None:
        super().__init__(JobMonitorModel(root, recent=recent))
        self.live = live

    def _make_widget(self) -> Any:
        from workbench.ui.launch.ipywidgets_view import JobMonitorWidget

        return JobMonitorWidget(self.model, live=self.live)

    def _make_panel(self) -> Any:
        from workbench.ui.launch.panel_view import JobMonitorPanel

        return JobMonitorPanel(self.model, live=self.live).layout


class LaunchForm(Component[LaunchFormModel]):
    """A form that queues a job with ``wb.launch``. With a ``monitor`` (a :class:`JobMonitor`, or
    ``True`` for a new one) the launched job appears in it, shown below the form. ``project``: the
    project field's first value (else ``$WORKBENCH_PROJECT`` or ``default``)."""

    def __init__(self, root: Any = None, *, monitor: JobMonitor | bool | None = None, recipe: str | None = None,
                 project: str | None = None, live: bool = True) -> None:
        if monitor is True:
            monitor = JobMonitor(root, live=live)
        self.monitor: JobMonitor | None = monitor or None
        super().__init__(LaunchFormModel(root, monitor=self.monitor.model if self.monitor else None, recipe=recipe,
                                         project=project))
        self.live = live

    def _make_widget(self) -> Any:
        from workbench.ui.launch.ipywidgets_view import LaunchFormWidget

        inner = self.monitor.widget() if self.monitor is not None else None
        return LaunchFormWidget(self.model, monitor=inner, live=self.live)

    def _make_panel(self) -> Any:
        from workbench.ui.launch.panel_view import LaunchFormPanel

        inner = self.monitor.panel() if self.monitor is not None else None
        return LaunchFormPanel(self.model, monitor=inner, live=self.live).layout

    def lock(self, reason: str | None) -> None:
        super().lock(reason)
        if self.monitor is not None:
            self.monitor.lock(reason)

    def close(self) -> None:
        if self.monitor is not None:
            self.monitor.close()
        super().close()
