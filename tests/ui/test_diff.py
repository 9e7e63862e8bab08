"""ConfigDiff and ParallelCoordinates (issue 6): models and both renderings over real runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from conftest import require_module

import workbench as wb
from workbench.ui import ConfigDiff, ParallelCoordinates, Selection

SWEEP = [  # name, config, acc
    ("a", {"lr": 0.1, "optim": {"name": "adam"}, "batch": 32}, 0.70),
    ("b", {"lr": 0.01, "optim": {"name": "sgd"}, "batch": 32}, 0.80),
    ("c", {"lr": 0.001, "optim": {"name": "adam"}, "batch": 32, "warmup": 100}, 0.90),
]


def _flat(rows: Any) -> list[float]:
    return [float(v) for row in rows for v in row]


@pytest.fixture
def runs(root: Path) -> list[str]:
    ids = []
    for name, config, acc in SWEEP:
        with wb.init(project="sweep", name=name, config=config, root=root) as run:
            run.log({"acc": acc, "sys/cpu_percent": 5.0})
        ids.append(run.id)
    return ids


def test_diff_model_keeps_only_differing_keys(root: Path, runs: list[str]) -> None:
    diff = ConfigDiff(runs, root=root, live=False)
    m = diff.model
    assert m.columns() == [f"{n} ({i[:8]})" for (n, _, _), i in zip(SWEEP, runs, strict=True)]
    rows = {key: (cells, flags) for key, cells, flags in m.rows()}
    assert sorted(rows) == ["config.lr", "config.optim.name", "config.warmup"]  # batch is the same
    assert rows["config.optim.name"] == (["adam", "sgd", "adam"], [False, True, False])
    assert rows["config.lr"] == (["0.1", "0.01", "0.001"], [True, True, True])
    assert rows["config.warmup"] == (["", "", "100"], [False, False, True])  # missing counts
    m.set_show_all(True)
    assert [k for k, _, _ in m.rows()] == ["config.batch", "config.lr", "config.optim.name", "config.warmup"]
    assert m.rows()[0][2] == [False, False, False]
    m.set_include_summary(True)
    keys = [k for k, _, _ in m.rows()]
    assert "summary.acc" in keys and not any("sys/" in k for k in keys)


def test_diff_ipywidgets_view(root: Path, runs: list[str]) -> None:
    require_module("ipywidgets")
    diff = ConfigDiff(runs, root=root, live=False)
    diff.widget()
    view = diff._views[0]
    html = view.table.value
    assert "config.lr" in html and "config.batch" not in html
    assert html.count("background:#fff3b0") == 3 + 1 + 1  # lr (all differ), sgd, warmup=100
    view.show_all.value = True
    assert diff.model.show_all and "config.batch" in view.table.value
    view.summary.value = True
    assert "summary.acc" in view.table.value and "0.9" in view.table.value
    diff.close()


def test_diff_panel_view(root: Path, runs: list[str]) -> None:
    require_module("panel")
    diff = ConfigDiff(runs, root=root, live=False)
    diff.panel().get_root()
    view = diff._views[0]
    frame = view.table.value
    assert frame.columns.tolist() == ["Key", *diff.model.columns()]
    assert frame["Key"].tolist() == ["config.lr", "config.optim.name", "config.warmup"]
    assert frame.iloc[1, 1:].tolist() == ["adam", "sgd", "adam"]
    styles = view._styles(frame)
    assert styles.iat[1, 2] != "" and styles.iat[1, 1] == "" and styles.iat[0, 0] == ""
    view.summary.value = True
    assert "summary.acc" in view.table.value["Key"].tolist()
    view.show_all.value = True
    assert "config.batch" in view.table.value["Key"].tolist()
    diff.close()


def test_diff_follows_a_selection_and_explains_an_empty_table(root: Path, runs: list[str]) -> None:
    require_module("ipywidgets")
    selection = Selection([runs[0]])
    diff = ConfigDiff(selection, root=root, live=False)
    diff.widget()
    view = diff._views[0]
    assert "Select two or more runs" in view.table.value
    selection.set(runs[:2])
    assert [c for _, c, _ in diff.model.rows()] == [["0.1", "0.01"], ["adam", "sgd"]]
    assert "sgd" in view.table.value
    diff.close()


def test_diff_unknown_run_is_an_error_in_the_views(root: Path, runs: list[str]) -> None:
    require_module("ipywidgets")
    require_module("panel")
    diff = ConfigDiff([runs[0], "zzzzzz"], root=root, live=False)
    assert "zzzzzz" in (diff.model.error or "")
    diff.widget()
    diff.panel()
    ipy, pnl = diff._views
    assert "zzzzzz" in ipy.error.value and pnl.error.visible and "zzzzzz" in pnl.error.object
    diff.close()


def test_parallel_model_scales_numeric_and_spaces_categorical_dims(root: Path, runs: list[str]) -> None:
    pc = ParallelCoordinates(runs, root=root)
    m = pc.model
    assert m.dims == ["config.lr", "config.optim.name", "config.warmup", "summary.acc"]
    assert m.color == "summary.acc"
    order = [m.run_ids.index(i) for i in runs]  # the model's rows in the order of SWEEP
    axes = {a["key"]: a for a in m.axes()}
    lr = axes["config.lr"]
    assert lr["kind"] == "numeric" and lr["labels"] == [(0.0, "0.001"), (1.0, "0.1")]
    assert [lr["positions"][i] for i in order] == pytest.approx([1.0, 0.009 / 0.099, 0.0])
    optim = axes["config.optim.name"]
    assert optim["kind"] == "categorical" and optim["labels"] == [(0.0, "adam"), (1.0, "sgd")]
    assert [optim["positions"][i] for i in order] == [0.0, 1.0, 0.0]
    warmup = [axes["config.warmup"]["positions"][i] for i in order]
    assert math.isnan(warmup[0]) and warmup[2] == 0.5  # one value: the middle
    assert [m.color_values()[i] for i in order] == pytest.approx([0.7, 0.8, 0.9])
    assert m.color_range() == pytest.approx((0.7, 0.9))
    assert len(m.lines()) == 3 and all(len(line) == 4 for line in m.lines())
    m.set_dims(["config.nope"])
    assert "config.nope" in (m.error or "") and "choose from" in (m.error or "")
    assert m.dims == ["config.lr", "config.optim.name", "config.warmup", "summary.acc"]  # unchanged
    m.set_color("config.optim.name")  # not numeric
    assert "config.optim.name" in (m.error or "") and m.color == "summary.acc"


def test_parallel_ipywidgets_view(root: Path, runs: list[str]) -> None:
    require_module("bqplot")
    pc = ParallelCoordinates(runs, root=root)
    pc.widget()
    view = pc._views[0]
    assert list(view.lines.x) == pc.model.dims
    assert _flat(view.lines.y) == pytest.approx(_flat(pc.model.lines()), nan_ok=True)
    assert list(view.lines.color) == pytest.approx(pc.model.color_values())
    assert "sgd" in list(view.labels.text) and "0.001" in list(view.labels.text)
    assert view.color_axis.label == "summary.acc"
    view.dims.value = ("config.optim.name", "config.lr")
    assert pc.model.dims == ["config.optim.name", "config.lr"]
    assert list(view.lines.x) == ["config.optim.name", "config.lr"]
    view.color.value = "config.lr"
    assert pc.model.color == "config.lr" and view.color_axis.label == "config.lr"
    view.color.value = ""
    assert pc.model.color is None and view.lines.color is None
    pc.close()


def test_parallel_panel_view(root: Path, runs: list[str]) -> None:
    require_module("panel")
    pc = ParallelCoordinates(runs, root=root)
    pc.panel().get_root()
    view = pc._views[0]
    data = view.source.data
    assert data["run_id"] == pc.model.run_ids and len(data["xs"]) == 3
    assert data["xs"][0] == [0, 1, 2, 3]
    assert _flat(data["ys"]) == pytest.approx(_flat(pc.model.lines()), nan_ok=True)
    assert data["value"] == pytest.approx(pc.model.color_values())
    assert (view.mapper.low, view.mapper.high) == pytest.approx((0.7, 0.9))
    assert view.color_bar.title == "summary.acc" and view.color_bar.visible
    assert view.figure.xaxis[0].major_label_overrides == dict(enumerate(pc.model.dims))
    assert "adam" in view.label_source.data["text"]
    view.dims.value = ["config.lr"]
    assert pc.model.dims == ["config.lr"] and view.source.data["xs"][0] == [0]
    view.color.value = "config.lr"
    assert view.color_bar.title == "config.lr" and view.mapper.high == pytest.approx(0.1)
    pc.close()


def test_parallel_over_a_project_and_errors_inline(root: Path, runs: list[str]) -> None:
    require_module("panel")
    pc = ParallelCoordinates(project="sweep", dims=["config.lr"], color="summary.acc", root=root)
    assert sorted(pc.model.run_ids) == sorted(runs) and pc.model.dims == ["config.lr"]
    bad = ParallelCoordinates(runs, dims=["config.missing"], root=root)
    bad.panel()
    assert bad._views[0].error.visible and "config.missing" in bad._views[0].error.object
    selection = Selection(runs[:2])
    follow = ParallelCoordinates(selection, root=root)
    assert len(follow.model.run_ids) == 2
    selection.set(runs)
    assert len(follow.model.run_ids) == 3
    unknown = ParallelCoordinates(["zzzzzz"], root=root)
    assert "zzzzzz" in (unknown.model.error or "")
