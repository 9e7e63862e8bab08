"""What a logged path holds: its regular files, with the symlink and special-file rules.

A symlink whose target lies inside the logged directory is followed (its content is logged);
one that points outside it, or nowhere, is refused, as are sockets, FIFOs and devices. Each
directory is walked once, so a symlink loop cannot recurse.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from workbench.errors import ArtifactError

__all__ = ["collect_files"]


def _posix(rel: str, base: Path) -> str:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise ArtifactError(
            f"{base / rel!r} has a file name that is not valid UTF-8; rename it before logging"
        ) from None
    return rel


def collect_files(path: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """``(relative posix path, real path)`` of each file under ``path``, sorted by relative path.

    ``path`` itself may be a file, whose relative path is then its own name.
    """
    given = Path(path)
    try:
        os.lstat(given)
    except (FileNotFoundError, NotADirectoryError):
        raise ArtifactError(f"{given} does not exist; check the path (relative to {Path.cwd()})") from None
    except OSError as exc:  # a name past 255 bytes, a symlink loop, no permission: say which
        too_long = exc.errno == errno.ENAMETOOLONG
        raise ArtifactError(
            f"{given} cannot be logged: {exc.strerror}; "
            + ("a name in the path is longer than the filesystem allows: shorten it" if too_long else "check the path")
        ) from exc
    base = given.resolve()
    if not base.exists():
        raise ArtifactError(f"{given} is a symlink to {os.readlink(given)!r}, which does not exist")
    if base.is_file():
        return [(_posix(given.name or base.name, base.parent), base)]
    if not base.is_dir():
        raise ArtifactError(f"{given} is not a regular file or directory; log files or directories only")
    files: dict[str, Path] = {}
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Path, str]] = [(base, "")]
    while stack:
        folder, prefix = stack.pop()
        info = folder.stat()
        if (info.st_dev, info.st_ino) in seen:
            continue  # reached again through a symlink: its files are in already
        seen.add((info.st_dev, info.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except PermissionError as exc:
            raise ArtifactError(f"cannot read directory {folder}: permission denied") from exc
        for entry in entries:
            rel = _posix(prefix + entry.name, base)
            real = Path(entry.path)
            if entry.is_symlink():
                target = Path(os.path.realpath(entry.path))
                link = os.readlink(entry.path)
                if not target.exists():
                    raise ArtifactError(
                        f"{given / rel} is a symlink to {link!r}, which does not exist; remove it "
                        "or point it at a file inside the directory"
                    )
                if target != base and base not in target.parents:
                    raise ArtifactError(
                        f"{given / rel} is a symlink to {link!r}, outside {given}; copy the file in "
                        "(or log that path as its own artifact): a logged directory must hold its content"
                    )
                real = target
            mode = real.stat().st_mode
            if stat.S_ISDIR(mode):
                stack.append((real, rel + "/"))
            elif stat.S_ISREG(mode):
                files[rel] = real
            else:
                raise ArtifactError(
                    f"{given / rel} is not a regular file (a socket, FIFO or device); remove it from "
                    "the directory before logging"
                )
    if not files:
        raise ArtifactError(f"{given} holds no files; log a directory with at least one file")
    return sorted(files.items())
