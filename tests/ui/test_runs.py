"""RunBrowser: the model and both renderings driven in Python over a real store."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb
from tests.conftest import require_module
from tests.ui._stores import fill, make_run
from workbench.ui import RunBrowser, Selection
from workbench.ui._format import STATUS_COLORS


@pytest.fixture
def store(root: Path) -> tuple[Path, list[str]]:
    ids = fill(root, 12)
    make_run(root, name="broken-one", config={"lr": 0.5}, tags=["bad"], metrics={"loss": [3.0]}, fail=True)
    return root, ids


def test_model_filter_sort_page_search(store: tuple[Path, list[str]]) -> None:
    root, _ = store
    browser = RunBrowser(root=root, page_size=5, columns=["config.lr", "summary.loss"], refresh=60)
    model = browser.model
    assert (model.total, model.matched, model.pages) == (13, 13, 3)
    assert model.shown_columns[:6] == ["status", "name", "project", "created", "duration", "tags"]
    assert model.status_text == "Runs 1-5 of 13 matching (13 in all) · page 1 of 3"
    model.set_where("config.lr < 0.005")
    assert model.error is None and model.matched == 6
    assert all(v < 0.005 for v in model.rows["config.lr"])
    model.sort_by("summary.loss", descending=False)
    losses = list(model.rows["summary.loss"])
    assert losses == sorted(losses)
    model.sort_by("summary.loss")  # same column again: flips
    flipped = list(model.rows["summary.loss"])
    assert model.descending and flipped == sorted(flipped, reverse=True) and flipped[0] > losses[-1]
    model.next_page()
    assert model.page == 1 and len(model.rows) == 1 and model.status_text.startswith("Runs 6-6 of 6")
    model.next_page()  # past the end: stays
    assert model.page == 1
    model.set_where("")
    model.set_search("GROUP1")  # a tag, case-insensitive substring
    assert model.matched == 4 and all("group1" in tags for tags in model.rows["tags"])
    model.set_search("broken")
    assert list(model.rows["name"]) == ["broken-one"] and list(model.rows["status"]) == ["failed"]
    model.set_search("")
    some_id = model.page_ids[3]
    model.set_search(some_id[-6:].upper())  # an id substring
    assert some_id in model.page_ids and model.matched >= 1
    model.set_search("")
    assert model.matched == 13


def test_invalid_filter_shows_message_and_keeps_table(store: tuple[Path, list[str]]) -> None:
    root, _ = store
    model = RunBrowser(root=root, refresh=60).model
    before = list(model.page_ids)
    model.set_where("lr < 3")
    assert model.error is not None and model.error.startswith("Filter: unknown field 'lr'")
    assert "did you mean config.lr" in model.error
    assert model.page_ids == before and model.where == ""
    model.sort_by("config.nope")  # sorting by a key no run has is fine (all null)
    assert model.error is None
    model.sort_by("+++")
    assert model.error is not None and model.error.startswith("Sort:")
    model.set_where("status = 'failed'")
    assert model.error is None and model.matched == 1


def test_selection_and_selected_frame(store: tuple[Path, list[str]]) -> None:
    root, _ = store
    shared = Selection()
    browser = RunBrowser(root=root, page_size=4, selection=shared, refresh=60)
    assert browser.selection is shared
    first = browser.model.page_ids[:2]
    browser.model.select_on_page(first)
    browser.model.next_page()
    browser.model.select_on_page(browser.model.page_ids[:1])  # picks on page 1 stay
    assert shared.run_ids == [*first, browser.model.page_ids[0]]
    frame = browser.selected
    assert list(frame["run_id"]) == shared.run_ids
    assert {"config.lr", "summary.loss", "status"} <= set(frame.columns)
    browser.model.select([])
    assert browser.selected.empty


def test_ipywidgets_view(store: tuple[Path, list[str]]) -> None:
    require_module("ipydatagrid")
    root, _ = store
    browser = RunBrowser(root=root, page_size=5, columns=["config.lr", "summary.loss"], refresh=60)
    view = browser._views[0] if browser._views else None
    assert view is None
    browser.widget()
    view = browser._views[0]
    try:
        assert list(view.grid.data.columns)[:3] == ["status", "name", "project"]
        assert len(view.grid.data) == 5 and "page 1 of 3" in view.info.value
        renderer = view.grid.renderers["status"]
        assert STATUS_COLORS["failed"] in renderer.text_color.value
        view.where.value = "config.lr < 0.005"
        assert len(view.grid.data) == 5 and "of 6 matching" in view.info.value
        assert all(float(v) < 0.005 for v in view.grid.data["config.lr"])
        view.where.value = "lr <"  # invalid: red message, no traceback, table kept
        assert "unknown field" in view.error.value and "#d62728" in view.error.value
        assert "Traceback" not in view.error.value and len(view.grid.data) == 5
        view.where.value = ""
        assert view.error.value == ""
        view.descending.value = False
        view.sort.value = "name"
        names = list(view.grid.data["name"])
        assert names == sorted(names) and names[0] == "broken-one"
        view.next.click()
        assert browser.model.page == 1 and "page 2 of 3" in view.info.value
        view.previous.click()
        view.grid.selections = [{"r1": 1, "r2": 2, "c1": 0, "c2": 3}]
        assert browser.selection.run_ids == browser.model.page_ids[1:3]
        assert list(browser.selected["name"]) == names[1:3]
        view.columns.value = ("config.batch",)
        assert "config.batch" in view.grid.data.columns and "summary.loss" not in view.grid.data.columns
        assert [r["r1"] for r in view.grid.selections] == [1, 2]  # selection survives a redraw
    finally:
        browser.close()


def test_panel_view(store: tuple[Path, list[str]]) -> None:
    require_module("panel")
    root, _ = store
    browser = RunBrowser(root=root, page_size=5, columns=["config.lr"], refresh=60)
    layout = browser.panel()
    view = browser._views[0]
    try:
        layout.get_root()  # builds the Bokeh models
        table = view.table
        assert list(table.value.columns) == ["status", "name", "project", "created", "duration", "tags", "config.lr"]
        assert len(table.value) == 5 and "page 1 of 3" in view.info.object
        assert "#d62728" in table.formatters["status"].template
        view.where.value = "tags contains 'odd'"
        assert len(table.value) == 5 and "of 6 matching" in view.info.object
        view.where.value = "config.lr <<< 1"
        assert view.error.visible and "Filter:" in view.error.object
        view.where.value = ""
        assert not view.error.visible
        view.descending.value = False
        view.sort.value = "config.lr"
        lrs = [float(v) for v in table.value["config.lr"]]
        assert lrs == sorted(lrs)
        view.next.clicks += 1
        assert "page 2 of 3" in view.info.object
        table.selection = [0, 3]
        ids = browser.model.page_ids
        assert browser.selection.run_ids == [ids[0], ids[3]]
        browser.model.select([ids[1]])  # model -> Tabulator
        assert table.selection == [1]
        view.search.value = "run-00"
        assert len(table.value) == 5 and all(n.startswith("run-00") for n in table.value["name"])
        view.columns.value = ["summary.acc"]
        assert "summary.acc" in table.value.columns and "config.lr" not in table.value.columns
    finally:
        browser.close()


def test_panel_header_click_sorts_every_run(store: tuple[Path, list[str]]) -> None:
    require_module("panel")
    root, _ = store
    browser = RunBrowser(root=root, page_size=5, columns=["config.lr"], refresh=60)
    browser.panel()
    view = browser._views[0]
    try:
        view.table.sorters = [{"field": "config.lr", "dir": "desc"}]
        assert (browser.model.sort_column, browser.model.descending) == ("config.lr", True)
        everything = wb.runs(root=root, order_by="-config.lr")["config.lr"].tolist()
        assert [float(v) for v in view.table.value["config.lr"]] == everything[:5]  # the top 5 of all runs
        assert view.sort.value == "config.lr" and view.descending.value is True
    finally:
        browser.close()
