"""The web app's gate, loaded by ``panel serve --auth-module`` (a Bokeh auth module).

Every page, Bokeh endpoint (``/webapp``, ``/webapp/ws``, ``/webapp/autoload.js``,
``/webapp/metadata``) and the root index ask :func:`get_user` first; a request it refuses gets a
401 page (403 for a foreign ``Host``) at once, before any session is made, and a websocket is refused
before its upgrade. What stays open carries no data: the JavaScript and CSS of the installed
packages (``/static/...``, ``/webapp/static/...``, Panel's component resources), ``/favicon.ico``,
and ``/login``, which explains how to get in.

With a token (``WORKBENCH_UI_TOKEN`` in the environment, put there by ``workbench ui``, never on
the command line) a request is let in when it carries it as ``?token=...`` (the printed link; it
then gets a cookie, HttpOnly and SameSite=Strict, named after the token so that two servers on one
host keep theirs apart), as that cookie, or as ``Authorization: Bearer ...`` (how the JupyterLab
launcher's proxy calls). Without one (``--no-token``) any request whose ``Host`` is a loopback name is
let in; others (a page of another site that rebinds its name to 127.0.0.1) are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from typing import Any

from tornado.web import Finish, RequestHandler

from workbench.apps.server import TOKEN_ENV

_TOKEN_PAGE = (
    "<!doctype html><title>workbench: token required</title>"
    "<h1>This workbench needs a token</h1>"
    "<p>Open the link that <code>workbench ui</code> (or <code>workbench demo</code>) printed when it "
    "started: it ends in <code>?token=...</code>. Or add <code>?token=YOUR_TOKEN</code> to the address; "
    "the token is the value of <code>--token</code> or of <code>WORKBENCH_UI_TOKEN</code>.</p>"
)
_HOST_PAGE = (
    "<!doctype html><title>workbench: local address only</title>"
    "<h1>This workbench answers only 127.0.0.1 and localhost</h1>"
    "<p>It was started with <code>--no-token</code>. Open it at the address it printed, or start it "
    "without <code>--no-token</code> and use the link with the token.</p>"
)


def _token() -> str:
    return os.environ.get(TOKEN_ENV, "")


def _digest(token: str, purpose: str) -> str:
    return hmac.new(token.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def cookie_name(token: str) -> str:
    """The session cookie's name: per token, so servers on other ports of the host keep theirs."""
    return "workbench-" + _digest(token, "cookie name")[:12]


def _matches(candidate: str | None, expected: str) -> bool:
    return candidate is not None and hmac.compare_digest(candidate.encode(), expected.encode())


def _loopback_host(host: str) -> bool:
    if host.startswith("["):  # [::1]:5006
        name = host[1:host.find("]")]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _refuse(handler: Any, status: int, page: str) -> None:
    handler.set_status(status)
    handler.set_header("Content-Type", "text/html; charset=utf-8")
    handler.set_header("Cache-Control", "no-store")
    raise Finish(page)


def get_user(request_handler: Any) -> str | None:
    """``"token"`` (or ``"local"`` without a token) for a request let in; else the request ends here.

    A refused request is answered at once (401, or 403 for a foreign ``Host``) instead of being
    redirected: a websocket upgrade cannot follow a redirect, and nothing of the app runs.
    """
    token = _token()
    if not token:
        if _loopback_host(request_handler.request.host or ""):
            return "local"
        _refuse(request_handler, 403, _HOST_PAGE)
    name = cookie_name(token)
    session = _digest(token, "session")
    if _matches(request_handler.get_argument("token", default=None), token):
        request_handler.set_cookie(name, session, httponly=True, samesite="Strict")
        return "token"
    if _matches(request_handler.get_cookie(name), session):
        return "token"
    header = request_handler.request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and _matches(header[len("Bearer "):].strip(), token):
        return "token"
    _refuse(request_handler, 401, _TOKEN_PAGE)
    return None


login_url = "/login"


class LoginHandler(RequestHandler):
    """Says how to get in (401)."""

    def get(self) -> None:
        self.set_status(401)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(_TOKEN_PAGE if _token() else _HOST_PAGE)


login_handler = LoginHandler
