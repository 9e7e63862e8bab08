"""Real filesystems in trouble for CLI tests: a tmpfs remounted read-only, and a tmpfs filled to the last byte.

Mounting takes root (CI runs as root): without it, or where ``mount`` fails, a test skips here
and fails in CI (``CI`` set), like every component CI must have.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import IN_CI


def _unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"CI must be able to mount a tmpfs (it runs as root): {why}")
    pytest.skip(why)


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        _unavailable(f"mount {' '.join(args)} failed: {done.stderr.strip()}")


def fill(mount: Path) -> None:
    """Write ``mount``'s filler file until the filesystem has no byte left."""
    fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for block in (1 << 20, 65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * block):
                    pass
    finally:
        os.close(fd)


def is_full(mount: Path) -> bool:
    try:
        with open(mount / "probe", "wb") as handle:
            handle.write(b"\0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        return exc.errno == errno.ENOSPC
    finally:
        with contextlib.suppress(OSError):
            (mount / "probe").unlink()
    return False


@contextlib.contextmanager
def tmpfs(path: Path, store: Path | None = None, *, size: str = "16m", state: str = "rw") -> Iterator[Path]:
    """A tmpfs at ``path`` holding a copy of ``store`` (as ``path/store``); ``state``: rw, ro or full."""
    if os.geteuid() != 0:
        _unavailable("mounting a tmpfs takes root")
    if shutil.which("mount") is None:
        _unavailable("the mount program is not installed")
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path))
    try:
        if store is not None:
            shutil.copytree(store, path / "store", symlinks=True)
        if state == "ro":
            _mount("-o", "remount,ro", str(path))
        elif state == "full":
            fill(path)
            assert is_full(path)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
