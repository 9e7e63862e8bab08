"""Progress of the store-wide passes (``reindex``, ``fsck``, ``gc``): the library counts, the CLI draws.

A pass wraps what it walks in :func:`steps`. Nothing is reported unless a command installed a
sink (:func:`reporting`); the CLI does when stderr is a terminal or with ``--progress always``
(``workbench/cli/_terminal.py``), so pipes, tests and library callers see nothing and pay one
global read per pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

__all__ = ["reporting", "steps"]

T = TypeVar("T")

#: what a pass reports to: ``(what, done, total or None)``
Sink = Callable[[str, int, "int | None"], None]
_sink: Sink | None = None


def steps(items: Iterable[T], what: str, total: int | None = None) -> Iterator[T]:
    """``items``, one by one, counted into the installed sink (if any) as ``what``."""
    sink = _sink
    if sink is None:
        yield from items
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    sink(what, 0, total)
    for done, item in enumerate(items, 1):
        yield item
        sink(what, done, total)


@contextlib.contextmanager
def reporting(sink: Sink | None) -> Iterator[None]:
    """Report the passes run inside the block to ``sink`` (None: to nothing)."""
    global _sink
    previous, _sink = _sink, sink
    try:
        yield
    finally:
        _sink = previous
