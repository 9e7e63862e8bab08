"""Disk space a live run holds for its final record: ``runs/<id>/.reserve``.

On a full disk the run could not record how it ended (the record is replaced through a new
file, which needs free space), and would read ``crashed`` once its process is gone. So a run
holds a small file of allocated space (64 KiB, or twice its record's size when that is larger),
made at its first flush that writes the record (not at ``init``: a run shorter than
``flush_interval`` pays nothing), and deletes it when the store refuses the final record, then
tries again. A finished run has none; a killed run's is deleted by the reader that marks it
``crashed``.
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench._private import open_private
from workbench.store._faults import RESERVE

__all__ = ["Reserve"]

MINIMUM = 64 * 1024
_STEP = 64 * 1024


class Reserve:
    """The reserve file of the run directory ``run_dir`` (best effort: none where it fails)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / RESERVE
        self.size = 0
        self._made = False

    def fit(self, record: Path) -> None:
        """Hold at least :data:`MINIMUM` bytes, and twice the size of ``record`` (records grow
        with metric keys and warnings)."""
        try:
            want = max(MINIMUM, -(-2 * os.stat(record).st_size // _STEP) * _STEP)
        except OSError:
            want = MINIMUM
        if want > self.size:
            self._hold(want)

    def _hold(self, size: int) -> None:
        try:
            fd = open_private(self.path, os.O_WRONLY | os.O_CREAT)
        except OSError:
            return
        self._made = True
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError:  # no space, no fallocate on this filesystem: the run goes on without it
            return
        finally:
            os.close(fd)
        self.size = size

    def release(self) -> bool:
        """Delete the file; True when there was one to give back."""
        if not self._made:
            return False
        self._made, self.size = False, 0
        try:
            self.path.unlink()
        except OSError:
            return False
        return True
