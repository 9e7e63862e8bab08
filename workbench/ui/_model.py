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
from workbench.ui._i18n import add_zh

add_zh({"Dismiss": "关闭"})

log = logging.getLogger("workbench.ui")

Observer = Callable[[frozenset[str]], None]


class ViewModel:
    """State plus observers. Subclasses change fields, then call :meth:`notify` with their names.

    Two kinds of error, both shown inline (never a traceback) as :attr:`error`:

    - what reading the store says now (:meth:`guard`): the next read that works clears it;
    - what an action the person took said (:meth:`act`, :meth:`refused`), kept per action in
      :attr:`action_errors` until that action works next time or the person dismisses it
      (:meth:`dismiss`). Live refresh never touches these: an error stays until the user acts.
    """

    def __init__(self, root: Any = None) -> None:
        self.root = root
        self._error: str | None = None
        #: action -> the message of its last run, while that run failed; replaced as a whole on
        #: each change (copy on write), so a view reading it from another thread never sees it move
        self.action_errors: dict[str, str] = {}
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

    @property
    def error(self) -> str | None:
        """What the view shows as its error: the reading error, then each action's, one a line."""
        texts = [self._error] if self._error else []
        texts += self.action_errors.values()
        return "\n".join(texts) or None

    @error.setter
    def error(self, message: str | None) -> None:
        self._error = message

    @staticmethod
    def _message(action: str, exc: WorkbenchError | OSError) -> str:
        """``action: what went wrong``, for one of our own errors or an OS error."""
        if isinstance(exc, OSError):
            return f"{action}: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
        return f"{action}: {exc}"

    @contextlib.contextmanager
    def guard(self, action: str) -> Iterator[None]:
        """Read something; a :class:`WorkbenchError` (or OS error) becomes ``self.error``, not a traceback.

        Errors of our own already say what is wrong and how to fix it, so the message is shown as
        is, prefixed by the action ("Filter: ..."). The next read that works clears it (and an
        earlier error of an action of the same name). For what a person does, use :meth:`act`.
        """
        try:
            yield
        except (WorkbenchError, OSError) as exc:
            self._fail(self._message(action, exc))
        else:
            if self._error is not None:
                self._error = None
                self.notify("error")
            self._clear(action)

    @contextlib.contextmanager
    def act(self, action: str) -> Iterator[None]:
        """Run an action a person took: its error stays in :attr:`action_errors` (and ``error``)
        until the same action works next time or :meth:`dismiss`; refreshes leave it alone."""
        try:
            yield
        except (WorkbenchError, OSError) as exc:
            self.action_failed(action, self._message(action, exc))
        else:
            self._clear(action)

    def action_failed(self, action: str, message: str) -> None:
        """Show ``message`` for ``action`` until that action works again or it is dismissed."""
        with self._lock:
            errors = dict(self.action_errors)
            errors.pop(action, None)  # the newest last
            errors[action] = message
            self.action_errors = errors
        self.notify("error")

    def _clear(self, action: str) -> None:
        with self._lock:
            if action not in self.action_errors:
                return
            self.action_errors = {k: v for k, v in self.action_errors.items() if k != action}
        self.notify("error")

    def dismiss(self, action: str | None = None) -> None:
        """Hide the error of ``action`` (every action's when None): the person has read it."""
        if action is not None:
            self._clear(action)
            return
        with self._lock:
            if not self.action_errors:
                return
            self.action_errors = {}
        self.notify("error")

    def refused(self, action: str) -> bool:
        """True, with ``error`` saying why, when this view is :attr:`locked`.

        Every action that changes anything (the store, a job, a remote, the settings) asks this
        first, so a locked view refuses the action whatever widget or request called it. The
        refusal stays as that action's error (:meth:`act`).
        """
        if self.locked is None:
            return False
        self.action_failed(action, f"{action}: {self.locked}")
        return True

    def _fail(self, message: str) -> None:
        self._error = message
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
