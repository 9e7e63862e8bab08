"""RunBrowser's view model: a filtered, sorted, paged table of runs and the runs picked in it.

Every query goes through :func:`workbench.runs`. One query per change fetches the matching runs'
ids and the shown columns, already sorted (10,000 runs x 10 columns: tens of milliseconds, see
docs/performance.md "UI"); quick search and paging then cut that frame in memory, so turning a
page costs no query at all. ``poll`` simply runs the same query again: that is cheap, and it
catches every change (new runs, status and summary updates, deleted runs) with no bookkeeping.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import workbench as wb
from workbench.ui import _format
from workbench.ui._model import Selection, ViewModel, as_selection

if TYPE_CHECKING:
    import pandas as pd

#: run fields every table shows, in order
BASE_COLUMNS = ["status", "name", "project", "created", "duration", "tags"]
#: fields the quick search looks in
_SEARCHED = ["run_id", "name", "tags"]
#: recent runs whose config/summary keys the column chooser offers
_KEYS_FROM = 500
#: config.* and summary.* columns shown when none are chosen
_DEFAULT_EXTRA = 3
#: seconds between re-queries while shown runs are running and nothing else changed
_RUNNING_EVERY = 5.0


class RunBrowserModel(ViewModel):
    """State of a run table: filter, search, sort, columns, page, selection.

    Parameters
    ----------
    project:
        Only runs of this project (``None``: all).
    where:
        A filter in the language of :func:`workbench.runs` (docs/queries.md).
    columns:
        ``config.*`` / ``summary.*`` columns to show (default: a few of each).
    page_size:
        Rows per page.
    selection:
        A :class:`Selection` to share with other views (default: a new one).
    """

    def __init__(self, project: str | None = None, where: str = "", *, columns: list[str] | None = None,
                 page_size: int = 50, order_by: str = "created", descending: bool = True,
                 selection: Selection | None = None, root: Any = None) -> None:
        super().__init__(root)
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        self.project = project
        self.where = where
        self.search = ""
        self.sort_column = order_by
        self.descending = descending
        self.page = 0
        self.page_size = page_size
        self.columns: list[str] = list(columns) if columns is not None else []
        self._auto_columns = columns is None
        self.available: list[str] = []  # config.* and summary.* columns the chooser offers
        self.total = 0  # runs in the store (or project)
        self.matched = 0  # runs passing filter and search
        self.rows: pd.DataFrame = _empty()  # the page: run_id + shown columns, raw values
        self.selection = as_selection(selection) if selection is not None else Selection()
        self._frame: pd.DataFrame = _empty()  # every matching run, sorted
        self._found: pd.DataFrame = _empty()  # after quick search
        self._version = wb.store_version(root=root)  # the store as the last query saw it
        self._queried = time.monotonic()
        self.refresh()

    # -- derived state -----------------------------------------------------------------------------
    @property
    def shown_columns(self) -> list[str]:
        return BASE_COLUMNS + [c for c in self.columns if c not in BASE_COLUMNS]

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.matched / self.page_size))

    @property
    def page_ids(self) -> list[str]:
        return [str(r) for r in self.rows["run_id"]] if len(self.rows) else []

    @property
    def status_text(self) -> str:
        """``Runs 51-100 of 3,412 matching (10,000 in all) · page 2 of 69``."""
        from workbench.ui._i18n import tr

        first = self.page * self.page_size + 1 if self.matched else 0
        last = min(self.matched, (self.page + 1) * self.page_size)
        return tr("Runs {first}-{last} of {matched} matching ({total} in all) · page {page} of {pages}",
                  first=first, last=last, matched=f"{self.matched:,}", total=f"{self.total:,}",
                  page=self.page + 1, pages=self.pages)

    def table(self) -> pd.DataFrame:
        """The page as text a view shows: statuses, local times, durations, tags joined."""
        import pandas as pd

        out: dict[str, list[str]] = {}
        for column in self.shown_columns:
            values = list(self.rows[column]) if column in self.rows else [None] * len(self.rows)
            out[column] = [_cell(column, v) for v in values]
        return pd.DataFrame(out, index=pd.Index(self.page_ids, name="run_id"))

    @property
    def selected(self) -> pd.DataFrame:
        """The selected runs (every column of :func:`workbench.runs`), in selection order."""
        ids = self.selection.run_ids
        if not ids:
            return wb.runs(where="id = ''", root=self.root)
        frame = wb.runs(where=_id_filter(ids), root=self.root)
        order = {rid: i for i, rid in enumerate(ids)}
        return frame.sort_values("run_id", key=lambda s: s.map(order)).reset_index(drop=True)

    # -- actions -----------------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Query again; True when what the table shows changed."""
        with self._lock, self.guard("Filter"):
            return self._query()
        return False

    def set_where(self, where: str) -> None:
        """Apply a filter; an invalid one leaves the table as it was and sets ``error``."""
        with self._lock:
            before = self.where
            self.where = (where or "").strip()
            self.page = 0
            with self.guard("Filter"):
                self._query(full=False)  # the filter changes neither the total nor the columns on offer
                return
            self.where = before  # keep showing the last good result under the message

    def set_search(self, text: str) -> None:
        """Quick search: a case-insensitive substring of the run id, the name or a tag."""
        with self._lock:
            self.search = (text or "").strip()
            self.page = 0
            self._cut()
            self.notify("rows")

    def sort_by(self, column: str, descending: bool | None = None) -> None:
        """Sort by any field (``name``, ``created``, ``config.lr``...); same column again flips."""
        with self._lock:
            before = (self.sort_column, self.descending)
            if descending is None:
                descending = not self.descending if column == self.sort_column else False
            self.sort_column, self.descending = column, descending
            with self.guard("Sort"):
                self._query(full=False)
                return
            self.sort_column, self.descending = before

    def set_columns(self, columns: list[str]) -> None:
        with self._lock:
            self.columns = list(dict.fromkeys(c for c in columns if c not in BASE_COLUMNS))
            self._auto_columns = False
            with self.guard("Columns"):
                self._query()

    def set_page(self, page: int) -> None:
        with self._lock:
            page = max(0, min(int(page), self.pages - 1))
            if page != self.page:
                self.page = page
                self._cut()
                self.notify("rows")

    def next_page(self) -> None:
        self.set_page(self.page + 1)

    def previous_page(self) -> None:
        self.set_page(self.page - 1)

    def set_page_size(self, size: int) -> None:
        with self._lock:
            self.page_size = max(1, int(size))
            self.page = 0
            self._cut()
            self.notify("rows")

    def select(self, run_ids: list[str]) -> None:
        """Select exactly these runs (from any page)."""
        self.selection.set([str(r) for r in run_ids])

    def select_on_page(self, run_ids: list[str]) -> None:
        """A view's selection of rows on this page; picks on other pages stay."""
        on_page = set(self.page_ids)
        kept = [r for r in self.selection.run_ids if r not in on_page]
        self.selection.set(kept + [r for r in run_ids if r in on_page])

    def poll(self) -> bool:
        """Query again when a run record changed (one ``stat``), or every few seconds while runs
        shown are running (their duration grows, and a dead one turns ``crashed`` by time alone)."""
        with self._lock:
            if self.error is not None:
                return False  # an invalid filter stays on screen until the person changes it
            version = wb.store_version(root=self.root)
            running = "status" in self._frame and bool((self._frame["status"] == "running").any())
            if version == self._version and not (running and time.monotonic() - self._queried > _RUNNING_EVERY):
                return False
            self._version = version  # read before the query: a change during it shows next time
            self._queried = time.monotonic()
            return self.refresh()

    # -- queries -----------------------------------------------------------------------------------
    def _query(self, full: bool = True) -> bool:
        """Run the query; replace the state and notify when it differs. Raises on bad input.

        ``full`` also counts every run and lists the columns on offer (a new sort needs neither).
        """
        order = f"{'-' if self.descending else ''}{field(self.sort_column)}" if self.sort_column else None
        total, available = self.total, self.available
        if full or not available:
            total = len(wb.runs(project=self.project, columns=["run_id"], root=self.root))
            recent = wb.runs(project=self.project, limit=_KEYS_FROM, root=self.root)
            available = sorted({c for c in recent.columns if c.startswith(("config.", "summary."))}
                               | set(self.columns), key=lambda c: (not c.startswith("config."), c))
        if self._auto_columns:
            config = [c for c in available if c.startswith("config.")][:_DEFAULT_EXTRA]
            summary = [c for c in available if c.startswith("summary.")][:_DEFAULT_EXTRA]
            self.columns = config + summary
        wanted = list(dict.fromkeys(["run_id", *_SEARCHED, *self.shown_columns]))
        frame = wb.runs(project=self.project, where=self.where or None, order_by=order,
                        columns=[field(c) for c in wanted], root=self.root)
        before = (self.total, self.available, self.rows)
        self.total, self.available, self._frame = total, available, frame
        self._cut()
        changed = (self.total, self.available) != before[:2] or not _same(self.rows, before[2])
        if changed:
            self.notify("rows", "columns")
        return changed

    def _cut(self) -> None:
        """Quick search and paging, in memory."""
        frame = self._frame
        text = self.search.lower()
        if text and len(frame):
            hit = frame["run_id"].str.lower().str.contains(text, regex=False) | frame["name"].fillna(
                "").str.lower().str.contains(text, regex=False) | frame["tags"].map(
                lambda tags: any(text in str(t).lower() for t in (tags if tags is not None else ())))
            frame = frame[hit.astype(bool)]
        self._found = frame
        self.matched = len(frame)
        self.page = max(0, min(self.page, self.pages - 1))
        start = self.page * self.page_size
        self.rows = frame.iloc[start:start + self.page_size].reset_index(drop=True)


def _empty() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({"run_id": pd.Series([], dtype=object)})


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    try:
        return bool(a.astype(str).equals(b.astype(str)))
    except (TypeError, ValueError):
        return False


def _id_filter(ids: list[str]) -> str:
    """``id in ('a', 'b')``; run ids are letters and digits, so quoting is safe."""
    safe = [r for r in ids if r.isalnum()]
    return "id in (" + ", ".join(f"'{r}'" for r in safe) + ")" if safe else "id = ''"


def _cell(column: str, value: Any) -> str:
    """One value as text."""
    if column == "created":
        return _format.when(value)
    if column == "duration":
        return _format.duration(value)
    if column == "tags":
        return ", ".join(str(t) for t in value) if value is not None and len(value) else ""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def field(label: str) -> str:
    """A column label of :func:`workbench.runs` (``config.KEY``) as a field of the query language.

    Keys come from training scripts and synced stores and may hold any character (``"``, ``!``,
    markup): the key is quoted, with ``\\`` and ``"`` escaped, as docs/queries.md describes.
    """
    for kind in ("config.", "summary."):
        if label.startswith(kind):
            key = label[len(kind):]
            return kind + '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return label
