"""Issue 11: every view shows stored text as text, never as markup (no browser: the models' HTML).

Every component is rendered, in both toolkits, over a store whose every text field holds a
payload of ``tests/_hostile.py``. Then every property a browser would parse as HTML is checked:
Panel HTML panes (Markdown and Alert panes end up there too), Tabulator column titles and
template formatters, MultiChoice option labels (Choices.js renders them as HTML), and the
``value`` of every ipywidgets HTML widget. None may hold an element or attribute the views do not
write themselves, and together they must show every payload as text. A view that forgets the
rule fails here (see also ``tests/ui/test_structure.py``); the browser test in
``tests/apps/test_hostile_browser.py`` runs the same store in Chromium.
"""

from __future__ import annotations

import html
import html.parser
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _failures import failing_run
from _hostile import PAYLOADS, hostile_store, unsafe_markup
from conftest import require_module

import workbench as wb
from tests.jobs._job_helpers import jobs_env, stop_everything  # noqa: F401 - a fixture
from workbench import ui

pytestmark = pytest.mark.usefixtures("jobs_env")


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _text(fragment: str) -> str:
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    return "".join(parser.parts)


def _panel_surfaces(layout: Any) -> Iterator[tuple[str, str]]:
    """(where, HTML a browser would parse) for every HTML-bearing property under a Panel layout."""
    from bokeh.models import Div, MultiChoice, TableColumn
    from bokeh.models.widgets.tables import HTMLTemplateFormatter
    from panel.models.markup import HTML

    root = layout.get_root()
    for model in root.references():
        if isinstance(model, HTML):
            yield "HTML pane", html.unescape(model.text)  # Panel sends it escaped; the browser unescapes
        elif isinstance(model, Div):
            yield "Div", model.text
        elif isinstance(model, TableColumn):
            yield "Tabulator title", model.title or ""
        elif isinstance(model, MultiChoice):
            for option in model.options:
                yield "MultiChoice option", option[1] if isinstance(option, (tuple, list)) else option
        elif isinstance(model, HTMLTemplateFormatter):
            assert "<%=" not in model.template, model.template


def _widget_surfaces(widget: Any) -> Iterator[tuple[str, str]]:
    import ipywidgets as widgets

    seen: set[int] = set()
    stack = [widget]
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        if isinstance(w, (widgets.HTML, widgets.HTMLMath)):
            yield "ipywidgets HTML", w.value
        if getattr(w, "description_allow_html", False):
            yield "ipywidgets description", w.description
        stack += [c for c in getattr(w, "children", ()) if isinstance(c, widgets.Widget)]
        for name in ("box", "layout", "children"):
            value = getattr(w, name, None)
            if isinstance(value, widgets.Widget):
                stack.append(value)


@pytest.fixture
def hostile(root: Path) -> Iterator[dict[str, Any]]:
    made = hostile_store(root)
    # a run that failed for real: its error, traceback, stderr and storage warnings are payloads
    made["failing"] = failing_run(root, "\n".join(PAYLOADS), stderr="\n".join(PAYLOADS))
    path = root / "runs" / made["failing"] / "run.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "warnings": PAYLOADS, "points_lost": 3}))
    meta = root.parent / "hostile-meta.txt"  # metadata keys and values (nested too) are payloads
    meta.write_text("x")
    made["meta"] = wb.log_artifact(meta, "hostile-meta", metadata={**{p: p for p in PAYLOADS}, "nested": PAYLOADS},
                                   root=root).ref
    for payload in PAYLOADS[:3]:  # jobs named by payloads, whose output is payloads
        wb.launch("script", config={"command": [sys.executable, "-c", f"print({chr(10).join(PAYLOADS)!r})"]},
                  name=payload, root=root)
    yield made
    stop_everything(root)


def _components(root: Path, made: dict[str, Any]) -> list[Any]:
    browser = ui.RunBrowser(root=root)
    browser.model.set_columns(list(browser.model.available))  # every config.* / summary.* key is a title
    browser.selection.set(made["runs"][:8])
    compare = ui.MetricCompare(browser, keys=PAYLOADS[:8], root=root)
    detail = ui.RunDetail(browser, root=root)
    failed = ui.RunDetail(made["runs"][1], root=root)  # a failed run: its error is a payload
    logs = ui.RunDetail(made["runs"][-1], root=root)  # captured stdout of payloads
    failing = ui.RunDetail(made["failing"], root=root)  # the failure box and the stderr tail
    artifacts = ui.ArtifactBrowser(root=root)
    artifacts.model.choose("hostile-model")
    datasets = ui.ArtifactBrowser(root=root)
    datasets.model.choose("hostile-data")
    metadata = ui.ArtifactBrowser(root=root)
    metadata.model.choose("hostile-meta")
    form = ui.LaunchForm(root=root, monitor=True)
    monitor = form.monitor.model if form.monitor is not None else None
    if monitor is not None and monitor.jobs:
        monitor.select(monitor.jobs[0]["run_id"])  # its logs: payload lines
    panels = ui.MetricPanels(browser, root=root)  # every payload a key: section headers, panel titles
    panels.model.show_more()
    return [browser, compare, panels, detail, failed, logs, failing, ui.ConfigDiff(browser, root=root),
            ui.ParallelCoordinates(browser, root=root), artifacts, datasets, metadata, form, ui.SyncPanel(root=root)]


