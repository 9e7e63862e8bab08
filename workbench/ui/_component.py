"""A component: one view model and its two renderings (ipywidgets for notebooks and Voila, Panel
for ``panel serve``). Evaluating a component in a notebook cell shows its ipywidgets view."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from workbench._extras import check
from workbench.ui._model import ViewModel

M = TypeVar("M", bound=ViewModel)


class Component(Generic[M]):
    """Subclasses set ``model`` and implement ``_make_widget`` and ``_make_panel``."""

    model: M

    def __init__(self, model: M) -> None:
        self.model = model
        self._widget: Any = None
        #: the views made so far (each holds a poller and observers that close() stops)
        self._views: list[Any] = []

    def widget(self) -> Any:
        """The ipywidgets view (one per component, made on first use)."""
        if self._widget is None:
            check("ipywidgets", "bqplot", "ipydatagrid", extra="ui", feature="workbench's notebook views")
            self._widget = self._make_widget()
        return self._widget

    def panel(self) -> Any:
        """A new Panel view of the same model (one per browser session)."""
        check("panel", "bokeh", extra="ui", feature="workbench's Panel views")
        return self._make_panel()

    def lock(self, reason: str | None) -> None:
        """Refuse every action that changes anything, saying ``reason`` (``None`` unlocks)."""
        self.model.locked = reason

    def _keep(self, view: Any) -> Any:
        """Remember a view so :meth:`close` stops it; returns it."""
        self._views.append(view)
        return view

    def _make_widget(self) -> Any:
        raise NotImplementedError

    def _make_panel(self) -> Any:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget()._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        """Stop live refreshes of every view of this component and close its widgets."""
        for view in self._views:
            view.close()
        self._views.clear()
        widget = self._widget
        if widget is not None and hasattr(widget, "close"):
            widget.close()
        self._widget = None
