"""Issue 16: zooming a Compare chart in headless Chromium on a real ``panel serve`` re-reads the window.

A 200,000-step run with one planted spike, charted at about 2,000 points. A box zoom (toolbar
button, then a drag on the canvas) and a wheel zoom (centred on the spike) each end in a
``RangesUpdate`` that the server answers with the window's points at full resolution: the line's
data in the browser (read from Bokeh's own document) gets denser inside the window, every step
once the window spans fewer steps than ``samples``, the spike and its neighbours among them; the
status line says which steps were re-read; the view stays where the mouse put it. Reset brings
the full-range points back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _browser import chromium, panel_app, shots  # noqa: F401 - shots: a fixture

import workbench as wb
from tests.ui._stores import QUIET

pytestmark = pytest.mark.slow

STEPS = 200_000
SPIKE = 123_457

#: the chart of the run named ``name``: its canvas box, plot frame, x range and raw line's data
CHART = """(name) => {
  for (const d of Bokeh.documents) for (const m of d._all_models.values()) {
    if (m.type !== 'Figure' && m.type !== 'Plot') continue;
    for (const r of m.renderers) {
      const data = r.data_source && r.data_source.data;
      if (!data || !data.name || data.name[0] !== name || r.glyph.y.field !== 'y') continue;
      const view = Bokeh.index.find_one(m);
      if (!view) return null;
      const box = view.canvas_view.el.getBoundingClientRect();
      const f = view.frame.bbox;
      return {left: box.left, top: box.top, frame: {x0: f.left, x1: f.right, y0: f.top, y1: f.bottom},
              start: m.x_range.start, end: m.x_range.end,
              x: Array.from(data.x), y: Array.from(data.y)};
    }
  }
  return null;
}"""

#: screen x of step ``x`` on that chart
SCREEN_X = """([name, x]) => {
  for (const d of Bokeh.documents) for (const m of d._all_models.values()) {
    if (m.type !== 'Figure' && m.type !== 'Plot') continue;
    for (const r of m.renderers) {
      const data = r.data_source && r.data_source.data;
      if (!data || !data.name || data.name[0] !== name || r.glyph.y.field !== 'y') continue;
      const view = Bokeh.index.find_one(m);
      return view.canvas_view.el.getBoundingClientRect().left + view.frame.x_scale.compute(x);
    }
  }
  return null;
}"""

#: how many of the chart's points lie in [lo, hi] (steps)
INSIDE = """([name, lo, hi]) => {
  for (const d of Bokeh.documents) for (const m of d._all_models.values()) {
    if (m.type !== 'Figure' && m.type !== 'Plot') continue;
    for (const r of m.renderers) {
      const data = r.data_source && r.data_source.data;
      if (!data || !data.name || data.name[0] !== name || r.glyph.y.field !== 'y') continue;
      let n = 0; for (const x of data.x) if (x >= lo && x <= hi) n++; return n;
    }
  }
  return -1;
}"""


def _inside(page: object, lo: float, hi: float) -> int:
    return int(page.evaluate(INSIDE, ["long", lo, hi]))  # type: ignore[attr-defined]


def _long_run(root: Path) -> tuple[str, np.ndarray]:
    values = 1.0 + 0.01 * np.random.default_rng(1).standard_normal(STEPS)
    values[SPIKE] = 50.0
    run = wb.init(project="p", name="long", root=root, **QUIET)
    for step, value in enumerate(values):
        run.log({"loss": float(value)}, step=step)
    run.finish()
    return run.id, values


def test_box_and_wheel_zoom_requery_the_window(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    run_id, values = _long_run(root)
    with panel_app(root, tmp_path) as server, chromium(shots) as b:
        page = b.page
        page.goto(server.link(f"page=compare&runs={run_id}"))
        page.wait_for_function(f"() => ({CHART})('long') !== null", timeout=60_000)
        page.wait_for_selector("text=/of 200,000 points shown/")
        full = page.evaluate(CHART, "long")
        assert 1000 < len(full["x"]) <= 2000 and 50.0 in full["y"]  # M4 at full range: the spike's value
        lo, hi = 120_000, 127_000
        assert _inside(page, lo + 500, hi - 500) < 150  # a 6,000-step stretch: a few dozen points

        # box zoom: the toolbar's Box Zoom, then a drag from step 120,000 to 127,000
        page.locator("[title='Box Zoom']").first.click()
        x0, x1 = page.evaluate(SCREEN_X, ["long", lo]), page.evaluate(SCREEN_X, ["long", hi])
        frame, top = full["frame"], full["top"]
        page.mouse.move(x0, top + frame["y0"] + 5)
        page.mouse.down()
        page.mouse.move((x0 + x1) / 2, top + frame["y1"] - 5, steps=5)
        page.mouse.move(x1, top + frame["y1"] - 5, steps=5)
        page.mouse.up()
        page.wait_for_selector("text=/zoomed: steps 1\\d\\d,\\d\\d\\d to 12\\d,\\d\\d\\d re-read/", timeout=30_000)
        page.wait_for_function(f"() => ({INSIDE})(['long', {lo + 500}, {hi - 500}]) > 1000", timeout=30_000)
        zoomed = page.evaluate(CHART, "long")
        assert abs(zoomed["start"] - lo) < 300 and abs(zoomed["end"] - hi) < 300, zoomed["start"]  # view kept
        assert zoomed["x"][0] == 0 and zoomed["x"][-1] == STEPS - 1  # the full-range points outside it
        b.shot("compare-box-zoom")

        # reset: the full-range points again, nothing to wait for
        page.locator("[title='Reset']").first.click()
        page.wait_for_function(f"() => ({INSIDE})(['long', {lo + 500}, {hi - 500}]) < 150", timeout=30_000)
        page.wait_for_selector("text=/zoomed/", state="detached")

        # wheel zoom centred on the spike until fewer than 1,500 steps are in view
        page.locator("[title^='Wheel Zoom']").first.click()
        spike_x = page.evaluate(SCREEN_X, ["long", SPIKE])
        page.mouse.move(spike_x, top + (frame["y0"] + frame["y1"]) / 2)
        for _ in range(40):
            page.mouse.wheel(0, -400)
            page.wait_for_timeout(30)
            now = page.evaluate(CHART, "long")
            if now["end"] - now["start"] < 1500:
                break
        page.wait_for_timeout(1000)  # the wheel has stopped: BokehJS sends the final RangesUpdate
        view = page.evaluate(CHART, "long")
        start, end = view["start"], view["end"]
        assert end - start < 1500 and start < SPIKE < end, (start, end)
        first, last = int(np.ceil(start)), int(np.floor(end))
        page.wait_for_function(f"() => ({INSIDE})(['long', {first}, {last}]) === {last - first + 1}",
                               timeout=30_000)  # every step in view
        data = page.evaluate(CHART, "long")
        x, y = np.array(data["x"]), np.array(data["y"])
        near = (x >= SPIKE - 1) & (x <= SPIKE + 1)
        assert list(x[near]) == [SPIKE - 1, SPIKE, SPIKE + 1]
        assert list(y[near]) == pytest.approx(list(values[SPIKE - 1:SPIKE + 2]))
        assert page.locator("text=/zoomed: steps/").count() == 1
        b.shot("compare-wheel-zoom")
        assert b.outside == [], b.outside
