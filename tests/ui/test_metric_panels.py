"""Issue 14, automatic panels: a chart per logged key, in sections by prefix, system metrics by
unit, search, pin/hide/reorder saved per project, live; over a real store filled by real runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import require_module

import workbench as wb
from workbench.settings import load_view, save_view
from workbench.ui import MetricPanels, RunDetail, Selection
from workbench.ui.panels.model import PINNED, PLAIN, checked_layout, make_panels

TRAIN = ["train/loss", "train/acc", "train/lr", "train/grad_norm"] + [f"train/k{i}" for i in range(6)]
EVAL = ["eval/loss", "eval/acc"] + [f"eval/k{i}" for i in range(6)]
PLAIN_KEYS = ["loss", "acc", "epoch", "throughput", "tokens", "Perplexity"]
SYS = ["sys/cpu_percent", "sys/memory_percent", "sys/rss_mb", "sys/gpu0_memory_used_mb", "sys/gpu0_temperature_c",
       "sys/gpu0_power_w"]
KEYS = TRAIN + EVAL + PLAIN_KEYS + SYS  # 30 keys in 4 prefixes: 10 + 8 + 6 + 6
STEPS = 20


def thirty_key_run(root: Path, project: str = "wide", name: str = "wide-run") -> str:
    with wb.init(project=project, name=name, root=root, system_metrics=False, capture_output=False) as run:
        for step in range(STEPS):
            run.log({k: float(i * 100 + step) for i, k in enumerate(KEYS)}, step=step)
    return run.id


@pytest.fixture
def wide(root: Path) -> str:
    return thirty_key_run(root)


def test_thirty_keys_make_sections_by_prefix_and_system_charts_by_unit(root: Path, wide: str) -> None:
    assert len(KEYS) == 30
    m = MetricPanels(wide, root=root, live=False).model
    assert m.error is None and m.keys == sorted(KEYS)
    sections = m.sections()
    assert [s.id for s in sections] == [PLAIN, "eval", "train", "sys"]  # no prefix first, sys last
    assert [s.title for s in sections] == ["metrics", "eval", "train", "sys"]
    assert [len(s.panels) for s in sections] == [6, 8, 10, 4]
    system = {p.title: p.keys for p in sections[-1].panels}
    assert system == {  # never MB and percent on one axis
        "sys/* [%]": ("sys/cpu_percent", "sys/memory_percent"),
        "sys/* [MB]": ("sys/gpu0_memory_used_mb", "sys/rss_mb"),
        "sys/* [°C]": ("sys/gpu0_temperature_c",),
        "sys/* [W]": ("sys/gpu0_power_w",),
    }
    # at most 24 charts at once; the rest behind "show more"
    assert len(m.drawn()) == 24 and m.more == 4
    (line,) = m.lines(m.drawn()[0])
    assert line.key == "Perplexity" and line.x == tuple(float(s) for s in range(STEPS))
    assert line.y == tuple(float(KEYS.index("Perplexity") * 100 + s) for s in range(STEPS))
    m.show_more()
    assert len(m.drawn()) == 28 and m.more == 0
    percent = next(p for p in m.drawn() if p.id == "sys/*_percent")
    assert [ln.key for ln in m.lines(percent)] == ["sys/cpu_percent", "sys/memory_percent"]
    assert [ln.y[0] for ln in m.lines(percent)] == [float(KEYS.index("sys/cpu_percent") * 100),
                                                    float(KEYS.index("sys/memory_percent") * 100)]
    # a collapsed section draws nothing and leaves room for the others
    m.set_collapsed("train", True)
    assert not [p for p in m.drawn() if p.section == "train"] and len(m.drawn()) == 18


def test_search_narrows_the_charts_case_insensitively(root: Path, wide: str) -> None:
    m = MetricPanels(wide, root=root, live=False).model
    m.set_search("LOSS")
    assert [(s.id, [p.id for p in s.panels]) for s in m.sections()] == [
        (PLAIN, ["loss"]), ("eval", ["eval/loss"]), ("train", ["train/loss"])]
    m.set_search("mb")
    assert [p.id for p in m.drawn()] == ["sys/*_mb"]
    m.set_search("no such key")
    assert m.sections() == [] and m.empty_hint == "No chart matches the search"


def test_pin_hide_and_reorder_are_saved_per_project_and_restored(root: Path, wide: str) -> None:
    m = MetricPanels(wide, root=root, live=False).model
    m.toggle_pin("eval/acc")
    m.toggle_pin("sys/*_mb")
    m.move("sys/*_mb", -1)  # first among the pinned
    m.toggle_hidden("train/lr")
    m.move("train/loss", -1)
    m.move("train/loss", -1)
    m.set_collapsed("eval", True)
    sections = m.sections()
    assert sections[0].id == PINNED and [p.id for p in sections[0].panels] == ["sys/*_mb", "eval/acc"]
    train = next(s for s in sections if s.id == "train")
    assert "train/lr" not in [p.id for p in train.panels]
    order = [p.id for p in train.panels]
    assert order.index("train/loss") == 6  # last of the 9 shown (train/lr is hidden), moved up twice
    m.set_search("acc")
    assert [p.id for s in m.sections() for p in s.panels] == ["eval/acc", "acc", "train/acc"]
    assert m.error is None

    again = MetricPanels(wide, root=root, live=False).model  # a new view of the same project
    assert again.pinned == ["sys/*_mb", "eval/acc"] and again.hidden == ["train/lr"]
    assert again.collapsed == ["eval"] and again.search == "acc"
    assert load_view("wide", root=root)["panels"]["pinned"] == ["sys/*_mb", "eval/acc"]
    again.set_search("")
    assert [p.id for p in next(s for s in again.sections() if s.id == "train").panels] == order
    # hidden ones come back with "show hidden", then unhide; unpin
    again.set_show_hidden(True)
    assert "train/lr" in [p.id for s in again.sections() for p in s.panels]
    again.toggle_hidden("train/lr")
    again.toggle_pin("eval/acc")
    third = MetricPanels(wide, root=root, live=False).model
    assert third.hidden == [] and third.pinned == ["sys/*_mb"]
    # another project keeps its own layout
    other = thirty_key_run(root, project="other")
    assert MetricPanels(other, root=root, live=False).model.pinned == []


def test_a_read_only_session_keeps_its_layout_to_itself(root: Path, wide: str) -> None:
    panels = MetricPanels(wide, root=root, live=False)
    panels.lock("read-only: started without a token")
    m = panels.model
    m.toggle_pin("loss")
    assert m.pinned == ["loss"] and m.sections()[0].id == PINNED  # applies here
    assert "read-only" in (m.error or "")
    assert "panels" not in load_view("wide", root=root)  # not saved


def test_a_saved_layout_is_checked_when_read(root: Path, wide: str) -> None:
    hostile: dict[str, Any] = {"pinned": ["loss", 3, None, {"x": 1}, "x" * 5000, "loss"], "hidden": "train/lr",
                               "collapsed": [["eval"]], "order": {"train": ["train/lr", 7], "eval": "x", "5": []},
                               "search": {"$ne": 1}}
    save_view("wide", root=root, panels=hostile)
    m = MetricPanels(wide, root=root, live=False).model
    assert m.error is None
    assert (m.pinned, m.hidden, m.collapsed, m.search) == (["loss"], [], [], "")
    assert m.order == {"train": ["train/lr"]}
    for junk in (None, 3, "x", [1, 2], {"pinned": "loss"}):
        assert checked_layout(junk)["pinned"] == []
    save_view("wide", root=root, panels="not a layout")
    assert MetricPanels(wide, root=root, live=False).model.pinned == []
    views = root / "views"
    for path in views.iterdir():  # a file that is not JSON at all
        path.write_text("{not json")
    assert MetricPanels(wide, root=root, live=False).model.error is None


def test_keys_without_system_units_and_odd_keys(root: Path) -> None:
    panels = make_panels(["sys/disk_io", "sys/gpu0_util_percent", "a/b/c", "/lead", "x/", "sys/foo_C"])
    assert panels["sys/disk_io"].section == "sys" and panels["sys/disk_io"].keys == ("sys/disk_io",)
    assert panels["sys/*_c"].keys == ("sys/foo_C",) and panels["sys/*_percent"].section == "sys"
    assert panels["a/b/c"].section == "a" and panels["/lead"].section == "" and panels["x/"].section == "x"


def test_live_a_running_run_shows_new_points_after_a_refresh(root: Path) -> None:
    run = wb.init(project="live", name="live", root=root, system_metrics=False, capture_output=False,
                  flush_interval=0.05)
    try:
        for step in range(5):
            run.log({"train/loss": 1.0 / (step + 1), "sys/cpu_percent": 10.0}, step=step)
        run.flush()
        m = MetricPanels(run.id, root=root, live=False).model
        (line,) = m.lines(m.panels["train/loss"])
        assert len(line.x) == 5
        assert m.poll() is False  # nothing new: no query
        seen: list[frozenset[str]] = []
        m.observe(seen.append)
        for step in range(5, 12):
            run.log({"train/loss": 1.0 / (step + 1), "eval/acc": 0.5}, step=step)
        run.flush()
        assert m.poll() is True
        (line,) = m.lines(m.panels["train/loss"])
        assert line.x[-1] == 11.0 and len(line.x) == 12
        assert "eval/acc" in m.panels and "layout" in seen[-1]  # a new key: a new panel
        assert "sys/*_percent" not in m.changed  # its count did not move: not re-read
    finally:
        run.finish()


def test_both_views_draw_a_chart_per_panel_and_follow_the_model(root: Path, wide: str) -> None:
    require_module("panel")
    require_module("ipywidgets")
    panels = MetricPanels(wide, root=root, live=False)
    panels.panel().get_root()
    panels.widget()
    pnl, ipy = panels._views
    try:
        assert len(pnl.charts) == 24 and len(ipy.charts) == 24
        assert [s.id for s in panels.model.sections()] == list(pnl.cards)
        assert pnl.more.visible and pnl.more.label == "show 4 more"
        pnl.more.clicks += 1
        assert len(pnl.charts) == 28 and not pnl.more.visible
        percent = pnl.charts["sys/*_percent"]
        assert len(percent.sources) == 2 and len(percent.figure.legend[0].items) == 2
        source = pnl.charts["train/loss"].sources[(wide, "train/loss")]
        assert source.data["x"] == [float(s) for s in range(STEPS)]
        marks = ipy.charts["train/loss"].figure.marks
        assert len(marks) == 1 and list(marks[0].x) == list(range(STEPS))
        pnl.search.value = "eval/"
        card, _header, grid = pnl.cards["eval"]
        assert [c for c in pnl.sections.objects] == [card] and len(grid.objects) == 8
        assert len(ipy.sections.children) == 1 and len(ipy.cards["eval"][1].children) == 8
        card.collapsed = True  # collapsing in the page collapses the section in the model
        assert panels.model.collapsed == ["eval"] and grid.objects == []
        assert ipy.cards["eval"][0].selected_index is None
        ipy.cards["eval"][0].selected_index = 0
        assert panels.model.collapsed == [] and len(grid.objects) == 8
        pnl.charts["eval/acc"].pin.clicks += 1
        assert pnl.charts["eval/acc"].pin.label == "Unpin" and list(pnl.cards)[-1] == PINNED
        assert ipy.charts["eval/acc"].pin.description == "Unpin"
    finally:
        panels.close()


def test_run_detail_shows_the_panels_of_its_run(root: Path, wide: str) -> None:
    require_module("panel")
    require_module("ipywidgets")
    selection = Selection([wide])
    detail = RunDetail(selection, root=root, live=False)
    assert detail.model.metrics.run_ids == [wide] and len(detail.model.metrics.panels) == 28
    detail.panel().get_root()
    detail.widget()
    try:
        for view in detail._views:
            assert len(view.panels.charts) == 24
        other = thirty_key_run(root, name="second")
        selection.set([other])
        assert detail.model.metrics.run_ids == [other]
        assert all(run_id == other for (run_id, _key) in detail._views[0].panels.charts["loss"].sources)
        detail.lock("read-only")
        detail.model.metrics.toggle_pin("loss")
        assert "panels" not in load_view("wide", root=root)
    finally:
        detail.close()


def test_saved_views_file_holds_plain_json(root: Path, wide: str) -> None:
    m = MetricPanels(wide, root=root, live=False).model
    m.toggle_pin("train/loss")
    (path,) = (root / "views").iterdir()
    saved = json.loads(path.read_text())
    assert saved["project"] == "wide" and saved["values"]["panels"]["pinned"] == ["train/loss"]


def test_hostile_keys_show_as_text_in_sections_titles_and_legends(root: Path) -> None:
    """Every payload of tests/_hostile.py as a metric key: section headers and panel titles (HTML
    panes) hold only the markup the view writes, and show each payload as text."""
    require_module("panel")
    require_module("ipywidgets")
    from _hostile import PAYLOADS, unsafe_markup
    from test_hostile import _panel_surfaces, _text, _widget_surfaces

    with wb.init(project=PAYLOADS[0], name=PAYLOADS[1], root=root, system_metrics=False,
                 capture_output=False) as run:
        for step in range(3):
            run.log({p: float(step) for p in PAYLOADS}, step=step)
    other = thirty_key_run(root, project=PAYLOADS[0], name=PAYLOADS[2])
    panels = MetricPanels([run.id, other], root=root, live=False, limit=200)
    try:
        assert len(panels.model.panels) == len(PAYLOADS) + 28
        surfaces = list(_panel_surfaces(panels.panel())) + list(_widget_surfaces(panels.widget()))
        bad = [f"{where}: {b}" for where, fragment in surfaces for b in unsafe_markup(fragment)]
        assert not bad, bad[:20]
        shown = "\n".join(_text(fragment) for _where, fragment in surfaces)
        assert not [p for p in PAYLOADS if p not in shown]
        sections = {s.id for s in panels.model.sections()}
        assert "<script>window.__wb_xss=1<" in sections  # the text before the first "/"
        pnl = panels._views[0]
        payload = PAYLOADS[0]
        legend = pnl.charts[payload].figure.legend[0].items[0].label  # two runs: a legend (canvas text)
        assert getattr(legend, "value", legend) == PAYLOADS[1]
        panels.model.toggle_pin(payload)  # the layout of a hostile project saves and comes back
        assert MetricPanels(run.id, root=root, live=False).model.pinned == [payload]
    finally:
        panels.close()
