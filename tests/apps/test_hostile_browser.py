"""Issue 11, acceptance 1: a store whose every text field holds hostile markup, in headless Chromium.

Every page and tab of the web app and every Voila dashboard is visited, every chooser opened and
the charts hovered; no payload may run (the sentinel ``window.__wb_xss`` stays unset and no dialog
opens) and every payload must be on the page as the text it is. Text is read from the DOM,
shadow roots included (Panel draws its widgets inside them); canvas-drawn text (Bokeh titles,
legends, axis labels, ipydatagrid cells) is not in the DOM and is safe by construction.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _browser import Browser, chromium, free_port, panel_app, shots, stop_group, wait_http  # noqa: F401 - shots: fixture
from _failures import failing_run
from _hostile import PAYLOADS, SENTINEL, hostile_store

import workbench as wb
from tests.jobs._job_helpers import jobs_env, stop_everything  # noqa: F401 - a fixture

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("jobs_env")]

#: every text node, input value and option of the page, shadow roots included; not script/style
PAGE_TEXT = """() => {
  const out = [];
  const walk = (root) => {
    const it = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    for (let n = it.currentNode; n; n = it.nextNode()) {
      if (n.nodeType === Node.TEXT_NODE) {
        const p = n.parentNode && n.parentNode.nodeName;
        if (p !== 'SCRIPT' && p !== 'STYLE') out.push(n.data);
      } else {
        if (n.shadowRoot) walk(n.shadowRoot);
        if (n.nodeName === 'INPUT' || n.nodeName === 'TEXTAREA') out.push(n.value);
      }
    }
  };
  walk(document);
  return out.join('\\n').replace(/\\u00a0/g, ' ');  // ipywidgets' Select shows spaces as no-break spaces
}"""

#: click every Choices.js chooser (MultiChoice), inside shadow roots too
OPEN_CHOOSERS = """() => {
  let n = 0;
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      if (el.classList && el.classList.contains('choices__inner')) { el.click(); n++; }
    }
  };
  walk(document);
  return n;
}"""


def _store(root: Path) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    # a remote whose root is a payload (its name must match [a-z0-9_-]: names are checked)
    (root / "workbench.toml").write_text(
        "ui_refresh = 1.0\ncancel_grace = 2.0\nscheduler_idle_exit = 30.0\n"
        f"[remotes.hostile]\nhost = \"127.0.0.1\"\nroot = {json.dumps('/srv/' + PAYLOADS[0])}\n"
        "python = \"/usr/bin/python3\"\n")
    made = hostile_store(root)
    # a run that failed for real: its error, traceback and stderr are payloads (RunDetail's failure box)
    made["failing"] = failing_run(root, "\n".join(PAYLOADS), stderr="\n".join(PAYLOADS))
    for payload in PAYLOADS[:3]:
        wb.launch("script", config={"command": [sys.executable, "-c", f"print({chr(10).join(PAYLOADS)!r})"]},
                  name=payload, root=root)
    return made


class _Watch:
    """Dialogs opened on a page, and the sentinel checked after each step."""

    def __init__(self, b: Browser) -> None:
        self.page = b.page
        self.dialogs: list[str] = []
        self.text: list[str] = []
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def check(self, where: str) -> None:
        self.page.wait_for_timeout(300)  # onerror handlers of broken images fire after a tick
        ran = self.page.evaluate(f"() => typeof window.{SENTINEL} !== 'undefined'")
        assert not ran, f"a payload ran as script on {where}"
        assert not self.dialogs, f"a payload opened a dialog on {where}: {self.dialogs}"
        self.text.append(self.page.evaluate(PAGE_TEXT))

    def missing(self) -> list[str]:
        everything = "\n".join(self.text)
        return [p for p in PAYLOADS if p not in everything]


def _click_tabs(page: Any, names: list[str], watch: _Watch, where: str) -> None:
    for name in names:
        tab = page.get_by_text(name, exact=True)
        if tab.count():
            tab.first.click()
            page.wait_for_timeout(800)
            watch.check(f"{where} / {name}")


def _hover_charts(page: Any) -> None:
    for canvas in page.locator("canvas").all()[:6]:
        box = canvas.bounding_box()
        if box and box["width"] > 50:
            for fx in (0.3, 0.5, 0.7):
                page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * 0.5)
                page.wait_for_timeout(150)


def test_web_app_shows_every_payload_as_text(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    made = _store(root)
    runs = made["runs"]
    with panel_app(root, tmp_path) as server, chromium(shots) as b:
        page, watch = b.page, _Watch(b)
        page.goto(server.link("page=overview"))
        page.wait_for_selector("text=Recent runs")
        watch.check("overview")

        page.goto(server.link("page=runs"))
        page.wait_for_selector(".tabulator-row")
        page.evaluate(OPEN_CHOOSERS)
        watch.check("runs, choosers open")
        page.get_by_role("button", name="Next ▶").click()
        page.wait_for_timeout(800)
        watch.check("runs, page 2")
        b.shot("hostile-runs")
        # issue 14: Tabulator writes group headers as HTML; every payload is a group value here
        page.locator("select", has=page.locator("option", has_text="no grouping")).select_option("config.text")
        page.wait_for_selector(".tabulator-group")
        watch.check("runs, grouped by a payload key")

        page.goto(server.link(f"page=compare&runs={','.join(runs[:8])}"))
        page.wait_for_selector("canvas")
        page.evaluate(OPEN_CHOOSERS)
        _hover_charts(page)
        watch.check("compare")
        _click_tabs(page, ["All metrics", "Config diff", "Parallel coordinates"], watch, "compare")
        page.evaluate(OPEN_CHOOSERS)
        _hover_charts(page)
        watch.check("compare, parallel coordinates")
        b.shot("hostile-compare")

        # failed (no error), captured output, a plain one, failed with a traceback and stderr
        for run_id in (runs[1], runs[-1], runs[2], made["failing"]):
            page.goto(server.link(f"page=detail&runs={run_id}"))
            page.wait_for_selector("text=Config")
            _hover_charts(page)  # the Metrics tab (first): a chart per payload key, hovered
            watch.check(f"detail {run_id}")
            _click_tabs(page, ["Summary", "Tags & notes", "Output", "System", "Artifacts"], watch, f"detail {run_id}")
        b.shot("hostile-detail")

        page.goto(server.link("page=artifacts"))
        page.wait_for_selector(".tabulator-row")
        for name in ("hostile-model", "hostile-data"):
            page.get_by_text(name, exact=True).first.click()
            page.wait_for_timeout(1500)
            watch.check(f"artifacts {name}")
        b.shot("hostile-artifacts")

        page.goto(server.link("page=jobs"))
        page.wait_for_selector("text=Launch")
        logs = page.get_by_role("button", name="Logs")
        if logs.count():
            logs.first.click()
            page.wait_for_timeout(1000)
        watch.check("jobs")

        for key in ("remotes", "settings"):
            page.goto(server.link(f"page={key}"))
            page.wait_for_timeout(2500)
            page.evaluate(OPEN_CHOOSERS)
            watch.check(key)
        b.shot("hostile-settings")
        assert b.outside == [], f"pages reached outside the machine: {b.outside}"
        missing = watch.missing()
        assert not missing, f"payloads not shown as text in the web app: {missing}"
    stop_everything(root)


@pytest.mark.parametrize("notebook", ["dashboard", "compare", "launch", "sync"])
def test_voila_dashboards_show_payloads_as_text(root: Path, tmp_path: Path, shots: Path,  # noqa: F811
                                               notebook: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from workbench.apps.dashboard import dashboard_token, find_notebook, voila_command, voila_env

    _store(root)
    port = free_port()
    token = dashboard_token()
    log = tmp_path / "voila.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(voila_command(find_notebook(notebook), port, cull=True), env=voila_env(root, token),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    try:
        wait_http(f"http://127.0.0.1:{port}/?token={token}", 120, proc)
        with chromium(shots) as b:
            page, watch = b.page, _Watch(b)
            page.goto(f"http://127.0.0.1:{port}/?token={token}", timeout=120_000)
            page.wait_for_selector(".jupyter-widgets", timeout=120_000)
            ready = {"dashboard": "Runs 1-", "compare": "Runs 1-", "launch": "Launch", "sync": "Sync"}[notebook]
            page.locator(f"text=/{ready}/").first.wait_for(timeout=120_000)
            if notebook in ("dashboard", "compare"):  # the choosers fill once their queries ran
                with contextlib.suppress(PlaywrightTimeout):  # the assertion below names what is missing
                    page.wait_for_function(f"() => {{ const t = ({PAGE_TEXT})(); "
                                           f"return {json.dumps(PAYLOADS)}.every(p => t.includes(p)); }}",
                                           timeout=60_000)
            page.wait_for_timeout(2000)  # the last cells' widgets
            _hover_charts(page)
            watch.check(f"voila {notebook}")
            for tab in page.locator(".lm-TabBar-tab, .p-TabBar-tab").all():
                if tab.is_visible():  # Run detail hides its tabs until a run is picked
                    tab.click()
                    page.wait_for_timeout(300)
            watch.check(f"voila {notebook}, every tab")
            b.shot(f"hostile-voila-{notebook}")
            assert b.outside == [], f"pages reached outside the machine: {b.outside}"
            if notebook in ("dashboard", "compare"):  # their column and metric choosers list every key
                missing = watch.missing()
                assert not missing, f"payloads not shown as text in voila {notebook}: {missing}"
    finally:
        stop_group(proc)
        stop_everything(root)
