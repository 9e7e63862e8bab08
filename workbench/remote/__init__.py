"""SSH remotes: settings, connections (Fabric, host keys checked) and ``sync``.

Fabric and paramiko are imported only when a connection opens: ``import workbench.remote``
stays light.
"""

from __future__ import annotations

from workbench.remote._config import Remote, add_remote, get_remote, list_remotes, remove_remote
from workbench.remote._sync import SyncResult, known_hosts_path, sync, sync_remote

__all__ = [
    "Remote",
    "SyncResult",
    "add_remote",
    "get_remote",
    "known_hosts_path",
    "list_remotes",
    "remove_remote",
    "sync",
    "sync_remote",
]
