"""The server process of ``workbench ui``, ``dashboard`` and ``demo``, which stops when told.

``workbench ui`` prints its link and then becomes the server (:func:`exec_server`: no wrapper
stays behind), so the pid a shell, a service manager or a test signals is the server's own, and a
SIGKILL to it leaves no server running. The server runs under this module,
``python -m workbench.apps._serving panel serve ...`` (or ``voila ...``), which runs that
module's ``__main__`` here and adds what those servers lack:

- **SIGTERM, SIGINT and SIGHUP all stop it.** Each stops the event loop, after which the server
  closes its sessions and returns (Voila shuts its kernels down). Left to themselves, Bokeh's
  SIGTERM handler prints before it stops the loop, and a print to a closed pipe (a log reader
  gone) raised and left the server running; a SIGHUP killed Voila at once and left its kernels.
- **Within seconds.** Our handler is a plain signal handler, not an event-loop callback, and a
  watchdog thread that it wakes ends the process with ``os._exit`` :data:`GRACE` seconds later
  if the orderly stop has not finished (a session callback that blocks the loop, a kernel that
  does not answer), or at once on a second signal. Voila's kernels notice their parent is gone
  and exit within a second (ipykernel's parent poller).
- **``--show``:** the browser opens once the loop runs, that is, once the server listens (the
  link comes in :data:`SHOW_ENV`, which carries the token and so stays off the command line).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import runpy
import select
import signal
import sys
import threading
import time
import webbrowser
from collections.abc import Mapping, Sequence
from typing import NoReturn

from workbench.errors import ConfigError

#: seconds an orderly stop may take after the first signal before the process exits anyway
GRACE = 5.0
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: the link (with its token) to open in a browser once the server listens: ``workbench ui --show``
SHOW_ENV = "WORKBENCH_SHOW_URL"
SERVERS = ("panel", "voila")


def _open_browser(url: str) -> None:
    """Open ``url`` in a browser without putting it (and its token) on a command line.

    ``webbrowser`` starts the browser with the URL as an argument, which every local user can read
    in the process list. As Jupyter does, open a private file that redirects to it instead.
    """
    import json
    import tempfile

    from workbench._private import make_dir, open_private
    from workbench.ui._safe import escape

    folder = os.path.join(tempfile.gettempdir(), f"workbench-{os.getuid()}")
    make_dir(folder)
    if os.stat(folder).st_uid != os.getuid() or os.stat(folder).st_mode & 0o077:
        _say(f"not opening a browser: {folder} is not private to this user; open the printed link")
        return
    path = os.path.join(folder, f"open-{os.getpid()}.html")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f'<!doctype html><meta http-equiv="refresh" content="0;url={escape(url)}">'
                  f"<script>location.replace({json.dumps(url)})</script>"
                  f'<a href="{escape(url)}">workbench</a>')
    webbrowser.open("file://" + path)


def server_command(module: str, args: Sequence[str]) -> list[str]:
    """``python -m workbench.apps._serving MODULE ARGS...``: ``python -m MODULE ARGS...`` that stops when told."""
    return [sys.executable, "-m", __name__, module, *args]


def check_listen(address: str, port: int) -> None:
    """Raise :class:`ConfigError` unless a server could listen on ``address:port`` now.

    Checked before the link is printed, so a busy port or an address of another machine is one
    clear line, not the server's own traceback after the link.
    """
    import socket

    if not 1 <= int(port) <= 65535:
        raise ConfigError(f"port {port} is not a TCP port: use 1-65535 (--port)")
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"cannot listen on {address!r}: it is not an address or a name of this machine "
                          f"({exc}); use --address 127.0.0.1 or an address of one of its interfaces") from None
    for family, kind, proto, _, where in infos:  # "localhost" may be 127.0.0.1 and ::1: the server takes both
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(where)
            except OSError as exc:
                raise ConfigError(f"cannot listen on {where[0]}:{port}: {exc.strerror or exc}; pick another "
                                  f"--port, or stop what listens there") from None


def exec_server(cmd: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """Replace this process with the server ``cmd`` (from :func:`server_command`), in ``env``.

    Whatever this process had open (a DuckDB file, a store lock) is closed on the way, so the
    server does not hold it. Raises ConfigError when the interpreter cannot be executed.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    _close_on_exec()
    try:
        os.execve(cmd[0], list(cmd), dict(env))
    except OSError as exc:
        raise ConfigError(f"cannot start the server {' '.join(cmd[:5])} ...: {exc}; check that {cmd[0]} "
                          f"still exists (a virtualenv moved or deleted?)") from exc


