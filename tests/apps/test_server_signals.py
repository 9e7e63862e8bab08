"""Issue 12, acceptance 6: servers stop when told.

``workbench ui``, ``workbench dashboard`` and ``workbench demo`` run as real commands; a real
Chromium holds a live session on each (its websocket open) when the command gets SIGTERM, SIGINT
or SIGHUP, the way a service manager or a terminal sends them. Within 10 s every process the
command started (the server, Voila's kernels) is gone and its port can be bound again. SIGKILL
leaves no server behind either, and a served app that blocks the server's event loop is ended by
the watchdog of ``workbench.apps._serving``.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _browser import chromium, free_port
from conftest import require_module, wait_for

import workbench as wb

pytestmark = pytest.mark.slow

STOP_WITHIN = 10.0  # seconds, from the signal to no process left and the port free


def _store(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "workbench.toml").write_text("ui_refresh = 0.3\n")  # live sessions poll often
    for lr in (0.01, 0.1, 1.0):
        with wb.init(project="stop", name=f"lr-{lr}", config={"lr": lr}, root=root) as run:
            for step in range(20):
                run.log({"loss": 1.0 / (1 + step * lr)}, step=step)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_UI_TOKEN", "JUPYTER_TOKEN")}
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))  # the demo's job
    return env


@dataclass
class Command:
    proc: subprocess.Popen[bytes]
    port: int
    link: str
    out: int  #: the read end of the command's stdout, or -1 once closed (the reader gone)
    log: Path

    def close_stdout(self) -> None:
        os.close(self.out)
        self.out = -1


@contextlib.contextmanager
def command(args: list[str], root: Path, tmp_path: Path, timeout: float = 120) -> Iterator[Command]:
    """``workbench --root ROOT ARGS --port P`` in its own session; its printed link read from stdout."""
    port = free_port()
    log = tmp_path / f"{args[0]}-{port}.log"
    read, write = os.pipe()
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "workbench", "--root", str(root), *args, "--port", str(port)],
                                stdout=write, stderr=err, env=_env(), cwd=tmp_path, start_new_session=True)
    os.close(write)
    cmd = Command(proc, port, "", read, log)
    try:
        printed = b""
        deadline = time.monotonic() + timeout
        while not (found := re.search(rb"(http://127\.0\.0\.1:\d+/\S*)", printed)):
            assert time.monotonic() < deadline, f"no link printed in {timeout} s: {printed!r}\n{log.read_text()}"
            assert proc.poll() is None, f"exited with {proc.returncode}: {printed!r}\n{log.read_text()}"
            if select.select([read], [], [], 0.5)[0]:
                printed += os.read(read, 65536)
        cmd.link = found.group(1).decode()
        wait_for(lambda: _listening(port), 120, f"the server to listen on port {port}", interval=0.2)
        yield cmd
    finally:
        if cmd.out >= 0:
            os.close(cmd.out)
        _kill_group(proc)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Teardown after a failure: the command's session (its own, from start_new_session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


def _started(proc: subprocess.Popen[bytes]) -> list[Any]:
    """The command's process and every process below it, now."""
    psutil = require_module("psutil")
    me = psutil.Process(proc.pid)
    return [me, *me.children(recursive=True)]


