"""RunBrowser's view model: a filtered, sorted, paged table of runs and the runs picked in it.

Every query goes through :func:`workbench.runs`. One query per change fetches the matching runs'
ids and the shown columns, already sorted (10,000 runs x 10 columns: tens of milliseconds, see
docs/performance.md "UI"); quick search and paging then cut that frame in memory, so turning a
page costs no query at all. ``poll`` simply runs the same query again: that is cheap, and it
catches every change (new runs, status and summary updates, deleted runs) with no bookkeeping.

Default columns are the config keys that vary across the project's recent runs and the summary
keys most of them logged; a person's own choice is saved per project (``workbench.settings.save_view``)
and comes back in the next session. Grouping, bulk tags, deleting with a confirmation step, CSV
export and the zero-result hint work on every matching run, not just the page shown.
"""

from __future__ import annotations

import math
import numbers
import time
from typing import TYPE_CHECKING, Any

import workbench as wb
from workbench.errors import WorkbenchError
from workbench.settings import load_view, save_view
from workbench.ui import _format
from workbench.ui._i18n import tr
from workbench.ui._model import Selection, ViewModel, as_selection
from workbench.ui.runs import _columns, _export

if TYPE_CHECKING:
    import pandas as pd

#: run fields every table shows, in order
BASE_COLUMNS = ["status", "name", "project", "created", "duration", "tags"]
#: fields the quick search looks in
_SEARCHED = ["run_id", "name", "tags"]
#: recent runs whose config/summary keys the column chooser offers
_KEYS_FROM = 500
#: the key of the saved column choice in a project's view file
VIEW_KEY = "runs_columns"
#: the first column of a grouped table: "KEY = VALUE (N runs)"
GROUP_COLUMN = "group"
#: runs named in a delete confirmation (the rest are counted)
_NAMED = 10
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
        ``config.*`` / ``summary.*`` columns to show (default: the choice saved for the project,
        else the config keys that vary and the summary keys most runs logged).
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
        saved = self._saved_columns() if columns is None else None
        if saved is not None:
            self.columns = saved
        self._auto_columns = columns is None and saved is None
        self.available: list[str] = []  # config.* and summary.* columns the chooser offers
        self.projects: list[str] = []  # every project of the store, for the project selector
        self.group_by: str | None = None  # a column whose values group the rows
        self.groups: list[tuple[str, int]] = []  # (label, runs) of each group, in table order
        self.pending_delete: list[str] = []  # runs a delete waits to be confirmed for
        self.message: str | None = None  # what the last bulk action did
        self.hint: str | None = None  # why the table is empty and what to do
        self.total = 0  # runs in the store (or project)
        self.matched = 0  # runs passing filter and search
        self.rows: pd.DataFrame = _empty()  # the page: run_id + shown columns, raw values
        self.selection = as_selection(selection) if selection is not None else Selection()
        self._frame: pd.DataFrame = _empty()  # every matching run, sorted
        self._found: pd.DataFrame = _empty()  # after quick search
        # (rows fetched, runs matching) when only the first rows were fetched; None: all were
        self._window: tuple[int | None, int] | None = None
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

    @property
    def groupable(self) -> list[str]:
        """Columns the table can be grouped by."""
        return list(dict.fromkeys(["status", "project", "tags", *self.available]))

    def table(self) -> pd.DataFrame:
        """The page as text a view shows: statuses, local times, durations, tags joined.

        Grouped, the first column (:data:`GROUP_COLUMN`) says ``KEY = VALUE (N runs)``, counting
        every matching run of the group, not just those on the page.
        """
        import pandas as pd

        out: dict[str, list[str]] = {}
        if self.group_by is not None:
            counts = dict(self.groups)
            labels = list(self.rows[GROUP_COLUMN]) if GROUP_COLUMN in self.rows else []
            out[GROUP_COLUMN] = [tr("{key} = {value} (1 run)", key=self.group_by, value=label)
                                 if counts.get(label) == 1 else
                                 tr("{key} = {value} ({n} runs)", key=self.group_by, value=label,
                                    n=counts.get(label, 0)) for label in labels]
        for column in self.shown_columns:
            values = list(self.rows[column]) if column in self.rows else [None] * len(self.rows)
            out[column] = [_cell(column, v) for v in values]
        return pd.DataFrame(out, index=pd.Index(self.page_ids, name="run_id"))

    def csv(self) -> str:
        """Every matching run (all pages, in table order) with the shown columns, as CSV text.

        Text that a spreadsheet would run as a formula starts with ``'`` (see ``_export``).
        """
        columns = ["run_id", *([GROUP_COLUMN] if self.group_by is not None else []), *self.shown_columns]
        with self._lock:
            frame = self._every_match()
            counts = dict(self.groups)
            rows = []
            for i in range(len(frame)):
                row = frame.iloc[i]
                values: list[Any] = []
                for column in columns:
                    if column == GROUP_COLUMN:
                        label = row[GROUP_COLUMN]
                        values.append(f"{self.group_by} = {label} ({counts.get(label, 0)})")
                    else:
                        values.append(row[column] if column in frame.columns else None)
                rows.append(values)
        return _export.to_csv(rows, columns)

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
                self.notify("where")  # even when the rows stay the same (the web app's address follows)
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
                self.notify("sort")
                return
            self.sort_column, self.descending = before

    def set_columns(self, columns: list[str]) -> None:
        """Show these ``config.*`` / ``summary.*`` columns; saved for the project (unless locked)."""
        with self._lock:
            self.columns = list(dict.fromkeys(c for c in columns if c not in BASE_COLUMNS))
            self._auto_columns = False
            if self.locked is None:  # a read-only session shows the choice but writes nothing
                with self.act(tr("Save columns")):
                    save_view(self.project, root=self.root, **{VIEW_KEY: self.columns})
            with self.guard("Columns"):
                self._query()

    def reset_columns(self) -> None:
        """Back to the default columns; forgets the project's saved choice."""
        with self._lock:
            self._auto_columns = True
            if self.locked is None:
                with self.act(tr("Save columns")):
                    save_view(self.project, root=self.root, **{VIEW_KEY: None})
            with self.guard("Columns"):
                self._query()

    def set_project(self, project: str | None) -> None:
        """Show the runs of one project (``None``: all); its saved columns come with it."""
        with self._lock:
            if project == self.project:
                return
            self.project = project
            self.page = 0
            saved = self._saved_columns()
            self._auto_columns = saved is None
            self.columns = saved or []
            with self.guard("Project"):
                self._query()
                if self.group_by is not None and self.group_by not in self.groupable:
                    self.group_by = None  # a key this project's runs do not have
                    self._query(full=False)
            self.notify("rows", "columns", "project")

    def set_group(self, column: str | None) -> None:
        """Group the rows by a column (``config.opt``, ``tags``, ``status``...; ``None``: no groups)."""
        with self._lock:
            self.group_by = column or None
            self.page = 0
            with self.guard("Group"):
                self._query(full=False)
            self.notify("rows", "columns")

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

    # -- bulk actions on the selected runs -------------------------------------------------------
    def add_tags(self, tags: str | list[str]) -> bool:
        """Add tags (a list, or text separated by commas) to every selected run."""
        return self._retag(tags, add=True)

    def remove_tags(self, tags: str | list[str]) -> bool:
        """Remove tags from every selected run."""
        return self._retag(tags, add=False)

    def _retag(self, tags: str | list[str], add: bool) -> bool:
        action = tr("Add tags") if add else tr("Remove tags")
        if self.refused(action):
            return False
        wanted = [t.strip() for t in (tags.split(",") if isinstance(tags, str) else tags) if t and t.strip()]
        ids = list(self.selection.run_ids)
        if not wanted or not ids:
            self.action_failed(action, f"{action}: " + (tr("select runs first") if not ids
                                                        else tr("name at least one tag")))
            return False
        done, failed = 0, []
        for run_id in ids:
            try:
                old = list(wb.get_run(run_id, root=self.root).get("tags") or [])
                new = list(dict.fromkeys(old + wanted)) if add else [t for t in old if t not in wanted]
                if new != old:
                    wb.update_run(run_id, tags=new, root=self.root)
                done += 1
            except WorkbenchError as exc:
                failed.append(str(exc))
        self._finish(action, tr("{action}: 1 run", action=action) if done == 1 else
                     tr("{action}: {n} runs", action=action, n=done), failed)
        return not failed

    def request_delete(self) -> str | None:
        """Step one of deleting the selected runs: returns (and keeps in :attr:`pending_delete`)
        the confirmation text naming them; nothing is deleted until :meth:`confirm_delete`."""
        if self.refused(tr("Delete")):
            return None
        ids = list(self.selection.run_ids)
        if not ids:
            self.action_failed(tr("Delete"), f"{tr('Delete')}: {tr('select runs first')}")
            return None
        self.pending_delete = ids
        self.message = None
        self.notify("pending", "message")
        return self.delete_prompt

    @property
    def delete_prompt(self) -> str:
        """``Confirm delete of 3 runs: a, b, c`` for the runs waiting for confirmation."""
        ids = self.pending_delete
        frame = self._frame
        if any(r not in set(frame["run_id"]) for r in ids[:_NAMED]) and self._window is not None:
            frame = wb.runs(where=_id_filter(ids[:_NAMED]), columns=["name"], root=self.root)  # other pages
        names = dict(zip(frame["run_id"], frame["name"])) if len(frame) else {}
        shown = [str(names.get(r) or r) for r in ids[:_NAMED]]
        more = tr(" and {n} more", n=len(ids) - _NAMED) if len(ids) > _NAMED else ""
        if len(ids) == 1:
            return tr("Confirm delete of 1 run: {names}", names=shown[0])
        return tr("Confirm delete of {n} runs: {names}", n=len(ids), names=", ".join(shown) + more)

    @property
    def delete_label(self) -> str:
        """The delete button's label: ``Delete 3 runs`` for the selection."""
        count = len(self.selection.run_ids)
        if count == 1:
            return tr("Delete 1 run")
        return tr("Delete {n} runs", n=count) if count else tr("Delete")

    def cancel_delete(self) -> None:
        if self.pending_delete:
            self.pending_delete = []
            self.notify("pending")

    def confirm_delete(self) -> bool:
        """Step two: delete the runs named in the confirmation, as ``workbench rm`` does (a queued
        or running run is refused and stays); the others leave the selection and the table."""
        ids, self.pending_delete = self.pending_delete, []
        self.notify("pending")
        if self.refused(tr("Delete")) or not ids:
            return False
        deleted, failed = [], []
        for run_id in ids:
            try:
                wb.delete_run(run_id, root=self.root)
                deleted.append(run_id)
            except WorkbenchError as exc:
                failed.append(str(exc))
        self.selection.set([r for r in self.selection.run_ids if r not in deleted])
        self._finish(tr("Delete"), tr("Deleted 1 run") if len(deleted) == 1 else
                     tr("Deleted {n} runs", n=len(deleted)), failed)
        return not failed

    def _finish(self, action: str, done: str, failed: list[str]) -> None:
        """Show what a bulk action did (and the refusals), over the table read again."""
        with self._lock:
            try:
                self._query()
            except (WorkbenchError, OSError):
                pass  # the table keeps the last good result; the next poll tries again
        self.message = done
        self.notify("message", "rows")
        if failed:  # stays until the same action works, or the person dismisses it
            self.action_failed(action, f"{action}: " + "; ".join(failed))
        else:
            self._clear(action)

    def poll(self) -> bool:
        """Query again when a run record changed (one ``stat``), or every few seconds while runs
        shown are running (their duration grows, and a dead one turns ``crashed`` by time alone)."""
        with self._lock:
            if self._error is not None:
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
        order = self._order()
        total, available, projects = self.total, self.available, self.projects
        if full or not available:
            counts = wb.count_runs(by_project=True, root=self.root)  # one query for both, no row built
            projects = sorted(str(p) for p in counts if p is not None)
            total = sum(counts.values()) if self.project is None else counts.get(self.project, 0)
            recent = wb.runs(project=self.project, limit=_KEYS_FROM, root=self.root)
            available = sorted({c for c in recent.columns if c.startswith(("config.", "summary."))}
                               | set(self.columns), key=lambda c: (not c.startswith("config."), c))
            if self._auto_columns:
                self.columns = _columns.default_columns(recent)
        # without a quick search or groups, only the rows up to the page shown are fetched, and
        # the matching runs counted by the query: 100,000 runs cost a page, not a frame of them all
        windowed = not self.search and self.group_by is None
        count = wb.count_runs(project=self.project, where=self.where or None, root=self.root) if windowed else 0
        limit = (self.page + 1) * self.page_size if windowed else None
        frame = self._fetch(order, limit)
        before = (self.total, self.available, self.rows, self.projects)
        self.total, self.available, self._frame, self.projects = total, available, frame, projects
        self._window = (limit, count) if windowed else None
        self._cut()
        changed = (self.total, self.available, self.projects) != (before[0], before[1], before[3]) or not _same(
            self.rows, before[2])
        if changed:
            self.notify("rows", "columns")
        return changed

    def _saved_columns(self) -> list[str] | None:
        try:
            return _columns.checked_columns(load_view(self.project, root=self.root).get(VIEW_KEY))
        except (WorkbenchError, OSError):
            return None

    def _fetch(self, order: str | None, limit: int | None) -> pd.DataFrame:
        """The matching runs (the first ``limit``), sorted, with the columns the table needs."""
        wanted = list(dict.fromkeys(["run_id", *_SEARCHED, *self.shown_columns,
                                     *([self.group_by] if self.group_by else [])]))
        return wb.runs(project=self.project, where=self.where or None, order_by=order,
                       columns=[field(c) for c in wanted], limit=limit, root=self.root)

    def _order(self) -> str | None:
        return f"{'-' if self.descending else ''}{field(self.sort_column)}" if self.sort_column else None

    def _every_match(self) -> pd.DataFrame:
        """Every matching run after the quick search (all pages), as the table orders them."""
        if self._window is None:
            return self._found
        return self._fetch(self._order(), None)

    def _cut(self) -> None:
        """Quick search and paging, in memory (fetching more rows when the page needs them)."""
        if self._window is not None:
            limit, count = self._window
            page = max(0, min(self.page, max(1, math.ceil(count / self.page_size)) - 1))
            wanted = (page + 1) * self.page_size
            if self.search or self.group_by is not None or (limit is not None and wanted > limit
                                                            and limit < count):
                self.page = page
                self._query(full=False)  # every matching run (search, groups) or more of them
                return
            frame, self.groups = self._frame, []
            self._found = frame
            self.matched = count
            self.hint = self._hint() if not self.matched else None
            self.page = page
            start = self.page * self.page_size
            self.rows = frame.iloc[start:start + self.page_size].reset_index(drop=True)
            return
        frame = self._frame
        text = self.search.lower()
        if text and len(frame):
            hit = frame["run_id"].str.lower().str.contains(text, regex=False) | frame["name"].fillna(
                "").str.lower().str.contains(text, regex=False) | frame["tags"].map(
                lambda tags: any(text in str(t).lower() for t in (tags if tags is not None else ())))
            frame = frame[hit.astype(bool)]
        frame, self.groups = _grouped(frame, self.group_by)
        self._found = frame
        self.matched = len(frame)
        self.hint = self._hint() if not self.matched else None
        self.page = max(0, min(self.page, self.pages - 1))
        start = self.page * self.page_size
        self.rows = frame.iloc[start:start + self.page_size].reset_index(drop=True)


    def _hint(self) -> str:
        """Why no run is shown, and what to do about it."""
        if not self.total:
            return (tr("No runs in project {project} yet.", project=self.project) if self.project is not None
                    else tr("No runs in this store yet: log one with wb.init(), or launch a job."))
        if self.search and len(self._frame):
            return tr("No run's name, id or tag contains \"{search}\": clear the search to see {n} runs.",
                      search=self.search, n=len(self._frame))
        unknown: dict[str, list[str]] = {}
        if self.where and _columns.filter_keys(self.where):
            try:
                known = {f"config.{k}" for k in wb.sql("select distinct key from params", root=self.root)["key"]}
                known |= {f"summary.{k}" for k in wb.sql("select distinct key from summaries", root=self.root)["key"]}
            except WorkbenchError:
                known = set()
            unknown = _columns.unknown_keys(self.where, known | set(self.available))
        parts = [tr("No runs match the filter.")]
        for key, close in unknown.items():
            parts.append(tr("No run has {key}: did you mean {close}?", key=key, close=tr(" or ").join(close))
                         if close else tr("No run has {key}.", key=key))
        if not unknown:
            parts.append(tr("Loosen it, or clear it to see all {n} runs.", n=self.total))
        return " ".join(parts)


