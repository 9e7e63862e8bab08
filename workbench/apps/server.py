"""``workbench ui``: the web app under ``panel serve``, on 127.0.0.1 unless told otherwise.

Bound beyond loopback, the app holds the whole store (runs, artifacts, the power to launch jobs),
so it refuses to start without a token; with one, every page and websocket needs it (see
:mod:`workbench.apps._auth`).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from workbench.errors import ConfigError

APP = Path(__file__).with_name("webapp.py")
AUTH = Path(__file__).with_name("_auth.py")
TOKEN_ENV = "WORKBENCH_UI_TOKEN"


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(address, None))
        except (OSError, ValueError):
            return False


def resolve_token(address: str, token: str | None) -> str | None:
    """The token the server will require: ``token`` (``auto`` makes one), else the environment's.

    On a non-loopback address a token is required; without one this raises, saying how to set it.
    """
    if token == "auto":
        token = secrets.token_urlsafe(24)
    token = token or os.environ.get(TOKEN_ENV) or None
    if token is not None and len(token) < 16:
        raise ConfigError("the UI token is too short: use at least 16 characters, or --token auto to make one")
    if token is None and not is_loopback(address):
        raise ConfigError(
            f"refusing to serve the store on {address} without a token: anyone who can reach it could read "
            f"every run and launch jobs. Start it with --token auto (a token is made and printed), "
            f"--token YOUR_TOKEN, or set {TOKEN_ENV}; or bind 127.0.0.1 (the default)"
        )
    return token


def serve_command(root: Path, address: str, port: int, token: str | None, *, prefix: str | None = None,
                  extra: Sequence[str] = ()) -> list[str]:
    """The ``panel serve`` command line (no secrets in it: the token travels in the environment)."""
    origins = [f"{address}:{port}", f"127.0.0.1:{port}", f"localhost:{port}"]
    if not is_loopback(address):
        origins = ["*"]  # the token guards the app; the Host a remote browser uses is unknown here
    cmd = [sys.executable, "-m", "panel", "serve", str(APP), "--address", address, "--port", str(port),
           "--liveness",
           # a closed page's session (and its live polling) goes within seconds, not Bokeh's 15 s;
           # below 1 s Panel 1.9 starts loading its CSS from a CDN on later page loads
           "--unused-session-lifetime", "3000", "--check-unused-sessions", "1000"]
    for origin in dict.fromkeys(origins):
        cmd += ["--allow-websocket-origin", origin]
    if token:
        cmd += ["--auth-module", str(AUTH), "--cookie-secret", secrets.token_urlsafe(32)]
    if prefix:
        cmd += ["--prefix", prefix]
    cmd += list(extra)
    cmd += ["--args", "--root", str(root)]
    return cmd


def serve(root: Path, *, address: str = "127.0.0.1", port: int = 5006, token: str | None = None,
          show: bool = False) -> int:
    """Run the web app in the foreground until interrupted; returns panel's exit code."""
    token = resolve_token(address, token)
    env = dict(os.environ, WORKBENCH_ROOT=str(root), BOKEH_PY_LOG_LEVEL="warning")
    if token:
        env[TOKEN_ENV] = token
    cmd = serve_command(root, address, port, token, extra=["--show"] if show else [])
    host = "127.0.0.1" if address in ("0.0.0.0", "::") else address
    url = f"http://{host}:{port}/webapp" + (f"?token={token}" if token else "")
    print(f"workbench: serving {root} at {url}", flush=True)
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 130
