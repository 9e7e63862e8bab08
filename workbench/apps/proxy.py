"""A JupyterLab launcher card, "Workbench", that opens the web app through jupyter-server-proxy.

Registered as the ``jupyter_serverproxy_servers`` entry point ``workbench``: the proxy starts
``workbench ui``'s ``panel serve`` on a free local port under ``{base_url}workbench`` when the
card is clicked, on the store of the Jupyter server's ``WORKBENCH_ROOT``, else the settings' default
``~/.workbench`` (:func:`store`; start JupyterLab with ``WORKBENCH_ROOT=~/.workbench-demo`` to open
the demo's). Jupyter's own authentication (and its same-origin check on websockets) guards
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


def store() -> Path:
    """The store the card opens: ``WORKBENCH_ROOT`` of the Jupyter server, else the settings' default
    (``~/.workbench``), made absolute; read each time the card starts the app, as every command does."""
    from workbench.settings import default_root

    return default_root().expanduser().absolute()


def setup() -> dict[str, Any]:
    from workbench.apps.server import TOKEN_ENV, serve_command

    token = secrets.token_urlsafe(32)

    def command(port: int, base_url: str) -> list[str]:
        return _literal(serve_command(store(), "127.0.0.1", port, prefix=f"{base_url}workbench"))

    def environment() -> dict[str, str]:
        # the app's own launches and the jobs they start use the same store
        return {TOKEN_ENV: token, "WORKBENCH_ROOT": str(store())}

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
