"""Issue 14: Compare's charts in headless Chromium on a real ``panel serve``: hover text, legend, groups.

The mouse is put exactly on a data point: the point's screen position comes from the plot's own
Bokeh view (its scales), then the tooltip's text is read from the DOM (``.bk-tooltip-content`` lives in a
shadow root; Playwright's CSS pierces open ones).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _browser import chromium, panel_app, shots  # noqa: F401 - shots: a fixture

from tests.ui._stores import fill

pytestmark = pytest.mark.slow

#: screen position of point ``index`` of the first series (smoothed line) named ``name``
POINT = """([name, index]) => {
  for (const d of Bokeh.documents) for (const m of d._all_models.values()) {
    if (m.type !== 'Figure' && m.type !== 'Plot') continue;
    for (const r of m.renderers) {
      const data = r.data_source && r.data_source.data;
      if (!data || !data.name || data.name[0] !== name || r.glyph.y.field !== 'smooth') continue;
      const view = Bokeh.index.find_one(m);
      if (!view) return null;
      view.canvas_view.el.scrollIntoView({block: 'center'});
      const box = view.canvas_view.el.getBoundingClientRect();
      return {x: box.left + view.frame.x_scale.compute(data.x[index]),
              y: box.top + view.frame.y_scale.compute(data.smooth[index]),
              step: data.step[index], value: data.value[index]};
    }
  }
  return null;
}"""

COUNT = """(type) => { let n = 0; for (const d of (window.Bokeh ? Bokeh.documents : []))
  for (const m of d._all_models.values()) if (m.type === type) n++; return n; }"""


def test_compare_hover_legend_and_groups(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    ids = fill(root, 6, steps=30)  # run-000 .. run-005; config.lr 0.1, 0.01, 0.001, 0.0001, 0.1, 0.01
    names = [f"run-{i:03d}" for i in range(6)]
    with panel_app(root, tmp_path) as server, chromium(shots) as b:
        page = b.page
        page.goto(server.link(f"page=compare&runs={','.join(ids)}"))
        # no keys chosen: the keys every run logged (loss first), one chart each, a line per run
        page.wait_for_function(f"() => ({COUNT})('HoverTool') >= 2", timeout=30_000)
        legend = page.locator(".wb-legend").first
        legend.wait_for()
        text = legend.inner_text()
        assert all(n in text for n in names), text
        assert legend.locator(".wb-legend-item").count() == 6

        page.wait_for_function(f"() => ({POINT})(['run-002', 2]) !== null")  # step 2: the lines stand apart
        point = page.evaluate(POINT, ["run-002", 2])
        page.mouse.move(point["x"] - 3, point["y"])
        page.mouse.move(point["x"], point["y"])
        tooltip = page.locator(".bk-tooltip-content").filter(has_text="run-002").first
        tooltip.wait_for(timeout=10_000)
        shown = " ".join(tooltip.inner_text().split())
        assert point["step"] == "2" and point["value"] == "0.2", point  # loss 1 / (step + 1 + i), i = 2
        for part in ("run: run-002", "key: loss", "step: 2 ", "value: 0.2 ", "wall time: 20"):
            assert part in shown, shown
        b.shot("compare-hover")

        # group by config.lr: a mean line and a min/max band per group, the legend lists the groups
        assert page.evaluate(COUNT, "VArea") == 0
        page.locator("select", has=page.locator("option", has_text="no grouping")).select_option("config.lr")
        page.wait_for_function(f"() => ({COUNT})('VArea') >= 4", timeout=30_000)  # 4 groups, per chart
        page.wait_for_selector("text=Groups by config.lr")
        text = page.locator(".wb-legend").first.inner_text()
        assert "0.01 (2 runs)" in text and "0.1 (2 runs)" in text and "0.001 (1 run)" in text, text
        assert "run-000" not in text
        b.shot("compare-grouped")
        assert b.outside == [], b.outside
