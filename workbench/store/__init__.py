"""The store: run records, metric segments, the catalog, and (later) artifacts and blobs."""

from workbench.store.store import Store, open_store

__all__ = ["Store", "open_store"]
