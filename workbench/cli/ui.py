"""``workbench ui``: the web app (``panel serve``) over a store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["check_ui_extra", "port_number", "register"]


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1-65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def register(sub: Any) -> None:
    p = sub.add_parser("ui", help="serve the web app (runs, compare, artifacts, jobs, remotes) on 127.0.0.1",
                       description="Serve the web app. Every request needs a token (made and printed in the "
                                   "link when none is given), on 127.0.0.1 too.")
    p.add_argument("--port", type=port_number, default=5006, help="port (default 5006)")
    p.add_argument("--address", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--token", help="require this token (16+ characters; default: WORKBENCH_UI_TOKEN, else a "
                                   "new one); it is printed in the link")
    p.add_argument("--no-token", action="store_true",
                   help="127.0.0.1 only: no token, so any local user of this machine can open the app; "
                        "the app is then read-only")
    p.add_argument("--allow-origin", action="append", default=[], metavar="HOST[:PORT]",
                   help="also accept the app's websocket from pages at HOST[:PORT] (a reverse proxy's "
                        "name; repeatable; the port defaults to --port)")
    p.add_argument("--show", action="store_true", help="open a browser on the app (with the token)")
    p.set_defaults(handler=cmd_ui)

    d = sub.add_parser("dashboard", help="serve a notebook of notebooks/ as an app with Voila, on 127.0.0.1 "
                                         "(with a token, printed in the link)")
    d.add_argument("notebook", help="dashboard, compare, launch, sync, quickstart, or a path to an .ipynb")
    d.add_argument("--port", type=port_number, default=8866, help="port (default 8866)")
    d.set_defaults(handler=cmd_dashboard)


def check_ui_extra(feature: str) -> None:
    """MissingExtra unless the web app's packages (Panel, Bokeh) are installed: said before any link."""
    from workbench._extras import check

    check("panel", "bokeh", extra="ui", feature=feature)


def cmd_ui(args: argparse.Namespace) -> int:
    check_ui_extra("workbench ui")
    from workbench.apps.server import serve
    from workbench.settings import default_root

    root = Path(args.root).expanduser().absolute() if args.root else default_root()
    return serve(root, address=args.address, port=args.port, token=args.token, no_token=args.no_token,
                 allow_origins=args.allow_origin, show=args.show)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from workbench._extras import check

    # Voila serves the notebook; its cells show the ipywidgets views (bqplot charts, ipydatagrid tables)
    check("voila", "ipywidgets", "bqplot", "ipydatagrid", extra="ui", feature="workbench dashboard")
    from workbench.apps.dashboard import serve_dashboard
    from workbench.settings import default_root

    root = Path(args.root).expanduser().absolute() if args.root else default_root()
    return serve_dashboard(args.notebook, root, port=args.port)
