"""``define_metric`` (how a key is summarised and charted) and ``alert`` records, as W&B has them."""

from __future__ import annotations

import datetime
import fnmatch
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["SUMMARIES", "MetricDefs", "make_alert"]

#: what ``define_metric(summary=...)`` accepts, comma-separated
SUMMARIES = ("min", "max", "mean", "first", "last", "best", "none")
_GOALS = ("minimize", "maximize")
_LEVELS = ("INFO", "WARN", "ERROR")
_MAX_NAME = 256


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name or len(name) > _MAX_NAME or not name.isprintable():
        raise ValueError(f"define_metric: {what} {name!r} must be a printable, non-empty string of at most "
                         f"{_MAX_NAME} characters")
    return name


class MetricDefs:
    """The definitions of one run: ``{name or glob: {"step_metric", "summary", "goal", ...}}``."""

    def __init__(self, stored: Any = None) -> None:
        self._defs: dict[str, dict[str, Any]] = {}
        if isinstance(stored, Mapping):
            for name, spec in stored.items():
                if isinstance(name, str) and isinstance(spec, Mapping):
                    self._defs[name] = dict(spec)
        self._cache: dict[str, dict[str, Any] | None] = {}

    def __bool__(self) -> bool:
        return bool(self._defs)

    def define(self, name: str, *, step_metric: str | None, step_sync: bool | None, hidden: bool | None,
               summary: str | None, goal: str | None, overwrite: bool | None) -> dict[str, Any]:
        _check_name(name, "name")
        if "*" in name.rstrip("*"):
            raise ValueError(f"define_metric: {name!r}: a glob may only end with '*' (like 'val/*')")
        spec: dict[str, Any] = {}
        if step_metric is not None:
            spec["step_metric"] = _check_name(step_metric, "step_metric")
        if summary is not None:
            if not isinstance(summary, str):
                raise TypeError(f"define_metric: summary must be a string like 'min,max', not {summary!r}")
            parts = [p.strip() for p in summary.split(",") if p.strip()]
            bad = [p for p in parts if p not in SUMMARIES]
            if bad or not parts:
                raise ValueError(f"define_metric: summary {summary!r}: use one or more of {', '.join(SUMMARIES)}")
            spec["summary"] = parts
        if goal is not None:
            goal = {"min": "minimize", "max": "maximize"}.get(goal, goal)
            if goal not in _GOALS:
                raise ValueError(f"define_metric: goal {goal!r}: use 'minimize' or 'maximize'")
            spec["goal"] = goal
        for key, flag in (("hidden", hidden), ("step_sync", step_sync)):
            if flag is not None:
                spec[key] = bool(flag)
        if overwrite is False and name in self._defs:
            spec = {**spec, **self._defs[name]}
        elif overwrite is None and name in self._defs:
            spec = {**self._defs[name], **spec}
        self._defs[name] = spec
        self._cache.clear()
        return dict(spec)

    def as_record(self) -> dict[str, dict[str, Any]]:
        return {name: dict(spec) for name, spec in self._defs.items()}

    def lookup(self, key: str) -> dict[str, Any] | None:
        """The definition that applies to ``key``: its own, else the longest matching glob."""
        try:
            return self._cache[key]
        except KeyError:
            pass
        found = self._defs.get(key)
        if found is None:
            globs = [n for n in self._defs if n.endswith("*") and fnmatch.fnmatchcase(key, n)]
            found = self._defs[max(globs, key=len)] if globs else None
        self._cache[key] = found
        return found

    def strip(self, stats: dict[str, dict[str, Any]]) -> None:
        """Drop the ``first`` and ``sum`` the run keeps of each key from the stats a record
        stores, except for keys whose summary needs them (``mean``, ``first``)."""
        for key, stat in stats.items():
            if "sum" in stat or "first" in stat:
                spec = self.lookup(key) if self._defs else None
                wanted = spec.get("summary", ()) if spec else ()
                if "mean" not in wanted:
                    stat.pop("sum", None)
                if "first" not in wanted:
                    stat.pop("first", None)

    def apply(self, summary: dict[str, Any], stats: Mapping[str, Mapping[str, Any]],
              pinned: set[str]) -> dict[str, Any]:
        """``summary`` with each defined key's aggregates: ``{"min": .., "max": ..}`` or nothing."""
        for key, stat in stats.items():
            if key in pinned:
                continue
            spec = self.lookup(key)
            if spec is None or "summary" not in spec:
                continue
            wanted = spec["summary"]
            if "none" in wanted:
                summary.pop(key, None)
                continue
            values: dict[str, Any] = {}
            for agg in wanted:
                if agg == "best":
                    agg_value = stat.get("max" if spec.get("goal") == "maximize" else "min")
                elif agg == "mean":
                    total, count = stat.get("sum"), stat.get("count")
                    agg_value = total / count if isinstance(total, (int, float)) and count else None
                else:
                    agg_value = stat.get(agg)
                values[agg] = agg_value
            summary[key] = values
        return summary


def make_alert(title: Any, text: Any, level: Any, wait_duration: Any,
               previous: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The alert record to keep, or None when one with this title is younger than ``wait_duration``."""
    if not isinstance(title, str) or not title:
        raise ValueError("alert: title must be a non-empty string")
    if not isinstance(text, str):
        raise ValueError("alert: text must be a string")
    level = getattr(level, "value", level)
    level = {"WARNING": "WARN"}.get(str(level).upper(), str(level).upper())
    if level not in _LEVELS:
        raise ValueError(f"alert: level {level!r}: use INFO, WARN or ERROR")
    if isinstance(wait_duration, datetime.timedelta):
        wait = wait_duration.total_seconds()
    elif wait_duration is None:
        wait = 0.0
    elif isinstance(wait_duration, (int, float)) and not isinstance(wait_duration, bool) and wait_duration >= 0:
        wait = float(wait_duration)
    else:
        raise ValueError(f"alert: wait_duration {wait_duration!r}: use seconds or a datetime.timedelta")
    now = time.time()
    for old in reversed(previous):
        if old.get("title") == title[:1024]:
            if wait and now - float(old.get("time") or 0) < wait:
                return None
            break
    return {"time": now, "title": title[:1024], "text": text[:10_000], "level": level}
