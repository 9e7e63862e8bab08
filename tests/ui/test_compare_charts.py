"""Issue 14: readable Compare charts: a colour per run, hover text, legend, default keys, dashes, groups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _hostile import PAYLOADS, unsafe_markup
from conftest import require_module

import workbench as wb
from tests.ui._stores import QUIET, fill, make_run
from workbench.ui import MetricCompare
from workbench.ui._colors import PALETTE, run_color, run_colors
from workbench.ui.compare._legend import legend_markup
from workbench.ui.compare.model import MetricCompareModel, hover_columns


def _run(root: Path, name: str, lr: float, tags: list[str], points: dict[int, float]) -> str:
    run = wb.init(project="g", name=name, config={"opt": {"lr": lr}}, tags=tags, root=root, **QUIET)
    for step, value in points.items():
        run.log({"loss": value}, step=step)
    run.finish()
    return run.id


@pytest.fixture
def groups(root: Path) -> tuple[Path, list[str]]:
    """Two runs with lr 0.1 on different steps, one with lr 0.01: means and bands known by hand."""
    a = _run(root, "a", 0.1, ["x"], {0: 0.0, 1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0})
    b = _run(root, "b", 0.1, ["x", "y"], {0: 10.0, 2: 20.0})
    c = _run(root, "c", 0.01, [], {0: 7.0, 1: 7.0})
    return root, [a, b, c]


def test_run_colors_are_distinct_and_stable() -> None:
    ids = [f"run{i:03d}" for i in range(200)]
    first = run_colors(ids[:25])
    assert len(set(first.values())) == 25  # no repeat after 10 (the old palette) nor after 24
    assert len(set(run_colors(ids).values())) == 200
    assert run_colors(ids[:25]) == first  # same answer in every panel, page and session
    assert run_colors(ids[:26])[ids[3]] == first[ids[3]]  # a run joining does not recolour the others
    assert len(PALETTE) >= 20 and sorted(list(first.values())[:len(PALETTE)]) == sorted(PALETTE)  # palette first
    assert list(first.values())[-1] not in PALETTE  # then a hue of its own
    assert run_colors([ids[7]])[ids[7]] == run_color(ids[7])  # alone, a run gets its own preferred colour


def test_colours_one_per_run_across_models_and_views(root: Path) -> None:
    require_module("panel")
    require_module("bqplot")
    ids = fill(root, 25, steps=3)
    one = MetricCompare(ids, keys=["loss", "acc"], root=root, refresh=60)
    two = MetricCompareModel(list(reversed(ids))[::-1], keys=["acc"], root=root)
    try:
        colors = {s.run_id: s.color for s in one.model.series if s.key == "loss"}
        assert len(colors) == 25 and len(set(colors.values())) == 25
        assert all(colors[s.run_id] == s.color for s in one.model.series)  # both keys, one colour per run
        assert {s.run_id: s.color for s in two.series} == colors  # another model, same selection
        one.panel().get_root()
        panel = one._views[0]
        drawn = [r.glyph.line_color for f in panel.figures for r in f.renderers]
        assert set(drawn) == set(colors.values())
        one.widget()
        widget = one._views[1]
        assert {m.colors[0] for f in widget.figures for m in f.marks} == set(colors.values())
        legend = legend_markup(one.model)
        assert all(c in legend for c in colors.values()) and legend.count("wb-legend-item") == 25
        assert "overflow-y:auto" in legend  # scrollable, beside the charts: it covers no data
        assert panel.legend.object == legend and widget.legend.value == legend
    finally:
        one.close()
        two.close()


def test_default_keys_and_an_empty_selection(root: Path) -> None:
    ids = [make_run(root, name=f"r{i}", metrics={"loss": [1.0, 0.5], "acc": [0.1], "lr": [0.1], "grad": [2.0],
                                                  "sys/cpu": [3.0], **({"rare": [1.0]} if i == 0 else {})}).id
           for i in range(3)]
    model = MetricCompareModel(ids, root=root)
    assert model.keys == ["loss", "acc", "grad", "lr"]  # every run logged them; "rare" only one, sys/ never
    assert len(model.charts()) == 4 and all(series for _, series in model.charts())
    assert MetricCompareModel(ids, keys=["rare"], root=root).keys == ["rare"]  # a choice is kept
    empty = MetricCompareModel([], root=root)
    assert empty.charts() == [] and "select runs" in empty.status_text.lower()


def test_one_chart_gives_each_key_a_dash(root: Path) -> None:
    require_module("panel")
    require_module("bqplot")
    ids = [make_run(root, name=n, metrics={"loss": [1.0, 0.5], "acc": [0.1, 0.2]}).id for n in ("a", "b")]
    compare = MetricCompare(ids, keys=["loss", "acc"], grouped=True, root=root, refresh=60)
    try:
        model = compare.model
        dashes = {(s.run_id, s.key): s.dash for s in model.series}
        assert {d for (_, k), d in dashes.items() if k == "loss"} == {"solid"}
        assert {d for (_, k), d in dashes.items() if k == "acc"} == {"dashed"}
        assert len({s.color for s in model.series}) == 2  # colour per run, dash per key
        compare.panel().get_root()
        figure = compare._views[0].figures[0]
        assert sorted(str(r.glyph.line_dash) for r in figure.renderers).count("[]") == 4  # solid: raw + smooth
        assert len([r for r in figure.renderers if r.glyph.line_dash != []]) == 4
        compare.widget()
        styles = [m.line_style for m in compare._views[1].figures[0].marks if hasattr(m, "line_style")]
        assert styles.count("dashed") == 4 and styles.count("solid") == 4
        assert "Keys" in legend_markup(model) and "- - -" in legend_markup(model)
        model.set_grouped(False)
        assert {s.dash for s in model.series} == {"solid"} and "Keys" not in legend_markup(model)
    finally:
        compare.close()


def test_hover_shows_run_key_step_value_and_wall_time(groups: tuple[Path, list[str]]) -> None:
    require_module("panel")
    require_module("bqplot")
    from bokeh.models import HoverTool

    root, ids = groups
    compare = MetricCompare(ids, keys=["loss"], root=root, refresh=60)
    try:
        first = compare.model.series[0]
        columns = hover_columns(first)
        assert columns["name"][1] == "a" and columns["key"][1] == "loss" and columns["step"][1] == "1"
        assert columns["value"][1] == "1" and columns["time"][1].startswith("20")  # local wall time
        compare.panel().get_root()
        view = compare._views[0]
        hovers = [t for t in view.figures[0].tools if isinstance(t, HoverTool)]
        assert len(hovers) == 1 and hovers[0].mode == "mouse"
        assert [f for _, f in hovers[0].tooltips] == ["@name", "@key", "@step", "@value", "@time"]  # escaped fields
        assert len(hovers[0].renderers) == 3  # the smoothed line of each run
        assert view.sources[0][0].data["name"][0] == "a" and view.sources[0][0].data["value"][4] == "4"
        compare.widget()
        scatter = compare._views[1].figures[0].marks[-3]
        assert scatter.tooltip.fields == ["name"]
        assert "a" in scatter.names[1] and "loss" in scatter.names[1] and "step: 1" in scatter.names[1]
        assert "value: 1" in scatter.names[1] and "wall time: 20" in scatter.names[1]
    finally:
        compare.close()


def test_group_by_config_draws_mean_and_band(groups: tuple[Path, list[str]]) -> None:
    require_module("panel")
    require_module("bqplot")
    from bokeh.models import VArea

    root, ids = groups
    compare = MetricCompare(ids, keys=["loss"], root=root, refresh=60)
    model = compare.model
    try:
        assert model.groupable == ["tags", "config.opt.lr"]
        model.set_group_by("config.opt.lr")
        assert model.error is None
        low, high = model.series  # 0.01 before 0.1: values in order
        assert (low.label, low.members, high.label, high.members) == ("0.01 (1)", 1, "0.1 (2)", 2)
        # a: 0..4 at steps 0..4; b: 10 at 0, 20 at 2 (15 at step 1 between them, nothing after 2)
        assert list(high.steps) == [0, 1, 2, 3, 4]
        assert np.allclose(high.y, [5.0, 8.0, 11.0, 3.0, 4.0])
        assert np.allclose(high.lo, [0.0, 1.0, 2.0, 3.0, 4.0]) and np.allclose(high.hi, [10.0, 15.0, 20.0, 3.0, 4.0])
        assert list(low.steps) == [0, 1] and np.allclose(low.y, 7.0) and np.allclose(low.lo, low.hi)
        assert low.color != high.color
        assert [(e.label, e.count) for e in model.legend()] == [("0.01", 1), ("0.1", 2)]
        assert hover_columns(high)["value"][1] == "8 (min 1, max 15)"
        compare.panel().get_root()
        view = compare._views[0]
        assert sum(isinstance(r.glyph, VArea) for r in view.figures[0].renderers) == 2
        assert "0.1 (2 runs)" in view.legend.object and "Groups by config.opt.lr" in view.legend.object
        compare.widget()
        bands = [m for m in compare._views[1].figures[0].marks if getattr(m, "fill", "") == "between"]
        assert len(bands) == 2 and np.allclose(bands[1].y[1], high.hi)
        model.set_smoothing(0.5)
        assert np.allclose(view.sources[0][1].data["hi"], high.hi) and not np.allclose(high.smooth, high.y)
        model.set_group_by("tags")  # a run in the group of each of its tags; untagged runs together
        assert [(s.label, s.members) for s in model.series] == [("x (2)", 2), ("y (1)", 1), ("(none) (1)", 1)]
        model.set_group_by("config.nope")
        assert model.error is not None and "cannot group by" in model.error
        model.set_group_by(None)
        assert [s.label for s in model.series] == ["a", "b", "c"] and all(s.lo is None for s in model.series)
        assert not any(isinstance(r.glyph, VArea) for r in view.figures[0].renderers)
    finally:
        compare.close()


def test_hostile_names_and_keys_stay_text_in_legend_and_tooltips(root: Path) -> None:
    ids = [make_run(root, name=p, config={"k": p}, metrics={p: [1.0, 2.0]}).id for p in PAYLOADS]
    model = MetricCompareModel(ids, keys=PAYLOADS[:4], root=root)
    for group_by in (None, "config.k"):
        model.set_group_by(group_by)
        legend = legend_markup(model)
        assert not unsafe_markup(legend), unsafe_markup(legend)
        texts = [t for s in model.series for column in hover_columns(s).values() for t in column]
        assert all(p in " ".join(texts) for p in PAYLOADS[:4])  # raw text: Bokeh and bqplot show it as text
    model.set_group_by(None)
    import html

    shown = html.unescape(legend_markup(model))
    assert all(p in shown for p in PAYLOADS)  # every run listed, names escaped
