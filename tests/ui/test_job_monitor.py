"""JobMonitor (issue 6): real jobs of a real scheduler; cancel a queued job from the ipywidgets row
and a running one from the Panel row; logs of a chosen job; the live poller."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import require_module
from conftest import wait_for as until

import workbench as wb
from tests.jobs._job_helpers import jobs_env  # noqa: F401 - a fixture
from workbench.ui import JobMonitor
from workbench.ui.launch.monitor_model import loss_key, sparkline

BUSY = """
import time, workbench as wb
print("busy started", flush=True)
with wb.init() as run:
    for step in range(100000):
        run.log({"train/loss": 1.0 / (step + 1)}, step=step)
        time.sleep(0.02)
"""


def polled(model: Any) -> bool:
    """Poll ``model`` once (as the live view would); always True, for ``polled(m) and condition``."""
    model.poll()
    return True


def test_sparkline_and_loss_key() -> None:
    assert sparkline([3.0, 2.0, 1.0]) == "█▅▁"
    assert sparkline([1.0, 1.0]) == "▁▁" and sparkline([]) == "" and sparkline([float("nan")]) == ""
    assert loss_key({"acc": {}, "loss": {}, "train/loss": {}}) == "loss"
    assert loss_key({"eval/loss": {}, "train/loss": {}, "sys/cpu": {}}) == "train/loss"
    assert loss_key({"acc": {}}) is None


@pytest.mark.usefixtures("jobs_env")
def test_cancel_a_queued_and_a_running_job_from_the_monitor(root: Path) -> None:
    require_module("ipywidgets")
    require_module("panel")
    from workbench.ui.launch.panel_view import JobMonitorPanel

    busy = wb.launch("script", config={"command": [sys.executable, "-c", BUSY]}, name="busy", root=root)
    waiting = wb.launch("script", config={"command": [sys.executable, "-c", "print('never')"]}, name="waiting",
                        priority=-1, root=root)
    monitor = JobMonitor(root, live=False)
    m = monitor.model
    view = monitor.widget()
    panel_view = JobMonitorPanel(m, live=False)
    panel_view.layout.get_root()
    until(lambda: polled(m) and (m.row(busy.run_id) or {}).get("loss") is not None, what="the busy job's loss")
    assert [r["run_id"] for r in m.jobs] == [waiting.run_id, busy.run_id]  # newest first
    assert m.row(busy.run_id)["status"] == "running" and m.row(waiting.run_id)["status"] == "queued"
    assert m.row(busy.run_id)["loss_key"] == "train/loss" and m.row(busy.run_id)["spark"]
    assert m.row(waiting.run_id)["priority"] == -1 and m.row(waiting.run_id)["progress"] is None

    # the queued job, from its ipywidgets row: cancelled at once, never started
    view.row_widgets[waiting.run_id]["cancel"].click()
    assert m.error is None and wb.Job(waiting.run_id, root=root).status == "cancelled"
    assert m.row(waiting.run_id)["status"] == "cancelled" and view.row_widgets[waiting.run_id]["cancel"].disabled
    assert "#7f7f7f" in view.row_widgets[waiting.run_id]["status"].value

    # logs of the running job, from its Panel row
    panel_view.row_widgets[busy.run_id]["logs"].clicks += 1
    assert m.selected == busy.run_id
    until(lambda: polled(m) and "busy started" in m.logs, what="the busy job's output")
    assert "busy started" in panel_view.logs.object and "busy started" in view.logs.value

    # the running job, from its Panel row: SIGTERM to its group, then cancelled
    panel_view.row_widgets[busy.run_id]["cancel"].clicks += 1
    assert m.error is None
    until(lambda: polled(m) and (m.row(busy.run_id) or {}).get("status") == "cancelled", what="the cancel")
    assert panel_view.row_widgets[busy.run_id]["cancel"].disabled
    assert wb.Job(busy.run_id, root=root).status == "cancelled"
    assert "never" not in wb.Job(waiting.run_id, root=root).logs()

    # cancelling an ended job again says so, and a gone one shows an error inline
    view.row_widgets[busy.run_id]["cancel"].click()
    assert m.error is None
    m.cancel("zzzzzz")
    assert m.error is not None and "zzzzzz" in m.error and "zzzzzz" in view.error.value
    assert panel_view.alert.visible
    monitor.close()


@pytest.mark.usefixtures("jobs_env")
def test_live_monitor_shows_a_new_job_by_itself(root: Path) -> None:
    require_module("ipywidgets")
    monitor = JobMonitor(root)
    view = monitor.widget()
    assert view._poller is not None
    view._poller.interval = 0.05
    assert "No jobs yet" in view.rows.children[0].value
    job = wb.launch("script", config={"command": [sys.executable, "-c", "print('hello')"]}, root=root)
    until(lambda: job.run_id in view.row_widgets, what="the new job's row")
    until(lambda: "#2ca02c" in view.row_widgets[job.run_id]["status"].value, what="completed")
    assert view.row_widgets[job.run_id]["progress"].value == 1.0
    monitor.close()
    assert not view._poller.alive