def _alive(processes: list[Any], proc: subprocess.Popen[bytes]) -> list[str]:
    import psutil

    proc.poll()  # reap the command itself, or it lingers as a zombie of this test
    left = []
    for p in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{p.pid} {' '.join(p.cmdline()[:5])}")
    return left


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _port_free(port: int) -> bool:
    """A new server could listen on the port (as servers bind: SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
    return True


def _stop(cmd: Command, signum: int, processes: list[Any]) -> float:
    """Send ``signum`` to the command; seconds until none of ``processes`` lives and the port is free."""
    start = time.monotonic()
    os.kill(cmd.proc.pid, signum)
    while _alive(processes, cmd.proc) or not _port_free(cmd.port):
        if time.monotonic() - start > STOP_WITHIN:
            raise AssertionError(
                f"{STOP_WITHIN:g} s after {signal.Signals(signum).name}: still alive {_alive(processes, cmd.proc)}, "
                f"port {cmd.port} free: {_port_free(cmd.port)}\n{cmd.log.read_text()[-3000:]}"
            )
        time.sleep(0.05)
    return time.monotonic() - start


def _live_page(browser: Any, link: str, ready: str) -> None:
    """Open ``link`` and wait until its text ``ready`` shows and a websocket of it is open."""
    sockets: list[Any] = []
    browser.page.on("websocket", lambda ws: sockets.append(ws))  # noqa: PLW0108 - Playwright tags the callable; a bound builtin refuses
    browser.page.goto(link, timeout=120_000)
    browser.page.locator(f"text=/{ready}/").first.wait_for(timeout=120_000)
    wait_for(lambda: [ws for ws in sockets if not ws.is_closed()], 30, "an open websocket")


EXIT = {signal.SIGTERM: 0, signal.SIGHUP: 0, signal.SIGINT: 130, signal.SIGKILL: -signal.SIGKILL}


@pytest.mark.parametrize(
    ("signum", "reader_gone"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGHUP, False), (signal.SIGKILL, False),
     (signal.SIGTERM, True)],
    ids=["SIGTERM", "SIGINT", "SIGHUP", "SIGKILL", "SIGTERM-stdout-closed"],
)
def test_workbench_ui_stops_with_a_session_open(root: Path, tmp_path: Path, signum: int, reader_gone: bool) -> None:
    _store(root)
    with command(["ui"], root, tmp_path) as cmd, chromium(tmp_path) as browser:
        assert "token=" in cmd.link
        _live_page(browser, cmd.link + "&page=runs", "lr-0.1")
        processes = _started(cmd.proc)
        assert any("panel" in p.cmdline() for p in processes)  # the server itself, no wrapper around it
        token = cmd.link.split("token=")[1]
        assert not [p for p in processes if token in " ".join(p.cmdline())]  # in its environment only
        if reader_gone:  # Bokeh's own SIGTERM handler printed, failed on the closed pipe, and kept serving
            cmd.close_stdout()
        seconds = _stop(cmd, signum, processes)
        assert cmd.proc.wait(1) == EXIT[signum], cmd.log.read_text()
    assert seconds < STOP_WITHIN


BROWSER_SCRIPT = """
import json, os, re, socket, stat, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()  # fails unless the server listens
arg = sys.argv[3]
assert arg.startswith("file://") and "token" not in arg, arg  # the token never on a command line
path = arg[len("file://"):]
assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, oct(os.stat(path).st_mode)
url = json.loads(re.search(r"location.replace\\((.*?)\\)", open(path).read()).group(1))
open(sys.argv[2], "w").write(url)
"""


def test_workbench_ui_show_opens_the_link_once_listening(root: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """``--show``: the browser ($BROWSER, here a script) gets the link once the server listens, through
    a private file: the token is on no command line."""
    root.mkdir(parents=True)
    script, opened = tmp_path / "browser.py", tmp_path / "opened"
    script.write_text(BROWSER_SCRIPT)
    port = free_port()
    monkeypatch.setenv("BROWSER", f"{sys.executable} {script} {port} {opened} %s")
    log = tmp_path / "show.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "workbench", "--root", str(root), "ui", "--show",
                                 "--port", str(port)], stdout=subprocess.PIPE, stderr=err, env=_env(),
                                start_new_session=True)
    try:
        assert proc.stdout is not None
        link = re.search(r"http://\S+", proc.stdout.readline().decode()).group(0)  # type: ignore[union-attr]
        wait_for(lambda: opened.exists() and opened.read_text(), 60, "the browser to be opened")
        assert opened.read_text() == link
        processes = _started(proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(STOP_WITHIN) == 0, log.read_text()
        assert not _alive(processes, proc)
        assert "SIGTERM: the server stopped" in log.read_text()
    finally:
        _kill_group(proc)
        proc.stdout.close()  # type: ignore[union-attr]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL],
                         ids=["SIGTERM", "SIGHUP", "SIGKILL"])
def test_workbench_dashboard_stops_with_its_kernels(root: Path, tmp_path: Path, signum: int) -> None:
    _store(root)
    with command(["dashboard", "dashboard"], root, tmp_path) as cmd, chromium(tmp_path) as browser:
        _live_page(browser, cmd.link, "Runs 1-3 of 3 matching")
        wait_for(lambda: len(_started(cmd.proc)) > 1, 30, "the page's kernel")
        processes = _started(cmd.proc)
        assert any("ipykernel_launcher" in p.cmdline() for p in processes)
        seconds = _stop(cmd, signum, processes)  # SIGKILL: the kernel sees its parent gone and exits
        assert cmd.proc.wait(1) == EXIT[signum], cmd.log.read_text()
    assert seconds < STOP_WITHIN


def test_workbench_demo_fills_the_store_then_stops_on_sigterm(root: Path, tmp_path: Path) -> None:
    from workbench.jobs._paths import JobPaths
    from workbench.jobs.daemon import scheduler_running

    args = ["demo", "--runs", "2", "--steps", "20", "--no-finetune"]
    with command(args, root, tmp_path, timeout=240) as cmd, chromium(tmp_path) as browser:
        assert not scheduler_running(JobPaths(root))  # the one its job started is stopped before serving
        _live_page(browser, cmd.link + "&page=runs", "endless")
        processes = _started(cmd.proc)
        _stop(cmd, signal.SIGTERM, processes)
        assert cmd.proc.wait(1) == 0, cmd.log.read_text()
    assert wb.runs(project="demo-jobs", root=root)["status"].tolist() == ["cancelled"]


BLOCKING_APP = """
import time
import panel as pn
pn.panel("blocking").servable()
time.sleep(600)  # every new session holds the server's event loop
"""


def test_a_server_whose_loop_is_blocked_still_stops(tmp_path: Path) -> None:
    """A served app that never gives the event loop back: the watchdog ends the process."""
    require_module("panel")
    from workbench.apps._serving import GRACE, server_command

    app = tmp_path / "blocking.py"
    app.write_text(BLOCKING_APP)
    port = free_port()
    log = tmp_path / "blocking.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(server_command("panel", ["serve", str(app), "--port", str(port),
                                                         "--address", "127.0.0.1"]),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: _listening(port), 60, "the server to listen", interval=0.2)
        with socket.create_connection(("127.0.0.1", port)) as client:  # a page load: the session blocks the loop
            client.sendall(f"GET /blocking HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            time.sleep(2)
            processes = _started(proc)
            start = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(STOP_WITHIN) == 128 + signal.SIGTERM
        seconds = time.monotonic() - start
        assert GRACE - 0.5 < seconds < STOP_WITHIN
        assert not _alive(processes, proc)
        assert f"did not stop within {GRACE:g} s of SIGTERM" in log.read_text()
        wait_for(lambda: _port_free(port), 5, "the port to be free")
    finally:
        _kill_group(proc)
