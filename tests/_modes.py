"""File modes for the private-store tests (issue 11): what other users could use under a folder."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest


def open_to_others(root: Path, shown_from: Path | None = None) -> list[str]:
    """Every path under ``root`` (itself included) that its group or other users may use at all,
    as ``PATH MODE`` with PATH relative to ``shown_from`` (default ``root``)."""
    paths = [root]
    for folder, dirs, files in os.walk(root):
        paths += [Path(folder) / name for name in dirs + files]
    base = shown_from if shown_from is not None else root
    return [f"{p.relative_to(base)} {stat.S_IMODE(os.lstat(p).st_mode):04o}"
            for p in paths if os.lstat(p).st_mode & 0o077]


@pytest.fixture
def common_umask() -> Iterator[None]:
    """The umask most systems run with (0o022), so a file created without a mode would show."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)
