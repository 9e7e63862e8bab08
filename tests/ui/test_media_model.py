"""Issue 15, views: MediaPanels' model and both views over a real store of logged media (no browser)."""

from __future__ import annotations

import html
import html.parser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import require_module

import workbench as wb
from workbench import ui
from workbench.ui.media.ipywidgets_view import table_page
from workbench.ui.media.model import line_diff

HOSTILE = "<img src=x onerror=alert(1)>"
QUIET = {"capture_output": False, "system_metrics": False}


def media_store(root: Path, runs: int = 3, steps: int = 3) -> list[str]:
    """``runs`` runs, each with images at ``steps`` steps, a table with an image column, a histogram
    over steps, text at steps and audio; captions, a cell and a text line are hostile."""
    ids = []
    for r in range(runs):
        with wb.init(project="media", name=f"run-{r}", root=root, **QUIET) as run:
            for step in range(steps):
                pixels = np.full((8, 8, 3), (r * 80 + step * 20) % 256, dtype=np.uint8)
                thumbs = [wb.Image(np.full((4, 4, 3), 40 * i, dtype=np.uint8)) for i in range(3)]
                frame = pd.DataFrame({"name": ["beta", "alpha", HOSTILE], "score": [0.2, 0.9, 0.5],
                                      "picture": thumbs})
                run.log({
                    "pred": wb.Image(pixels, caption=f"run {r} step {step * 10} {HOSTILE}"),
                    "eval/table": wb.Table(frame),
                    "weights": wb.Histogram(np.random.default_rng(step).normal(step, 1.0, 500)),
                    "sample": wb.Text(f"line one\nrun {r} says {step * 10}\n{HOSTILE}"),
                    "clip": wb.Audio(np.zeros(1600, dtype=np.float32), sample_rate=16000),
                }, step=step * 10)
            ids.append(run.id)
    return ids


@pytest.fixture
def store(root: Path) -> list[str]:
    return media_store(root)


def test_sections_kinds_and_steps(root: Path, store: list[str]) -> None:
    model = ui.MediaPanels(store, root=root, live=False).model
    sections = model.sections()
    assert [s.id for s in sections] == ["", "eval"]
    assert [(p.id, p.kind) for p in sections[0].panels] == [("pred", "image"), ("weights", "histogram"),
                                                            ("sample", "text"), ("clip", "audio")]
    assert [(p.id, p.kind) for p in sections[1].panels] == [("eval/table", "table")]
    assert model.steps("pred") == [0, 10, 20] and model.step("pred") == 20 and model.latest("pred")


def test_image_grid_follows_the_step(root: Path, store: list[str]) -> None:
    model = ui.MediaPanels(store, root=root, live=False).model
    images = model.images("pred")
    assert [i.run_name for i in images] == ["run-0", "run-1", "run-2"]
    assert all(i.step == 20 and i.uri.startswith("data:image/png;base64,") for i in images)
    latest = [i.uri for i in images]
    model.move_step("pred", -1)
    assert model.step("pred") == 10 and not model.latest("pred")
    assert [i.step for i in model.images("pred")] == [10, 10, 10]
    assert [i.uri for i in model.images("pred")] != latest
    assert "step 10" in model.images("pred")[0].caption
    model.set_step("pred", None)
    assert model.step("pred") == 20


def test_table_histogram_text_audio(root: Path, store: list[str]) -> None:
    model = ui.MediaPanels(store, root=root, live=False).model
    tables = model.tables("eval/table")
    assert len(tables) == 3 and tables[0].image_columns == ["picture"]
    assert all(v.startswith("data:image/png;base64,") for v in tables[0].frame["picture"])
    rows, total = table_page(tables[0].frame, sort="score", descending=True, needle="", page=0,
                             image_columns=("picture",))
    assert list(rows["name"]) == ["alpha", HOSTILE, "beta"] and total == 3
    rows, total = table_page(tables[0].frame, sort="name", descending=False, needle="ALPH", page=0,
                             image_columns=("picture",))
    assert list(rows["name"]) == ["alpha"] and total == 1
    heat = model.heatmaps("weights")
    assert len(heat) == 3 and heat[0].steps == [0, 10, 20]
    assert len(heat[0].counts) == len(heat[0].edges) - 1 and len(heat[0].counts[0]) == 3
    assert abs(sum(row[0] for row in heat[0].counts) - 500) < 1e-6
    texts = model.texts("sample")
    assert [t[1] for t in texts] == ["run-0", "run-1", "run-2"] and texts[0][2][0].step == 20
    assert model.diff_pair("sample") == (store[0], store[1])
    diff = model.diff("sample")
    assert ("-", "run 0 says 2") not in diff and ("-", "run 0 says 20") in diff and ("+", "run 1 says 20") in diff
    model.set_diff("sample", store[0], store[2])
    assert ("+", "run 2 says 20") in model.diff("sample")
    sounds = model.sounds("clip")
    assert len(sounds) == 9 and all(s.uri.startswith("data:audio/wav;base64,") for s in sounds)
    assert line_diff("a\nb", "a\nc") == [(" ", "a"), ("-", "b"), ("+", "c")]


def test_follows_a_selection_and_shows_nothing_without_media(root: Path, store: list[str]) -> None:
    plain = wb.init(project="media", name="plain", root=root, **QUIET)
    plain.log({"loss": 1.0}, step=0)
    plain.finish()
    selection = ui.Selection([plain.id])
    model = ui.MediaPanels(selection, root=root, live=False).model
    assert not model.has_media and model.empty_hint == "No media logged yet"
    selection.set(store[:2])
    assert model.has_media and [i.run_name for i in model.images("pred")] == ["run-0", "run-1"]


