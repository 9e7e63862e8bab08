"""The pages of the web app: each a Panel layout over components of :mod:`workbench.ui`.

Overview and Settings are the app's own; the others place the components' Panel views.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import panel as pn

import workbench as wb
from workbench import ui
from workbench.errors import WorkbenchError
from workbench.settings import load_settings, save_settings
from workbench.ui import _format, _html, _i18n, _safe
from workbench.ui._i18n import tr

if TYPE_CHECKING:
    from workbench.apps.webapp import WebApp

_i18n.add_zh(
    {
        "Runs by status": "按状态统计运行",
        "Media": "媒体",
        "Artifacts": "制品",
        "Recent runs": "最近的运行",
        "Jobs running or queued": "运行中或排队的任务",
        "No jobs running or queued.": "没有运行中或排队的任务。",
        "runs": "个运行",
        "artifact versions": "个制品版本",
        "Store": "存储",
        "Worker slots": "任务槽位",
        "Language": "语言",
        "Refresh every (s)": "刷新间隔（秒）",
        "Save": "保存",
        "Saved.": "已保存。",
        "Recipe defaults": "配方默认值",
        "Remotes": "远程主机",
        "No remotes yet: add one on the Remotes page.": "还没有远程主机：请在“远程主机”页面添加。",
        "Compare selected": "比较所选",
        "Open detail": "打开详情",
        "Select runs on the Runs page to compare them.": "请在“运行”页面选择要比较的运行。",
        "Pick a run on the Runs page": "在“运行”页面选择一个运行",
        "Metrics": "指标",
        "Config diff": "配置差异",
        "All metrics": "全部指标",
        "Parallel coordinates": "平行坐标",
    }
)


def run_browser(root: Path, query: dict[str, str]) -> Any:
    browser = ui.RunBrowser(project=query.get("project") or None, root=root, where=query.get("where") or "",
                            page_size=25)
    runs = [r for r in query.get("runs", "").split(",") if r]
    if runs:
        browser.selection.set(runs)
    return browser


def build(key: str, app: WebApp) -> Any:
    return _BUILDERS[key](app)


# ---------------------------------------------------------------- overview
class Overview:
    """Counts, recent activity and running jobs; refreshed every ``ui_refresh`` seconds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.counts = _safe.html_pane(sizing_mode="stretch_width")
        self.recent = _safe.html_pane(sizing_mode="stretch_width")
        self.jobs = pn.Column(sizing_mode="stretch_width")
        self.layout = pn.Column(
            _safe.heading(tr("Overview")), self.counts,
            _safe.heading(tr("Jobs running or queued"), 3), self.jobs,
            _safe.heading(tr("Recent runs"), 3), self.recent, sizing_mode="stretch_width",
        )
        self._version: str | None = None
        self._read_at = 0.0
        self.refresh()

    def tick(self) -> None:
        """The live refresh: re-read when a run record moved (one ``stat``), else every 30 s (a new
        artifact version leaves no trace in the run journal)."""
        if wb.store_version(root=self.root) != self._version or time.monotonic() - self._read_at > 30:
            self.refresh()

    def refresh(self) -> None:
        self._version = wb.store_version(root=self.root)
        self._read_at = time.monotonic()
        try:
            frame = wb.runs(root=self.root, columns=["run_id", "name", "project", "status", "created"],
                            order_by="-created")
            versions = len(wb.artifacts(root=self.root))
            from workbench.jobs import list_jobs

            jobs = [j for j in list_jobs(self.root) if j.status in ("queued", "running")]
        except WorkbenchError as exc:
            _safe.set_html(self.counts, _safe.markup("<div class='wb-error' style='color:#b00'>{}</div>", exc))
            return
        by_status = frame["status"].value_counts().to_dict() if len(frame) else {}
        badges = _safe.join((
            _safe.markup("<span style='background:{};color:white;border-radius:8px;padding:2px 8px;"
                         "margin-right:6px'>{}: {}</span>", _format.status_color(s), tr(s), n)
            for s, n in sorted(by_status.items())), " ")
        _safe.set_html(self.counts, _safe.markup(
            "<div class='wb-counts'>{} {} · <b>{}</b> {}<div style='margin-top:6px'>{}</div></div>",
            len(frame), tr("runs"), versions, tr("artifact versions"), badges))
        rows = _safe.join(
            _safe.markup("<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td style='color:{}'>{}</td>"
                         "<td>{}</td></tr>", r.run_id, r.name, r.project, _format.status_color(r.status),
                         tr(str(r.status)), _format.when(r.created))
            for r in frame.head(10).itertuples()
        )
        _safe.set_html(self.recent, _safe.markup("<table class='wb-recent'>{}</table>", rows))
        if not jobs:
            self.jobs.objects = [_safe.html_pane(_html.note(tr("No jobs running or queued.")))]
        else:
            items = []
            for job in jobs:
                progress = job.progress
                items.append(pn.Row(
                    _safe.html_pane(_safe.markup("{} <span style='color:{}'>{}</span>",
                                                 job.record.get("name") or job.run_id,
                                                 _format.status_color(job.status), tr(job.status)), width=320),
                    pn.indicators.Progress(value=int(progress * 100) if progress is not None else -1, max=100,
                                           width=240),
                ))
            self.jobs.objects = items


