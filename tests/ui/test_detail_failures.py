"""Issue 14, failures explained: RunDetail says why a run did not complete (error, traceback, exit
code or signal, a crash's last heartbeat and stderr, storage warnings), shows stdout and stderr,
follows a running run's output, and says how to pick a run when it shows none. Real runs, real
processes killed for real, a real job; both renderings."""

from __future__ import annotations

import html
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from _failures import failing_run, ticking_run
from conftest import require_module, wait_for

import workbench as wb
from tests.jobs._job_helpers import jobs_env, stop_everything  # noqa: F401 - a fixture
from workbench.ui import RunDetail, Selection
from workbench.ui.detail._failure import describe_failure, exit_text

HOSTILE = '<img src=x onerror="window.__wb_xss=1"> diverged'


def _views(detail: RunDetail) -> tuple[object, object]:
    require_module("ipywidgets")
    require_module("panel")
    detail.widget()
    detail.panel().get_root()
    ipy, pnl = detail._views
    return ipy, pnl


def test_a_failed_run_shows_its_error_and_traceback_as_text(root: Path) -> None:
    run_id = failing_run(root, f"loss is nan {HOSTILE}", stderr="warming up <b>cuda</b>")
    detail = RunDetail(run_id, root=root, live=False)
    failure = detail.model.failure
    assert failure is not None and detail.model.status == "failed"
    assert failure.title == "Failed: ValueError"
    assert failure.message == f"loss is nan {HOSTILE}"
    assert failure.traceback.startswith("Traceback (most recent call last):")
    assert "in train_step" in failure.traceback
    assert failure.traceback.rstrip().endswith(f"ValueError: loss is nan {HOSTILE}")
    assert failure.stderr == ""  # the traceback says it: no stderr block in the box
    assert detail.model.stderr.strip() == "warming up <b>cuda</b>"  # the Output tab has it
    ipy, pnl = _views(detail)
    for where, shown in (("ipywidgets", ipy.failure.value), ("panel", pnl.failure.object)):
        assert "<img" not in shown, where  # the payload is text: escaped, never an element
        assert html.escape(HOSTILE, quote=True) in shown and "in train_step" in shown, where
        assert 'class="wb-traceback"' in shown and "overflow:auto" in shown and "monospace" in shown, where
    assert pnl.failure.visible
    for where, shown in (("ipywidgets", ipy.stdout.value), ("panel", pnl.stdout.object)):
        assert "warming up &lt;b&gt;cuda&lt;/b&gt;" in shown and 'class="wb-stderr"' in shown, where
        assert "No output" not in shown, where
    detail.close()


def test_a_killed_run_reads_crashed_with_its_heartbeat_and_stderr_and_the_tail_followed_it(root: Path) -> None:
    root.mkdir(parents=True)
    proc, run_id = ticking_run(root)
    try:
        detail = RunDetail(run_id, root=root, live=False)
        ipy, pnl = _views(detail)
        assert detail.model.status == "running" and detail.model.failure is None
        assert not pnl.failure.visible and ipy.failure.value == ""
        assert "follows it" in pnl.stdout.object  # a live run says its output is live
        # the output tail follows the running run: stdout and stderr
        wait_for(lambda: detail.model.poll() and "tick 5 err" in detail.model.stderr, timeout=30)
        assert "tick 5 out" in detail.model.stdout
        assert "tick 5 err" in ipy.stdout.value and "tick 5 err" in pnl.stdout.object
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        # a refresh notices the death (the store checks running runs' processes every 2 s)
        wait_for(lambda: detail.model.poll() and detail.model.status == "crashed", timeout=30)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()
    m = detail.model
    assert m.status == "crashed" and wb.get_run(run_id, root=root)["status"] == "crashed"  # the store recorded it
    failure = m.failure
    assert failure is not None and failure.title == "Crashed"
    assert "ended without finishing the run" in failure.message
    heartbeat = dict(failure.facts())["Last heartbeat"]
    assert heartbeat.endswith(" ago)") and heartbeat[:4].isdigit()
    last = failure.stderr.splitlines()[-1]
    assert last.startswith("tick ") and last.endswith(" err")  # the stderr tail is in the box
    assert pnl.failure.visible and "Last heartbeat" in pnl.failure.object and last in pnl.failure.object
    assert "Crashed" in ipy.failure.value and last in ipy.failure.value
    assert "follows it" not in pnl.stdout.object
    assert not m.poll()  # a crashed run is not re-read
    detail.close()