def _grouped(frame: pd.DataFrame, column: str | None) -> tuple[pd.DataFrame, list[tuple[str, int]]]:
    """``frame`` with a :data:`GROUP_COLUMN` of labels, each group together (groups ordered by
    value, runs inside a group in the query's order), and each group's label and size."""
    if column is None or not len(frame):
        return frame, []
    import pandas as pd

    values = frame[column] if column in frame.columns else pd.Series([None] * len(frame), index=frame.index)
    labels = values.map(lambda v: _cell(column, v) or tr("(none)"))
    numeric = pd.to_numeric(values.map(lambda v: v if isinstance(v, numbers.Real) and not isinstance(v, bool)
                                       else None), errors="coerce")
    known = values.map(lambda v: v is not None and not (isinstance(v, float) and math.isnan(v)))
    if known.any() and numeric[known].notna().all():
        order = pd.DataFrame({"missing": ~known, "key": numeric.fillna(0), "label": labels})
    else:
        order = pd.DataFrame({"missing": ~known, "key": labels, "label": labels})
    order["pos"] = range(len(order))
    index = order.sort_values(["missing", "key", "pos"], kind="stable").index
    out = frame.assign(**{GROUP_COLUMN: labels}).loc[index].reset_index(drop=True)
    counts = out[GROUP_COLUMN].value_counts(sort=False)
    return out, [(str(label), int(counts[label])) for label in dict.fromkeys(out[GROUP_COLUMN])]


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
    if column == "status" and isinstance(value, str):
        return tr(value)  # shown in the view's language; filters and sorts use the stored value
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
