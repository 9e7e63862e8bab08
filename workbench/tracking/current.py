"""The current run of the process and the module-level calls that act on it, W&B-style.

``workbench.init`` makes the run it returns current; ``workbench.log``, ``workbench.config``,
``workbench.summary``, ``workbench.define_metric``, ``workbench.alert`` and ``workbench.finish``
act on it; ``workbench.run`` is it (``None`` when there is none). Finishing a run that is
current leaves none current.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.tracking.run import Run

__all__ = ["alert", "config", "current", "define_metric", "finish", "log", "summary"]

_current: Any = None  # a Run or a DisabledRun


def current() -> Run | None:
    """The current run: the last one ``init`` returned that is not finished; else ``None``."""
    run = _current
    if run is not None and run._finished:
        return None
    return run  # type: ignore[no-any-return]


def set_current(run: Any) -> None:
    global _current
    _current = run


def clear(run: Any) -> None:
    global _current
    if _current is run:
        _current = None


def _require(what: str) -> Run:
    run = current()
    if run is None:
        raise WorkbenchError(f"workbench.{what}: no run is active; call workbench.init() first")
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None, *,
        time: float | None = None) -> None:
    """``run.log`` on the current run (see :meth:`workbench.Run.log`)."""
    _require("log").log(data, step=step, commit=commit, time=time)


def finish(status: str = "completed", *, exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run; nothing happens when there is none (as in W&B).

    ``exit_code`` other than 0 records the run ``failed`` (W&B's convention) unless a
    ``status`` is given; ``quiet`` is accepted for W&B code and ignored.
    """
    run = current()
    if run is None:
        return
    if exit_code not in (None, 0) and status == "completed":
        status = "failed"
    run.finish(status, exit_code=exit_code)


def define_metric(name: str, step_metric: str | None = None, *, step_sync: bool | None = None,
                  hidden: bool | None = None, summary: str | None = None, goal: str | None = None,
                  overwrite: bool | None = None) -> dict[str, Any]:
    """``run.define_metric`` on the current run (see :meth:`workbench.Run.define_metric`)."""
    return _require("define_metric").define_metric(
        name, step_metric, step_sync=step_sync, hidden=hidden, summary=summary, goal=goal, overwrite=overwrite)


def alert(title: str, text: str, level: str = "INFO", wait_duration: Any = None) -> bool:
    """``run.alert`` on the current run (see :meth:`workbench.Run.alert`)."""
    return _require("alert").alert(title, text, level=level, wait_duration=wait_duration)


#: names of the settings module that was ``workbench.config`` before it moved to ``workbench.settings``
_MOVED = frozenset({"Settings", "load_settings", "default_root", "SETTINGS_FILE"})


class RunProxy(MutableMapping[str, Any]):
    """A mapping that is the ``config`` or ``summary`` of the current run, whichever run that is
    when it is used (an error before ``init``); keys read and set as items or attributes."""

    __slots__ = ()
    _what = ""  # the run's attribute this stands for
    _module = "workbench"

    def _target(self) -> Any:
        return getattr(_require(self._what), self._what)

    def __getitem__(self, key: str) -> Any:
        return self._target()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._target()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._target()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._target())

    def __len__(self) -> int:
        return len(self._target())

    def __contains__(self, key: object) -> bool:
        return key in self._target()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._target()[name] = value

    def __delattr__(self, name: str) -> None:
        del self._target()[name]

    def __repr__(self) -> str:
        run = current()
        if run is None:
            return f"<{self._module}.{self._what}: no run; call {self._module}.init() first>"
        return repr(getattr(run, self._what))


class _ConfigProxy(RunProxy):
    """``workbench.config``: the config of the current run."""

    __slots__ = ()
    _what = "config"

    def __getattr__(self, name: str) -> Any:
        if name in _MOVED:
            raise AttributeError(f"workbench.config is the current run's config now; the settings module moved: "
                                 f"use workbench.settings.{name}")
        return super().__getattr__(name)

    def update(self, *args: Any, allow_val_change: bool = False, **kwargs: Any) -> None:
        self._target().update(*args, allow_val_change=allow_val_change, **kwargs)

    def get(self, key: str, default: Any = None) -> Any:
        return self._target().get(key, default)


class _SummaryProxy(RunProxy):
    """``workbench.summary``: the summary of the current run."""

    __slots__ = ()
    _what = "summary"


config: MutableMapping[str, Any] = _ConfigProxy()
summary: MutableMapping[str, Any] = _SummaryProxy()