def test_every_view_shows_hostile_store_text_as_text(root: Path, hostile: dict[str, Any]) -> None:
    require_module("panel")
    require_module("ipywidgets")
    components = _components(root, hostile)
    bad: list[str] = []
    shown: list[str] = []
    try:
        for component in components:
            name = type(component).__name__
            surfaces = list(_panel_surfaces(component.panel())) + list(_widget_surfaces(component.widget()))
            assert surfaces, f"{name} rendered no HTML surface at all"
            for where, fragment in surfaces:
                bad += [f"{name} {where}: {b}" for b in unsafe_markup(fragment)]
                shown.append(_text(fragment))
    finally:
        for component in components:
            component.close()
    assert not bad, "stored text reached a view as markup:\n" + "\n".join(bad[:40])
    everything = "\n".join(shown)
    missing = [p for p in PAYLOADS if p not in everything]
    assert not missing, f"payloads not shown as text anywhere: {missing}"


def test_an_unescaped_view_would_fail_this_check() -> None:
    """The checker itself: a payload put into HTML by hand is found, an escaped one is not."""
    from workbench.ui import _safe

    payload = PAYLOADS[0]
    assert unsafe_markup(f"<b>{payload}</b>")
    assert not unsafe_markup(_safe.markup("<b>{}</b>", payload))
    pane = _safe.html_pane(f"<b>{payload}</b>")  # a plain str: shown as text, so nothing to find
    assert not unsafe_markup(html.unescape(pane.get_root().text))
    assert payload in _text(html.unescape(pane.get_root().text))


def test_runs_table_groups_links_and_csv_keep_hostile_text_inert(root: Path, hostile: dict[str, Any]) -> None:
    """Issue 14: Tabulator writes group headers as HTML, run names are links, a CSV opens in a
    spreadsheet: each payload stays text in all three."""
    require_module("panel")
    import csv
    import io

    browser = ui.RunBrowser(root=root)
    try:
        browser.model.set_group("config.text")  # every payload is a group value
        browser.panel().get_root()
        view = browser._views[0]
        assert view.table.groupby == ["group"]
        headers = list(view.table.value["group"])  # what Tabulator puts into each header's innerHTML
        bad = [b for h in headers for b in unsafe_markup(h)]
        assert not bad, bad
        shown = "\n".join(_text(h) for h in headers)
        assert not [p for p in PAYLOADS if p not in shown]
        template = view.table.formatters["name"].template
        assert "<%=" not in template and template.count("<%-") == 2
        rows = list(csv.reader(io.StringIO(browser.model.csv())))
        cells = [c for r in rows for c in r]
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))
                    and not c.lstrip("-+").replace(".", "", 1).replace("e-", "", 1).isdigit()]
        assert all(p in cells or "'" + p in cells for p in PAYLOADS if "," not in p)  # run names
    finally:
        browser.close()


def test_compare_legend_groups_and_tooltips_keep_hostile_text_inert(root: Path, hostile: dict[str, Any]) -> None:
    """Issue 14: Compare's legend (HTML beside the charts), its group legend (values of a payload
    config key) and its tooltips (``@field`` values only, never a template) show payloads as text."""
    require_module("panel")
    require_module("ipywidgets")
    from bokeh.models import HoverTool

    compare = ui.MetricCompare(hostile["runs"][:12], keys=["loss", *PAYLOADS[:2]], root=root)
    try:
        shown: list[str] = []
        for group_by in (None, "config.text"):
            compare.model.set_group_by(group_by)
            surfaces = list(_panel_surfaces(compare.panel())) + list(_widget_surfaces(compare.widget()))
            bad = [b for _, fragment in surfaces for b in unsafe_markup(fragment)]
            assert not bad, bad
            shown += [_text(fragment) for _, fragment in surfaces]
            bokeh = [f for view in compare._views if hasattr(view, "sources") for f in view.figures]
            assert bokeh
            for figure in bokeh:
                for tool in figure.tools:
                    if isinstance(tool, HoverTool):
                        assert all(field.startswith("@") and " " not in field for _, field in tool.tooltips)
            names = [n for view in compare._views if hasattr(view, "sources") for chart in view.sources
                     for source in chart for n in source.data["name"]]
            assert any(PAYLOADS[0] in n for n in names)  # the tooltip's text column: Bokeh escapes it
        everything = "\n".join(shown)
        assert not [p for p in PAYLOADS[:12] if p not in everything]  # legend entries: runs, then groups
    finally:
        compare.close()

