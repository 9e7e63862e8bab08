"""``workbench dashboard NOTEBOOK``: a notebook of ``notebooks/`` served as an app by Voila.

Voila runs the notebook top to bottom in a fresh kernel for each visitor and shows only the
widgets. It binds 127.0.0.1 and uses the ``workbench`` template (``extensions/``): the lab
template without its links to a CDN, so the page loads nothing from outside the machine.

A dashboard can start jobs (``launch``), so, like ``workbench ui``, it needs a token: Voila's own
(Jupyter's) token check, with the token made here (or ``JUPYTER_TOKEN``) and handed to Voila in
its environment; the printed link carries it, then Jupyter's login cookie does.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import NoReturn

from workbench.apps._serving import check_listen, exec_server, server_command
from workbench.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
EXTENSIONS = REPO / "extensions" / "share" / "jupyter"
DASHBOARDS = ("dashboard", "compare", "launch", "sync", "quickstart")


def find_notebook(name: str) -> Path:
    """A notebook path, or the name of one in ``notebooks/`` (``compare`` -> notebooks/compare.ipynb)."""
    path = Path(name).expanduser()
    if path.is_file():
        return path.absolute()
    candidate = NOTEBOOKS / (name if name.endswith(".ipynb") else f"{name}.ipynb")
    if candidate.is_file():
        return candidate
    raise ConfigError(f"no notebook {name!r}: give a path to an .ipynb file or one of {', '.join(DASHBOARDS)}")


TOKEN_ENV = "JUPYTER_TOKEN"


def dashboard_token() -> str:
    """The token Voila will require: ``JUPYTER_TOKEN`` when set, else a new one."""
    return os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(32)


def voila_env(root: Path, token: str) -> dict[str, str]:
    """The environment for Voila: the store, the token, and the template found from a source checkout too."""
    env = dict(os.environ, WORKBENCH_ROOT=str(root), **{TOKEN_ENV: token})
    if EXTENSIONS.is_dir():  # an editable install does not place data files; point Jupyter at them
        env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(EXTENSIONS), env.get("JUPYTER_PATH", "")) if p)
    return env


def voila_command(notebook: Path, port: int, *, cull: bool = False) -> list[str]:
    """Voila on 127.0.0.1 with its token check on (``--token``: the token is the environment's)."""
    cmd = [*server_command("voila", []), str(notebook), "--no-browser", f"--port={port}",
           "--Voila.ip=127.0.0.1", "--token", "--template=workbench", "--show_tracebacks=False",
           "--preheat_kernel=False",
           # a busy port is an error, not a silent move to another port than the link printed
           "--Voila.port_retries=0"]
    if cull:  # tests: kernels of pages nobody holds go away
        cmd += ["--MappingKernelManager.cull_idle_timeout=60", "--MappingKernelManager.cull_interval=10"]
    return cmd


def serve_dashboard(name: str, root: Path, *, port: int = 8866) -> NoReturn:
    """Print the link, then become the Voila server (``exec``) until stopped.

    SIGTERM, SIGINT or SIGHUP stop it, and its kernels, within seconds (see
    :mod:`workbench.apps._serving`).
    """
    notebook = find_notebook(name)
    check_listen("127.0.0.1", port)
    token = dashboard_token()
    print(f"workbench: {notebook.name} at http://127.0.0.1:{port}/?token={token} (store {root})", flush=True)
    exec_server(voila_command(notebook, port), voila_env(root, token))
