"""Issue 14: the Runs table in headless Chromium against a real ``panel serve`` of the web app.

One server, one walk: the default columns show what varies and what was logged; a column added in
the chooser survives a reload; the CSV downloaded through the browser holds every matching run;
bulk delete asks first and deletes only after the confirmation; a run name opens its Run detail.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _browser import chromium, panel_app, shots  # noqa: F401 - shots is a fixture

import workbench as wb
from tests.ui._stores import make_run

pytestmark = pytest.mark.slow

TITLES = """() => {
  const out = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      if (el.classList && el.classList.contains('tabulator-col-title')) out.push(el.textContent.trim());
    }
  };
  walk(document);
  return out;
}"""


def _store(root: Path) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "workbench.toml").write_text("ui_refresh = 0.5\n")
    ids = []
    for i, lr in enumerate((0.1, 0.03, 0.01, 0.003)):
        run = make_run(root, project="sweep", name=f"lr-{lr}", config={"lr": lr, "seed": 7, "arch": "mlp"},
                       metrics={"loss": [1.0 / (s + 1 + i) for s in range(3)], "val_acc": [0.6 + 0.1 * i]})
        ids.append(run.id)
    return ids


def _wait(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert check(), "timed out"


def test_runs_table_columns_csv_delete_and_links(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    ids = _store(root)
    with panel_app(root, tmp_path) as server, chromium(shots) as b:
        page = b.page
        page.goto(server.link("page=runs"))
        page.wait_for_selector(".tabulator-row")
        titles = page.evaluate(TITLES)
        assert "config.lr" in titles and "summary.val_acc" in titles, titles
        assert "config.seed" not in titles and "config.arch" not in titles, titles  # the same in every run

        # add a column in the chooser; it is still there after a reload (a new session)
        page.locator(".choices__inner").first.click()
        page.locator(".choices__item--choice", has_text="config.seed").first.click()
        page.wait_for_function(f"() => ({TITLES})().includes('config.seed')")
        page.keyboard.press("Escape")
        page.reload()
        page.wait_for_selector(".tabulator-row")
        page.wait_for_function(f"() => ({TITLES})().includes('config.seed')")
        b.shot("runs-table-columns")

        # the CSV of the current view, through the browser's download
        with page.expect_download() as download:
            page.get_by_role("button", name="Download CSV").click()
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
        assert rows[0][:3] == ["run_id", "status", "name"] and "config.seed" in rows[0], rows[0]
        assert sorted(r[0] for r in rows[1:]) == sorted(ids)
        assert {r[rows[0].index("config.seed")] for r in rows[1:]} == {"7"}

        # bulk delete: one click asks, nothing is deleted until the confirmation
        row = page.locator(".tabulator-row", has_text="lr-0.1").first
        row.locator("input[type=checkbox]").click()
        page.get_by_role("button", name="Delete 1 run").click()
        page.get_by_text("Confirm delete of 1 run: lr-0.1").wait_for()
        page.wait_for_timeout(500)
        assert len(wb.runs(root=root)) == 4
        b.shot("runs-table-confirm-delete")
        page.get_by_role("button", name="Confirm delete", exact=True).click()
        _wait(lambda: len(wb.runs(root=root)) == 3)
        assert ids[0] not in set(wb.runs(root=root)["run_id"])
        _wait(lambda: page.locator(".tabulator-row").count() == 3)  # the table follows
        page.get_by_text("Deleted 1 run", exact=True).wait_for()

        # a run name is a link to its Run detail
        page.locator("a.wb-link", has_text="lr-0.01").first.click()
        page.wait_for_url(f"**page=detail**runs={ids[2]}**")
        page.get_by_text(ids[2]).first.wait_for()
        b.shot("runs-table-detail-link")
        assert b.outside == []
