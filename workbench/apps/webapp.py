"""The web app ``workbench ui`` serves: ``panel serve workbench/apps/webapp.py --args --root ROOT``.

Pages: Overview, Runs, Compare, Run detail, Artifacts, Jobs, Remotes, Settings. Each page is built
the first time it is opened in a session, from the components of :mod:`workbench.ui`; one
RunBrowser's selection drives Compare and Run detail. The address is a deep link:
``?page=compare&runs=ID,ID&where=...&project=...`` opens that page with those runs selected (a run
name on the Runs page links to ``?page=detail&runs=ID``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import panel as pn

from workbench.apps import pages
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
        self._pages: dict[str, Any] = {}
        self._browser: Any = None
        self.language = language  # every page of the session is built in it
        labels = {tr(label): key for key, label in PAGES}
        start = self.query.get("page", "overview")
        if start not in dict(PAGES):
            start = "overview"
        self.nav = pn.widgets.RadioButtonGroup(
            name="page", options=labels, value=start, orientation="vertical", button_type="light",
            sizing_mode="stretch_width", css_classes=["wb-nav"],
        )
        self.main = pn.Column(sizing_mode="stretch_width", css_classes=["wb-main"])
        header = _safe.html_pane(_safe.markup(
            "<h2 style='margin:4px 0'>{}</h2><div style='color:#666;font-size:12px;word-break:break-all'>{}</div>",
            tr("workbench"), root))
        main: list[Any] = [self.main]
        if self.locked is not None:
            main.insert(0, _safe.alert_pane(self.locked, css_classes=["wb-read-only"]))
        self.layout = pn.Row(pn.Column(header, self.nav, width=190), pn.Column(*main, sizing_mode="stretch_width"),
                             sizing_mode="stretch_width")
        self.nav.param.watch(lambda event: self.show(event.new), "value")
        self.show(start)

    @property
    def browser(self) -> Any:
        """The session's RunBrowser; its selection drives Compare and Run detail."""
        if self._browser is None:
            self._browser = pages.run_browser(self.root, self.query)
        return self._browser

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
        if pn.state.location is not None and pn.state.curdoc is not None:
            pn.state.location.update_query(page=key)  # type: ignore[arg-type]  # Panel's annotation is wrong

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
