"""``workbench ui``: binding, tokens, and the app's first page in a real browser (issue 7)."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from _browser import chromium, panel_app, shots  # noqa: F401 - shots is a fixture

import workbench as wb

TOKEN = "t0ken-for-tests-0123456789"


def _fill(root: Path, n: int = 3) -> None:
    for i in range(n):
        run = wb.init(project="web", name=f"run-{i}", config={"lr": 0.1 * (i + 1)}, root=root)
        for step in range(20):
            run.log({"loss": 1.0 / (step + 1 + i)}, step=step)
        run.finish()


def test_non_loopback_without_token_refuses_to_start(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "--root", str(tmp_path), "ui", "--address", "0.0.0.0", "--port", "1"],
        check=False, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 1
    assert "without a token" in proc.stderr and "--token auto" in proc.stderr and "WORKBENCH_UI_TOKEN" in proc.stderr


def test_short_token_is_refused(tmp_path: Path) -> None:
    from workbench.apps.server import resolve_token
    from workbench.errors import ConfigError

    with pytest.raises(ConfigError, match="at least 16"):
        resolve_token("127.0.0.1", "short")
    assert resolve_token("0.0.0.0", "auto")  # auto makes one
    assert resolve_token("127.0.0.1", None) is None


def _status(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def test_with_a_token_requests_without_it_are_refused(root: Path, tmp_path: Path) -> None:
    _fill(root, 1)
    with panel_app(root, tmp_path, token=TOKEN) as server:
        code, body = _status(server.url)
        assert code == 401 and "needs a token" in body
        code, _ = _status(server.url + "?token=wrong-token-0123456789")
        assert code == 401
        code, body = _status(server.url + f"?token={TOKEN}")
        assert code == 200 and "bokeh" in body.lower()
        code, _ = _status(server.url, {"Authorization": f"Bearer {TOKEN}"})
        assert code == 200


def test_app_opens_offline_in_a_browser(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    _fill(root)
    with panel_app(root, tmp_path) as server, chromium(shots) as b:
        b.page.goto(server.url)
        b.page.wait_for_selector("text=3 runs", timeout=60_000)
        b.shot("overview")
        b.page.get_by_role("button", name="Settings").click()
        b.page.wait_for_selector("text=Worker slots")
        b.shot("settings")
        assert b.requests, "the recorder saw no requests"
        assert b.outside == [], f"pages reached outside the machine: {b.outside}"
