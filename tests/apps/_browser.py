"""A real ``panel serve`` of the web app, and headless Debian Chromium driven by Playwright.

The server needs a token, as ``workbench ui``'s does: each gets its own, and a test opens
``server.link(...)`` (the address with ``?token=``) first; the page then holds the cookie.

Every request a page makes is recorded; anything not to 127.0.0.1/localhost (or data:/blob:) is
aborted and kept in ``Browser.outside`` so a test can assert the pages are offline.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from conftest import require_module, require_program

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
#: tests copy their screenshots here too when set (the README's images come from here)
SHOTS_ENV = "WORKBENCH_SCREENSHOTS"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last}")


@dataclass
class Server:
    url: str  #: the app's address, without the token
    proc: subprocess.Popen[Any]
    log: Path
    token: str | None  #: None: started like ``--no-token`` (read-only)

    def link(self, query: str = "") -> str:
        """The app's address with ``query`` (``page=runs&...``) and the token, as ``workbench ui`` prints it."""
        params = [part for part in (query, f"token={self.token}" if self.token else "") if part]
        return self.url + ("?" + "&".join(params) if params else "")


@contextmanager
def panel_app(root: Path, log_dir: Path, *, token: str | None = None, no_token: bool = False,
              address: str = "127.0.0.1", extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """``workbench ui`` (its own serve_command and environment) on a free port; killed on exit.

    A token is made for the server unless ``token`` is given or ``no_token`` is set.
    """
    require_module("panel")
    from workbench.apps.server import serve_command, server_env

    if not no_token:
        token = token or secrets.token_urlsafe(24)
    port = free_port()
    env = dict(server_env(root, None if no_token else token), **(extra_env or {}))
    log = log_dir / f"panel-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(serve_command(root, address, port), env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/favicon.ico", 60, proc)  # open: it carries no data
        yield Server(f"http://127.0.0.1:{port}/webapp", proc, log, None if no_token else token)
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen[Any], grace: float = 15.0) -> None:
    """SIGTERM to a server's process group (started with ``start_new_session``), SIGKILL after ``grace``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@dataclass
class Browser:
    page: Any
    out: Path
    outside: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        """A full-page screenshot under the test's output directory (and WORKBENCH_SCREENSHOTS)."""
        path = self.out / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        target = os.environ.get(SHOTS_ENV)
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(target) / path.name)
        return path


@contextmanager
def chromium(out: Path, *, locale: str = "en-US") -> Iterator[Browser]:
    require_module("playwright")
    require_program(CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale=locale)
        result = Browser(page=None, out=out)

        def guard(route: Any) -> None:
            url = route.request.url
            result.requests.append(url)
            parsed = urlparse(url)
            if parsed.scheme in ("data", "blob") or parsed.hostname in LOCAL_HOSTS:
                route.continue_()
            else:
                result.outside.append(url)
                route.abort()

        context.route("**/*", guard)
        result.page = context.new_page()
        result.page.set_default_timeout(30_000)
        try:
            yield result
        finally:
            context.close()
            browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    out = tmp_path / "screenshots"
    out.mkdir()
    return out
