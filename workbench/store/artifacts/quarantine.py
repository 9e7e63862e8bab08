"""Quarantine: a corrupt blob is moved out of ``blobs/`` into ``<root>/quarantine/``, never deleted.

``workbench fsck --repair`` does it under the exclusive store lock (no placement or upload is
under way), after hashing the blob once more. The move is one ``rename`` within the store's
filesystem: the blob is either still in ``blobs/`` or in quarantine, never half in either.
Without the blob, the versions that name it report it missing (``fsck`` lists them) instead of
handing out wrong bytes; the quarantined file stays for inspection until you delete it.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from workbench._private import make_dir
from workbench.errors import ArtifactError
from workbench.store._paths import Layout

__all__ = ["make_quarantine", "quarantine_blob", "quarantine_dir"]


def quarantine_dir(layout: Layout) -> Path:
    return layout.root / "quarantine"


def make_quarantine(layout: Layout) -> Path:
    """``<root>/quarantine``, made private if missing; refused unless it is a real folder of this
    user inside the store (a symbolic link there would move store files out of the store)."""
    folder = quarantine_dir(layout)
    make_dir(folder)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise ArtifactError(f"{folder} is not a folder of this user (a link, or another user's): move it "
                            "away, then run `workbench fsck --repair` again")
    return folder


def quarantine_blob(layout: Layout, digest: str, blob: Path) -> Path:
    """Move ``blob`` to ``<root>/quarantine/<digest>-<time>``; the path it now has."""
    folder = make_quarantine(layout)
    target = folder / f"{digest}-{time.strftime('%Y%m%dT%H%M%S')}-{os.urandom(2).hex()}"
    try:
        os.rename(blob, target)
    except OSError as exc:
        raise ArtifactError(
            f"cannot move corrupt blob {blob} to {target} ({exc.strerror or exc}); move it out of "
            f"{layout.blobs} by hand"
        ) from exc
    return target