@pytest.mark.usefixtures("jobs_env")
def test_a_job_killed_by_a_signal_names_the_signal_and_shows_its_stderr(root: Path) -> None:
    code = ("import os, signal, sys\nprint('about to be killed <script>x</script>', file=sys.stderr, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    job = wb.launch("script", config={"command": [sys.executable, "-c", code]}, name="killed", root=root)
    assert job.wait(timeout=60) == "failed"
    stop_everything(root)
    detail = RunDetail(job.run_id, root=root, live=False)
    failure = detail.model.failure
    assert failure is not None and failure.title == "Failed"
    assert dict(failure.facts())["Exit"] == "killed by SIGKILL (Killed)"
    assert "killed by SIGKILL" in failure.message
    assert failure.stderr == "about to be killed <script>x</script>"
    ipy, pnl = _views(detail)
    for shown in (ipy.failure.value, pnl.failure.object):
        assert "killed by SIGKILL (Killed)" in shown and "&lt;script&gt;x&lt;/script&gt;" in shown
        assert "<script>" not in shown
    detail.close()


def test_exit_codes_and_signals() -> None:
    assert exit_text(3) == "exit code 3" and exit_text(0) == "exit code 0"
    assert exit_text(-signal.SIGTERM) == "killed by SIGTERM (Terminated)"
    assert exit_text(-200) == "killed by signal 200"
    assert exit_text(None) == "" and exit_text("3") == "" and exit_text(True) == ""


def test_storage_warnings_show_on_a_completed_run_and_a_run_failed_without_error(root: Path) -> None:
    with wb.init(project="faults", root=root, system_metrics=False) as run:
        run.log({"loss": 1.0}, step=0)
    path = root / "runs" / run.id / "run.json"  # what a full disk leaves in the record
    record = json.loads(path.read_text())
    record["warnings"] = ["disk full <b>writing</b> segment 3", "writes work again"]
    record["points_lost"] = 1234
    path.write_text(json.dumps(record))
    detail = RunDetail(run.id, root=root, live=False)
    failure = detail.model.failure
    assert failure is not None and failure.title == "Storage warnings" and failure.status == ""
    assert failure.warnings == ("disk full <b>writing</b> segment 3", "writes work again")
    assert dict(failure.facts()) == {"Points lost": "1,234"}
    ipy, pnl = _views(detail)
    assert "disk full &lt;b&gt;writing&lt;/b&gt; segment 3" in pnl.failure.object and pnl.failure.visible
    assert "1,234" in ipy.failure.value
    assert describe_failure({"status": "completed"}) is None and describe_failure({"status": "running"}) is None
    quiet = wb.init(project="faults", root=root, system_metrics=False)
    quiet.finish("failed")  # failed by its own code, with no error: still explained
    detail.model.load(quiet.id)
    failure = detail.model.failure
    assert failure is not None and failure.message == "The run ended as failed without recording an error."
    assert not failure.warnings and "without recording an error" in pnl.failure.object
    detail.model.load(run.id)  # back to a completed run with no faults: the box goes
    path.write_text(json.dumps({k: v for k, v in record.items() if k not in ("warnings", "points_lost")}))
    detail.model.load(run.id)
    assert detail.model.failure is None and not pnl.failure.visible and ipy.failure.value == ""
    detail.close()


def test_no_run_selected_says_how_to_pick_one(root: Path) -> None:
    with wb.init(project="p", root=root, system_metrics=False) as run:
        pass
    selection = Selection()
    detail = RunDetail(selection, root=root, live=False)
    assert detail.run_id is None and "Runs page" in detail.model.empty_hint
    ipy, pnl = _views(detail)
    for shown in (ipy.header.value, pnl.header.object):
        assert "No run selected" in shown and "RunDetail(&quot;RUN_ID&quot;)" in shown
    assert not pnl.tabs.visible and ipy.tabs.layout.display == "none"
    selection.set([run.id])
    assert detail.model.empty_hint == "" and pnl.tabs.visible and ipy.tabs.layout.display == ""
    assert "No run selected" not in pnl.header.object and run.id in ipy.header.value
    detail.close()


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # the app's other widgets use Panel 1.x names
def test_the_web_apps_detail_page_offers_the_runs_page_until_a_run_is_picked(root: Path) -> None:
    require_module("panel")
    from workbench.apps.webapp import build_app

    with wb.init(project="p", root=root, system_metrics=False) as run:
        pass
    app = build_app(root, {"page": "detail"})
    page = app.page("detail")
    pick = next(o for o in page.objects if getattr(o, "label", "") == "Pick a run on the Runs page")
    assert pick.visible
    app.select_runs([run.id])
    assert not pick.visible
    app.select_runs([])
    assert pick.visible
    pick.clicks += 1
    assert app.nav.value == "runs" and app.main.objects == [app.page("runs")]
