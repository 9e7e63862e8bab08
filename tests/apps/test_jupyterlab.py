"""JupyterLab: the "Workbench" launcher card (jupyter-server-proxy) and the web app behind it (issue 7).

A real ``jupyter lab`` on a free port, with its settings and runtime directories under tmp_path and
the test store as WORKBENCH_ROOT; the proxy starts ``panel serve`` on the first request to
``/workbench/``, with a token of its own that the proxy adds to what it forwards. Every process
(lab, the proxied server) is killed with its process group at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _browser import chromium, free_port, shots, wait_http  # noqa: F401 - shots is a fixture
from conftest import require_module

import workbench as wb

TOKEN = "lab-t0ken-for-tests-0123456789"


@dataclass
class Lab:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


def _get(url: str, timeout: float = 90) -> tuple[int, str]:
    return _get_as(url, {"Authorization": f"token {TOKEN}"}, timeout)


def _get_as(url: str, headers: dict[str, str], timeout: float = 90) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _refused(url: str) -> bool:
    """True when a request without the token is refused or sent to the login page."""
    try:
        urllib.request.build_opener(_NoRedirect).open(url, timeout=30)
    except urllib.error.HTTPError as exc:
        return exc.code in (401, 403) or (exc.code == 302 and "login" in (exc.headers.get("Location") or ""))
    return False


def _descendants(pid: int) -> list[int]:
    psutil = require_module("psutil")
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _kill(pids: list[int]) -> None:
    """SIGTERM each process's group (the proxy may start panel in its own), then SIGKILL what is left."""
    groups = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for group in groups:
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def lab(root: Path, tmp_path: Path) -> Iterator[Lab]:
    require_module("jupyterlab")
    require_module("jupyter_server_proxy")
    home = tmp_path / "home"
    dirs = {name: home / name for name in ("config", "data", "runtime", "settings", "workspaces")}
    for path in dirs.values():
        path.mkdir(parents=True)
    env = dict(
        os.environ, HOME=str(home), WORKBENCH_ROOT=str(root), JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]), JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]), JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
    )
    port = free_port()
    log = tmp_path / "lab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--allow-root", f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={tmp_path}",
           "--ServerApp.port_retries=0"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", 90, proc)
        yield Lab(f"http://127.0.0.1:{port}", proc, log)
    finally:
        _kill([proc.pid, *_descendants(proc.pid)])
        proc.wait(10)


def test_launcher_card_is_registered(lab: Lab) -> None:
    code, body = _get(f"{lab.url}/server-proxy/servers-info")
    assert code == 200, body
    servers = {s["name"]: s for s in json.loads(body)["server_processes"]}
    assert "workbench" in servers, servers
    entry = servers["workbench"]["launcher_entry"]
    assert entry["enabled"] is True and entry["title"] == "Workbench"
    assert entry["path_info"] == "workbench/"  # the card opens {base_url}workbench/
    assert entry["icon_url"], "the card has no icon"
    assert _refused(f"{lab.url}/server-proxy/servers-info")  # the lab's token guards the listing too


def test_proxy_serves_the_app(lab: Lab, root: Path, shots: Path) -> None:  # noqa: F811
    for i in range(2):
        run = wb.init(project="lab", name=f"run-{i}", root=root)
        run.log({"loss": 0.5}, step=0)
        run.finish()
    assert _refused(f"{lab.url}/workbench/webapp")  # without the lab's token: the app is as private as the lab

    code, body = _get(f"{lab.url}/workbench/webapp")  # the first request starts panel serve
    assert code == 200, body[-2000:]
    assert "<title>workbench</title>" in body and 'src="static/js/bokeh.min.js' in body, body[:2000]
    code, script = _get(f"{lab.url}/workbench/static/js/bokeh.min.js")  # relative links resolve via the proxy
    assert code == 200 and "Bokeh" in script[:5000]
    panels = [pid for pid in _descendants(lab.proc.pid) if "panel" in _cmdline(pid)]
    assert panels, "the proxy started no panel serve"
    assert str(root) in _cmdline(panels[0]), "panel serve does not serve the lab's WORKBENCH_ROOT"
    # panel serve's own port, which any local user can reach, refuses what did not come through the lab
    argv = _cmdline(panels[0]).split()
    direct = f"http://127.0.0.1:{argv[argv.index('--port') + 1]}/workbench/webapp"
    for headers in ({}, {"Authorization": f"token {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}"}):
        code, body = _get_as(direct, headers)
        assert code == 401 and "needs a token" in body, (headers, code)

    # in a browser, through the proxy (HTTP and the websocket): the overview shows the store's runs
    with chromium(shots) as b:
        b.page.goto(f"{lab.url}/workbench/webapp?token={TOKEN}")
        b.page.wait_for_selector("text=2 runs", timeout=60_000)
        b.shot("jupyterlab-proxy")
        assert b.outside == []


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""
