"""The tee of sys.stdout / sys.stderr into a run's log files, on a full disk."""

from __future__ import annotations

import io
import sys

import pytest

from workbench.tracking._capture import Tee


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/full is Linux's full disk")
def test_a_full_disk_drops_and_closes_the_log_file_but_keeps_the_stream() -> None:
    stream = io.StringIO()
    log = open("/dev/full", "w", encoding="utf-8")  # noqa: SIM115 - the tee owns it
    tee = Tee(stream, log)
    tee.write("x" * 100_000)  # more than the file's buffer: the write reaches the disk and fails
    tee.write("still printed\n")
    tee.flush()
    assert stream.getvalue().endswith("still printed\n")
    assert log.closed  # no file descriptor left open for the rest of the process
