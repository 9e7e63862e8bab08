"""A JupyterLab launcher card, "Workbench", that opens the web app through jupyter-server-proxy.

Registered as the ``jupyter_serverproxy_servers`` entry point ``workbench``: the proxy starts
``workbench ui``'s ``panel serve`` on a free local port under ``{base_url}workbench`` when the
card is clicked. Jupyter's own authentication (and its same-origin check on websockets) guards
the way in; the panel server's port, which any local user could reach, needs a token made when
Jupyter loads this entry point. The panel server gets it in its environment, and the proxy adds
it to every request it forwards (``Authorization: Bearer``), so a request that did not come
through Jupyter is refused. The proxy also sets the forwarded ``Origin`` to the panel server's
own, the one origin that server accepts a websocket from.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

ICON = Path(__file__).with_name("workbench.svg")


def _literal(args: list[str]) -> list[str]:
    """Escape braces: jupyter-server-proxy formats the command with ``{port}`` and ``{base_url}``."""
    return [arg.replace("{", "{{").replace("}", "}}") for arg in args]


def setup() -> dict[str, Any]:
    from workbench.apps.server import TOKEN_ENV, serve_command
    from workbench.settings import default_root

    root = default_root()
    token = secrets.token_urlsafe(32)

    def command(port: int, base_url: str) -> list[str]:
        return _literal(serve_command(root, "127.0.0.1", port, prefix=f"{base_url}workbench"))

    def environment() -> dict[str, str]:
        return {TOKEN_ENV: token}

    def headers(port: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Origin": f"http://127.0.0.1:{port}"}

    return {
        "command": command,
        "environment": environment,
        "request_headers_override": headers,
        "absolute_url": True,
        "timeout": 60,
        "launcher_entry": {"title": "Workbench", "icon_path": str(ICON), "category": "Notebook"},
    }
