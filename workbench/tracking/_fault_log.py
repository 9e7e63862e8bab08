"""The store's refusals to one run: when to try a refused write again, and the run's warnings.

A refused write (``store/_faults.py``: a full disk, a quota, a read-only or failing filesystem)
starts a *fault*; the first refusal becomes a warning in the run's record (``warnings``: the
time, the error and its errno, the path and the free space), and so does the first write that
works again. The warnings are kept here and written with the next record that the store takes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from workbench.settings import Settings
from workbench.store._faults import describe, remedy
from workbench.tracking._backlog import Backlog

__all__ = ["FaultLog", "stamp"]

#: longest pause between two tries of a refused write
RETRY_MAX = 10.0
#: warnings a run records; later ones go to stderr only
MAX_WARNINGS = 30


def stamp(when: float) -> str:
    """``2026-11-22T10:04:05Z``: the time at the head of a warning."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


class FaultLog:
    """Refusals of the store to the run ``run_id``, whose unwritten points are in ``backlog``.

    After a refusal the next try waits ``flush_interval``, each later one twice as long as the
    one before, at most :data:`RETRY_MAX` seconds (or ``flush_interval`` when that is longer).
    """

    def __init__(self, run_id: str, settings: Settings, backlog: Backlog, warnings: list[str]) -> None:
        self.run_id = run_id
        self.backlog = backlog
        self.buffer_mb = settings.log_buffer_mb
        self.interval = settings.flush_interval
        self.waited = settings.finish_wait  # what finish() waited, for the loss message
        #: the run's warnings (the record's ``warnings``); ``changed`` until the record has them
        self.warnings = warnings
        self.changed = False
        self.current: BaseException | None = None  # the last refusal, while writes are refused
        self.where = ""  # what it refused, in words (store/_faults.describe)
        self.last: BaseException | None = None  # the last refusal ever
        self.last_where = ""
        self.refused_now = False  # a write was refused since :meth:`begin`
        self._since = 0.0
        self._delay = self.interval
        self._retry_at = 0.0

    def due(self) -> bool:
        """Whether a write should be tried now (always, unless a fault is going on)."""
        return self.current is None or time.monotonic() >= self._retry_at

    def begin(self) -> None:
        """A flush starts."""
        self.refused_now = False

    def refused(self, exc: BaseException, path: Path) -> None:
        """Note a write to ``path`` that failed with ``exc``; the first of a fault is a warning."""
        self.refused_now = True
        new = self.current is None
        self.current, self.where = exc, describe(exc, path)
        self.last, self.last_where = exc, self.where
        if new:
            self._since = time.time()
            self._delay = self.interval
            self.warn(f"the store refused a write: {self.where}; {self.backlog.points:,} metric points kept in "
                      f"memory (up to log_buffer_mb={self.buffer_mb}) and retried: {remedy(exc)}")
        else:
            self._delay = min(self._delay * 2, max(RETRY_MAX, self.interval))
        self._retry_at = time.monotonic() + self._delay

    def limit(self) -> bool:
        """While writes are refused, keep the backlog within ``log_buffer_mb`` by dropping the
        oldest points; True when that added a warning (the first drop of a fault)."""
        if self.current is None:
            return False
        before = self.backlog.dropped_over_limit
        dropped = self.backlog.drop_over_limit()
        if dropped and not before:
            self.warn(f"the metric points kept in memory reached log_buffer_mb={self.buffer_mb} while the "
                      f"store refuses writes: the oldest are dropped ({dropped:,} so far) and this run will "
                      f"end failed; {remedy(self.current)}, or raise log_buffer_mb")
            return True
        return False

    def end(self) -> bool:
        """A flush ends: :meth:`limit` if a write was refused, else close the fault going on.
        True when that added a warning."""
        if self.current is None:
            return False
        if self.refused_now:
            return self.limit()
        lasted = time.time() - self._since
        self.current = None
        lost = self.backlog.lost
        self.warn(f"the store takes writes again, {lasted:.1f} s after the first refusal; the points kept in "
                  "memory are stored" + (f" ({lost:,} dropped before are lost)" if lost else ""))
        return True

    def warn(self, text: str) -> None:
        """A warning for the run's record, with the time at its head; also printed on stderr."""
        text = f"{stamp(time.time())}: {text}"
        print(f"workbench: run {self.run_id}: {text}", file=sys.__stderr__)
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(text)
        elif len(self.warnings) == MAX_WARNINGS:
            self.warnings.append("later warnings were printed on stderr only")
        else:
            return
        self.changed = True

    def refusal(self) -> str:
        """Why ``flush()`` could not write, for its StoreError."""
        fix = remedy(self.current) if self.current is not None else "see the run's warnings"
        return (f"run {self.run_id}: the store refused a write: {self.where}; {self.backlog.points:,} metric "
                f"points are kept in memory (up to log_buffer_mb={self.buffer_mb}) and retried in the "
                f"background: {fix}")

    def retrying(self, wait: float) -> str:
        """What finish() says before it retries for ``wait`` seconds."""
        fix = remedy(self.current) if self.current is not None else "see above"
        return (f"{self.backlog.points:,} metric points are not stored yet ({self.where}); retrying for up "
                f"to {wait:g} s (setting finish_wait): {fix}")

    def loss(self) -> str | None:
        """How many points were given up, when, and why; None when none were."""
        backlog = self.backlog
        if not backlog.lost:
            return None
        parts = []
        if backlog.dropped_over_limit:
            parts.append(f"{backlog.dropped_over_limit:,} when the points kept in memory passed "
                         f"log_buffer_mb={self.buffer_mb}")
        if backlog.dropped_at_finish:
            parts.append(f"{backlog.dropped_at_finish:,} when the run ended (finish() retried for "
                         f"{self.waited:g} s, setting finish_wait)")
        steps = f" (steps {backlog.lost_steps[0]}-{backlog.lost_steps[1]})" if backlog.lost_steps else ""
        fix = remedy(self.last) if self.last is not None else "fix the error above"
        return (f"{backlog.lost:,} metric points were lost{steps}: the store refused writes: {self.last_where}; "
                f"dropped {' and '.join(parts)}. The other points are stored. Next time: {fix}, or raise "
                "log_buffer_mb / finish_wait")