def test_poll_shows_new_media_of_a_running_run(root: Path) -> None:
    run = wb.init(project="media", name="live", root=root, **QUIET)
    run.log({"pred": wb.Image(np.zeros((4, 4, 3), dtype=np.uint8))}, step=0)
    run.flush() if hasattr(run, "flush") else None
    model = ui.MediaPanels(run.id, root=root, live=False).model
    seen: list[frozenset[str]] = []
    model.observe(seen.append)
    first = model.steps("pred")
    run.log({"pred": wb.Image(np.ones((4, 4, 3), dtype=np.uint8)), "sample": wb.Text("hi")}, step=5)
    if hasattr(run, "flush"):
        run.flush()
    from conftest import wait_for

    wait_for(lambda: model.poll() or model.steps("pred") == [*first, 5], 20, "the new image")
    assert model.steps("pred")[-1] == 5 and "sample" in model.panels
    assert any("layout" in f for f in seen)
    run.finish()
    assert not model.poll() or True


# ---------------------------------------------------------------- views: everything is data
SAFE_TAGS = {"b", "i", "div", "span", "table", "tr", "td", "th", "pre", "small", "br", "img", "audio"}


class _Check(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in SAFE_TAGS:
            self.bad.append(tag)
        for name, value in attrs:
            if name == "src":
                if not (value or "").startswith(("data:image/", "data:audio/")):
                    self.bad.append(f"{tag} src={value!r}")
            elif name not in {"style", "class", "alt", "controls", "preload"}:
                self.bad.append(f"{tag} {name}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _check(fragments: list[str]) -> _Check:
    checker = _Check()
    for fragment in fragments:
        checker.feed(fragment)
    checker.close()
    return checker


def _panel_html(layout: Any) -> list[str]:
    from panel.models.markup import HTML

    return [html.unescape(m.text) for m in layout.get_root().references() if isinstance(m, HTML)]


def _widget_html(box: Any) -> list[str]:
    import ipywidgets as widgets

    out, stack, seen = [], [box], set()
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        if isinstance(w, widgets.HTML):
            out.append(w.value)
        stack += [c for c in getattr(w, "children", ()) if isinstance(c, widgets.Widget)]
    return out


def test_panel_view_shows_media_as_data(root: Path, store: list[str]) -> None:
    require_module("panel")
    from bokeh.models import Slider  # noqa: F401 - bokeh is there
    from panel.widgets import Tabulator

    component = ui.MediaPanels(store, root=root, live=False)
    try:
        layout = component.panel()
        checker = _check(_panel_html(layout))
        assert not checker.bad, checker.bad
        text = "".join(checker.text)
        assert HOSTILE in text and "run 2 step 20" in text
        assert checker.tags.count("img") == 3 and checker.tags.count("audio") == 9
        view = component._views[0]
        tables = [o for o in view.boxes["eval/table"].body.objects if isinstance(o, Tabulator)]
        assert len(tables) == 3
        assert tables[0].formatters["picture"]["type"] == "image"
        assert tables[0].header_filters["picture"] is False and tables[0].pagination == "local"
        assert HOSTILE in list(tables[0].value["name"])  # Tabulator shows cells as text
        component.model.move_step("pred", -1)
        text = "".join(_check(_panel_html(layout)).text)
        assert "run 0 step 10" in text and "run 0 step 20" not in text
        assert view.boxes["pred"].controls["slider"].value == 10
        diff = "".join(_check(_panel_html(view.boxes["sample"].body)).text)
        assert "- run 0 says 20" in diff and "+ run 1 says 20" in diff
        heat = view.boxes["weights"].body.objects[0]
        assert len(heat.objects) == 3
    finally:
        component.close()


def test_widget_view_shows_media_as_data(root: Path, store: list[str]) -> None:
    require_module("ipywidgets")
    import bqplot

    component = ui.MediaPanels(store, root=root, live=False)
    try:
        box = component.widget()
        checker = _check(_widget_html(box))
        assert not checker.bad, checker.bad
        assert HOSTILE in "".join(checker.text)
        assert checker.tags.count("audio") == 9 and checker.tags.count("img") >= 3 + 3 * 3
        view = component._views[0]
        view.boxes["pred"].controls["slider"].value = 0
        assert component.model.step("pred") == 0 and not component.model.latest("pred")
        assert "run 1 step 0" in "".join(_check(_widget_html(view.boxes["pred"].body)).text)
        view.boxes["pred"].controls["latest"].value = True
        assert component.model.step("pred") == 20
        heat = view.boxes["weights"].body.children[0].children
        assert len(heat) == 3 and isinstance(heat[0].marks[0], bqplot.GridHeatMap)
    finally:
        component.close()


def test_run_detail_has_a_media_tab_only_with_media(root: Path, store: list[str]) -> None:
    require_module("panel")
    require_module("ipywidgets")
    plain = wb.init(project="media", name="plain", root=root, **QUIET)
    plain.log({"loss": 1.0}, step=0)
    plain.finish()
    for run_id, expected in ((store[0], True), (plain.id, False)):
        detail = ui.RunDetail(run_id, root=root, live=False)
        try:
            panel_tabs = detail._views[0].tabs if detail.panel() is not None else None
            widget = detail.widget()
            names = list(panel_tabs._names) if panel_tabs is not None else []
            assert ("Media" in names) is expected, names
            tabs = detail._views[1].tabs
            assert ("Media" in tabs.titles) is expected, tabs.titles
        finally:
            detail.close()
        del widget
