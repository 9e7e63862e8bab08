"""``reindex``, ``fsck`` and ``gc`` show their progress on stderr when it is a terminal (or with
``--progress always``), and nothing of it in pipes: a script's output stays what it was."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

import workbench as wb


def _store(root: Path, count: int = 3) -> None:
    for i in range(count):
        run = wb.init(project="progress", config={"i": i}, root=root, capture_output=False, system_metrics=False,
                      fsync=False)
        run.log({"loss": 1.0 / (i + 1)})
        run.finish()


def _cli(*args: str, stderr: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench", *args], stdout=subprocess.PIPE, stderr=stderr,
                          text=True, timeout=120, check=False)


@pytest.mark.parametrize(("command", "what"), [
    (["reindex"], "reading run records: 3/3 (100%)"),
    (["fsck"], "checking runs: 3/3 (100%)"),
])
def test_progress_always_is_drawn_on_stderr_only(root: Path, command: list[str], what: str) -> None:
    _store(root)
    piped = _cli(*command, "--root", str(root))
    shown = _cli(*command, "--root", str(root), "--progress", "always")
    assert piped.returncode == shown.returncode == 0, (piped.stderr, shown.stderr)
    assert what in shown.stderr
    assert shown.stdout.split()[:3] == piped.stdout.split()[:3] and what.partition(":")[0] not in shown.stdout
    assert piped.stderr == ""  # a pipe gets no progress by default
    never = _cli(*command, "--root", str(root), "--progress", "never")
    assert never.stderr == ""


def test_progress_auto_shows_on_a_terminal(root: Path) -> None:
    _store(root)
    leader, follower = pty.openpty()
    try:
        done = _cli("fsck", "--root", str(root), stderr=follower)
        os.close(follower)
        follower = -1
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the other end closed: all of it read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    assert done.returncode == 0
    assert b"checking runs: 3/3 (100%)" in seen
    assert done.stdout.strip().endswith("ok")


def test_gc_takes_the_progress_flag(root: Path) -> None:
    _store(root, 1)
    done = _cli("gc", "--dry-run", "--root", str(root), "--progress", "always")
    assert done.returncode == 0, done.stderr
    bad = _cli("gc", "--root", str(root), "--progress", "loud")
    assert bad.returncode == 2 and "--progress" in bad.stderr
