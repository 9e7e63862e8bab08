"""The toolkit-free half of every view: state, actions, and errors as readable text.

A view model holds what a view shows (a page of runs, the series of a chart) and the actions a
person can take (filter, select, cancel). It calls only the public functions of the rooms below
(``workbench.runs``, ``workbench.history``, ``workbench.launch``, ...): no DuckDB, no files. An
ipywidgets view and a Panel view render the same model; both subscribe with :meth:`observe`
and redraw the fields named in each change.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from workbench.errors import WorkbenchError

log = logging.getLogger("workbench.ui")

Observer = Callable[[frozenset[str]], None]


class ViewModel:
    """State plus observers. Subclasses change fields, then call :meth:`notify` with their names.

    ``error`` holds the message of the last failed action (``None`` when the last one worked);
    views show it inline, never a traceback.
    """

    def __init__(self, root: Any = None) -> None:
        self.root = root
        self.error: str | None = None
        #: why this view may not change anything (None: it may); the web app sets it when it was
        #: started without a token, so an unauthenticated session can look but not act
        self.locked: str | None = None
        self._observers: list[Observer] = []
        self._lock = threading.RLock()

    def observe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer(changed_fields)`` after each change; returns a function that unsubscribes."""
        self._observers.append(observer)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._observers.remove(observer)

        return unsubscribe

    def notify(self, *fields: str) -> None:
        changed = frozenset(fields)
        for observer in list(self._observers):
            try:
                observer(changed)
            except Exception:  # a broken view must not stop the others or the model
                log.exception("a view failed to redraw %s", sorted(changed))

    @contextlib.contextmanager
    def guard(self, action: str) -> Iterator[None]:
        """Run an action; a :class:`WorkbenchError` (or OS error) becomes ``self.error``, not a traceback.

        Errors of our own already say what is wrong and how to fix it, so the message is shown as
        is, prefixed by the action ("Filter: ...").
        """
        try:
            yield
        except WorkbenchError as exc:
            self._fail(f"{action}: {exc}")
        except OSError as exc:
            self._fail(f"{action}: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else ""))
        else:
            if self.error is not None:
                self.error = None
                self.notify("error")

    def refused(self, action: str) -> bool:
        """True, with ``error`` saying why, when this view is :attr:`locked`.

        Every action that changes anything (the store, a job, a remote, the settings) asks this
        first, so a locked view refuses the action whatever widget or request called it.
        """
        if self.locked is None:
            return False
        self._fail(f"{action}: {self.locked}")
        return True

    def _fail(self, message: str) -> None:
        self.error = message
        self.notify("error")

    def poll(self) -> bool:
        """Refresh from the store if something this view shows has changed; True when it did.

        Called every ``ui_refresh`` seconds while a view is shown (see :mod:`workbench.ui._live`).
        """
        return False


class Selection(ViewModel):
    """The runs picked in a RunBrowser, shared with the views that follow it."""

    def __init__(self, run_ids: list[str] | None = None) -> None:
        super().__init__()
        self.run_ids: list[str] = list(run_ids or [])

    def set(self, run_ids: list[str]) -> None:
        run_ids = list(dict.fromkeys(run_ids))
        if run_ids != self.run_ids:
            self.run_ids = run_ids
            self.notify("run_ids")


def as_selection(source: Any) -> Selection:
    """A :class:`Selection` from a Selection, anything with a ``selection`` (a RunBrowser), or run ids."""
    if isinstance(source, Selection):
        return source
    inner = getattr(source, "selection", None)
    if isinstance(inner, Selection):
        return inner
    if source is None:
        return Selection()
    if isinstance(source, str):
        return Selection([source])
    return Selection([str(r) for r in source])
