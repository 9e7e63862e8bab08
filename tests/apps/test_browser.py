"""Issue 7, acceptance 1 and 3: the web app and a Voila dashboard used as a person would, in
headless Debian Chromium against real ``panel serve`` and ``voila`` processes. Each test saves
screenshots under its output directory and checks that no request left the machine."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from _browser import Browser, chromium, free_port, panel_app, shots, stop_group, wait_http  # noqa: F401 - shots: fixture

import workbench as wb

pytestmark = pytest.mark.slow

ENDLESS = "import time, workbench as wb\nrun = wb.init()\nfor s in range(100000):\n" \
          "    run.log({'loss': 1 / (s + 1)}, step=s)\n    time.sleep(0.05)\n"
COUNTING = "import time, workbench as wb\nrun = wb.init()\nfor s in range(40):\n" \
           "    run.log({'loss': 1 / (s + 1)}, step=s)\n    time.sleep(0.1)\n"


def _store(root: Path) -> list[str]:
    """Five finished runs with different learning rates, a dataset artifact, fast live refresh."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "workbench.toml").write_text("ui_refresh = 0.3\n")
    ids = []
    for i, lr in enumerate((0.01, 0.03, 0.1, 0.3, 1.0)):
        with wb.init(project="e2e", name=f"lr-{lr}", config={"lr": lr, "depth": i % 2}, root=root) as run:
            ids.append(run.id)
            for step in range(60):
                run.log({"loss": 1.0 / (1 + step * lr), "acc": min(1.0, step * lr / 10)}, step=step)
    data = root.parent / "reviews.csv"
    data.write_text("text,label\ngood,positive\nbad,negative\nfine,positive\n")
    wb.log_artifact(data, name="reviews", type="dataset", run=ids[0], root=root)
    return ids


def _check_offline(b: Browser) -> None:
    assert b.requests, "the request recorder saw nothing"
    assert b.outside == [], f"pages reached outside the machine: {b.outside}"


def _rows(b: Browser) -> int:
    return b.page.locator(".tabulator-row").count()


