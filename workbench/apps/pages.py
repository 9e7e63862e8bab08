"""The pages of the web app: each a Panel layout over components of :mod:`workbench.ui`.

Overview and Settings are the app's own; the others place the components' Panel views.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import panel as pn

import workbench as wb
from workbench import ui
from workbench.config import load_settings, save_settings
from workbench.errors import WorkbenchError
from workbench.ui import _format, _i18n
from workbench.ui._i18n import tr

if TYPE_CHECKING:
    from workbench.apps.webapp import WebApp

_i18n.add_zh(
    {
        "Runs by status": "按状态统计运行",
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
        "Metrics": "指标",
        "Config diff": "配置差异",
        "Parallel coordinates": "平行坐标",
    }
)


def run_browser(root: Path, query: dict[str, str]) -> Any:
    browser = ui.RunBrowser(root=root, where=query.get("where") or "", page_size=25)
    runs = [r for r in query.get("runs", "").split(",") if r]
    if runs:
        browser.selection.set(runs)
    return browser


def build(key: str, app: WebApp) -> Any:
    return _BUILDERS[key](app)


def _error(text: str) -> Any:
    return pn.pane.Alert(text, alert_type="danger")


# ---------------------------------------------------------------- overview
class Overview:
    """Counts, recent activity and running jobs; refreshed every ``ui_refresh`` seconds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.counts = pn.pane.HTML(sizing_mode="stretch_width")
        self.recent = pn.pane.HTML(sizing_mode="stretch_width")
        self.jobs = pn.Column(sizing_mode="stretch_width")
        self.layout = pn.Column(
            pn.pane.Markdown(f"## {tr('Overview')}"), self.counts,
            pn.pane.Markdown(f"### {tr('Jobs running or queued')}"), self.jobs,
            pn.pane.Markdown(f"### {tr('Recent runs')}"), self.recent, sizing_mode="stretch_width",
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
            self.counts.object = f"<div class='wb-error' style='color:#b00'>{html.escape(str(exc))}</div>"
            return
        by_status = frame["status"].value_counts().to_dict() if len(frame) else {}
        badges = " ".join(
            f"<span style='background:{_format.status_color(s)};color:white;border-radius:8px;padding:2px 8px;"
            f"margin-right:6px'>{html.escape(tr(s))}: {n}</span>" for s, n in sorted(by_status.items())
        )
        self.counts.object = (
            f"<div class='wb-counts'>{len(frame)} {tr('runs')} · <b>{versions}</b> {tr('artifact versions')}"
            f"<div style='margin-top:6px'>{badges}</div></div>"
        )
        rows = "".join(
            f"<tr><td><code>{html.escape(str(r.run_id))}</code></td><td>{html.escape(str(r.name))}</td>"
            f"<td>{html.escape(str(r.project))}</td>"
            f"<td style='color:{_format.status_color(r.status)}'>{html.escape(tr(str(r.status)))}</td>"
            f"<td>{_format.when(r.created)}</td></tr>"
            for r in frame.head(10).itertuples()
        )
        self.recent.object = f"<table class='wb-recent'>{rows}</table>"
        if not jobs:
            self.jobs.objects = [pn.pane.HTML(f"<i>{tr('No jobs running or queued.')}</i>")]
        else:
            items = []
            for job in jobs:
                progress = job.progress
                items.append(pn.Row(
                    pn.pane.HTML(f"{html.escape(str(job.record.get('name') or job.run_id))} "
                                 f"<span style='color:{_format.status_color(job.status)}'>{tr(job.status)}</span>",
                                 width=320),
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

    def __init__(self, root: Path) -> None:
        self.root = root
        settings = load_settings(root)
        self.slots = pn.widgets.IntInput(name=tr("Worker slots"), value=settings.job_slots, start=1, end=1024)
        self.language = pn.widgets.Select(name=tr("Language"), options=["auto", "en", "zh"],
                                          value=settings.ui_language)
        self.refresh = pn.widgets.FloatInput(name=tr("Refresh every (s)"), value=settings.ui_refresh, start=0.1)
        self.save = pn.widgets.Button(name=tr("Save"), button_type="primary")
        self.message = pn.pane.HTML("")
        self.save.on_click(lambda _event: self.on_save())
        remotes = settings.extra.get("remotes") or {}
        remote_rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(str(t.get('user') or ''))}@"
            f"{html.escape(str(t.get('host')))}:{html.escape(str(t.get('port', 22)))}</td>"
            f"<td>{html.escape(str(t.get('root') or ''))}</td></tr>"
            for name, t in sorted(remotes.items()) if isinstance(t, dict)
        )
        self.layout = pn.Column(
            pn.pane.Markdown(f"## {tr('Settings')}"),
            pn.pane.HTML(f"<b>{tr('Store')}</b>: <code>{html.escape(str(root))}</code>"),
            self.slots, self.language, self.refresh, self.save, self.message,
            pn.pane.Markdown(f"### {tr('Recipe defaults')}"), pn.pane.HTML(self._recipes(settings)),
            pn.pane.Markdown(f"### {tr('Remotes')}"),
            pn.pane.HTML(f"<table>{remote_rows}</table>" if remote_rows
                         else f"<i>{tr('No remotes yet: add one on the Remotes page.')}</i>"),
            sizing_mode="stretch_width",
        )

    @staticmethod
    def _recipes(settings: Any) -> str:
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
            rows.append(f"<tr><td><b>{html.escape(name)}</b></td><td><code>{html.escape(values)}</code></td></tr>")
        return f"<table class='wb-recipes'>{''.join(rows)}</table>"

    def on_save(self) -> None:
        try:
            save_settings(self.root, job_slots=self.slots.value, ui_language=self.language.value,
                          ui_refresh=self.refresh.value)
        except WorkbenchError as exc:
            self.message.object = f"<div class='wb-error' style='color:#b00'>{html.escape(str(exc))}</div>"
            return
        self.message.object = f"<div style='color:#2ca02c'>{tr('Saved.')}</div>"


def _settings(app: WebApp) -> Any:
    return SettingsPage(app.root).layout


# ---------------------------------------------------------------- component pages
def _runs(app: WebApp) -> Any:
    compare = pn.widgets.Button(name=tr("Compare selected"), button_type="primary", width=160)
    detail = pn.widgets.Button(name=tr("Open detail"), width=160)
    compare.on_click(lambda _e: app.show("compare"))
    detail.on_click(lambda _e: app.show("detail"))
    return pn.Column(pn.pane.Markdown(f"## {tr('Runs')}"), pn.Row(compare, detail), app.browser.panel(),
                     sizing_mode="stretch_width")


def _compare(app: WebApp) -> Any:
    metrics = ui.MetricCompare(app.browser, root=app.root)
    diff = ui.ConfigDiff(app.browser, root=app.root)
    coords = ui.ParallelCoordinates(app.browser, root=app.root)
    tabs = pn.Tabs((tr("Metrics"), metrics.panel()), (tr("Config diff"), diff.panel()),
                   (tr("Parallel coordinates"), coords.panel()), dynamic=True, sizing_mode="stretch_width")
    return pn.Column(pn.pane.Markdown(f"## {tr('Compare')}"), tabs, sizing_mode="stretch_width")


def _detail(app: WebApp) -> Any:
    detail = ui.RunDetail(app.browser, root=app.root)
    if hasattr(detail, "on_open_run"):
        detail.on_open_run = lambda run_id: app.select_runs([run_id])
    return pn.Column(pn.pane.Markdown(f"## {tr('Run detail')}"), detail.panel(), sizing_mode="stretch_width")


def _artifacts(app: WebApp) -> Any:
    browser = ui.ArtifactBrowser(root=app.root)
    if hasattr(browser, "on_open_run"):
        browser.on_open_run = lambda run_id: app.select_runs([run_id], page="detail")
    return pn.Column(pn.pane.Markdown(f"## {tr('Artifacts')}"), browser.panel(), sizing_mode="stretch_width")


def _jobs(app: WebApp) -> Any:
    form = ui.LaunchForm(root=app.root, monitor=True)  # the monitor shows below the form
    return pn.Column(pn.pane.Markdown(f"## {tr('Jobs')}"), form.panel(), sizing_mode="stretch_width")


def _remotes(app: WebApp) -> Any:
    return pn.Column(pn.pane.Markdown(f"## {tr('Remotes')}"), ui.SyncPanel(root=app.root).panel(),
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
