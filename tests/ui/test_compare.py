"""MetricCompare: the model and both renderings driven in Python over a real store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_module
from tests.ui._stores import make_run
from workbench.ui import MetricCompare, RunBrowser, Selection
from workbench.ui.compare.model import ema


@pytest.fixture
def runs(root: Path) -> tuple[Path, list[str]]:
    a = make_run(root, name="a", metrics={"loss": [4.0, 2.0, 1.0, 0.5] * 1000, "acc": [0.1] * 10})
    b = make_run(root, name="b", metrics={"loss": [1.0] * 50, "val/loss": [2.0, -1.0, 3.0]})
    return root, [a.id, b.id]


def test_ema_is_debiased() -> None:
    out = ema(np.array([1.0, 1.0, 1.0]), 0.9)
    assert np.allclose(out, 1.0)  # no pull toward zero at the start
    assert np.allclose(ema(np.array([0.0, 10.0]), 0.5), [0.0, 10 / 1.5])  # (0.5 * 0 + 1 * 10) / (0.5 + 1)


def test_model_keys_points_smoothing_axes(runs: tuple[Path, list[str]]) -> None:
    root, ids = runs
    model = MetricCompare(ids, keys=["loss"], samples=200, root=root, refresh=60).model
    assert model.available == ["acc", "loss", "val/loss"]
    assert [(s.label, s.key) for s in model.series] == [("a", "loss"), ("b", "loss")]
    assert model.total_points == 4050 and model.shown_points < 300
    assert model.status_text == f"{model.shown_points:,} of 4,050 points shown"
    first = model.series[0]
    assert first.y.max() == 4.0 and first.y.min() == 0.5  # M4 keeps the extremes
    assert np.array_equal(first.smooth, first.y)
    model.set_smoothing(0.9)
    assert not np.array_equal(model.series[0].smooth, model.series[0].y)
    assert np.allclose(model.series[0].smooth, ema(model.series[0].y, 0.9))
    model.set_x_axis("relative")
    assert all(s.x.min() >= 0 and s.x.max() < 60 for s in model.series)
    model.set_x_axis("time")
    assert model.series[0].x.min() > 1.7e9  # epoch seconds
    model.set_keys(["loss", "val/loss"])
    assert [c for c, _ in model.charts()] == ["loss", "val/loss"]
    model.set_grouped(True)
    assert len(model.charts()) == 1 and len(model.charts()[0][1]) == 3
    model.set_keys(["loss", "nope"])
    assert model.error is not None and "unknown metric key(s) 'nope'" in model.error and "val/loss" in model.error
    assert model.keys == ["loss"] and len(model.series) == 2
    model.set_smoothing(1.5)
    assert model.error is not None and "between 0 and 0.99" in model.error
    model.set_x_axis("epoch")
    assert model.error is not None and "x axis" in model.error


def test_follows_a_browser_selection(runs: tuple[Path, list[str]]) -> None:
    root, ids = runs
    browser = RunBrowser(root=root, refresh=60)
    compare = MetricCompare(browser, refresh=60)
    assert compare.model.series == [] and compare.model.selection is browser.selection
    browser.model.select([ids[1]])
    assert compare.model.keys == ["loss", "val/loss"]  # every key b logged (up to 4), the loss first
    assert [s.label for s in compare.model.series] == ["b", "b"]
    shared = Selection([ids[0]])
    assert [s.label for s in MetricCompare(shared, root=root, refresh=60).model.series] == ["a", "a"]


def test_ipywidgets_view(runs: tuple[Path, list[str]]) -> None:
    require_module("bqplot")
    root, ids = runs
    compare = MetricCompare(ids, keys=["loss"], samples=200, root=root, refresh=60)
    compare.widget()
    view = compare._views[0]
    try:
        assert len(view.figures) == 1
        raw, smooth = view.figures[0].marks[:2]
        assert raw.opacities == [0.25] and smooth.stroke_width == 2
        assert np.array_equal(raw.y, compare.model.series[0].y)
        view.smoothing.value = 0.8
        smooth = view.figures[0].marks[1]
        assert np.allclose(smooth.y, ema(compare.model.series[0].y, 0.8))
        view.keys.value = ("loss", "val/loss")
        assert [f.title for f in view.figures] == ["loss", "val/loss"]
        view.log_y.value = True
        figure = view.figures[1]
        assert type(figure.marks[0].scales["y"]).__name__ == "LogScale"
        assert np.isnan(figure.marks[0].y[1])  # -1 has no place on a log scale
        view.x_axis.value = "time"
        assert type(view.figures[0].marks[0].scales["x"]).__name__ == "DateScale"
        assert view.figures[0].marks[0].x.dtype.kind == "M"
        view.grouped.value = True
        assert len(view.figures) == 1 and len(view.figures[0].marks) == 9  # raw, smooth, hover points
        assert "points shown" in view.info.value
        compare.model.set_keys(["nope"])
        assert "unknown metric key" in view.error.value and "Traceback" not in view.error.value
    finally:
        compare.close()


def test_panel_view(runs: tuple[Path, list[str]]) -> None:
    require_module("panel")
    root, ids = runs
    compare = MetricCompare(ids, keys=["loss"], samples=200, root=root, refresh=60)
    layout = compare.panel()
    view = compare._views[0]
    try:
        layout.get_root()
        assert len(view.figures) == 1 and len(view.sources[0]) == 2
        source = view.sources[0][0]
        assert np.array_equal(source.data["y"], compare.model.series[0].y)
        view.smoothing.value = 0.5
        assert view.sources[0][0] is source  # values only: the source is updated in place
        assert np.allclose(source.data["smooth"], ema(compare.model.series[0].y, 0.5))
        view.keys.value = ["loss", "acc"]
        assert [f.title.text for f in view.figures] == ["acc", "loss"] or len(view.figures) == 2
        view.log_y.value = True
        assert type(view.figures[0].y_scale).__name__ == "LogScale"
        view.x_axis.value = "relative"
        assert view.sources[0][0].data["x"].min() >= 0
        view.keys.value = ["loss", "val/loss", "nope"]
        assert view.error.visible and "unknown metric key" in view.error.object
        assert "points shown" in view.info.object
    finally:
        compare.close()
