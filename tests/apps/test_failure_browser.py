"""Issue 14, failures explained, in headless Chromium against a real ``panel serve`` and ``voila``:
Run detail of a failed run shows its error and traceback (as text, at the top of the page) and its
stderr on the Output tab; with no run picked, the page says how to pick one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from _browser import chromium, free_port, panel_app, shots, stop_group, wait_http  # noqa: F401 - shots: fixture
from _failures import failing_run

import workbench as wb

pytestmark = pytest.mark.slow

MESSAGE = "loss is nan at step 3 <b>not bold</b>"


def _store(root: Path) -> str:
    """A completed run, then a run that failed (the newest: first in the runs table)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "workbench.toml").write_text("ui_refresh = 0.3\n")
    with wb.init(project="failures", name="fine", root=root, system_metrics=False) as run:
        run.log({"loss": 0.5}, step=0)
    return failing_run(root, MESSAGE, stderr="warming up cuda kernels")


def _check_failure(page: object) -> None:
    """The failure box of the failed run: title, message and traceback, all as text."""
    page.get_by_text("Failed: ValueError").first.wait_for(timeout=60_000)  # type: ignore[attr-defined]
    assert page.get_by_text("Traceback (most recent call last)").count()  # type: ignore[attr-defined]
    assert page.get_by_text("in train_step").first.is_visible()  # type: ignore[attr-defined]
    assert page.get_by_text(f"ValueError: {MESSAGE}").first.is_visible()  # type: ignore[attr-defined]
    assert page.locator("b", has_text="not bold").count() == 0  # type: ignore[attr-defined]


def test_web_app_run_detail_explains_a_failed_run(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    failed = _store(root)
    with panel_app(root, tmp_path) as server, chromium(shots) as b:
        page = b.page
        page.goto(server.link("page=detail"))
        page.get_by_text("No run selected").first.wait_for()
        b.shot("detail-empty")
        page.get_by_role("button", name="Pick a run on the Runs page").click()
        page.wait_for_selector(".tabulator-row")

        page.goto(server.link(f"page=detail&runs={failed}"))
        _check_failure(page)
        b.shot("detail-failed")
        page.get_by_text("Output", exact=True).first.click()
        page.get_by_text("warming up cuda kernels").first.wait_for()
        assert b.outside == [], f"pages reached outside the machine: {b.outside}"


def test_voila_dashboard_run_detail_explains_a_failed_run(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    from workbench.apps.dashboard import dashboard_token, find_notebook, voila_command, voila_env

    _store(root)
    port = free_port()
    token = dashboard_token()
    with open(tmp_path / "voila.log", "wb") as out:
        proc = subprocess.Popen(voila_command(find_notebook("dashboard"), port, cull=True), env=voila_env(root, token),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    try:
        wait_http(f"http://127.0.0.1:{port}/?token={token}", 120, proc)
        with chromium(shots) as b:
            page = b.page
            page.goto(f"http://127.0.0.1:{port}/?token={token}", timeout=120_000)
            page.locator("text=/Runs 1-2 of 2/").first.wait_for(timeout=120_000)
            page.get_by_text("No run selected").first.wait_for(timeout=30_000)  # RunDetail, nothing picked yet
            grid = page.locator(".lm-DataGrid, .p-DataGrid").first.bounding_box()
            assert grid is not None
            page.mouse.click(grid["x"] + 120, grid["y"] + 30)  # the first row: the newest run, the failed one
            _check_failure(page)
            b.shot("voila-detail-failed")
            assert b.outside == [], f"pages reached outside the machine: {b.outside}"
    finally:
        stop_group(proc)