def test_filter_select_compare_detail(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    ids = _store(root)
    with panel_app(root, tmp_path) as server, chromium(shots) as b:
        page = b.page
        page.goto(server.link("page=runs"))
        page.wait_for_selector(".tabulator-row")
        assert _rows(b) == 5
        b.shot("runs")
        where = page.get_by_placeholder("config.lr < 1e-3")
        where.fill("config.lr >= 0.1 and summary.acc > 0.5")
        where.press("Enter")
        page.get_by_role("button", name="Apply").click()
        deadline = time.monotonic() + 15
        while _rows(b) != 3 and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert _rows(b) == 3
        b.shot("runs-filtered")
        # a filter that is not valid: the error shows inline, the table stays
        where.fill("config.lr >>> 2")
        where.press("Enter")
        page.get_by_role("button", name="Apply").click()
        page.get_by_text("Filter", exact=False).first.wait_for()
        page.wait_for_selector("text=/not valid|cannot|expected|error/i", timeout=15_000)
        b.shot("runs-bad-filter")
        where.fill("config.lr >= 0.1")
        where.press("Enter")
        page.get_by_role("button", name="Apply").click()
        deadline = time.monotonic() + 15
        while _rows(b) != 3 and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        # select two runs with their checkboxes
        boxes = page.locator(".tabulator-row input[type=checkbox]")
        boxes.nth(0).click()
        boxes.nth(1).click()
        page.get_by_role("button", name="Compare selected").click()
        # the compare chart draws one raw and one smoothed line per selected run
        page.wait_for_function(
            """() => { const docs = window.Bokeh ? Bokeh.documents : [];
                       let n = 0;
                       for (const d of docs) for (const m of d._all_models.values())
                         if (m.type === 'ColumnDataSource' && m.data.x && m.data.x.length > 0) n++;
                       return n >= 2; }""",
            timeout=30_000,
        )
        legend = page.locator(".wb-legend").first  # issue 14: one legend beside the charts, every run
        legend.wait_for()
        shown = legend.inner_text()
        assert sum(f"lr-{lr}" in shown for lr in (0.1, 0.3, 1.0)) == 2, shown
        b.shot("compare")
        page.get_by_role("button", name="Run detail").click()
        page.wait_for_selector("text=/lr-(0\\.1|0\\.3|1\\.0)/")
        page.wait_for_selector("text=completed")
        b.shot("detail")
        # a deep link selects runs and opens a page
        page.goto(server.link(f"page=compare&runs={ids[0]},{ids[4]}"))
        page.wait_for_function(
            """() => { let n = 0; for (const d of (window.Bokeh ? Bokeh.documents : []))
                         for (const m of d._all_models.values())
                           if (m.type === 'HoverTool') n++; return n >= 1; }""", timeout=30_000)
        assert page.locator(".wb-legend .wb-legend-item").count() == 2
        _check_offline(b)


def _box(page: object, label: str) -> object:
    """The text box of a form field, found by its label (the field's help is text below it)."""
    return page.locator(f"label:text-is('{label}') + * input, label:text-is('{label}') ~ input").first  # type: ignore[attr-defined]


def _launch(page: object, script: Path, name: str, steps: int | None = None) -> None:
    for label, value in (("command *", f"python {script}"), ("planned_steps", None if steps is None else str(steps)),
                         ("Name", name)):
        if value is not None:
            box = _box(page, label)
            box.fill(value)  # type: ignore[attr-defined]
            box.press("Enter")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Launch", exact=True).click()  # type: ignore[attr-defined]


def test_launch_completes_and_cancel(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    _store(root)
    counting = tmp_path / "counting.py"
    counting.write_text(COUNTING)
    endless = tmp_path / "endless.py"
    endless.write_text(ENDLESS)
    try:
        with panel_app(root, tmp_path) as server, chromium(shots) as b:
            page = b.page
            page.goto(server.link("page=jobs"))
            page.wait_for_selector("text=Recipe")
            _launch(page, counting, "e2e-counting", steps=40)
            page.wait_for_selector("text=e2e-counting", timeout=30_000)
            seen = set()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                value = page.locator("progress").first.get_attribute("value")
                if value is not None:
                    seen.add(int(float(value)))
                if page.locator("text=completed").count():
                    break
                page.wait_for_timeout(150)
            page.wait_for_selector("text=completed", timeout=10_000)
            b.shot("job-completed")
            moving = sorted(v for v in seen if 0 < v < 100)
            assert moving, f"the progress bar never showed a value between 0 and 100: {sorted(seen)}"
            # a second, endless job: cancel it from its row
            _launch(page, endless, "e2e-endless")
            page.wait_for_selector("text=e2e-endless", timeout=30_000)
            job = wb.runs(where="name = 'e2e-endless'", root=root)
            run_id = str(job["run_id"].iloc[0])
            deadline = time.monotonic() + 60
            while wb.Job(run_id, root=root).status != "running" and time.monotonic() < deadline:
                time.sleep(0.2)
            cancel = page.get_by_role("button", name="Cancel")
            for i in range(cancel.count()):
                if cancel.nth(i).is_enabled():
                    cancel.nth(i).click()
                    break
            deadline = time.monotonic() + 60
            while wb.Job(run_id, root=root).status != "cancelled" and time.monotonic() < deadline:
                time.sleep(0.2)
            assert wb.Job(run_id, root=root).status == "cancelled"
            page.wait_for_selector("text=cancelled", timeout=15_000)
            b.shot("job-cancelled")
            _check_offline(b)
    finally:
        from workbench.jobs import list_jobs

        for job in list_jobs(root):
            if job.status in ("queued", "running"):
                job.cancel()


def test_set_alias_on_an_artifact(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    _store(root)
    with panel_app(root, tmp_path) as server, chromium(shots) as b:
        page = b.page
        page.goto(server.link("page=artifacts"))
        page.wait_for_selector(".tabulator-row")
        page.locator(".tabulator-row").filter(has_text="reviews").first.click()
        page.wait_for_selector("text=v1")
        page.locator(".tabulator-row").filter(has_text="v1").first.click()
        alias = page.get_by_placeholder("production")
        alias.fill("golden")
        alias.press("Enter")
        page.get_by_role("button", name="Set alias").click()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "golden" in wb.artifact("reviews:v1", root=root).aliases:
                break
            time.sleep(0.2)
        assert "golden" in wb.artifact("reviews:v1", root=root).aliases
        page.wait_for_selector("text=golden")
        b.shot("artifacts")
        _check_offline(b)


def test_voila_dashboard_responds_to_a_click(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    from workbench.apps.dashboard import dashboard_token, find_notebook, voila_command, voila_env

    _store(root)
    port = free_port()
    log = tmp_path / "voila.log"
    token = dashboard_token()
    with open(log, "wb") as out:
        proc = subprocess.Popen(voila_command(find_notebook("dashboard"), port, cull=True),
                                env=voila_env(root, token), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=tmp_path)
    try:
        wait_http(f"http://127.0.0.1:{port}/?token={token}", 120, proc)
        with chromium(shots) as b:
            page = b.page
            page.goto(f"http://127.0.0.1:{port}/?token={token}", timeout=120_000)
            status = page.locator("text=/Runs 1-5 of 5 matching/")
            status.first.wait_for(timeout=120_000)
            b.shot("voila-dashboard")
            where = page.get_by_placeholder("config.lr < 1e-3")
            where.fill("config.lr > 0.2")
            where.press("Enter")
            page.get_by_role("button", name="Apply").click()
            page.locator("text=/Runs 1-2 of 2 matching/").first.wait_for(timeout=30_000)
            b.shot("voila-dashboard-filtered")
            _check_offline(b)
    finally:
        stop_group(proc)
