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


def mount(*args: str) -> None:
    """``mount ARGS``; without root or mount(8) the test skips here and fails in CI."""
    if os.geteuid() != 0:
        _unavailable("mounting takes root")
    if shutil.which("mount") is None:
        _unavailable("the mount program is not installed")
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        _unavailable(f"mount {' '.join(args)} failed: {done.stderr.strip()}")


def umount(path: Path) -> None:
    """Unmount ``path``; if something still holds it open, detach it now (it goes when released)."""
    done = subprocess.run(["umount", str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill(mount: Path, name: str = "filler") -> Path:
    """Write ``mount/name`` until the filesystem has no byte left; its path (delete it to free space)."""
    ballast = mount / name
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for block in (1 << 20, 65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * block):
                    pass
    finally:
        os.close(fd)
    return ballast


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
def tmpfs(path: Path, store: Path | None = None, *, size: str = "16m", state: str = "rw",
          mode: str = "0755") -> Iterator[Path]:
    """A tmpfs at ``path`` holding a copy of ``store`` (as ``path/store``); ``state``: rw, ro or full."""
    path.mkdir(parents=True, exist_ok=True)
    mount("-t", "tmpfs", "-o", f"size={size},mode={mode}", "tmpfs", str(path))
    try:
        if store is not None:
            shutil.copytree(store, path / "store", symlinks=True)
        if state == "ro":
            mount("-o", "remount,ro", str(path))
        elif state == "full":
            fill(path)
            assert is_full(path)
        yield path
    finally:
        umount(path)