def _overview(app: WebApp) -> Any:
    view = Overview(app.root)
    _periodic(view.tick, app.root)
    return view.layout


def _periodic(callback: Callable[[], None], root: Path) -> None:
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.add_periodic_callback(callback, period=int(load_settings(root).ui_refresh * 1000))


# ---------------------------------------------------------------- settings
class SettingsPage:
    """The store's settings that people change from the app, saved to workbench.toml."""

    def __init__(self, root: Path, locked: str | None = None) -> None:
        self.root = root
        self.locked = locked  # why saving is refused (the app runs without a token), or None
        settings = load_settings(root)
        self.slots = pn.widgets.IntInput(name=tr("Worker slots"), value=settings.job_slots, start=1, end=1024)
        self.language = pn.widgets.Select(name=tr("Language"), options=["auto", "en", "zh"],
                                          value=settings.ui_language)
        self.refresh = pn.widgets.FloatInput(name=tr("Refresh every (s)"), value=settings.ui_refresh, start=0.1)
        self.save = pn.widgets.Button(name=tr("Save"), button_type="primary")
        self.message = _safe.html_pane()
        self.save.on_click(lambda _event: self.on_save())
        remotes = settings.extra.get("remotes") or {}
        remote_rows = [[name, f"{t.get('user') or ''}@{t.get('host')}:{t.get('port', 22)}", t.get("root") or ""]
                       for name, t in sorted(remotes.items()) if isinstance(t, dict)]
        self.layout = pn.Column(
            _safe.heading(tr("Settings")),
            _safe.html_pane(_safe.markup("<b>{}</b>: <code>{}</code>", tr("Store"), root)),
            self.slots, self.language, self.refresh, self.save, self.message,
            _safe.heading(tr("Recipe defaults"), 3), _safe.html_pane(self._recipes(settings)),
            _safe.heading(tr("Remotes"), 3),
            _safe.html_pane(_html.table(remote_rows, empty=tr("No remotes yet: add one on the Remotes page."))),
            sizing_mode="stretch_width",
        )

    @staticmethod
    def _recipes(settings: Any) -> _safe.Markup:
        from workbench.jobs import get_recipe, recipe_names

        overrides = settings.extra.get("recipes") or {}
        rows = []
        for name in recipe_names():
            recipe = get_recipe(name)
            mine = overrides.get(name) or {}
            values = ", ".join(
                f"{f.name}={mine.get(f.name, f.default)!r}" for f in recipe.fields if f.name in mine or f.default
                is not None
            )
            rows.append(_safe.markup("<tr><td><b>{}</b></td><td><code>{}</code></td></tr>", name, values))
        return _safe.markup("<table class='wb-recipes'>{}</table>", _safe.join(rows))

    def on_save(self) -> None:
        if self.locked is not None:
            _safe.set_html(self.message, _safe.markup("<div class='wb-error' style='color:#b00'>{}: {}</div>",
                                                      tr("Save"), self.locked))
            return
        try:
            save_settings(self.root, job_slots=self.slots.value, ui_language=self.language.value,
                          ui_refresh=self.refresh.value)
        except WorkbenchError as exc:
            _safe.set_html(self.message, _safe.markup("<div class='wb-error' style='color:#b00'>{}</div>", exc))
            return
        _safe.set_html(self.message, _safe.markup("<div style='color:#2ca02c'>{}</div>", tr("Saved.")))


def _settings(app: WebApp) -> Any:
    return SettingsPage(app.root, locked=app.locked).layout


