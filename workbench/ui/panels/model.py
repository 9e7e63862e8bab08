"""MetricPanels' view model: a chart for every metric the runs logged, with no configuration.

Keys come from the run records (:func:`workbench.get_run`: the ``metrics`` map, with per-key
``count`` and ``step``); each becomes a panel, grouped into sections by its prefix (the text
before the first ``/``; keys without one go to the "metrics" section; ``sys`` last). System
metrics share one panel per unit (``_percent``, ``_mb``, ``_c``, ``_w``), so megabytes and
percent never share an axis. Points come from :func:`workbench.history` with ``samples`` (M4
downsampling in the store keeps spikes), only for the panels drawn (the first ``limit`` of the
expanded sections), and :meth:`poll` re-reads only the keys whose ``count`` or ``step`` moved.

The layout a person makes (pinned panels and their order, hidden panels, collapsed sections,
the order inside each section, the search) is saved per project with
:func:`workbench.settings.save_view` under ``panels`` and checked when read back: it is a file
anyone who can write the store could have written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import workbench as wb
from workbench.settings import load_view, save_view
from workbench.ui._i18n import tr
from workbench.ui._model import Selection, ViewModel, as_selection

__all__ = ["PINNED", "PLAIN", "UNITS", "VIEW_KEY", "Line", "MetricPanelsModel", "Panel", "Section", "checked_layout"]

#: the key of the layout in the project's saved view choices
VIEW_KEY = "panels"
#: the section of pinned panels (no prefix can contain "/"), and that of keys without a prefix
PINNED, PLAIN = "/pinned", ""
SYSTEM = "sys"
#: system metric suffix -> the unit its panel shows
UNITS = {"percent": "%", "mb": "MB", "c": "°C", "w": "W"}
#: how many charts are drawn at first, and how many more each "show more" adds
LIMIT = 24
LIVE = frozenset(("queued", "running"))
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
#: what a saved layout may hold (it is stored text: sizes are capped, wrong types dropped)
_MAX_ITEMS, _MAX_TEXT = 2000, 1000


@dataclass(frozen=True)
class Panel:
    """One chart: ``keys`` (one, or a unit's system metrics) of section ``section``."""

    id: str
    title: str
    section: str
    keys: tuple[str, ...]
    unit: str | None = None


@dataclass
class Section:
    """Panels under one collapsible header (``id``: the prefix, :data:`PLAIN` or :data:`PINNED`)."""

    id: str
    title: str
    panels: list[Panel] = field(default_factory=list)
    collapsed: bool = False


@dataclass(frozen=True)
class Line:
    """One series of a panel: a run's key, x = step."""

    run_id: str
    key: str
    label: str
    color: str
    x: tuple[float, ...]
    y: tuple[float, ...]


def section_of(key: str) -> str:
    """The section of ``key``: the text before its first ``/`` (:data:`PLAIN` without one)."""
    return key.split("/", 1)[0] if "/" in key else PLAIN


def unit_of(key: str) -> str | None:
    """The unit suffix of a system metric (``sys/rss_mb`` -> ``mb``), None for any other key."""
    if section_of(key) != SYSTEM or "_" not in key:
        return None
    suffix = key.rsplit("_", 1)[1].lower()
    return suffix if suffix in UNITS else None


def make_panels(keys: Iterable[str]) -> dict[str, Panel]:
    """Panel id -> panel for ``keys``: one per key, system metrics one per unit."""
    grouped: dict[str, tuple[str, str, list[str], str | None]] = {}
    for key in sorted(keys):
        unit = unit_of(key)
        if unit is None:
            grouped[key] = (key, section_of(key), [key], None)
        else:
            pid = f"{SYSTEM}/*_{unit}"
            grouped.setdefault(pid, (f"{SYSTEM}/* [{UNITS[unit]}]", SYSTEM, [], unit))[2].append(key)
    return {pid: Panel(pid, title, section, tuple(k), unit) for pid, (title, section, k, unit) in grouped.items()}


def _texts(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return list(dict.fromkeys(v for v in value[:_MAX_ITEMS] if isinstance(v, str) and len(v) <= _MAX_TEXT))


def checked_layout(value: Any) -> dict[str, Any]:
    """A saved layout as this model uses it; anything malformed (it is stored text) is left out."""
    saved = value if isinstance(value, dict) else {}
    order = saved["order"] if isinstance(saved.get("order"), dict) else {}
    search = saved.get("search")
    return {
        "pinned": _texts(saved.get("pinned")),
        "hidden": _texts(saved.get("hidden")),
        "collapsed": _texts(saved.get("collapsed")),
        "order": {k: _texts(v) for k, v in list(order.items())[:_MAX_ITEMS]
                  if isinstance(k, str) and len(k) <= _MAX_TEXT and _texts(v)},
        "search": search if isinstance(search, str) and len(search) <= _MAX_TEXT else "",
    }


class MetricPanelsModel(ViewModel):
    """Charts of every key the runs of ``source`` logged (a RunBrowser, a Selection or run ids).

    Fields (notified by name): ``layout`` (sections, panels or which are drawn changed),
    ``series`` (the points of the panels in :attr:`changed` moved), ``error``.
    """

    def __init__(self, source: Any = None, *, project: str | None = None, samples: int = 1000,
                 limit: int = LIMIT, root: Any = None) -> None:
        super().__init__(root if root is not None else getattr(getattr(source, "model", None), "root", None))
        self.selection: Selection = as_selection(source)
        self.samples = samples
        self.step = limit
        self.limit = limit
        self.fixed_project = project
        self.project: str | None = project
        self.records: dict[str, dict[str, Any]] = {}
        self.panels: dict[str, Panel] = {}
        self.pinned: list[str] = []
        self.hidden: list[str] = []
        self.collapsed: list[str] = []
        self.order: dict[str, list[str]] = {}
        self.search = ""
        self.show_hidden = False
        #: the panels whose points the last ``series`` notification changed
        self.changed: frozenset[str] = frozenset()
        self._points: dict[tuple[str, str], tuple[tuple[float, ...], tuple[float, ...]]] = {}
        self._loaded_for: object = object()  # the project whose layout is loaded (none yet)
        self._unsubscribe = self.selection.observe(lambda fields: self.reload() if "run_ids" in fields else None)
        self.reload()

    # -- derived ---------------------------------------------------------------------------------
    @property
    def run_ids(self) -> list[str]:
        return list(self.selection.run_ids)

    @property
    def keys(self) -> list[str]:
        """Every key the runs logged."""
        found: dict[str, None] = {}
        for record in self.records.values():
            found.update(dict.fromkeys(record.get("metrics") or {}))
        return sorted(found)

    def matches(self, panel: Panel) -> bool:
        """Whether the search (a substring of a key or the title, any case) keeps ``panel``."""
        needle = self.search.strip().lower()
        return not needle or any(needle in k.lower() for k in (panel.title, *panel.keys))

    def sections(self) -> list[Section]:
        """The sections in order (Pinned, metrics, prefixes A-Z, sys), each with its panels in order;
        a section with no panel left (search, hidden) is left out."""
        shown = [p for p in self.panels.values()
                 if self.matches(p) and (self.show_hidden or p.id not in self.hidden)]
        pinned = [p for p in shown if p.id in self.pinned]
        pinned.sort(key=lambda p: self.pinned.index(p.id))
        by_section: dict[str, list[Panel]] = {}
        for p in shown:
            if p.id not in self.pinned:
                by_section.setdefault(p.section, []).append(p)
        ids = sorted(by_section, key=lambda s: (s != PLAIN, s == SYSTEM, s))
        sections = [Section(PINNED, tr("Pinned"), pinned, PINNED in self.collapsed)] if pinned else []
        for sid in ids:
            mine = self.order.get(sid, [])
            panels = sorted(by_section[sid], key=lambda p: (mine.index(p.id) if p.id in mine else len(mine), p.id))
            sections.append(Section(sid, tr("metrics") if sid == PLAIN else sid, panels, sid in self.collapsed))
        return sections

    def drawn(self) -> list[Panel]:
        """The panels charted now: the first :attr:`limit` of the expanded sections."""
        return [p for s in self.sections() if not s.collapsed for p in s.panels][: self.limit]

    @property
    def more(self) -> int:
        """Panels of expanded sections not drawn yet ("show more")."""
        return max(0, sum(len(s.panels) for s in self.sections() if not s.collapsed) - self.limit)

    @property
    def status_text(self) -> str:
        text = tr("{panels} charts of {keys} keys", panels=len(self.panels), keys=len(self.keys))
        if self.hidden:
            text += " · " + tr("{n} hidden", n=len([h for h in self.hidden if h in self.panels]))
        return text

    @property
    def empty_hint(self) -> str:
        if not self.run_ids:
            return tr("No runs selected")
        if not self.panels:
            return tr("No metrics logged yet")
        if not self.sections():
            return tr("No chart matches the search")
        return ""

    def lines(self, panel: Panel) -> list[Line]:
        """The series of ``panel``: each run's points of each of its keys, x = step."""
        lines = []
        many_runs = len(self.records) > 1
        for i, (rid, record) in enumerate(self.records.items()):
            name = str(record.get("name") or rid)
            for j, key in enumerate(panel.keys):
                points = self._points.get((rid, key))
                if points is None:
                    continue
                label = f"{name} {key}" if many_runs and len(panel.keys) > 1 else name if many_runs else key
                color = PALETTE[(i * len(panel.keys) + j) % len(PALETTE)]
                lines.append(Line(rid, key, label, color, points[0], points[1]))
        return lines

    # -- actions ---------------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the records of the runs, their layout and the points of the drawn panels again."""
        with self._lock, self.guard(tr("Metrics")):
            self.records = {}
            for rid in self.run_ids:
                record = wb.get_run(rid, root=self.root)
                self.records[str(record["id"])] = record
            self._points = {}
            self.panels = make_panels(self.keys)
            self._load_layout()
            self._fetch()
            self.changed = frozenset(self.panels)
        self.notify("layout", "series")

    def set_search(self, text: str, *, save: bool = True) -> None:
        """Show the panels whose keys contain ``text``; ``save=False`` (a link's search) keeps it
        out of the project's saved layout."""
        if text != self.search:
            self.search = text
            self._changed_layout(save=save)

    def set_show_hidden(self, show: bool) -> None:
        if bool(show) != self.show_hidden:
            self.show_hidden = bool(show)
            self._changed_layout(save=False)

    def set_collapsed(self, section: str, collapsed: bool) -> None:
        if collapsed != (section in self.collapsed):
            self.collapsed = [s for s in self.collapsed if s != section] + ([section] if collapsed else [])
            self._changed_layout(save=True)

    def toggle_pin(self, panel_id: str) -> None:
        """Pin ``panel_id`` to the Pinned section at the top (its end), or unpin it."""
        if panel_id in self.pinned:
            self.pinned = [p for p in self.pinned if p != panel_id]
        elif panel_id in self.panels:
            self.pinned = [*self.pinned, panel_id]
            self.hidden = [h for h in self.hidden if h != panel_id]
        else:
            return
        self._changed_layout(save=True)

    def toggle_hidden(self, panel_id: str) -> None:
        """Hide ``panel_id`` (and unpin it), or show it again."""
        if panel_id in self.hidden:
            self.hidden = [h for h in self.hidden if h != panel_id]
        elif panel_id in self.panels:
            self.hidden = [*self.hidden, panel_id]
            self.pinned = [p for p in self.pinned if p != panel_id]
        else:
            return
        self._changed_layout(save=True)

    def move(self, panel_id: str, by: int) -> None:
        """Move ``panel_id`` ``by`` places (-1 up, +1 down) inside its section (Pinned too)."""
        for section in self.sections():
            ids = [p.id for p in section.panels]
            if panel_id not in ids:
                continue
            at = ids.index(panel_id)
            to = min(max(at + by, 0), len(ids) - 1)
            if to == at:
                return
            ids.insert(to, ids.pop(at))
            if section.id == PINNED:
                rest = [p for p in self.pinned if p not in ids]
                self.pinned = ids + rest
            else:
                self.order = {**self.order, section.id: ids}
            self._changed_layout(save=True)
            return

    def show_more(self) -> None:
        """Draw :attr:`step` more charts."""
        if self.more:
            self.limit += self.step
            self._changed_layout(save=False)

    def poll(self) -> bool:
        """Re-read running runs; re-query only the keys whose ``count`` or ``step`` moved."""
        with self._lock:
            stale: set[tuple[str, str]] = set()
            moved = False
            for rid, record in list(self.records.items()):
                if record.get("status") not in LIVE:
                    continue
                try:
                    fresh = wb.get_run(rid, root=self.root)
                except wb.WorkbenchError:
                    continue
                if (fresh.get("status"), fresh.get("metrics")) == (record.get("status"), record.get("metrics")):
                    continue
                moved = True
                before, after = record.get("metrics") or {}, fresh.get("metrics") or {}
                for key, stats in after.items():
                    old = before.get(key) or {}
                    if not isinstance(stats, dict) or (stats.get("count"), stats.get("step")) != (
                            old.get("count"), old.get("step")):
                        stale.add((rid, key))
                self.records[rid] = fresh
            if not moved:
                return False
            keys = set(self.keys)
            new_panels = keys != {k for p in self.panels.values() for k in p.keys}
            for point in stale:
                self._points.pop(point, None)
            with self.guard(tr("Metrics")):
                if new_panels:
                    self.panels = make_panels(keys)
                fetched = self._fetch()
            self.changed = frozenset(p.id for p in self.panels.values() if set(p.keys) & fetched)
        if new_panels:
            self.notify("layout", "series")
        elif self.changed:
            self.notify("series")
        return True

    def close(self) -> None:
        self._unsubscribe()

    # -- internals -------------------------------------------------------------------------------
    def _changed_layout(self, *, save: bool) -> None:
        with self._lock:
            with self.guard(tr("Metrics")):
                fetched = self._fetch()
            self.changed = frozenset(p.id for p in self.panels.values() if set(p.keys) & fetched)
        self.notify("layout", "series")
        if save:
            self._save()

    def _fetch(self) -> set[str]:
        """Read the points of the drawn panels that are not here yet; returns the keys read."""
        missing = sorted({k for p in self.drawn() for k in p.keys
                          for rid, record in self.records.items()
                          if (rid, k) not in self._points and k in (record.get("metrics") or {})})
        if not missing or not self.records:
            return set()
        frame = wb.history(list(self.records), keys=missing, samples=self.samples, root=self.root)
        for rid in self.records:
            for key in missing:
                self._points[(rid, key)] = ((), ())
        for (rid, key), part in frame.groupby(["run_id", "key"], sort=False):
            self._points[(str(rid), str(key))] = (tuple(float(s) for s in part["step"]),
                                                  tuple(float(v) for v in part["value"]))
        return set(missing)

    def _project(self) -> str | None:
        if self.fixed_project is not None:
            return self.fixed_project
        projects = {str(r.get("project")) for r in self.records.values() if r.get("project") is not None}
        return projects.pop() if len(projects) == 1 else None

    def _load_layout(self) -> None:
        project = self._project()
        if project == self._loaded_for:
            return
        self.project, self._loaded_for = project, project
        saved = checked_layout(load_view(project, root=self.root).get(VIEW_KEY))
        self.pinned, self.hidden, self.collapsed = saved["pinned"], saved["hidden"], saved["collapsed"]
        self.order, self.search = saved["order"], saved["search"]
        self.limit = self.step

    def layout(self) -> dict[str, Any]:
        """The layout as it is saved (:func:`checked_layout` reads it back)."""
        return {"pinned": list(self.pinned), "hidden": list(self.hidden), "collapsed": list(self.collapsed),
                "order": {k: list(v) for k, v in self.order.items()}, "search": self.search}

    def _save(self) -> None:
        """Keep the layout for the project; a read-only session keeps it for itself only."""
        if not self.records or self.refused(tr("Save layout")):
            return
        with self.act(tr("Save layout")):
            save_view(self.project, root=self.root, **{VIEW_KEY: self.layout()})

