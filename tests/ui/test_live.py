"""Live views: another process logs into a running run; open views show it with no call from the test."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from tests.conftest import REPO, require_module, wait_for
from tests.ui._stores import fill
from workbench.ui import MetricCompare, RunBrowser

TRAINER = textwrap.dedent("""
    import sys, time
    import workbench as wb
    run = wb.init(project="p", name="live-run", root=sys.argv[1], capture_output=False,
                  system_metrics=False, flush_interval=0.1)
    for step in range(5):
        run.log({"loss": 10.0 - step}, step=step)
    run.flush()
    print(run.id, flush=True)
    sys.stdin.readline()                      # the test has its views open
    for step in range(5, 60):
        run.log({"loss": 1.0 / step}, step=step)
    late = wb.init(project="p", name="late-run", root=sys.argv[1], capture_output=False, system_metrics=False)
    late.finish()
    sys.stdin.readline()                      # the test saw everything
    run.finish()
""")


def test_views_follow_another_process(root: Path) -> None:
    require_module("ipydatagrid")
    require_module("bqplot")
    require_module("panel")
    fill(root, 3)
    (root / "workbench.toml").write_text("ui_refresh = 0.2\n")
    trainer = subprocess.Popen([sys.executable, "-c", TRAINER, str(root)], cwd=REPO, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    browser = compare = None
    try:
        assert trainer.stdout is not None and trainer.stdin is not None
        run_id = trainer.stdout.readline().strip()
        assert run_id, "the trainer did not start"
        browser = RunBrowser(root=root, columns=["summary.loss"])
        compare = MetricCompare([run_id], keys=["loss"], root=root)
        grid = (browser.widget(), browser._views[0].grid)[1]
        browser.panel()
        tabulator = browser._views[1].table
        compare.widget()
        compare.panel()
        bq_view, pn_view = compare._views
        assert bq_view._poller.alive and pn_view._poller.alive

        def grid_loss() -> str:
            data = grid.data
            return str(data.loc[run_id, "summary.loss"]) if run_id in data.index else ""

        assert grid_loss() == "6" and list(bq_view.figures[0].marks[0].x) == [0, 1, 2, 3, 4]
        trainer.stdin.write("go\n")
        trainer.stdin.flush()
        # only waiting and reading from here on: the pollers do the rest
        wait_for(lambda: grid_loss() == f"{1 / 59:.6g}", timeout=15)
        wait_for(lambda: "late-run" in set(grid.data["name"]), timeout=15)
        wait_for(lambda: "late-run" in set(tabulator.value["name"]), timeout=15)
        wait_for(lambda: f"{1 / 59:.6g}" in set(tabulator.value["summary.loss"]), timeout=15)
        wait_for(lambda: np.max(bq_view.figures[0].marks[0].x) == 59, timeout=15)
        wait_for(lambda: np.max(pn_view.sources[0][0].data["x"]) == 59, timeout=15)
        assert compare.model.total_points == 60 and "60 of 60 points shown" in bq_view.info.value
        assert abs(pn_view.sources[0][0].data["y"][-1] - 1 / 59) < 1e-12
        assert bq_view.error.value == "" and not browser._views[1].error.visible
        trainer.stdin.write("done\n")
        trainer.stdin.flush()
        assert trainer.wait(timeout=30) == 0
        wait_for(lambda: tabulator.value.loc[tabulator.value["name"] == "live-run", "status"].tolist() == ["completed"],
                 timeout=15)
    finally:
        for component in (browser, compare):
            if component is not None:
                component.close()
        if trainer.poll() is None:
            trainer.kill()
        trainer.communicate()  # closes the pipes
