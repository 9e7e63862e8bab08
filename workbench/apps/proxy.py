"""A JupyterLab launcher card, "Workbench", that opens the web app through jupyter-server-proxy.

Registered as the ``jupyter_serverproxy_servers`` entry point ``workbench``: the proxy starts
``panel serve`` on a free local port under ``{base_url}workbench`` when the card is clicked, and
Jupyter's own authentication guards it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ICON = Path(__file__).with_name("workbench.svg")


def setup() -> dict[str, Any]:
    from workbench.apps.server import APP
    from workbench.config import default_root

    return {
        "command": [
            sys.executable, "-m", "panel", "serve", str(APP), "--address", "127.0.0.1", "--port", "{port}",
            "--allow-websocket-origin", "*", "--prefix", "{base_url}workbench", "--liveness",
            "--args", "--root", str(default_root()),
        ],
        "absolute_url": True,
        "timeout": 60,
        "launcher_entry": {"title": "Workbench", "icon_path": str(ICON), "category": "Notebook"},
    }
