"""Issue 15, acceptance 3: media panels in headless Chromium, in ``panel serve`` (Compare's Media
tab and Run detail's), in Voila (notebooks/media.ipynb) and in a JupyterLab notebook.

One store of real logged media: 3 runs with images at 3 steps, a table with an image column, a
histogram over steps, text at steps and audio; captions, a table cell and a text line are
``<img src=x onerror=alert(1)>``, which must show as text and make no element.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from _browser import chromium, free_port, panel_app, shots, stop_group, wait_http  # noqa: F401 - shots: fixture
from conftest import wait_for
from test_jupyterlab import lab  # noqa: F401 - a fixture: a real jupyter lab serving tmp_path

import tests.ui.test_media_model as media_tests

pytestmark = pytest.mark.slow
HOSTILE = media_tests.HOSTILE

# every element matching a selector, through shadow roots (Panel renders panes in them)
DEEP_JS = """(sel) => { const out = [];
  const walk = (root) => { for (const el of root.querySelectorAll('*')) {
    if (el.matches(sel)) out.push(el); if (el.shadowRoot) walk(el.shadowRoot); } };
  walk(document); return out; }"""


# how many elements match ``inner`` under an element matching ``outer`` (shadow roots crossed)
INSIDE_JS = """([outer, inner]) => { let n = 0;
  const walk = (root, inside) => { for (const el of root.querySelectorAll('*')) {
    const here = inside || el.closest(outer) !== null; if (here && el.matches(inner)) n++;
    if (el.shadowRoot) walk(el.shadowRoot, here); } };
  walk(document, false); return n; }"""


def _deep(page: Any, selector: str, what: str = "el => el.outerHTML") -> list[Any]:
    return list(page.evaluate(f"(sel) => ({DEEP_JS})(sel).map({what})", selector))


def _captions(page: Any) -> list[str]:
    return sorted(_deep(page, ".wb-media-grid .wb-media-caption", "el => el.textContent"))


def _no_injection(page: Any, dialogs: list[str]) -> None:
    assert _deep(page, 'img[src="x"]') == [], "a caption, cell or text became an element"
    assert page.evaluate("() => window.__wb_xss === undefined")
    assert dialogs == []


def _check_media(page: Any, dialogs: list[str], *, panel: bool) -> None:
    """What every surface must show (the Media panels are on screen)."""
    page.locator(".wb-media-grid").first.wait_for(timeout=60_000)
    wait_for(lambda: len(_deep(page, '.wb-media-grid img[src^="data:image/png;base64,"]')) == 3, 30,
             "3 runs' images")
    wait_for(lambda: all("step 20" in c for c in _captions(page)), 30, "the latest step's captions")
    assert all(HOSTILE in c for c in _captions(page))  # the caption as text
    # one step back: every run's image of step 10
    page.locator(".wb-media-image").first.get_by_role("button", name="◀").first.click()
    wait_for(lambda: [c.split(" <")[0] for c in _captions(page)] == [f"run {r} step 10" for r in range(3)], 30,
             "step 10's images")
    # a histogram heatmap is drawn
    plot = "canvas" if panel else "svg"
    wait_for(lambda: page.evaluate(INSIDE_JS, [".wb-media-histogram", plot]) >= 1, 30, "a histogram plot")
    # the text diff: - lines of one run, + lines of the other
    lines = _deep(page, ".wb-diff-line", "el => el.textContent")
    assert "- run 0 says 20" in lines and "+ run 1 says 20" in lines, lines
    assert any(HOSTILE in line for line in lines)
    # a player per sound
    assert len(_deep(page, 'audio[src^="data:audio/wav;base64,"]')) == 9
    _no_injection(page, dialogs)


def _check_panel_table(page: Any) -> None:
    """Tabulator: sort by score (descending), filter names, image cells as <img>."""
    table = page.locator(".wb-media-tabulator").first
    table.locator(".tabulator-row").first.wait_for(timeout=30_000)
    cells = table.locator(".tabulator-row .tabulator-cell[tabulator-field=name]")
    names = cells.all_inner_texts  # one read: rows come and go while filtering
    assert sorted(names()) == sorted(["beta", "alpha", HOSTILE])
    title = table.locator(".tabulator-col[tabulator-field=score] .tabulator-col-title")
    title.click()
    wait_for(lambda: names() in (["beta", HOSTILE, "alpha"], ["alpha", HOSTILE, "beta"]), 20, "sorted by score")
    if names()[0] == "beta":
        title.click()
    wait_for(lambda: names() == ["alpha", HOSTILE, "beta"], 20, "sorted by score, descending")
    search = table.locator(".tabulator-col[tabulator-field=name] input")
    search.click()
    search.press_sequentially("bet", delay=50)  # Tabulator filters on key presses
    wait_for(lambda: names() == ["beta"], 20, "filtered to beta")
    images = table.locator(".tabulator-cell[tabulator-field=picture] img")
    assert images.count() == 1 and (images.first.get_attribute("src") or "").startswith("data:image/png;base64,")


def test_media_in_panel_serve(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    ids = media_tests.media_store(root)
    with panel_app(root, tmp_path) as server, chromium(shots) as b:
        page, dialogs = b.page, []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server.link(f"page=compare&runs={','.join(ids)}"))
        page.get_by_text("Media", exact=True).first.click(timeout=60_000)
        _check_media(page, dialogs, panel=True)
        _check_panel_table(page)
        b.shot("media-compare")
        _no_injection(page, dialogs)
        # Run detail shows a Media tab for a run with media
        page.goto(server.link(f"page=detail&runs={ids[0]}"))
        page.get_by_text("Media", exact=True).first.click(timeout=60_000)
        wait_for(lambda: len(_deep(page, '.wb-media-grid img[src^="data:image/png;base64,"]')) == 1, 30,
                 "the run's image")
        b.shot("media-detail")
        _no_injection(page, dialogs)
        assert b.outside == [], f"pages reached outside the machine: {b.outside}"


def test_media_in_voila(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    from workbench.apps.dashboard import dashboard_token, find_notebook, voila_command, voila_env

    ids = media_tests.media_store(root)
    port, token = free_port(), dashboard_token()
    log = tmp_path / "voila.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(voila_command(find_notebook("media"), port, cull=True), env=voila_env(root, token),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    try:
        wait_http(f"http://127.0.0.1:{port}/?token={token}", 120, proc)
        with chromium(shots) as b:
            page, dialogs = b.page, []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(f"http://127.0.0.1:{port}/?token={token}", timeout=120_000)
            page.wait_for_selector(".jupyter-widgets", timeout=120_000)
            page.locator("text=/Runs 1-/").first.wait_for(timeout=120_000)  # the three newest runs selected
            _check_media(page, dialogs, panel=False)
            b.shot("media-voila")
            assert b.outside == [], f"pages reached outside the machine: {b.outside}"
    finally:
        stop_group(proc)
    del ids


def test_media_in_a_jupyterlab_notebook(lab: Any, root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    """notebooks/media.ipynb opened in a real JupyterLab and run there (Run > Run All Cells): the
    notebook views of the same panels, through Lab's own widget manager."""
    import shutil

    from test_jupyterlab import TOKEN

    from workbench.apps.dashboard import find_notebook

    media_tests.media_store(root)
    shutil.copyfile(find_notebook("media"), tmp_path / "media.ipynb")  # the lab serves tmp_path
    with chromium(shots) as b:
        page, dialogs = b.page, []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{lab.url}/lab/tree/media.ipynb?token={TOKEN}", timeout=120_000)
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=120_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)  # the kernel is up
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        page.locator(".jupyter-widgets").first.wait_for(timeout=120_000)
        page.locator("text=/Runs 1-/").first.wait_for(timeout=120_000)  # the three newest runs selected
        _check_media(page, dialogs, panel=False)
        b.shot("media-jupyterlab")
        assert b.outside == [], f"pages reached outside the machine: {b.outside}"
