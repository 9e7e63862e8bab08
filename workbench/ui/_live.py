"""Live views: call ``model.poll()`` every ``ui_refresh`` seconds while the view is shown.

Notebook and Voila views poll from one daemon thread per model (ipywidgets sends state from any
thread of the kernel). Panel views inside ``panel serve`` use the server's periodic callbacks, so
Bokeh models change on the document's own event loop. A poller holds its model weakly: a view
that is garbage collected stops polling.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from workbench.ui._model import ViewModel, log


class Poller:
    """A daemon thread calling ``model.poll()`` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, model: ViewModel, interval: float) -> None:
        self._model = weakref.ref(model)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"workbench-ui-{type(model).__name__}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            model = self._model()
            if model is None:
                return
            try:
                model.poll()
            except Exception:  # noqa: BLE001 - keep the view alive; the next poll may work
                log.exception("live refresh of %s failed", type(model).__name__)
            del model

    def stop(self) -> None:
        self._stop.set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()


def refresh_interval(root: Any) -> float:
    """The store's ``ui_refresh`` setting."""
    from workbench.settings import load_settings

    return float(load_settings(root).ui_refresh)


def start_polling(model: ViewModel, interval: float | None = None) -> Poller:
    """Poll ``model`` from a thread (notebooks, Voila, tests)."""
    return Poller(model, refresh_interval(model.root) if interval is None else interval)


def panel_polling(model: ViewModel, interval: float | None = None) -> Any:
    """Poll ``model`` for a Panel view: a periodic callback in a server session, else a thread."""
    import panel as pn

    seconds = refresh_interval(model.root) if interval is None else interval
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:

        def tick() -> None:
            model.poll()

        return pn.state.add_periodic_callback(tick, period=int(seconds * 1000))
    return Poller(model, seconds)
