"""Issue 11: the web app needs its token on loopback too, for every page, endpoint and websocket.

Real ``panel serve`` processes (the harness's, and ``workbench ui`` itself as a subprocess), real
HTTP requests and websocket handshakes on 127.0.0.1, and headless Chromium for the attempt to
launch without the token.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from _browser import chromium, free_port, panel_app, shots, stop_group, wait_http  # noqa: F401 - shots is a fixture
from conftest import require_module, wait_for

import workbench as wb

TOKEN = "auth-t0ken-for-tests-0123456789"
#: every page and Bokeh endpoint of the app (the websocket is tried as a websocket below)
PROTECTED = (
    "/", "/webapp", "/webapp/", "/webapp?page=jobs", "/webapp?page=settings", "/webapp/metadata",
    "/webapp/autoload.js?bokeh-autoload-element=x&bokeh-app-path=/webapp", "/webapp/ws", "/login",
)
#: what stays open: the installed packages' JavaScript, CSS and icon, no data
OPEN = ("/favicon.ico", "/static/js/bokeh.min.js", "/webapp/static/js/bokeh.min.js",
        "/static/extensions/panel/panel.min.js")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """Status, headers and body of a GET that follows no redirect."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=60) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read().decode("utf-8", "replace")


def _websocket(url: str, headers: dict[str, str]) -> int | str:
    """The HTTP status that refused the handshake, or Bokeh's first message once it is accepted."""
    require_module("bokeh")
    from bokeh.util.token import generate_jwt_token, generate_session_id
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    session = generate_jwt_token(generate_session_id(signed=False), signed=False)

    async def handshake() -> int | str:
        try:
            connection = await websocket_connect(HTTPRequest(url, headers=headers), subprotocols=["bokeh", session])
        except HTTPClientError as exc:
            return exc.code
        try:
            message = await asyncio.wait_for(connection.read_message(), 60)
        finally:
            connection.close()
            while await asyncio.wait_for(connection.read_message(), 10) is not None:
                pass  # until the server has closed its side too
        return str(message)

    with ThreadPoolExecutor(1) as thread:  # its own event loop, even beside Playwright's
        return thread.submit(asyncio.run, handshake()).result()


def _origin(url: str) -> str:
    return re.sub(r"^(http://[^/]+).*$", r"\1", url)


def test_every_page_endpoint_and_websocket_needs_the_token(root: Path, tmp_path: Path) -> None:
    with panel_app(root, tmp_path, token=TOKEN) as server:
        base, ws = _origin(server.url), server.url.replace("http://", "ws://") + "/ws"
        for path in PROTECTED:
            code, _, body = _get(base + path)
            assert code == 401 and "needs a token" in body, (path, code)
            code, _, _ = _get(base + path + ("&" if "?" in path else "?") + "token=wrong-t0ken-0123456789")
            assert code == 401, path
            code, _, _ = _get(base + path, {"Authorization": "Bearer wrong-t0ken-0123456789"})
            assert code == 401, path
        for path in OPEN:
            assert _get(base + path)[0] == 200, path
        # the websocket: refused before the upgrade without the token, even from the app's own origin
        assert _websocket(ws, {"Origin": base}) == 401
        assert _websocket(ws, {"Origin": base, "Cookie": "workbench-000000000000=guess"}) == 401
        # with the token it opens (Bokeh answers), but never from a page of another site
        assert "ACK" in str(_websocket(ws, {"Origin": base, "Authorization": f"Bearer {TOKEN}"}))
        assert _websocket(ws, {"Origin": "http://evil.example", "Authorization": f"Bearer {TOKEN}"}) == 403
        assert _websocket(ws, {"Origin": "http://127.0.0.1:1", "Authorization": f"Bearer {TOKEN}"}) == 403


