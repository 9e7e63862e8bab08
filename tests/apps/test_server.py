"""``workbench ui``: binding, tokens, and the app's first page in a real browser (issue 7)."""

from __future__ import annotations

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


def test_resolve_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.apps.server import TOKEN_ENV, resolve_token
    from workbench.errors import ConfigError

    monkeypatch.delenv(TOKEN_ENV, raising=False)

    with pytest.raises(ConfigError, match="at least 16"):
        resolve_token("127.0.0.1", "short")
    made = resolve_token("127.0.0.1", None)  # loopback too: a token is made when none is given
    assert made and len(made) >= 32 and made != resolve_token("127.0.0.1", None)
    assert resolve_token("0.0.0.0", "auto")  # auto makes one too
    assert resolve_token("127.0.0.1", TOKEN) == TOKEN
    assert resolve_token("127.0.0.1", None, no_token=True) is None
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1 only"):
        resolve_token("0.0.0.0", None, no_token=True)


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
        b.page.goto(server.link())
        b.page.wait_for_selector("text=3 runs", timeout=60_000)
        b.shot("overview")
        b.page.get_by_role("button", name="Settings").click()
        b.page.wait_for_selector("text=Worker slots")
        b.shot("settings")
        assert b.requests, "the recorder saw no requests"
        assert b.outside == [], f"pages reached outside the machine: {b.outside}"
