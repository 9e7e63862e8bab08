"""SSH remotes: settings, connections (Fabric, host keys checked), ``sync`` and artifacts on demand.

Fabric and paramiko are imported only when a connection opens: ``import workbench.remote``
stays light.
"""

from __future__ import annotations

import os
from typing import Any

from workbench.remote._config import Remote, add_remote, get_remote, list_remotes, remove_remote
from workbench.remote._fetch import FetchResult, fetch_artifact
from workbench.remote._sync import SyncResult, known_hosts_path, sync, sync_remote

__all__ = [
    "FetchResult",
    "Remote",
    "SyncResult",
    "add_remote",
    "check_remote",
    "fetch_artifact",
    "get_remote",
    "known_hosts_path",
    "last_sync",
    "list_remotes",
    "remove_remote",
    "sync",
    "sync_remote",
]


def check_remote(name: str, *, root: str | os.PathLike[str] | None = None, trust_new_host: bool = False,
                 fingerprint: str | None = None) -> dict[str, Any]:
    """Connect to remote ``name``, check its root and Python; ``{"rtt": seconds, "python_version"}``.

    A host whose key is not in the store's known_hosts is refused, with the key's ``SHA256:``
    fingerprint, unless its key has the pinned fingerprint (``fingerprint``, as ``ssh-keygen -lf``
    prints it, or the remote's ``fingerprint`` setting) or ``trust_new_host`` is set (without a
    pin): then its key is recorded.

    Raises :class:`~workbench.errors.RemoteError` with what to do (unreachable, unknown or changed
    host key, a key that is not the pinned one, refused login, no Python, a Python that exits without
    running a program or is older than 3.10, no store; banners the remote's shell prints are
    ignored), and
    :class:`~workbench.errors.ConfigError` for a malformed ``fingerprint`` (before connecting).
    """
    from workbench.remote._connection import check, connect
    from workbench.settings import load_settings

    settings = load_settings(root)
    remote = get_remote(settings, name)
    with connect(remote, known_hosts_path(settings.root), trust_new_host=trust_new_host,
                 fingerprint=fingerprint) as conn:
        return check(conn)


def last_sync(name: str, *, root: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """What the last sync of remote ``name`` did: ``time`` (epoch s), ``runs``, ``artifacts``,
    ``files``, ``bytes``, ``refused``, ``seconds``; None before the first one."""
    from workbench.remote._sync import last_sync as _last
    from workbench.settings import load_settings

    return _last(load_settings(root).root, name)
