"""Issue 14, automatic panels, in headless Chromium against a real ``panel serve``: Run detail of a
run with 30 keys in 4 prefixes shows a section per prefix and a chart per key with no clicks;
collapsing a section hides its charts; the search narrows them; a pinned chart and a collapsed
section are still so after a page reload (the layout is saved per project)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _browser import chromium, panel_app, shots  # noqa: F401 - shots: fixture
from conftest import wait_for

import workbench as wb
from workbench.settings import load_view

pytestmark = pytest.mark.slow

TRAIN = ["train/loss", "train/acc", "train/lr", "train/grad_norm"] + [f"train/k{i}" for i in range(6)]
EVAL = ["eval/loss", "eval/acc"] + [f"eval/k{i}" for i in range(6)]
PLAIN = ["loss", "acc", "epoch", "throughput", "tokens", "perplexity"]
SYS = ["sys/cpu_percent", "sys/memory_percent", "sys/rss_mb", "sys/gpu0_memory_used_mb", "sys/gpu0_temperature_c",
       "sys/gpu0_power_w"]
KEYS = TRAIN + EVAL + PLAIN + SYS  # 30 keys in 4 prefixes
SYS_TITLES = ["sys/* [%]", "sys/* [MB]", "sys/* [°C]", "sys/* [W]"]  # one chart per unit
TITLES = TRAIN + EVAL + PLAIN + SYS_TITLES  # 28 charts
STEPS = 20

# data sources of glyph renderers holding a whole series (each chart's line, on the page now)
SERIES_JS = """(steps) => { let n = 0;
  for (const d of (window.Bokeh ? Bokeh.documents : [])) for (const m of d._all_models.values())
    if (m.type === 'GlyphRenderer' && m.data_source && m.data_source.data.x
        && m.data_source.data.x.length === steps) n++;
  return n; }"""


# the titles of the charts shown (each in the shadow root of its pane, class wb-panel-title), sorted
TITLES_JS = """() => { const out = [];
  const walk = (root) => { for (const el of root.querySelectorAll('*')) {
    if (el.classList.contains('wb-panel-title') && el.shadowRoot) {
      const box = el.getBoundingClientRect(), b = el.shadowRoot.querySelector('b');
      if (box.width > 0 && box.height > 0 && b) out.push(b.textContent); }
    if (el.shadowRoot) walk(el.shadowRoot); } };
  walk(document); return out.sort(); }"""


def _visible_titles(page: Any) -> list[str]:
    return list(page.evaluate(TITLES_JS))


def test_run_detail_charts_every_key_and_keeps_the_layout(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    root.mkdir(parents=True, exist_ok=True)
    (root / "workbench.toml").write_text("ui_refresh = 0.5\n")
    with wb.init(project="wide", name="wide-run", root=root, system_metrics=False, capture_output=False) as run:
        for step in range(STEPS):
            run.log({k: float(i * 100 + step) for i, k in enumerate(KEYS)}, step=step)

    with panel_app(root, tmp_path) as server, chromium(shots) as b:
        page = b.page
        page.goto(server.link(f"page=detail&runs={run.id}"))
        page.get_by_text("train/loss", exact=True).first.wait_for(timeout=60_000)  # no clicks needed
        for header in ("metrics (6)", "eval (8)", "train (10)", "sys (4)"):
            assert page.get_by_text(header, exact=True).first.is_visible(), header
        # at most 24 charts at first, then "show 4 more": one per key, system ones one per unit
        wait_for(lambda: len(_visible_titles(page)) == 24, 20, "24 charts")
        page.get_by_role("button", name="show 4 more").click()
        wait_for(lambda: _visible_titles(page) == sorted(TITLES), 20, "all 28 charts")
        wait_for(lambda: page.evaluate(SERIES_JS, STEPS) >= len(TITLES) - 4 + 6, 20, "a drawn series per key")
        b.shot("panels-detail")

        # collapsing a section hides its charts
        page.get_by_text("eval (8)", exact=True).first.click()
        wait_for(lambda: not set(EVAL) & set(_visible_titles(page)), 20, "eval's charts hidden")
        assert "train/loss" in _visible_titles(page)

        # the search narrows the charts
        page.get_by_placeholder("Search keys").fill("loss")
        wait_for(lambda: _visible_titles(page) == ["loss", "train/loss"], 20, "only the loss charts")  # eval collapsed
        page.get_by_placeholder("Search keys").fill("")
        wait_for(lambda: len(_visible_titles(page)) == 28 - 8, 20, "every chart but eval's again")

        # pin one: it moves to a "Pinned" section at the top, and stays there after a reload
        panel = page.locator(".wb-panel").filter(has=page.get_by_text("train/k3", exact=True))
        panel.get_by_role("button", name="Pin").click()
        page.get_by_text("Pinned (1)", exact=True).first.wait_for(timeout=20_000)
        wait_for(lambda: (load_view("wide", root=root).get("panels") or {}).get("pinned") == ["train/k3"], 10,
                 "the layout saved")
        page.reload()
        page.get_by_text("Pinned (1)", exact=True).first.wait_for(timeout=60_000)
        pinned = page.locator(".wb-section").first
        assert pinned.get_by_text("train/k3", exact=True).is_visible()
        assert page.get_by_text("train (9)", exact=True).first.is_visible()
        wait_for(lambda: "train/loss" in _visible_titles(page), 20, "the charts after the reload")
        assert not set(EVAL) & set(_visible_titles(page))  # still collapsed
        b.shot("panels-detail-pinned")
        assert b.outside == [], f"pages reached outside the machine: {b.outside}"
