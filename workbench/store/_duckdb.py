"""The one DuckDB connection a store's queries run on, closed to everything but the store's files.

``sql()`` runs the user's text on this connection, and a query in a notebook is as close as a
cell away from text pasted from a web page or a store synced from a remote. So DuckDB itself is
told what a query may touch, not a filter on the query's text:

* no extension is installed or loaded behind a query's back (``INSTALL`` and ``LOAD`` are
  refused by :mod:`workbench.store._sql_check` as well);
* files: only ``runs/`` and ``catalog/`` of the store, read or written (the catalog writes its
  snapshots there), by any function; no URL (``http://``, ``s3://``, ``hf://`` ...), no other
  path, no Python variable of the calling process (DuckDB's replacement scans);
* nothing under ``$HOME``: DuckDB's home, extension, secret and spill directories point into
  the store (``~`` in a query's path means the store root, which a query cannot read);
* the configuration is locked, so no statement can take any of it back.
"""

from __future__ import annotations

import os
from typing import Any

from workbench.errors import StoreError
from workbench.store._paths import Layout

__all__ = ["allowed_directories", "connect"]


def allowed_directories(layout: Layout) -> list[str]:
    """The directories a query may read: ``runs/`` and ``catalog/`` (as given and as resolved)."""
    out: list[str] = []
    for directory in (layout.runs, layout.catalog):
        for form in (os.path.normpath(os.path.abspath(directory)), os.path.realpath(directory)):
            text = form.rstrip(os.sep) + os.sep  # with the separator: "runs2/" is not under "runs/"
            if text not in out:
                out.append(text)
    return out


def connect(layout: Layout) -> Any:
    """A new in-memory DuckDB connection, configured as the module docstring says, then locked."""
    import duckdb

    catalog = layout.catalog
    config: dict[str, Any] = {
        "threads": 2,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "allow_persistent_secrets": False,
        "home_directory": str(layout.root),
        "extension_directory": str(catalog / "extensions"),
        "secret_directory": str(catalog / "secrets"),
        # a large sort spills here, not to ".tmp" in the working directory (DuckDB names its files
        # by process, so readers of one store can share it; it removes them when it closes)
        "temp_directory": str(catalog / "tmp"),
    }
    try:
        con = duckdb.connect(":memory:", config=config)
    except duckdb.Error as exc:
        raise StoreError(f"DuckDB could not open a connection for the store {layout.root}: {exc}") from exc
    try:
        # order matters: allowed_directories cannot change once external access is off
        con.execute("SET allowed_directories = $dirs", {"dirs": allowed_directories(layout)})
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"DuckDB refused the settings that keep queries inside the store "
                         f"{layout.root}: {exc}; this workbench needs duckdb >= 1.2") from exc
    return con
