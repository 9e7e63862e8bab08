"""Token check for the web app, loaded by ``panel serve --auth-module`` (a Bokeh auth module).

``workbench ui`` passes the token in the environment (``WORKBENCH_UI_TOKEN``), never on the command
line. A request is let in when it carries the token as ``?token=...`` (the link ``workbench ui``
prints; it then gets a cookie), as the ``workbench_token`` cookie, or as ``Authorization: Bearer
...``. Anything else is sent to ``/login``, which answers 401 and says how to get in.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from tornado.web import RequestHandler

COOKIE = "workbench_token"


def _token() -> str:
    return os.environ.get("WORKBENCH_UI_TOKEN", "")


def _matches(candidate: str | None) -> bool:
    token = _token()
    return bool(token) and candidate is not None and hmac.compare_digest(candidate.encode(), token.encode())


def get_user(request_handler: Any) -> str | None:
    """``"token"`` when the request carries the token, else None (tornado then redirects to /login)."""
    query = request_handler.get_argument("token", default=None)
    if _matches(query):
        request_handler.set_cookie(COOKIE, query, httponly=True, samesite="Strict")
        return "token"
    if _matches(request_handler.get_cookie(COOKIE)):
        return "token"
    header = request_handler.request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and _matches(header[len("Bearer "):].strip()):
        return "token"
    return None


login_url = "/login"


class LoginHandler(RequestHandler):
    """Refuses with 401 and a page that says how to get in."""

    def get(self) -> None:
        self.set_status(401)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(
            "<!doctype html><title>workbench: token required</title>"
            "<h1>This workbench needs a token</h1>"
            "<p>Open the link that <code>workbench ui</code> printed when it started (it ends in "
            "<code>?token=...</code>), or add <code>?token=YOUR_TOKEN</code> to the address. The token "
            "is the value of <code>--token</code> or of <code>WORKBENCH_UI_TOKEN</code>.</p>"
        )


login_handler = LoginHandler
