"""The run table fetches only the rows up to the page it shows, and counts the matching runs in
the query (issue 16: 100,000 runs); every page, the search, the CSV export and the delete
confirmation still see every matching run."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb
from workbench.ui.runs.model import RunBrowserModel

QUIET = {"system_metrics": False, "capture_output": False, "fsync": False}


@pytest.fixture
def twelve(root: Path) -> list[str]:
    ids = []
    for i in range(12):
        run = wb.init(project="p" if i % 3 else "q", name=f"run-{i:02d}", config={"lr": 0.01 * (i + 1)},
                      root=root, **QUIET)
        run.log({"loss": 1.0 / (i + 1)})
        run.finish()
        ids.append(run.id)
    return ids


def test_pages_are_fetched_as_needed_and_match_the_full_order(root: Path, twelve: list[str]) -> None:
    model = RunBrowserModel(root=root, page_size=5)
    order = wb.runs(order_by="-created", root=root)["run_id"].tolist()
    assert order == twelve[::-1]
    assert model.matched == 12 and model.total == 12 and model.pages == 3
    assert len(model._frame) == 5  # the first page only
    assert model.page_ids == order[:5]
    model.set_page(2)
    assert model.page_ids == order[10:]
    assert "Runs 11-12 of 12 matching" in model.status_text
    model.set_page(1)
    assert model.page_ids == order[5:10]

    model.sort_by("config.lr")
    assert model.page == 1 and model.page_ids == twelve[5:10]
    model.set_where("config.lr > 0.065")  # 6 runs: runs 6-11
    assert model.matched == 6 and model.page == 0 and model.page_ids == twelve[6:11]
    model.set_page(1)
    assert model.page_ids == twelve[11:]


def test_search_groups_csv_and_delete_prompt_see_every_matching_run(root: Path, twelve: list[str]) -> None:
    model = RunBrowserModel(root=root, page_size=5)
    csv = model.csv()
    assert len(csv.strip().splitlines()) == 13 and all(f"run-{i:02d}" in csv for i in range(12))
    model.set_search("run-1")  # run-10, run-11
    assert model.matched == 2 and sorted(model.page_ids) == sorted(twelve[10:])
    model.set_search("")
    assert model.matched == 12 and len(model.page_ids) == 5
    model.set_group("project")
    assert dict(model.groups) == {"p": 8, "q": 4}
    model.set_group(None)
    model.select([twelve[0]])  # on the last page, not fetched
    assert twelve[0] not in set(model._frame["run_id"])
    assert model.request_delete() == "Confirm delete of 1 run: run-00"
    model.cancel_delete()


def test_a_new_run_shows_on_refresh(root: Path, twelve: list[str]) -> None:
    model = RunBrowserModel(root=root, page_size=5, project="q")
    assert model.total == 4 and model.matched == 4 and model.projects == ["p", "q"]
    run = wb.init(project="q", name="newest", root=root, **QUIET)
    run.finish()
    assert model.refresh()
    assert model.total == 5 and model.page_ids[0] == run.id
