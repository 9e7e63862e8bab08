"""Issue 16: in a Voila dashboard, the mouse wheel over a MetricCompare chart (bqplot's PanZoom)
makes the kernel re-read the window: the status line names the steps re-read and shows more
points; **Reset zoom** goes back to the full range. A real ``voila`` process and headless Chromium.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from _browser import chromium, free_port, shots, stop_group, wait_http  # noqa: F401 - shots: a fixture

import workbench as wb
from tests.ui._stores import QUIET

pytestmark = pytest.mark.slow

STEPS = 200_000


def _notebook(path: Path, run_id: str) -> Path:
    source = ("import os\nfrom workbench import ui\n"
              f"ui.MetricCompare([{run_id!r}], keys=['loss'], root=os.environ['WORKBENCH_ROOT'])")
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
    notebook = {"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                             "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def _shown(text: str) -> int:
    match = re.search(r"([\d,]+) of 200,000 points shown", text)
    assert match, text
    return int(match.group(1).replace(",", ""))


def test_voila_wheel_zoom_requeries_the_window(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    from workbench.apps.dashboard import dashboard_token, voila_command, voila_env

    values = 1.0 + 0.01 * np.random.default_rng(2).standard_normal(STEPS)
    run = wb.init(project="p", name="long", root=root, **QUIET)
    for step, value in enumerate(values):
        run.log({"loss": float(value)}, step=step)
    run.finish()
    notebook = _notebook(tmp_path / "zoom.ipynb", run.id)
    port = free_port()
    token = dashboard_token()
    with open(tmp_path / "voila.log", "wb") as out:
        proc = subprocess.Popen(voila_command(notebook, port, cull=True), env=voila_env(root, token), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    try:
        wait_http(f"http://127.0.0.1:{port}/?token={token}", 120, proc)
        with chromium(shots) as b:
            page = b.page
            page.goto(f"http://127.0.0.1:{port}/?token={token}", timeout=120_000)
            status = page.locator("text=/of 200,000 points shown/").first
            status.wait_for(timeout=120_000)
            full = _shown(status.inner_text())
            assert 1000 < full <= 2000
            figure = page.locator(".bqplot.figure").first
            figure.wait_for(timeout=60_000)
            box = figure.bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            for _ in range(8):
                page.mouse.wheel(0, -300)  # zoom in along x
                page.wait_for_timeout(50)
            zoomed = page.locator("text=/zoomed: steps [\\d,]+ to [\\d,]+ re-read/").first
            zoomed.wait_for(timeout=60_000)
            text, same, deadline = "", 0, time.monotonic() + 60
            while same < 4 and time.monotonic() < deadline:  # the kernel has read the last window
                page.wait_for_timeout(500)
                now = page.locator("text=/of 200,000 points shown/").first.inner_text()
                same, text = (same + 1, text) if now == text else (0, now)
            assert same >= 4, text
            lo, hi = (int(v.replace(",", "")) for v in re.findall(r"steps ([\d,]+) to ([\d,]+)", text)[0])
            assert 0 < lo < hi < STEPS - 1 and hi - lo < STEPS / 2, text  # a window inside the run
            assert _shown(text) > full  # the window's own points on top of the full-range ones
            b.shot("voila-compare-wheel-zoom")
            page.get_by_role("button", name="Reset zoom").click()
            page.locator("text=/zoomed/").first.wait_for(state="detached", timeout=30_000)
            assert _shown(page.locator("text=/of 200,000 points shown/").first.inner_text()) == full
            assert b.outside == [], b.outside
    finally:
        stop_group(proc)
