"""``workbench ui``: the web app under ``panel serve``, on 127.0.0.1 unless told otherwise.

The app holds the whole store (runs, artifacts, the power to launch jobs as the user who started
it), so, as Jupyter has done since 2016, it needs a token on loopback too: one is made when none is
given, the link printed at start carries it (``?token=``, then a cookie), and every page,
Bokeh endpoint and websocket refuses a request without it (see :mod:`workbench.apps._auth`).
``--no-token`` lets any local user of the machine in, on loopback only, and the app is then
read-only (:func:`auth_required`). Websockets are accepted only from the origins this machine's
own pages have (plus ``--allow-origin``), so a page on another site cannot drive the app.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import socket
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NoReturn

from workbench.apps._serving import SHOW_ENV, check_listen, exec_server, server_command
from workbench.errors import ConfigError

APP = Path(__file__).with_name("webapp.py")
AUTH = Path(__file__).with_name("_auth.py")
#: the token, handed to the server process in its environment (never on its command line)
TOKEN_ENV = "WORKBENCH_UI_TOKEN"
MIN_TOKEN_LENGTH = 16
_WILDCARDS = ("0.0.0.0", "::", "")
_ORIGIN = re.compile(r"^[A-Za-z0-9*][A-Za-z0-9.*-]*(:\d{1,5})?$")


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


def auth_required() -> bool:
    """True in a server process whose every request was authenticated (a token is in force).

    False when the app was started with ``--no-token``: any local user could have opened the page,
    so the app must not change anything (launch, cancel, settings, remotes, aliases, tags and
    notes, uploads, deletes).
    """
    return bool(os.environ.get(TOKEN_ENV))


def resolve_token(address: str, token: str | None, *, no_token: bool = False) -> str | None:
    """The token the server will require: ``token``, else ``WORKBENCH_UI_TOKEN``, else a new one.

    ``auto`` also makes a new one. ``no_token`` returns None (no token, a read-only app) and is
    refused on an address other than loopback, and together with ``token``.
    """
    if no_token:
        if token:
            raise ConfigError("--token and --no-token contradict each other: give one of them")
        if not is_loopback(address):
            raise ConfigError(
                f"--no-token is for 127.0.0.1 only: on {address} anyone who can reach the machine could read "
                f"every run. Drop --no-token (a token is made and printed), or bind 127.0.0.1"
            )
        return None
    if token == "auto":
        token = None
    token = token or os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(32)
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"the UI token is too short: use at least {MIN_TOKEN_LENGTH} characters, or give no --token "
            f"(one is made and printed)"
        )
    return token


def _machine_names(address: str) -> list[str]:
    """This machine's names and IPv4 addresses a browser elsewhere may use to reach ``address``."""
    hostname, fqdn = socket.gethostname(), socket.getfqdn()
    names = [address, hostname, fqdn]
    for name in (hostname, fqdn):
        try:
            names += [str(info[4][0]) for info in socket.getaddrinfo(name, None, socket.AF_INET)]
        except OSError:
            continue
    return names


def websocket_origins(address: str, port: int, allow: Iterable[str] = ()) -> list[str]:
    """The ``host:port`` origins whose pages may open the app's websocket; never ``*``.

    Loopback names always; on another address, this machine's names and IPv4 addresses too; plus
    each of ``allow`` (``HOST`` or ``HOST:PORT``; the port defaults to ``port``). Bokeh cannot
    express IPv6 literals: a browser reaching the app by one needs a host name.
    """
    names = ["127.0.0.1", "localhost", address]
    if not is_loopback(address):
        names += _machine_names(address)
    origins = [f"{name.lower()}:{port}" for name in names if name and ":" not in name and name != "0.0.0.0"]
    for origin in allow:
        if not _ORIGIN.match(origin) or not origin.split(":")[0].replace("*", "").replace(".", ""):
            raise ConfigError(
                f"--allow-origin {origin!r} is not HOST or HOST:PORT as a browser shows it (no http://, "
                f"no path, not '*', no IPv6 literal): for example --allow-origin workbench.example.org:443"
            )
        origins.append(origin.lower() if ":" in origin else f"{origin.lower()}:{port}")
    return list(dict.fromkeys(origins))


def serve_command(root: Path, address: str, port: int, *, prefix: str | None = None,
                  allow_origins: Iterable[str] = (), extra: Sequence[str] = ()) -> list[str]:
    """The ``panel serve`` command line (run under :mod:`workbench.apps._serving`); no secret is in it.

    The token goes in the server's environment (``WORKBENCH_UI_TOKEN``): with it, every request
    needs it; without it (``--no-token``), only requests to a loopback name are let in. The auth
    module is always loaded.
    """
    cmd = [*server_command("panel", ["serve"]), str(APP), "--address", address, "--port", str(port),
           "--auth-module", str(AUTH),
           # a closed page's session (and its live polling) goes within seconds, not Bokeh's 15 s;
           # below 1 s Panel 1.9 starts loading its CSS from a CDN on later page loads
           "--unused-session-lifetime", "3000", "--check-unused-sessions", "1000"]
    for origin in websocket_origins(address, port, allow_origins):
        cmd += ["--allow-websocket-origin", origin]
    if prefix:
        cmd += ["--prefix", prefix]
    cmd += list(extra)
    cmd += ["--args", "--root", str(root)]
    return cmd


def server_env(root: Path, token: str | None) -> dict[str, str]:
    """The server process's environment: the store, and the token (removed with ``--no-token``)."""
    env = dict(os.environ, WORKBENCH_ROOT=str(root), BOKEH_PY_LOG_LEVEL="warning")
    env.pop(TOKEN_ENV, None)
    env.pop(SHOW_ENV, None)
    if token:
        env[TOKEN_ENV] = token
    return env


def app_url(address: str, port: int, token: str | None) -> str:
    """The link to print: the app on ``address`` (127.0.0.1 for a wildcard), with ``?token=``."""
    host = "127.0.0.1" if address in _WILDCARDS else f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}/webapp" + (f"?token={token}" if token else "")


def serve(root: Path, *, address: str = "127.0.0.1", port: int = 5006, token: str | None = None,
          no_token: bool = False, allow_origins: Sequence[str] = (), show: bool = False) -> NoReturn:
    """Print the link, then become the web app's server (``exec``) until stopped.

    SIGTERM, SIGINT or SIGHUP stop it within seconds, open sessions or not (see
    :mod:`workbench.apps._serving`); there is no wrapper process to leave a server behind.
    ``show`` opens a browser on the link once the server listens.
    """
    token = resolve_token(address, token, no_token=no_token)
    check_listen(address, port)
    cmd = serve_command(root, address, port, allow_origins=allow_origins)
    url = app_url(address, port, token)
    print(f"workbench: serving {root} at {url}", flush=True)
    if token is None:
        print("workbench: --no-token: any local user of this machine can open the app (no token is asked); "
              "it is read-only: launching, cancelling, settings, remotes, aliases, tags, notes, uploads and "
              "deletes are off. Start without --no-token to use them.", flush=True)
    env = server_env(root, token)
    if show:
        env[SHOW_ENV] = url
    exec_server(cmd, env)
