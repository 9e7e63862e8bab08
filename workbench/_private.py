"""A store is private: what workbench creates in it is its owner's alone, like ``~/.ssh``.

Every directory workbench creates in a store is made with mode 0700 and every file with 0600,
the mode given at creation, so there is no moment at which another user could open one. The
process umask is left alone (workbench is a library, imported into users' processes): a umask
can only take bits away. Files that another library writes with its own mode (DuckDB's parquet,
paramiko's known_hosts) are created inside a private directory or restricted before they are
renamed into place. A store that exists keeps its modes: nothing here changes a user's choice
after the fact.

:func:`exposure` says whether other users could change a path; the scheduler refuses to execute
jobs from a store where they could (docs/jobs.md).

This module sits beside ``config`` and ``errors`` at the bottom of the import graph, so every
room, ``config.save_settings`` included, creates its files through it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "NONBLOCK", "OPEN_FLAGS", "READ_ONLY_MODE", "exposure", "make_dir",
           "open_private", "private_opener", "restrict"]

#: directories workbench creates: the owner may list, enter and change them, nobody else
DIR_MODE = 0o700
#: files workbench creates: the owner may read and write them, nobody else
FILE_MODE = 0o600
#: content-addressed blobs: the owner may read them, nobody may change them in place
READ_ONLY_MODE = 0o400


def make_dir(path: str | os.PathLike[str], *, parents: bool = True, exist_ok: bool = True) -> None:
    """Create the directory ``path`` with mode 0700, and its missing parents likewise.

    Like ``Path.mkdir(mode=0o700, parents=..., exist_ok=...)``, except that the parents it
    creates get 0700 too (pathlib gives them the default mode). Directories that exist keep
    their mode.
    """
    target = Path(path)
    try:
        os.mkdir(target, DIR_MODE)
    except FileNotFoundError:
        if not parents or target.parent == target:
            raise
        make_dir(target.parent, parents=True, exist_ok=True)
        try:
            os.mkdir(target, DIR_MODE)
        except FileExistsError:  # made meanwhile by another process
            if not exist_ok or not target.is_dir():
                raise
    except FileExistsError:
        if not exist_ok or not target.is_dir():
            raise


#: flags for every ``os.open`` of a store file: close-on-exec, and binary on Windows (no newline
#: translation), each only where the system has it
OPEN_FLAGS: int = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
#: ``O_NONBLOCK`` where the system has it (not Windows, which has no fifos to block on)
NONBLOCK: int = getattr(os, "O_NONBLOCK", 0)


def open_private(path: str | os.PathLike[str], flags: int) -> int:
    """``os.open(path, flags)`` creating a missing file with mode 0600 (close-on-exec)."""
    return os.open(path, flags | OPEN_FLAGS, FILE_MODE)


def private_opener(path: str, flags: int) -> int:
    """An ``opener`` for :func:`open`: ``open(path, "ab", opener=private_opener)`` creates 0600."""
    return os.open(path, flags, FILE_MODE)


def restrict(path: str | os.PathLike[str], mode: int = FILE_MODE) -> None:
    """Give ``path`` ``mode``: for a file that another library created with a mode of its own."""
    os.chmod(path, mode)


def _user(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def exposure(path: str | os.PathLike[str]) -> str | None:
    """Why users other than this process's could change ``path``; None when they cannot.

    They can when another user owns it, or when its group or others may write it. A path that
    does not exist exposes nothing (workbench creates it private). Symbolic links are followed.
    """
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    me = os.geteuid()
    if st.st_uid != me:
        return f"{path} is owned by {_user(st.st_uid)}, not by {_user(me)}"
    writers = [who for bit, who in ((stat.S_IWGRP, "its group"), (stat.S_IWOTH, "every user")) if st.st_mode & bit]
    if writers:
        return f"{path} is writable by {' and '.join(writers)} (mode {stat.S_IMODE(st.st_mode):04o})"
    return None
