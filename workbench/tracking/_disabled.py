"""``init(mode="disabled")``: a run with the whole interface that writes nothing (W&B's disabled mode).

Code written to log keeps running unchanged (tests, a debug session, CI) and the store stays
as it was. Calls still check their arguments the way a real run does, so a script that works
disabled works enabled.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from workbench.errors import WorkbenchError
from workbench.tracking import current
from workbench.tracking._config import Config, KeyAttributes, jsonable, set_items
from workbench.tracking._metric_defs import MetricDefs, make_alert

__all__ = ["DisabledRun"]


class _Summary(KeyAttributes, dict):  # type: ignore[type-arg]
    """A disabled run's summary: a dict whose keys read and set as attributes too, like a real one's."""

    _noun = "summary"


class DisabledRun:
    """The run ``init(mode="disabled")`` returns: everything works, nothing is written."""

    disabled = True

    def __init__(self, project: str, name: str, config: Mapping[str, Any], tags: list[str], notes: str,
                 group: str | None, job_type: str | None, run_id: str | None, allow_val_change: bool,
                 root: Any = None) -> None:
        self.id = run_id or "disabled-" + secrets.token_hex(4)
        self.project = project
        self.name = name
        self.group = group
        self.job_type = job_type
        self.tags = tags
        self.notes = notes
        self.resumed = False
        self.status = "running"
        self.dir = None
        self._config: dict[str, Any] = jsonable(dict(config))
        self._allow_val_change = allow_val_change
        self._config_view = Config(self)
        self._root = root
        self._summary: dict[str, Any] = _Summary()
        self._defs = MetricDefs()
        self._alerts: list[dict[str, Any]] = []
        self._step = 0
        self._finished = False

    # the same checks as a real run, then nothing
    def _config_root(self) -> dict[str, Any]:
        return self._config

    def _config_set(self, path: tuple[str, ...], items: Mapping[str, Any], *, allow_val_change: bool,
                    delete: tuple[str, ...] = ()) -> None:
        self._config = set_items(self._config, path, items, allow_val_change=allow_val_change or self._allow_val_change,
                                 delete=delete)
        self._config_view._refresh(self._config)

    @property
    def config(self) -> Config:
        return self._config_view

    @property
    def step(self) -> int:
        return self._step

    @property
    def summary(self) -> dict[str, Any]:
        return self._summary

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None, *,
            time: float | None = None) -> None:
        if self._finished:
            raise WorkbenchError(f"run {self.id} is finished; start a new one with workbench.init()")
        from workbench.media.types import Media
        from workbench.tracking.run import Run, _check_key, _to_float

        if not isinstance(data, Mapping):
            raise TypeError(f"run.log takes a dict of metric values, not {type(data).__name__}")
        for key, value in data.items():
            if isinstance(value, Mapping):
                self.log({f"{key}.{k}": v for k, v in value.items()}, step=step, commit=False, time=time)
                continue
            if isinstance(value, Media):  # checked as a real run would, then dropped
                value.check(_check_key(key))
                continue
            _to_float(_check_key(key), value)
        if time is not None:
            Run._check_time(time)
        if step is not None:
            step = Run._check_step(step)
        if step is None:
            step = self._step
            if commit is not False:
                self._step += 1
        elif step >= self._step:
            self._step = step + 1 if commit is not False else step

    def define_metric(self, name: str, step_metric: str | None = None, **kwargs: Any) -> dict[str, Any]:
        return self._defs.define(name, step_metric=step_metric, step_sync=kwargs.get("step_sync"),
                                 hidden=kwargs.get("hidden"), summary=kwargs.get("summary"),
                                 goal=kwargs.get("goal"), overwrite=kwargs.get("overwrite"))

    def alert(self, title: str, text: str, level: str = "INFO", wait_duration: Any = None) -> bool:
        alert = make_alert(title, text, level, wait_duration, self._alerts)
        if alert is not None:
            self._alerts.append(alert)
        return alert is not None

    def log_scalar(self, key: str, value: float, step: int | None = None) -> None:
        """Checked like ``run.log({key: value}, step=step)``; nothing is stored."""
        self.log({key: value}, step=step)

    def log_artifact(self, path: Any, name: str, type: str = "artifact",
                     aliases: Iterable[str] | str | None = None, metadata: Mapping[str, Any] | None = None,
                     **kwargs: Any) -> None:
        """Nothing is stored in disabled mode."""
        return None

    def use_artifact(self, ref: str, dest: Any = None) -> Path:
        """The version's files, read from the store as usual; no use is recorded."""
        import workbench

        return workbench.use_artifact(ref, dest, root=self._root)

    def flush(self) -> None:
        return None

    def finish(self, status: str = "completed", *, error: Mapping[str, Any] | None = None,
               exit_code: int | None = None) -> None:
        if not self._finished:
            self._finished = True
            self.status = status
            current.clear(self)

    def __enter__(self) -> DisabledRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.finish("completed" if exc_type is None else "failed")

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.project}/{self.name} disabled>"
