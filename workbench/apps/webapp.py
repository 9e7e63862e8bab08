"""The web app ``workbench ui`` serves: ``panel serve workbench/apps/webapp.py --args --root ROOT``.

Pages: Overview, Runs, Compare, Run detail, Artifacts, Jobs, Remotes, Settings. Each page is built
the first time it is opened in a session, from the components of :mod:`workbench.ui`; one
RunBrowser's selection drives Compare and Run detail. The address is the view's state
(:mod:`workbench.apps.url_state`): ``?page=compare&runs=ID,ID&where=...&project=...&keys=...``
opens that page with those runs selected and that filter, sort, search and chart choice (a run name
on the Runs page links to ``?page=detail&runs=ID``), and it is rewritten in place (no reload, no
new history entry) as the person changes the view, so it can be copied, shared or bookmarked. The
rewritten address never carries the token of the printed link: after the first load the session
cookie stands for it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import panel as pn

import workbench as wb
from workbench.apps import pages, url_state
from workbench.errors import WorkbenchError
from workbench.settings import default_root, load_settings
from workbench.ui import _i18n, _safe
from workbench.ui._i18n import tr

PAGES = (
    ("overview", "Overview"),
    ("runs", "Runs"),
    ("compare", "Compare"),
    ("detail", "Run detail"),
    ("artifacts", "Artifacts"),
    ("jobs", "Jobs"),
    ("remotes", "Remotes"),
    ("settings", "Settings"),
)

_i18n.add_zh(
    {
        "Overview": "概览",
        "Runs": "运行",
        "Compare": "比较",
        "Run detail": "运行详情",
        "Artifacts": "制品",
        "Jobs": "任务",
        "Remotes": "远程主机",
        "Settings": "设置",
        "workbench": "workbench 工作台",
        "read-only: this app was started with --no-token, so it changes nothing; start `workbench ui` "
        "without --no-token (it prints a link with a token) to launch, cancel, edit or sync":
            "只读：此应用以 --no-token 启动，不会做任何更改；不带 --no-token 启动 `workbench ui`"
            "（它会打印带令牌的链接）即可启动、取消、编辑或同步",
    }
)


#: the browser side of the address writer: only this app's own query strings, on this page's path
_REPLACE_ADDRESS = """
const search = cb_obj.value === '?' ? '' : cb_obj.value;
if (search === '' || search.startsWith('?')) {
  window.history.replaceState(window.history.state, '', window.location.pathname + search);
}
"""


def read_only_reason() -> str:
    """Why a session of an app served without a token changes nothing (in the session's language)."""
    return tr("read-only: this app was started with --no-token, so it changes nothing; start `workbench ui` "
              "without --no-token (it prints a link with a token) to launch, cancel, edit or sync")


class WebApp:
    """One browser session of the app.

    ``read_only`` makes every page refuse actions that change anything (:attr:`locked` says why):
    the served app sets it when it runs without a token, so an unauthenticated session can look
    but not act.
    """

    def __init__(self, root: Path, query: dict[str, str] | None = None, language: str = "en",
                 read_only: bool = False) -> None:
        self.root = root
        self.locked = read_only_reason() if read_only else None
        self.query = dict(query or {})
        #: what the address asked for; each part is applied when its view is first built
        self.state = url_state.parse(self.query, dict(PAGES))
        self._pages: dict[str, Any] = {}
        self._browser: Any = None
        self._compare: Any = None  # Compare's MetricCompare, once built
        self._panels: dict[str, Any] = {}  # page -> the MetricPanelsModel it shows
        self.language = language  # every page of the session is built in it
        labels = {tr(label): key for key, label in PAGES}
        start = self.state.page
        self.nav = pn.widgets.RadioButtonGroup(
            name="page", options=labels, value=start, orientation="vertical", button_type="light",
            sizing_mode="stretch_width", css_classes=["wb-nav"],
        )
        self.main = pn.Column(sizing_mode="stretch_width", css_classes=["wb-main"])
        header = _safe.html_pane(_safe.markup(
            "<h2 style='margin:4px 0'>{}</h2><div style='color:#666;font-size:12px;word-break:break-all'>{}</div>",
            tr("workbench"), root))
        # the address bar's writer: a hidden text whose value (a query string this app made) the
        # browser puts in the address with history.replaceState (no reload, no history entry)
        self.address = pn.widgets.TextInput(value="", visible=False, css_classes=["wb-address"])
        self.address.jscallback(value=_REPLACE_ADDRESS)
        self._writing = False  # until the page is on screen a change would not reach the browser
        self.written: str | None = None  # the query string last written
        main: list[Any] = [self.main]
        if self.locked is not None:
            main.insert(0, _safe.alert_pane(self.locked, css_classes=["wb-read-only"]))
        self.layout = pn.Row(pn.Column(header, self.nav, self.address, width=190),
                             pn.Column(*main, sizing_mode="stretch_width"), sizing_mode="stretch_width")
        self.nav.param.watch(lambda event: self.show(event.new), "value")
        self.show(start)
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.onload(self.start_writing)

    @property
    def browser(self) -> Any:
        """The session's RunBrowser; its selection drives Compare and Run detail."""
        if self._browser is None:
            state = self.state
            runs = self._known_runs(state.runs)
            self._browser = browser = pages.run_browser(
                self.root, {"project": state.project or "", "where": state.where, "runs": ",".join(runs)})
            model = browser.model
            if state.q:
                model.set_search(state.q)
            if state.sort != url_state.DEFAULT_SORT:
                model.sort_by(state.sort_column, state.descending)  # a bad field: the usual inline error
            model.observe(self._changed)
            browser.selection.observe(self._changed)
        return self._browser

    def _known_runs(self, run_ids: list[str]) -> list[str]:
        """The ids of ``run_ids`` that are runs of the store (an address may name any)."""
        if not run_ids:
            return []
        try:
            known = {str(r) for r in wb.runs(columns=["run_id"], root=self.root)["run_id"]}
        except (WorkbenchError, OSError):
            return []
        return [r for r in run_ids if r in known]

    def compare_view(self, metrics: Any) -> None:
        """Compare's MetricCompare: the address's keys, smoothing, x axis and group by apply to it."""
        self._compare = metrics
        model, state = metrics.model, self.state
        keys = [k for k in state.keys or [] if k in model.available]  # unknown keys are left out
        if keys:
            model.set_keys(keys)
        if state.smooth is not None:
            model.set_smoothing(state.smooth)
        if state.x is not None:
            model.set_x_axis(state.x)
        if state.group is not None and state.group in model.groupable:
            model.set_group_by(state.group)
        model.observe(self._changed)

    def panels_view(self, page: str, model: Any) -> None:
        """The metric panels of ``page`` (Compare, Run detail): the address's key search applies."""
        self._panels[page] = model
        if self.state.search is not None:
            model.set_search(self.state.search, save=False)  # a link's search is not the project's layout
        model.observe(self._changed)

    def current_state(self) -> url_state.UrlState:
        """The view as it is now (the address's values for the parts not built yet)."""
        state = url_state.UrlState(**vars(self.state))
        state.page = self.nav.value
        if self._browser is not None:
            model = self._browser.model
            state.project, state.where, state.q = model.project, model.where, model.search
            state.sort = url_state.sort_text(model.sort_column, model.descending)
            state.runs = list(self._browser.selection.run_ids)
        if self._compare is not None:
            model = self._compare.model
            state.keys = list(model.keys) if model.keys_chosen else None
            state.smooth, state.x, state.group = model.smoothing, model.x_axis, model.group_by
        panels = self._panels.get(state.page)
        if panels is not None:
            state.search = panels.search
        elif self._panels:
            state.search = None  # a page without panels: the search stays with its page
        return state

    def start_writing(self) -> None:
        """The page is on screen: from now on the address follows the view (the first write also
        takes the token of the printed link out of the address bar)."""
        self._writing = True
        self.write_address()

    def write_address(self) -> None:
        if not self._writing:
            return
        search = url_state.to_search(self.current_state())
        if search != self.written:
            self.written = search
            self.address.value = search or "?"  # "?": no query at all (a value must change to be sent)

    def _changed(self, _fields: Any = None) -> None:
        self.write_address()

    def page(self, key: str) -> Any:
        if key not in self._pages:
            with _i18n.use_language(self.language):
                self._pages[key] = pages.build(key, self)
        return self._pages[key]

    def show(self, key: str) -> None:
        if self.nav.value != key:
            self.nav.value = key  # the watcher calls show again
            return
        self.main.objects = [self.page(key)]
        self.write_address()

    def select_runs(self, run_ids: list[str], page: str | None = None) -> None:
        """Select runs (from a link in another page) and optionally open a page."""
        self.browser.selection.set(run_ids)
        if page:
            self.show(page)


def session_language(root: Path, accept_language: str | None) -> str:
    setting = load_settings(root).ui_language
    return _i18n.from_accept_language(accept_language) if setting == "auto" else setting


def build_app(root: Path | str | None = None, query: dict[str, str] | None = None,
              accept_language: str | None = None, read_only: bool = False) -> WebApp:
    """The app for one session (tests call this directly; ``panel serve`` runs this module).

    ``read_only``: the session may not change anything (see :class:`WebApp`).
    """
    root_path = Path(root).expanduser().absolute() if root is not None else default_root()
    language = session_language(root_path, accept_language)
    if pn.state.curdoc is not None:  # pages and text made later, in this session's callbacks
        _i18n.bind_document(pn.state.curdoc, language)
    with _i18n.use_language(language):
        return WebApp(root_path, query, language, read_only)


def _root_from_argv(argv: list[str]) -> Path | None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--root")
    args, _ = parser.parse_known_args(argv)
    return Path(args.root) if args.root else None


def _served() -> None:
    pn.extension("tabulator", notifications=True, sizing_mode="stretch_width")
    query = {k: v[0].decode() if isinstance(v[0], bytes) else str(v[0])
             for k, v in (pn.state.session_args or {}).items() if v}
    headers = pn.state.headers or {}
    accept = headers.get("Accept-Language")
    from workbench.apps.server import auth_required

    read_only = not auth_required()  # without a token nobody is authenticated: look, never act
    app = build_app(_root_from_argv(sys.argv[1:]), query, accept if isinstance(accept, str) else None, read_only)
    app.layout.servable(title="workbench")


if __name__.startswith("bokeh_app"):  # run by `panel serve`
    _served()