def test_token_once_then_the_cookie_or_a_bearer_header(root: Path, tmp_path: Path) -> None:
    with panel_app(root, tmp_path, token=TOKEN) as server:
        code, headers, body = _get(server.link())
        assert code == 200 and "bokeh" in body.lower()
        cookie = headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
        pair = cookie.split(";")[0]
        for path in ("/webapp", "/webapp?page=runs", "/webapp/metadata"):
            code, _, _ = _get(_origin(server.url) + path, {"Cookie": pair})
            assert code == 200, path
        ws = server.url.replace("http://", "ws://") + "/ws"
        assert "ACK" in str(_websocket(ws, {"Origin": _origin(server.url), "Cookie": pair}))
        code, _, _ = _get(server.url, {"Authorization": f"Bearer {TOKEN}"})
        assert code == 200
        # a cookie made for another token is no key
        name, value = pair.split("=", 1)
        code, _, _ = _get(server.url, {"Cookie": f"{name}={value[:-1]}0"})
        assert code == 401


def test_nothing_is_launched_without_the_token(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    from workbench.jobs import list_jobs

    with wb.init(project="web", name="only-run", root=root) as run:
        run.log({"loss": 1.0}, step=0)
    with panel_app(root, tmp_path, token=TOKEN) as server, chromium(shots) as b:
        b.page.goto(server.url + "?page=jobs")
        b.page.wait_for_selector("text=needs a token")
        assert b.page.get_by_role("button", name="Launch").count() == 0
        b.shot("no-token")
        ws = server.url.replace("http://", "ws://") + "/ws"
        assert _websocket(ws, {"Origin": _origin(server.url)}) == 401
        code, _, _ = _get(server.url + "?page=jobs&recipe=script")
        assert code == 401
        time.sleep(2)  # a job would show up within a scheduler tick
        assert list_jobs(root) == []
        assert list(wb.runs(root=root)["name"]) == ["only-run"]
    assert b.outside == []


@contextmanager
def _workbench_ui(root: Path, tmp_path: Path, *args: str) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``workbench ui`` as a real subprocess; its output goes to a file."""
    require_module("panel")
    out = tmp_path / f"ui-{free_port()}.out"
    with open(out, "wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "workbench", "--root", str(root), "ui", *args],
                                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc, out
    finally:
        stop_group(proc)


def _printed_url(out: Path) -> str:
    found = wait_for(lambda: re.search(r"at (http://\S+)", out.read_text()), 60, "the printed URL")
    return str(found.group(1))


def test_workbench_ui_makes_a_token_and_prints_the_link(root: Path, tmp_path: Path) -> None:
    psutil = require_module("psutil")
    port = free_port()
    with _workbench_ui(root, tmp_path, "--port", str(port)) as (proc, out):
        url = _printed_url(out)
        assert url.startswith(f"http://127.0.0.1:{port}/webapp?token=")
        token = url.split("token=", 1)[1]
        assert len(token) >= 32
        bare = url.split("?", 1)[0]
        wait_http(f"http://127.0.0.1:{port}/favicon.ico", 60, proc)
        assert _get(url)[0] == 200
        assert _get(bare)[0] == 401
        # the token travels in the environment, never on a command line
        for process in [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]:
            assert token not in " ".join(process.cmdline())
    # two starts, two tokens
    with _workbench_ui(root, tmp_path, "--port", str(free_port())) as (_, out):
        assert _printed_url(out).split("token=", 1)[1] != token


def test_no_token_on_loopback_says_what_it_allows(root: Path, tmp_path: Path) -> None:
    port = free_port()
    with _workbench_ui(root, tmp_path, "--port", str(port), "--no-token") as (proc, out):
        url = _printed_url(out)
        assert url == f"http://127.0.0.1:{port}/webapp"
        text = out.read_text()
        assert "any local user of this machine can open the app" in text and "read-only" in text
        wait_http(f"http://127.0.0.1:{port}/favicon.ico", 60, proc)
        assert _get(url)[0] == 200
        # a page of another site whose name was rebound to 127.0.0.1 is refused
        code, _, body = _get(url, {"Host": f"evil.example:{port}"})
        assert code == 403 and "127.0.0.1" in body
        ws = url.replace("http://", "ws://") + "/ws"
        assert _websocket(ws, {"Origin": "http://evil.example"}) == 403


@pytest.mark.parametrize("args, message", [
    (["--address", "0.0.0.0", "--no-token"], "--no-token is for 127.0.0.1 only"),
    (["--no-token", "--token", TOKEN], "contradict"),
    (["--token", "short"], "at least 16"),
    (["--allow-origin", "*"], "not HOST or HOST:PORT"),
    (["--allow-origin", "http://example.org/app"], "not HOST or HOST:PORT"),
])
def test_refusals_exit_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "--root", str(tmp_path), "ui", "--port", "1", *args],
        check=False, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr + proc.stdout


def test_websocket_origins_name_this_machine_never_a_wildcard(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from workbench.apps.server import auth_required, websocket_origins

    loopback = websocket_origins("127.0.0.1", 5006)
    assert loopback == ["127.0.0.1:5006", "localhost:5006"]
    anywhere = websocket_origins("0.0.0.0", 5006, ["proxy.example.org:443", "Other.Example"])
    assert "*" not in " ".join(anywhere) and "0.0.0.0:5006" not in anywhere
    assert f"{socket.gethostname().lower()}:5006" in anywhere
    assert anywhere[-2:] == ["proxy.example.org:443", "other.example:5006"]
    assert "10.1.2.3:8080" in websocket_origins("10.1.2.3", 8080)
    monkeypatch.delenv("WORKBENCH_UI_TOKEN", raising=False)
    assert auth_required() is False  # a server started with --no-token: the app is read-only
    monkeypatch.setenv("WORKBENCH_UI_TOKEN", TOKEN)
    assert auth_required() is True


def test_voila_dashboard_needs_its_token(root: Path, tmp_path: Path) -> None:
    require_module("voila")
    with wb.init(project="nb", name="only-run", root=root) as run:
        run.log({"loss": 1.0}, step=0)
    port = free_port()
    out = tmp_path / "dashboard.out"
    with open(out, "wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "workbench", "--root", str(root), "dashboard", "launch",
                                 "--port", str(port)], stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=tmp_path)
    try:
        url = str(wait_for(lambda: re.search(r" at (http://\S+)", out.read_text()), 60, "the URL").group(1))
        assert url.startswith(f"http://127.0.0.1:{port}/?token=") and len(url.split("token=")[1]) >= 32
        wait_http(f"http://127.0.0.1:{port}/login", 120, proc)
        for path in ("/", "/voila/render/launch.ipynb", "/api/kernels"):
            code, headers, _ = _get(f"http://127.0.0.1:{port}{path}")
            assert code in (401, 403) or (code == 302 and "/login" in headers["Location"]), (path, code)
        code, _, _ = _get(f"http://127.0.0.1:{port}/?token=wrong-t0ken-0123456789")
        assert code == 302
        code, _, body = _get(url)  # the printed link opens the dashboard (Voila runs the notebook)
        assert code == 200 and "voila" in body.lower()
    finally:
        stop_group(proc)


def test_the_app_without_a_token_is_read_only(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    """``--no-token``: every session may look, none may launch (the form says why, nothing is queued)."""
    from workbench.jobs import list_jobs

    with wb.init(project="web", name="only-run", root=root) as run:
        run.log({"loss": 1.0}, step=0)
    with panel_app(root, tmp_path, no_token=True) as server, chromium(shots) as b:
        page = b.page
        page.goto(server.link("page=jobs"))
        page.wait_for_selector("text=Recipe")
        page.locator(".wb-read-only").first.wait_for()  # the banner says the app is read-only, and why
        command = page.locator("label:text-is('command *') + * input, label:text-is('command *') ~ input").first
        command.fill("python -c 'print(1)'")
        command.press("Enter")
        page.get_by_role("button", name="Launch").click()
        page.wait_for_selector("text=/Launch: read-only/", timeout=15_000)
        b.shot("read-only-launch")
        page.goto(server.link(f"page=detail&runs={run.id}"))
        page.get_by_text("Tags & notes", exact=True).first.click()
        page.get_by_role("button", name="Save").click()
        page.wait_for_selector("text=/Save: read-only/", timeout=15_000)
        time.sleep(2)  # a job would show up within a scheduler tick
        assert list_jobs(root) == []
        assert list(wb.runs(root=root)["name"]) == ["only-run"]
    assert b.outside == []
