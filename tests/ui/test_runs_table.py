"""Issue 14: a Runs table that shows what matters (the view model, over real stores).

Default columns (config keys that vary, summary keys most runs logged), the column choice saved
per project, the project selector, grouping, bulk tags, deleting after a confirmation with
``workbench rm``'s refusals, CSV export of every matching run, and guidance when nothing matches.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import require_module

import workbench as wb
from tests.ui._stores import make_run
from workbench.settings import load_view, save_view
from workbench.ui import RunBrowser
from workbench.ui.runs.model import RunBrowserModel


def _sweep(root: Path) -> list[str]:
    """Six runs of a sweep: lr and opt vary, seed does not; val_acc and loss logged by all, extra by one."""
    ids = []
    for i, lr in enumerate((0.1, 0.03, 0.01, 0.003, 0.001, 0.0003)):
        metrics: dict[str, Sequence[float]] = {"loss": [1.0 / (s + 1 + i) for s in range(3)],
                                               "val_acc": [0.5 + 0.05 * i]}
        if i == 0:
            metrics["extra"] = [1.0]
        run = make_run(root, project="sweep", name=f"lr-{lr}", tags=["sweep", f"opt{i % 2}"],
                       config={"lr": lr, "seed": 42, "opt": "adam" if i % 2 else "sgd"}, metrics=metrics)
        ids.append(run.id)
    return ids


@pytest.fixture
def sweep(root: Path) -> tuple[Path, list[str]]:
    ids = _sweep(root)
    make_run(root, project="other", name="solo", config={"depth": 3}, metrics={"loss": [0.2]})
    return root, ids


def test_default_columns_show_what_varies_and_what_is_logged(sweep: tuple[Path, list[str]]) -> None:
    root, _ = sweep
    model = RunBrowserModel(project="sweep", root=root)
    assert {"config.lr", "config.opt"} <= set(model.columns)
    assert "config.seed" not in model.columns  # the same in every run
    summary = [c for c in model.columns if c.startswith("summary.")]
    assert summary[:2] == ["summary.loss", "summary.val_acc"]  # logged by all six, before "extra" (one)
    assert "config.seed" in model.available  # still on offer in the chooser
    assert {"config.lr", "summary.val_acc"} <= set(model.table().columns)


def test_column_choice_is_saved_per_project_and_restored(sweep: tuple[Path, list[str]]) -> None:
    root, _ = sweep
    model = RunBrowserModel(project="sweep", root=root)
    model.set_columns(["config.seed", "summary.extra"])
    assert model.error is None
    again = RunBrowserModel(project="sweep", root=root)  # a new session
    assert again.columns == ["config.seed", "summary.extra"]
    assert RunBrowserModel(project="other", root=root).columns != again.columns  # per project
    files = list((root / "views").iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE((root / "views").stat().st_mode) == 0o700
    again.reset_columns()
    assert "config.lr" in again.columns and RunBrowserModel(project="sweep", root=root).columns == again.columns


def test_a_saved_view_file_is_hostile_input(root: Path) -> None:
    _sweep(root)
    save_view("sweep", root=root, runs_columns=["config.lr"])
    path = next((root / "views").iterdir())
    for text in ('{"project": "sweep", "values": {"runs_columns": "config.lr"}}',  # not a list
                 '{"project": "sweep", "values": {"runs_columns": ["status", "<b>x</b>"]}}',  # not config/summary
                 '{"project": "another", "values": {"runs_columns": ["config.seed"]}}',  # another project's
                 "[1, 2", "\xff\xfe", " " * 300_000):
        path.write_bytes(text.encode("utf-8", "surrogateescape") if text != "\xff\xfe" else b"\xff\xfe")
        model = RunBrowserModel(project="sweep", root=root)
        assert model.error is None and "config.lr" in model.columns and "config.seed" not in model.columns
    path.unlink()
    os.mkfifo(path)  # a fifo must not hang the view
    assert load_view("sweep", root=root) == {}
    # project names may hold any character: the file name never does
    save_view("../../<b>", root=root, runs_columns=["config.x"])
    assert load_view("../../<b>", root=root) == {"runs_columns": ["config.x"]}
    assert all(p.parent == root / "views" for p in (root / "views").iterdir())


def test_project_selector(sweep: tuple[Path, list[str]]) -> None:
    root, _ = sweep
    model = RunBrowserModel(root=root)
    assert model.projects == ["other", "sweep"] and model.total == 7
    model.set_project("other")
    assert model.total == 1 and list(model.rows["name"]) == ["solo"] and "config.lr" not in model.columns
    model.set_project(None)
    assert model.total == 7


def test_grouping_by_a_config_key_and_by_tags(sweep: tuple[Path, list[str]]) -> None:
    root, _ = sweep
    model = RunBrowserModel(project="sweep", root=root, page_size=4)
    model.set_group("config.opt")
    assert model.error is None and model.groups == [("adam", 3), ("sgd", 3)]
    table = model.table()
    assert table.columns[0] == "group"
    assert list(table["group"]) == ["config.opt = adam (3 runs)"] * 3 + ["config.opt = sgd (3 runs)"]
    assert model.matched == 6 and model.pages == 2  # groups count every run, not only the page
    model.set_group("config.lr")  # numbers group in numeric order
    assert [label for label, _ in model.groups] == ["0.0003", "0.001", "0.003", "0.01", "0.03", "0.1"]
    model.set_group("tags")
    assert sorted(n for _, n in model.groups) == [3, 3]
    model.set_group(None)
    assert "group" not in model.table().columns and model.groups == []


def test_bulk_tags_on_the_selected_runs(sweep: tuple[Path, list[str]]) -> None:
    root, ids = sweep
    model = RunBrowserModel(project="sweep", root=root)
    model.select(ids[:3])
    assert model.add_tags("best, review") is True
    assert all({"best", "review", "sweep"} <= set(wb.get_run(r, root=root)["tags"]) for r in ids[:3])
    assert "best" not in wb.get_run(ids[3], root=root)["tags"]
    assert model.remove_tags(["review"]) is True
    assert all("review" not in wb.get_run(r, root=root)["tags"] for r in ids[:3])
    assert model.message == "Remove tags: 3 runs"
    assert model.add_tags("  ,  ") is False and model.error is not None  # nothing named
    model.select([])
    assert model.add_tags("x") is False and "select runs first" in (model.error or "")


def test_delete_needs_confirmation_and_keeps_rms_refusals(sweep: tuple[Path, list[str]]) -> None:
    root, ids = sweep
    live = make_run(root, project="sweep", name="still-running", finish=False)
    model = RunBrowserModel(project="sweep", root=root)
    model.select([ids[0], ids[1], live.id])
    prompt = model.request_delete()
    assert prompt == "Confirm delete of 3 runs: lr-0.1, lr-0.03, still-running"
    assert model.pending_delete and len(wb.runs(project="sweep", root=root)) == 7  # nothing deleted yet
    model.cancel_delete()
    assert model.pending_delete == [] and len(wb.runs(project="sweep", root=root)) == 7
    model.request_delete()
    model.select([ids[2]])  # the confirmation deletes what it named, not what is selected now
    assert model.confirm_delete() is False  # the running run is refused, as `workbench rm` refuses it
    left = set(wb.runs(project="sweep", root=root)["run_id"])
    assert ids[0] not in left and ids[1] not in left and {live.id, ids[2]} <= left
    assert model.message == "Deleted 2 runs"
    assert model.error is not None and live.id in model.error and "stop it first" in model.error
    assert model.total == 5 and ids[0] not in model.page_ids
    assert model.confirm_delete() is False and len(wb.runs(project="sweep", root=root)) == 5  # nothing pending
    live.finish()


def test_locked_browser_refuses_bulk_actions_and_saves_nothing(sweep: tuple[Path, list[str]]) -> None:
    root, ids = sweep
    browser = RunBrowser(project="sweep", root=root, refresh=60)
    browser.lock("read-only: started with --no-token")
    model = browser.model
    model.select(ids[:2])
    assert model.add_tags("x") is False and "read-only" in (model.error or "")
    assert model.remove_tags("sweep") is False
    assert model.request_delete() is None and model.pending_delete == []
    model.pending_delete = ids[:2]  # even a confirmation reached another way
    assert model.confirm_delete() is False
    model.set_columns(["config.seed"])  # shown in this session, never written to the store
    assert model.columns == ["config.seed"] and not (root / "views").exists()
    assert len(wb.runs(project="sweep", root=root)) == 6
    assert all("x" not in wb.get_run(r, root=root)["tags"] for r in ids)


def test_csv_export_of_every_matching_run(root: Path) -> None:
    _sweep(root)
    make_run(root, project="sweep", name='=HYPERLINK("http://x","y")', tags=["@SUM(1)", "+1"],
             config={"lr": -0.5, "seed": 42, "opt": "-cmd|' /C calc'!A0"}, metrics={"val_acc": [0.1]})
    model = RunBrowserModel(project="sweep", root=root, page_size=2, order_by="name", descending=False)
    model.set_columns(["config.lr", "config.opt", "summary.val_acc"])
    model.set_where("summary.val_acc < 0.7")
    rows = list(csv.reader(io.StringIO(model.csv())))
    header, body = rows[0], rows[1:]
    assert header == ["run_id", "status", "name", "project", "created", "duration", "tags", "config.lr",
                      "config.opt", "summary.val_acc"]
    assert len(body) == model.matched == 5 > len(model.rows)  # every page, not the one shown
    by_name = {r[2]: dict(zip(header, r)) for r in body}
    evil = by_name["'=HYPERLINK(\"http://x\",\"y\")"]  # a formula stays text: quoted by a leading '
    assert evil["tags"] == "'@SUM(1), +1" and evil["config.opt"] == "'-cmd|' /C calc'!A0"
    assert evil["config.lr"] == "-0.5"  # a number stays a number
    assert [r[2] for r in body][1:] == sorted(r[2] for r in body[1:])  # the table's order
    assert all(not cell.startswith(("=", "+", "-", "@")) or cell.lstrip("-").replace(".", "").isdigit()
               for row in body for cell in row)
    assert json.dumps(model.csv())  # plain text


def test_zero_results_say_why(sweep: tuple[Path, list[str]]) -> None:
    root, _ = sweep
    model = RunBrowserModel(project="sweep", root=root)
    assert model.hint is None
    model.set_where("summary.val_accc > 0.5")
    assert model.matched == 0 and model.error is None
    assert model.hint is not None and "No run has summary.val_accc" in model.hint
    assert "did you mean summary.val_acc" in model.hint
    model.set_where('config."lrr" < 1 and config.lr < 1')
    assert "No run has config.lrr: did you mean config.lr" in (model.hint or "")
    assert "config.lr:" not in (model.hint or "")  # a key runs have is not called unknown
    model.set_where("config.lr > 5")  # every key known: the filter is just too tight
    assert model.hint == "No runs match the filter. Loosen it, or clear it to see all 6 runs."
    model.set_where("")
    model.set_search("nothing-like-this")
    assert "No run's name, id or tag contains" in (model.hint or "")
    model.set_search("")
    assert model.hint is None
    assert "No runs in project empty yet" in (RunBrowserModel(project="empty", root=root).hint or "")


def test_panel_view_controls(sweep: tuple[Path, list[str]]) -> None:
    require_module("panel")
    root, ids = sweep
    browser = RunBrowser(project="sweep", root=root, refresh=60, page_size=4)
    layout = browser.panel()
    view = browser._views[0]
    try:
        layout.get_root()
        assert "config.lr" in view.table.value.columns
        assert "encodeURIComponent(run_id)" in view.table.formatters["name"].template
        assert "?page=detail&amp;runs=" in view.table.formatters["name"].template
        assert set(view.project.options.values()) == {"\x00all", "sweep", "other"} and view.project.value == "sweep"
        view.group.value = "config.opt"
        assert view.table.groupby == ["group"] and view.table.hidden_columns == ["group"]
        view.group.value = ""
        assert view.table.groupby == []
        browser.model.select(ids[:2])
        assert view.delete.label == "Delete 2 runs"
        view.delete.clicks += 1
        assert view.confirm_row.visible and "Confirm delete of 2 runs" in view.confirm_text.object
        view.cancel.clicks += 1
        assert not view.confirm_row.visible and len(wb.runs(project="sweep", root=root)) == 6
        data = view._csv().getvalue().decode("utf-8-sig")
        assert data.startswith("run_id,status,name") and len(data.splitlines()) == 7
        view.where.value = "summary.val_accc > 0"
        assert view.hint.visible and "did you mean summary.val_acc" in view.hint.object
    finally:
        browser.close()


def test_ipywidgets_view_controls(sweep: tuple[Path, list[str]]) -> None:
    require_module("ipydatagrid")
    root, ids = sweep
    browser = RunBrowser(project="sweep", root=root, refresh=60)
    browser.widget()
    view = browser._views[0]
    try:
        view.group.value = "config.opt"
        assert view.grid.data.columns[0] == "group"
        browser.model.select(ids[:1])
        view.delete.click()
        assert view.confirm_row.layout.display == "flex" and "lr-0.1" in view.confirm_text.value
        view.confirm.click()
        assert ids[0] not in set(wb.runs(root=root)["run_id"]) and view.message.value == "Deleted 1 run"
        view.project.value = "other"
        assert list(view.grid.data["name"]) == ["solo"] and browser.model.group_by is None
    finally:
        browser.close()


def test_the_notebook_table_shows_headers_and_statuses_in_the_views_language(
        sweep: tuple[Path, list[str]]) -> None:
    require_module("ipydatagrid")
    from workbench.ui import _i18n
    from workbench.ui.runs.ipywidgets_view import RunBrowserWidget

    root, _ = sweep
    with _i18n.use_language("zh"):
        grid = RunBrowserWidget(RunBrowser(root=root).model).grid
        shown = _i18n.tr("completed")
    columns = list(grid.data.columns)
    assert "状态" in columns and "名称" in columns and "status" not in columns
    assert set(grid.data["状态"]) == {shown} and shown != "completed"
    assert "状态" in grid.renderers  # the status colours follow the shown header