def _close_on_exec() -> None:
    """Mark every descriptor above stderr close-on-exec (Python's own are; a library's may not be)."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            fds = [int(name) for name in os.listdir(folder)]
        except (OSError, ValueError):
            continue
        for fd in fds:
            if fd > 2:
                with contextlib.suppress(OSError):  # the listing's own descriptor, closed by now
                    os.set_inheritable(fd, False)
        return


def _say(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr may be a closed pipe: stop anyway
        sys.stderr.write(f"workbench: {message}\n")
        sys.stderr.flush()


class _Stopper:
    """Signal handlers that stop the loop, and the watchdog that makes sure the process ends."""

    def __init__(self, loop: asyncio.AbstractEventLoop, grace: float = GRACE) -> None:
        self.loop = loop
        self.grace = grace
        self.signum: int | None = None
        self.serving = False  # the loop runs: an orderly stop is possible
        self._read, self._write = os.pipe()
        threading.Thread(target=self._watch, name="workbench-stop-watchdog", daemon=True).start()

    def install(self) -> None:
        """Take SIGTERM, SIGINT and SIGHUP from whoever had them (Bokeh, Voila, asyncio)."""
        for signum in SIGNALS:
            with contextlib.suppress(ValueError, RuntimeError):
                self.loop.remove_signal_handler(signum)  # Bokeh's SIGTERM callback would run as well
            signal.signal(signum, self._on_signal)

    def started(self) -> None:
        """Called from the loop's first iteration: the server listens, and its handlers are set."""
        self.serving = True  # first: a signal that comes meanwhile reaches the server's own handler
        self.install()

    def _on_signal(self, signum: int, frame: object) -> None:
        # in a signal handler: no locks, no I/O but a write to our own pipe
        if self.signum is None:
            self.signum = signum
        with contextlib.suppress(OSError):
            os.write(self._write, bytes([signum]))
        if self.serving:
            with contextlib.suppress(RuntimeError):  # the loop is closed: it has stopped already
                self.loop.call_soon_threadsafe(self.loop.stop)

    def _watch(self) -> None:
        first = os.read(self._read, 1)[0]
        name = signal.Signals(first).name
        if not self.serving:  # still starting: nothing to close yet
            os._exit(128 + first)
        deadline = time.monotonic() + self.grace
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self._read], [], [], left)
            if ready:
                again = os.read(self._read, 1)[0]
                _say(f"{signal.Signals(again).name} again: stopping now")
                os._exit(128 + first)
        _say(f"the server did not stop within {self.grace:g} s of {name}; stopping now")
        os._exit(128 + first)


def main(argv: Sequence[str]) -> int:
    if not argv or argv[0] not in SERVERS:
        _say(f"usage: python -m {__name__} {{{','.join(SERVERS)}}} ARGS...")
        return 2
    module, args = argv[0], list(argv[1:])
    show = os.environ.pop(SHOW_ENV, None)
    # the servers run the current event loop (tornado's IOLoop.current()): make it ours to stop
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stopper = _Stopper(loop)
    stopper.install()  # while it starts up, a signal ends it at once
    loop.call_soon(stopper.started)  # the first iteration: after the server set its own handlers
    if show:
        loop.call_soon(lambda: threading.Thread(target=_open_browser, args=(show,), daemon=True).start())
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit:
        if stopper.signum is None:
            raise  # the server's own exit (a port in use, bad options), with its message
    if stopper.signum is not None:
        _say(f"{signal.Signals(stopper.signum).name}: the server stopped")
    return 130 if stopper.signum == signal.SIGINT else 0  # stopped as asked; 130 as a shell reports Ctrl-C


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
