"""Edit what a person owns in a run record after the fact: its tags and notes.

A notebook or the web app may change them while the run trains: the change is a locked
read-modify-write of only these fields (records.update_record), so the training process, which
writes status and summary, never loses it. Synced runs are read-only here (:class:`ReadOnlyRun`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from workbench.store.records import normalize_tags, update_record
from workbench.store.store import Store

__all__ = ["update_run"]


def update_run(store: Store, run_id: str, *, tags: Iterable[str] | None = None,
               notes: str | None = None) -> dict[str, Any]:
    """Set ``tags`` and/or ``notes`` of a run (an id or unique prefix); the new record.

    ``None`` leaves a field as it is. Bad tags raise ``TypeError``/``ValueError`` naming the tag.
    """
    full = store.resolve(run_id)
    changes: dict[str, Any] = {}
    if tags is not None:
        changes["tags"] = normalize_tags(tags)
    if notes is not None:
        if not isinstance(notes, str):
            raise TypeError(f"notes must be a string, not {type(notes).__name__}")
        changes["notes"] = notes
    if not changes:
        return store.get(full)

    def mutate(record: dict[str, Any]) -> bool:
        if all(record.get(k) == v for k, v in changes.items()):
            return False  # nothing new: no write, no journal entry
        record.update(changes)
        return True

    return dict(update_record(store.layout, full, mutate))