# ---------------------------------------------------------------- component pages
def _runs(app: WebApp) -> Any:
    compare = pn.widgets.Button(name=tr("Compare selected"), button_type="primary", width=160)
    detail = pn.widgets.Button(name=tr("Open detail"), width=160)
    compare.on_click(lambda _e: app.show("compare"))
    detail.on_click(lambda _e: app.show("detail"))
    browser = _locked(app, app.browser)  # bulk tags and deletes: refused without a token
    return pn.Column(_safe.heading(tr("Runs")), pn.Row(compare, detail), browser.panel(),
                     sizing_mode="stretch_width")


def _compare(app: WebApp) -> Any:
    metrics = ui.MetricCompare(app.browser, root=app.root)
    diff = ui.ConfigDiff(app.browser, root=app.root)
    coords = ui.ParallelCoordinates(app.browser, root=app.root)
    panels = _locked(app, ui.MetricPanels(app.browser, root=app.root))  # a chart per key; layout saved
    app.compare_view(metrics)  # the address's keys, smoothing, x axis, group by; it follows them
    app.panels_view("compare", panels.model)
    tabs = lazy_tabs((tr("Metrics"), metrics.panel), (tr("All metrics"), panels.panel),
                     (tr("Config diff"), diff.panel), (tr("Parallel coordinates"), coords.panel),
                     (tr("Media"), lambda: ui.MediaPanels(app.browser, root=app.root).panel()))  # made on first click
    return pn.Column(_safe.heading(tr("Compare")), tabs, sizing_mode="stretch_width")


def lazy_tabs(*tabs: tuple[str, Callable[[], Any]]) -> Any:
    """Tabs whose views are made when first opened: the first now, each other one on its first
    click (a hidden tab's charts cost the page's first answer about 0.1-0.4 s each on 10,000 runs,
    docs/performance.md). The views are made in the session's language."""
    language = _i18n.language()
    holders = [pn.Column(sizing_mode="stretch_width") for _ in tabs]
    made: set[int] = set()

    def make(index: int) -> None:
        if index in made or not 0 <= index < len(tabs):
            return
        made.add(index)
        with _i18n.use_language(language):
            holders[index].objects = [tabs[index][1]()]

    make(0)
    widget = pn.Tabs(*((title, holder) for (title, _), holder in zip(tabs, holders, strict=True)),
                     dynamic=True, sizing_mode="stretch_width")
    widget.param.watch(lambda event: make(event.new), "active")
    return widget


def _locked(app: WebApp, component: Any) -> Any:
    """``component``, refusing every action that changes anything when the app has no token."""
    component.lock(app.locked)
    return component


def _detail(app: WebApp) -> Any:
    detail = _locked(app, ui.RunDetail(app.browser, root=app.root))
    detail.on_open_run(lambda run_id: app.select_runs([run_id]))  # a lineage link: the app's selection follows
    app.panels_view("detail", detail.model.metrics)
    pick = pn.widgets.Button(label=tr("Pick a run on the Runs page"), color="primary", width=240,
                             visible=detail.run_id is None)
    pick.on_click(lambda _e: app.show("runs"))
    detail.model.observe(lambda _fields: setattr(pick, "visible", detail.run_id is None))
    return pn.Column(_safe.heading(tr("Run detail")), detail.panel(), pick, sizing_mode="stretch_width")


def _artifacts(app: WebApp) -> Any:
    browser = _locked(app, ui.ArtifactBrowser(root=app.root))
    if hasattr(browser, "on_open_run"):
        browser.on_open_run = lambda run_id: app.select_runs([run_id], page="detail")
    return pn.Column(_safe.heading(tr("Artifacts")), browser.panel(), sizing_mode="stretch_width")


def _jobs(app: WebApp) -> Any:
    form = _locked(app, ui.LaunchForm(root=app.root, monitor=True,  # the monitor shows below the form
                                      project=app.query.get("project") or None))  # ?project= is current
    return pn.Column(_safe.heading(tr("Jobs")), form.panel(), sizing_mode="stretch_width")


def _remotes(app: WebApp) -> Any:
    return pn.Column(_safe.heading(tr("Remotes")), _locked(app, ui.SyncPanel(root=app.root)).panel(),
                     sizing_mode="stretch_width")


_BUILDERS: dict[str, Callable[[WebApp], Any]] = {
    "overview": _overview,
    "runs": _runs,
    "compare": _compare,
    "detail": _detail,
    "artifacts": _artifacts,
    "jobs": _jobs,
    "remotes": _remotes,
    "settings": _settings,
}
