"""The web app's address as its state: what the query string says, and back.

``?page=compare&project=P&where=...&q=...&sort=-summary.acc&runs=ID,ID&keys=loss,acc&smooth=0.6
&x=time&group=config.lr&search=loss`` is read on load (:func:`parse`) and written back as the person
changes the view (:func:`to_search`), so an address can be bookmarked or shared. A value at its
default is left out. Everything here is text from a URL, so hostile: each value is checked (page
names, numbers in range, run ids of letters and digits, at most :data:`MAX_RUNS` of them, field
names of a plain shape, bounded lengths) and a value that fails is dropped, never repaired into
something else. What passes is still only ever handed to the views' own setters (the same parsing
as typed input); it never becomes markup or SQL text here. Only these names are written: the
token of the printed link is never part of the address this module makes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

#: the most run ids an address carries (a larger selection keeps its first ones)
MAX_RUNS = 50
#: the longest text value (filter, search) an address carries
MAX_TEXT = 2000
DEFAULT_PAGE = "overview"
DEFAULT_SORT = "-created"
X_AXES = ("step", "time", "relative")
#: the order of the names in a written address
NAMES = ("page", "project", "where", "q", "sort", "runs", "keys", "smooth", "x", "group", "search")

_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]{0,199}")
_KEY = re.compile(r"[^,\x00-\x1f\x7f]{1,200}")


@dataclass
class UrlState:
    """One view of the app, as an address says it. ``None``: the address does not say (default)."""

    page: str = DEFAULT_PAGE
    project: str | None = None
    where: str = ""
    q: str = ""
    sort: str = DEFAULT_SORT  #: ``column`` (ascending) or ``-column`` (descending)
    runs: list[str] = field(default_factory=list)
    keys: list[str] | None = None  #: Compare's chosen metric keys (None: its defaults)
    smooth: float | None = None
    x: str | None = None
    group: str | None = None  #: Compare's group by
    search: str | None = None  #: the metric panels' key search (Compare, Run detail)

    @property
    def sort_column(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")


def _text(value: str | None) -> str | None:
    if value is None or len(value) > MAX_TEXT or "\x00" in value:
        return None
    return value


def sort_text(column: str | None, descending: bool) -> str:
    """``-column`` or ``column``; :data:`DEFAULT_SORT` when there is no column."""
    return f"{'-' if descending else ''}{column}" if column else DEFAULT_SORT


def run_ids(text: str | None) -> list[str]:
    """The run ids of a ``runs=`` value: plain ids only, no repeats, at most :data:`MAX_RUNS`."""
    ids = [r.strip() for r in (text or "").split(",")]
    return list(dict.fromkeys(r for r in ids if _RUN_ID.fullmatch(r)))[:MAX_RUNS]


def parse(query: Mapping[str, str], pages: Iterable[str]) -> UrlState:
    """The state an address asks for; a value that does not check out is left at its default."""
    state = UrlState()
    page = query.get("page")
    if page in set(pages):
        state.page = str(page)
    project = _text(query.get("project"))
    state.project = project.strip() or None if project is not None else None
    state.where = (_text(query.get("where")) or "").strip()
    state.q = (_text(query.get("q")) or "").strip()
    sort = query.get("sort") or ""
    if _FIELD.fullmatch(sort.removeprefix("-")):
        state.sort = sort
    state.runs = run_ids(query.get("runs"))
    if "keys" in query:
        keys = [k.strip() for k in (query.get("keys") or "").split(",")]
        state.keys = list(dict.fromkeys(k for k in keys if _KEY.fullmatch(k)))[:MAX_RUNS]
    try:
        smooth = float(query.get("smooth") or "nan")
    except ValueError:
        smooth = math.nan
    if 0.0 <= smooth <= 0.99:  # NaN and infinities fail this too
        state.smooth = smooth
    if query.get("x") in X_AXES:
        state.x = query.get("x")
    group = query.get("group") or ""
    if group == "tags" or _FIELD.fullmatch(group):
        state.group = group
    state.search = _text(query.get("search"))
    return state


def to_query(state: UrlState) -> dict[str, str]:
    """The names and values to write, in :data:`NAMES` order; defaults (and empty values) left out."""
    keys = [k for k in state.keys or [] if _KEY.fullmatch(k)] if state.keys is not None else None
    values = {
        "page": state.page if state.page != DEFAULT_PAGE else "",
        "project": state.project or "",
        "where": _text(state.where) or "",
        "q": _text(state.q) or "",
        "sort": state.sort if state.sort != DEFAULT_SORT and _FIELD.fullmatch(state.sort_column) else "",
        "runs": ",".join(run_ids(",".join(state.runs))),
        "keys": ",".join(keys) if keys else "",
        "smooth": f"{state.smooth:g}" if state.smooth else "",
        "x": state.x if state.x in X_AXES and state.x != X_AXES[0] else "",
        "group": state.group or "",
        "search": _text(state.search) or "",
    }
    return {name: values[name] for name in NAMES if values[name]}


def to_search(state: UrlState) -> str:
    """``?page=...&...`` (``""`` when every value is at its default)."""
    query = to_query(state)
    return "?" + urlencode(query) if query else ""
